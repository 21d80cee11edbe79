"""`ledger public snapshot` and `ledger public check-snapshot` through CliRunner, against the
registry of tests/public/conftest.py: a good file checks out, an edited one is named so."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from scripts.cli import app
from tests.public.conftest import Public

runner = CliRunner()


def test_snapshot_then_check_it_against_the_chain(
    public_registry: Public, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certified = public_registry.certified
    monkeypatch.setenv("DATABASE_URL", certified.service.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("LEDGER_RPC_URL", certified.node.url)
    monkeypatch.setenv("LEDGER_DEPLOYMENTS_DIR", str(public_registry.deployments))
    made = runner.invoke(app, ["public", "snapshot", "--out", str(tmp_path), "--date", "2026-11-28"])
    assert made.exit_code == 0, made.output
    path = tmp_path / "registry-2026-11-28.jsonl"
    assert "snapshot 2026-11-28" in made.output and "ledger log anchor" in made.output
    pending = runner.invoke(app, ["public", "check-snapshot", str(path)])
    assert pending.exit_code == 1 and "not anchored on chain yet" in pending.output
    certified.service.anchor(force=True)
    good = runner.invoke(app, ["public", "check-snapshot", str(path)])
    assert good.exit_code == 0, good.output
    assert "anchored on chain" in good.output
    edited = tmp_path / "edited.jsonl"
    edited.write_bytes(path.read_bytes() + b"\n")
    bad = runner.invoke(app, ["public", "check-snapshot", str(edited)])
    assert bad.exit_code == 1 and "it is not the published file" in " ".join(bad.output.split())
    again = runner.invoke(app, ["public", "snapshot", "--out", str(tmp_path), "--date", "2026-11-28"])
    assert again.exit_code == 1 and "already in the log" in again.output and "Traceback" not in again.output
    other = tmp_path / "other.txt"
    other.write_text("hello\n")
    wrong = runner.invoke(app, ["public", "check-snapshot", str(other)])
    assert wrong.exit_code == 1 and "does not start with a snapshot header line" in " ".join(wrong.output.split())
