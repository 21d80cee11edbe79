"""`ledger index --once` mirrors the chain; a second indexer on the same database is refused."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from indexer.db import IndexerLockedError, WriterLock, make_engine
from scripts.cli import app
from tests.indexer.helpers import activity

runner = CliRunner()


def test_index_once_then_status_shows_no_lag(world, tmp_path, monkeypatch) -> None:
    activity(world)
    deployments = world.registry.deployment
    monkeypatch.setenv("LEDGER_RPC_URL", world.client.rpc.url)
    monkeypatch.setenv("LEDGER_DEPLOYMENTS_DIR", str(tmp_path / "d"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "31337.json").write_text(deployments.to_json())
    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = runner.invoke(app, ["index", "--once"])
    assert result.exit_code == 0, result.output
    assert "indexed" in result.output and "lag 0 blocks" in result.output
    with make_engine(url).connect() as conn:
        assert conn.execute(text("select count(*) from retirements")).scalar() == 2
    status = runner.invoke(app, ["status"])
    assert "0 blocks (mirror at block" in " ".join(status.output.split())
    with WriterLock(make_engine(url)):
        second = runner.invoke(app, ["index", "--once"])
        assert second.exit_code == 1 and "another indexer is already writing" in second.output
    try:
        with WriterLock(make_engine(url)), WriterLock(make_engine(url)):
            raise AssertionError("two writers held the lock")
    except IndexerLockedError:
        pass
