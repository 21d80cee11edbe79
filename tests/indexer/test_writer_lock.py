"""One writer per database, not per path (issue 12, item 10): a second indexer that reaches the same
SQLite file through a symlink, a relative path or a `..` detour is refused with one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.db import IndexerLockedError, WriterLock, create_schema, make_engine
from scripts.cli import app


def test_a_second_writer_through_a_symlink_or_another_spelling_is_refused(tmp_path: Path, monkeypatch) -> None:
    real = tmp_path / "data" / "ledger.sqlite"
    create_schema(make_engine(f"sqlite:///{real}"))
    link = tmp_path / "elsewhere" / "mirror.sqlite"
    link.parent.mkdir()
    link.symlink_to(real)
    monkeypatch.chdir(tmp_path)
    spellings = [
        f"sqlite:///{link}",
        "sqlite:///data/ledger.sqlite",
        f"sqlite:///{tmp_path}/elsewhere/../data/ledger.sqlite",
    ]
    with WriterLock(make_engine(f"sqlite:///{real}")):
        for url in spellings:
            with pytest.raises(IndexerLockedError) as refused:
                WriterLock(make_engine(url)).acquire()
            message = str(refused.value)
            assert "\n" not in message and str(real) in message and "one writer per database" in message
    # released: the next writer, by any name, may write, and it holds the lock for every name
    with WriterLock(make_engine(f"sqlite:///{link}")), pytest.raises(IndexerLockedError):
        WriterLock(make_engine(f"sqlite:///{real}")).acquire()


def test_ledger_index_through_a_symlink_is_refused_in_one_line(world, tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "31337.json").write_text(world.registry.deployment.to_json())
    monkeypatch.setenv("LEDGER_RPC_URL", world.client.rpc.url)
    monkeypatch.setenv("LEDGER_DEPLOYMENTS_DIR", str(d))
    real = tmp_path / "ledger.sqlite"
    create_schema(make_engine(f"sqlite:///{real}"))
    link = tmp_path / "link.sqlite"
    os.symlink(real, link)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{link}")
    with WriterLock(make_engine(f"sqlite:///{real}")):
        second = CliRunner().invoke(app, ["index", "--once"])
    assert second.exit_code == 1
    lines = [line for line in second.output.splitlines() if line.strip()]
    assert len(" ".join(lines).split("another indexer is already writing")) == 2, second.output
    assert "Traceback" not in second.output
