"""`ledger accounts …` on a real SQLite database: sources, keys (the secret printed once and working),
the methodology shown and imported, a statement, a correction, the expiry sweep, the points log,
export to a private file and deletion; bad input one line, nothing half done."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from accounts import ingest, methodology, people, pointslog, sources
from accounts.errors import KeyRefusedError
from api.app import create_app
from chain.deploy import record_path
from indexer.db import make_engine
from scripts.cli import app
from scripts.console import console
from tests.api.accounts_helpers import PERSONAL, _keys, context  # noqa: F401  # the test's own keys, in process too
from tests.api.test_accounts_records import trip
from tests.conftest import World

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables and long lines unwrapped whatever the worker's terminal: under pytest-xdist the shared
    console read 80 columns whatever COLUMNS said, and the assertions below read whole lines."""
    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "LEDGER_DATA_KEY_FILE": str(tmp_path / "data.key"),
        "LEDGER_VAR_DIR": str(tmp_path / "var"),
        "COLUMNS": "200",
    }


def entry_row(engine: Any, entry_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM points_entries WHERE id = :i"), {"i": entry_id}).one()._mapping)


def ledger(env: dict[str, str], *argv: str, ok: bool = True) -> str:
    result = runner.invoke(app, ["accounts", *argv], env=env)
    assert "Traceback" not in result.output, result.output
    assert (result.exit_code == 0) is ok, f"{argv}: {result.output}"
    return result.output


def test_sources_and_keys(env: dict[str, str]) -> None:
    ledger(env, "source", "add", "metro-app", "--name", "成都地铁 app", "--kind", "app")
    out = ledger(env, "source", "add", "metro-app", "--name", "again", "--kind", "app", ok=False)
    assert "exists already" in out and len(out.strip().splitlines()) == 1
    assert "kind" in ledger(env, "source", "add", "x-y", "--name", "x", "--kind", "bank", ok=False)
    created = ledger(env, "key", "create", "metro-app", "--scope", "records:write", "--scope", "accounts:write")
    bearer = re.search(r"Bearer (k_[a-z2-7]{20}\.[a-z2-7]+)", created)
    assert bearer is not None and "shown this once" in created
    engine = make_engine(env["DATABASE_URL"])
    who = sources.authenticate(engine, bearer.group(1), int(time.time()))
    assert who.source_id == "metro-app" and who.scopes == {"records:write", "accounts:write"}
    key_id, secret = bearer.group(1).split(".")
    listed = ledger(env, "key", "list", "metro-app")
    assert key_id in listed and secret not in listed  # never stored, never shown again
    rotated = json.loads(ledger(env, "key", "rotate", key_id, "--json"))
    assert rotated["key_id"] != key_id and rotated["scopes"] == ["accounts:write", "records:write"]
    with pytest.raises(KeyRefusedError):
        sources.authenticate(engine, bearer.group(1), int(time.time()) + 1)  # the old key: revoked at rotation
    ledger(env, "key", "revoke", rotated["key_id"])
    assert "no key" in ledger(env, "key", "revoke", "k_" + "a" * 20, ok=False)
    assert "merchant" in ledger(env, "merchant", "add", "teahouse", "--name", "鹤鸣茶社")
    shown = json.loads(ledger(env, "source", "list", "--json"))
    assert [(s["id"], s["kind"]) for s in shown] == [("metro-app", "app"), ("teahouse", "merchant")]


def test_methodology_show_and_import(env: dict[str, str], tmp_path: Path) -> None:
    out = ledger(env, "methodology", "show", "metro")
    assert "46.8 g/pkm" in out and "2,000" in out  # Shenzhen's metro factor; the daily cap in points
    assert "(illustrative)" in ledger(env, "methodology", "show", "cycling")
    assert "no behaviour type" in ledger(env, "methodology", "show", "teleport", ok=False)
    engine = make_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        v1 = methodology.load(conn).latest("metro")
    assert v1 is not None
    row = methodology.as_row(v1) | {"version": "2", "valid_from": "2027-01-01", "g_per_unit": "40.1"}
    sheet = io.StringIO()
    writer = csv.DictWriter(sheet, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    (tmp_path / "v2.csv").write_text(sheet.getvalue())
    assert "imported metro v2" in ledger(env, "methodology", "import", str(tmp_path / "v2.csv"))
    assert "version twice" in ledger(env, "methodology", "import", str(tmp_path / "v2.csv"), ok=False)
    rows = json.loads(ledger(env, "methodology", "show", "metro", "--json"))
    assert [(r["version"], r["g_per_unit"]) for r in rows] == [("1", "46.8"), ("2", "40.1")]
    assert "cannot read" in ledger(env, "methodology", "import", str(tmp_path / "missing.csv"), ok=False)


def test_statement_correction_expiry_log_export_delete(env: dict[str, str], tmp_path: Path) -> None:
    ledger(env, "source", "add", "metro-app", "--name", "metro", "--kind", "app")
    engine = make_engine(env["DATABASE_URL"])
    now = int(time.time())
    key = sources.create_key(engine, "metro-app", ["accounts:write", "records:write"], now)
    who = sources.authenticate(engine, key.bearer, now)
    account = people.open_account(engine, who, now, PERSONAL)
    people.grant_consent(engine, who, account, "transit", now)
    [o] = ingest.ingest(engine, who, [trip(account, "m-1", km="10")], now)  # 10 × 46.8 = 468 points
    assert o.status == "credited" and o.points == 468
    out = ledger(env, "statement", account)
    assert "balance 468 points" in out and "not anchored yet" in out
    assert "2 entries appended" in ledger(env, "log", "append")  # the credit's two postings
    assert "#" in ledger(env, "statement", account)
    assert "-68 points" in ledger(env, "correct", account, "--reason", "duplicate trip found by audit", "--", "-68")
    statement = json.loads(ledger(env, "statement", account, "--json"))
    assert statement["balance"] == 400 and [e["kind"] for e in statement["entries"]] == ["correct", "credit"]
    assert "reason" in ledger(env, "correct", account, "5", "--reason", "", ok=False)
    assert "nothing to expire" in ledger(env, "expire")  # ten years to go
    assert "no account" in ledger(env, "statement", "acc_" + "a" * 26, ok=False)
    out_file = tmp_path / "export.json"
    ledger(env, "export", account, "--out", str(out_file))
    assert out_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(out_file.read_text())["personal"] == PERSONAL
    assert "not deleted" in ledger(env, "delete", account, ok=False)  # not on a terminal, no --yes
    assert "destroyed" in ledger(env, "delete", account, "--yes")
    ledger(env, "export", account, "--out", str(out_file))
    assert json.loads(out_file.read_text())["personal"] == {}
    assert json.loads(ledger(env, "statement", account, "--json"))["balance"] == 400  # the points stay


def test_log_anchor_on_chain_then_the_statement_and_page_show_anchored(
    env: dict[str, str], tmp_path: Path, world: World
) -> None:
    d = world.registry.deployment
    deployments = tmp_path / "cli-deployments"
    deployments.mkdir()
    record_path(deployments, d.chain_id).write_text(d.to_json())
    env |= {
        "LEDGER_RPC_URL": world.client.rpc.url,
        "LEDGER_DEPLOYMENTS_DIR": str(deployments),
        "LEDGER_PRIVATE_KEY": "0x" + bytes(world.cast.anchorer.key).hex(),  # the registry's ANCHORER_ROLE
        "LEDGER_CONFIRMATIONS": "0",
    }
    ledger(env, "source", "add", "metro-app", "--name", "metro", "--kind", "app")
    engine = make_engine(env["DATABASE_URL"])
    now = int(time.time())
    key = sources.create_key(engine, "metro-app", ["accounts:write", "records:write", "statements:read"], now)
    who = sources.authenticate(engine, key.bearer, now)
    account = people.open_account(engine, who, now)
    people.grant_consent(engine, who, account, "transit", now)
    ingest.ingest(engine, who, [trip(account, "m-1", km="10")], now)  # 468 points
    anchored = ledger(env, "log", "anchor")
    assert "anchored in tx 0x" in anchored, anchored
    assert "nothing to anchor" in ledger(env, "log", "anchor", "--no-force")
    [e] = json.loads(ledger(env, "statement", account, "--json"))["entries"]
    assert e["proof"]["anchored"] is True and e["proof"]["tree_size"] == 2
    # the proof checks against the root the chain holds, with nothing but the entry and the proof
    size, root = pointslog.chain_latest(pointslog.open_anchor(world.client, d))
    proof = pointslog.proofs(engine, [e["id"]])[e["id"]]
    assert size == 2 and pointslog.verify_entry(entry_row(engine, e["id"]), proof, root)
    # the person's page says so, with the anchored root
    app = create_app(context(engine))
    with TestClient(app) as client:
        url = client.post(
            f"/api/v1/accounts/{account}/statement-links", json={}, headers={"Authorization": f"Bearer {key.bearer}"}
        ).json()["url"]
        page = client.get(url)
    assert page.status_code == 200 and "已锚定 anchored" in page.text and root.hex() in page.text
