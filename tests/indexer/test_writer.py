"""The backfill's writer process and the generated log decoders."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from indexer import store
from indexer import writer as writer_module
from indexer.decode import LogDecoder
from indexer.writer import WriterDiedError
from tests.indexer.helpers import activity, check_against_chain, check_equals_a_fresh_index, dump, new_indexer


def test_the_generated_decoders_agree_with_the_abi_on_every_event(world) -> None:
    activity(world)
    c = world.client
    logs = c.rpc.call(
        "eth_getLogs",
        {"fromBlock": hex(world.registry.deployment.block_number), "toBlock": "latest", "address": c.address},
    )
    decoder = LogDecoder(c.abi)
    names = set()
    for log in logs:
        spec = decoder.spec(log["topics"][0])
        assert spec is not None
        expected = c.abi.decode_log(log, checksum=False)
        assert expected is not None and spec.name == expected.name
        assert decoder.args(spec, log) == expected.args, spec.name
        names.add(spec.name)
    assert {
        "TransferSingle",
        "TransferBatch",
        "BatchIssued",
        "BatchImported",
        "CreditsRetired",
        "CreditsCancelled",
        "CreditsPledged",
        "ExportRequested",
        "LogRootAnchored",
        "ProjectSubmitted",
    } <= names
    # a malformed log (data too short) goes to the ABI's decoder, and decodes as it did before
    transfer = next(log for log in logs if decoder.spec(log["topics"][0]).name == "TransferSingle")  # type: ignore[union-attr]  # every log here is the registry's
    broken = {**transfer, "data": transfer["data"][:-64]}
    assert decoder.args(decoder.spec(broken["topics"][0]), broken) == c.abi.decode_log(broken, checksum=False).args  # type: ignore[arg-type,union-attr]  # a registry log: spec and decode_log find it


@pytest.mark.parametrize("in_process", [True, False])
def test_both_writers_give_the_same_mirror(world, tmp_path, in_process) -> None:
    activity(world)
    indexer = new_indexer(world, f"sqlite:///{tmp_path / 'a.sqlite'}", max_range=4, writer_process=in_process)
    indexer.sync_once()
    other = new_indexer(world, f"sqlite:///{tmp_path / 'b.sqlite'}", writer_process=not in_process)
    other.sync_once()
    assert dump(indexer.engine) == dump(other.engine)
    check_against_chain(indexer.engine, world.client)
    assert not store.missing_indexes(indexer.engine), "the deferred indexes are built at the end of the backfill"


def test_a_backfill_keeps_the_name_index_and_rebuilds_any_missing_one(world, tmp_path) -> None:
    activity(world)
    indexer = new_indexer(world, f"sqlite:///{tmp_path / 'mirror.sqlite'}", writer_process=True)
    live = [ix for ix in store.SECONDARY_INDEXES if ix.name in store.LIVE_INDEXES]
    assert live and not {ix.name for ix in live} & {ix.name for ix in store.DEFERRED_INDEXES}
    store.drop_deferred_indexes(indexer.engine)  # what a first backfill does: the name index stays
    assert {ix.name for ix in store.missing_indexes(indexer.engine)} == {ix.name for ix in store.DEFERRED_INDEXES}
    with indexer.engine.begin() as conn:  # an interrupted first backfill of an older version dropped it too
        for ix in live:
            ix.drop(conn)
    indexer.sync_once()
    inspector = inspect(indexer.engine)
    present = {
        i["name"] for table in {ix.table.name for ix in store.SECONDARY_INDEXES} for i in inspector.get_indexes(table)
    }
    assert {ix.name for ix in store.SECONDARY_INDEXES} <= present


def test_a_backfill_starts_writing_in_a_thread_and_hands_over_to_the_process(
    world, tmp_path, caplog, monkeypatch
) -> None:
    activity(world, rounds=2)
    indexer = new_indexer(world, f"sqlite:///{tmp_path / 'mirror.sqlite'}", max_range=2)
    ranges = {"n": 0}
    children: list[writer_module.ProcessWriter] = []
    real_init = writer_module.ProcessWriter.__init__

    def watched_init(self: writer_module.ProcessWriter, *args: object, **kwargs: object) -> None:
        real_init(self, *args, **kwargs)  # type: ignore[arg-type]
        children.append(self)  # a spy only: the writer is the real one

    monkeypatch.setattr(writer_module.ProcessWriter, "__init__", watched_init)

    def slow_first_range(*_: object) -> None:
        ranges["n"] += 1
        if ranges["n"] == 1:  # the thread has written the first range; the child starts meanwhile
            deadline = time.monotonic() + 60  # its start takes a second, many more on a loaded machine
            while not (children and children[0].ready) and time.monotonic() < deadline:
                time.sleep(0.05)

    with caplog.at_level(logging.INFO, logger="indexer.sync"):
        indexer.sync_once(slow_first_range)
    takeovers = [r for r in caplog.records if "takes over" in r.getMessage()]
    assert len(takeovers) == 1 and takeovers[0].from_block > world.registry.deployment.block_number  # type: ignore[attr-defined]  # set by the log handler's extra
    other = new_indexer(world, f"sqlite:///{tmp_path / 'threads.sqlite'}", writer_process=False)
    other.sync_once()
    assert dump(indexer.engine) == dump(other.engine)
    check_against_chain(indexer.engine, world.client)


def test_a_killed_writer_process_is_reported_and_a_resume_equals_a_fresh_index(world, tmp_path) -> None:
    activity(world, rounds=2)
    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    indexer = new_indexer(world, url, max_range=2, writer_process=True)
    ranges = {"n": 0}

    def kill_the_writer_at_the_third_range(*_: object) -> None:
        ranges["n"] += 1
        if ranges["n"] == 3:
            writers = _processes_with(url)
            assert len(writers) == 1, "one writer process, named by its database"
            os.kill(writers[0], signal.SIGKILL)

    with pytest.raises(WriterDiedError, match="exit code -9"):
        indexer.sync_once(kill_the_writer_at_the_third_range)
    c = world.client
    at = store.cursor(indexer.engine, c.chain_id, c.address.lower())
    assert at is None or at[0] < int(c.rpc.call("eth_blockNumber"), 16), (
        "at most the ranges before the kill were committed"
    )
    indexer.sync_once()  # the same indexer resumes from the database
    check_equals_a_fresh_index(world, indexer.engine, tmp_path)


def test_a_failure_in_the_writer_process_reaches_the_indexer_and_nothing_later_is_written(world, tmp_path) -> None:
    activity(world)
    indexer = new_indexer(world, f"sqlite:///{tmp_path / 'mirror.sqlite'}", max_range=2, writer_process=True)
    first = world.registry.deployment.block_number
    with indexer.engine.begin() as conn:  # the database refuses the second range (blocks first+2, first+3)
        conn.exec_driver_sql(
            f"CREATE TRIGGER refuse BEFORE UPDATE ON sync_cursor WHEN NEW.block_number > {first + 1} "
            "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END"
        )
    with pytest.raises(Exception, match="disk full") as raised:
        indexer.sync_once()
    assert not isinstance(raised.value, WriterDiedError), "the writer's own error, not its death"
    c = world.client
    at = store.cursor(indexer.engine, c.chain_id, c.address.lower())
    assert at is not None and at[0] == first + 1, "only the first range (blocks first, first+1) was committed"
    with indexer.engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM raw_events WHERE block_number > {first + 1}").scalar() == 0


def test_kill_9_of_the_indexer_leaves_no_writer_process_behind(world, tmp_path) -> None:
    activity(world, rounds=3)
    c = world.client
    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.indexer.index_run",
            url,
            c.rpc.url,
            c.address,
            str(world.registry.deployment.block_number),
        ]
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_processes_with(url)) < 2 and child.poll() is None:
        time.sleep(0.002)  # until the writer process has started
    assert child.poll() is None and len(_processes_with(url)) == 2, "the indexer and its writer process"
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 10
    while _processes_with(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(url) == [], "the writer process outlived the indexer"
    resumed = new_indexer(world, url)
    resumed.sync_once()
    check_equals_a_fresh_index(world, resumed.engine, tmp_path)


def _processes_with(text: str) -> list[int]:
    """Live (not zombie) processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found
