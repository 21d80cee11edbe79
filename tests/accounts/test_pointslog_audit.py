"""`ledger audit` runs the points log's tamper check: clean after honest appends and an anchor,
and a rewritten points entry shows as a "points log" difference with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from accounts import pointslog as pl
from chain.deploy import require_deployment
from chain.registry import open_registry
from chain.settings import ChainSettings
from indexer.db import make_engine
from tests.accounts.pointslog_helpers import NOW, credit
from tests.land.test_cli import ledger  # noqa: F401  # the fixture: the CLI against a fresh registry


def test_ledger_audit_checks_the_points_log_against_the_chain(ledger: Any, tmp_path: Path) -> None:  # noqa: F811  # the fixture
    ledger("index", "--once")
    first = json.loads(ledger("audit", "--json").output)
    assert first["clean"] and first["checked"]["points log entries"] == 0

    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}")
    credit(engine, 8)  # 16 entries
    pl.append_pending(engine)
    settings = ChainSettings()
    anchors = pl.open_anchor(
        open_registry(settings, sign=True), require_deployment(settings.deployments_path, settings.chain_id)
    )
    assert pl.anchor(anchors, engine, force=True) is not None
    clean = json.loads(ledger("audit", "--json").output)
    assert clean["clean"], clean["differences"]
    assert clean["checked"]["points log entries"] == 16 and clean["checked"]["points log anchors"] == 1

    with engine.begin() as conn:
        conn.execute(text("UPDATE points_entries SET amount = 1000 WHERE id = 2"))
    engine.dispose()
    dirty = ledger("audit", "--json", ok=False)
    assert dirty.exit_code == 1
    found = [d for d in json.loads(dirty.output)["differences"] if d["check"] == "points log"]
    assert [d["detail"] for d in found] == [
        "points entry 2 (txn credit:r0) does not match its log leaf 1: the row was rewritten after it was logged",
        "points transaction credit:r0 does not balance: its postings sum to 900, not 0",
    ]
    assert pl.check(make_engine(f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}"), anchors, now=NOW) == [
        d["detail"] for d in found
    ]
