"""The same registry mirrored into PostgreSQL: lists, the streamed export (a server-side cursor
there), statistics and a snapshot answer as on SQLite."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chain.node import LocalNode
from public import export, snapshot, stats
from tests.api.conftest import fresh_postgres  # noqa: F401  # the fixture, for this module
from tests.public.conftest import build_public
from tests.public.test_lists import everything


def test_the_public_registry_on_postgresql(
    build: Any,
    cast: Any,
    tmp_path: Path,
    fresh_postgres: Callable[[], str],  # noqa: F811
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    with LocalNode(block_time=None) as node:
        public = build_public(tmp_path, build, cast, node, fresh_postgres())
        engine = public.certified.service.engine
        assert engine.dialect.name == "postgresql"
        with engine.connect() as conn:
            listed = everything(conn, "retirements")
            large = everything(conn, "retirements", {"scenario": "large_event"})
            ex = export.prepare("retirements", "csv", {})
            exported = list(csv.DictReader(io.StringIO(b"".join(ex.chunks(conn, chunk=2)).decode())))
            projects = everything(conn, "projects", {"methodology": "scfm_001_v01"})
            s = stats.statistics(conn)
        assert [r["id"] for r in exported] == [r["id"] for r in listed]
        assert sorted(r["amount_kg"] for r in large) == [150, 1_250]  # 1,250 kg demo + 150 kg activity
        assert len(projects) == 1 and s.totals.retired_kg == sum(r["amount_kg"] for r in listed)
        made = snapshot.write(engine, public.certified.service.context.log, tmp_path, "2026-12-01")
        public.certified.service.anchor(force=True)
        with engine.connect() as conn:
            [proof] = snapshot.proofs(conn, public.certified.service.context.log, "2026-12-01")
        root = public.certified.service.client.anchored_root(proof.tree_size or 0)
        assert snapshot.check(snapshot.file_sha256(made.path), proof, root) == []
        engine.dispose()
