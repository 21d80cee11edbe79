"""kill -9 at any instant loses or duplicates nothing: resume equals a fresh index."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from sqlalchemy import Engine

from chain.client import RegistryClient
from indexer import store
from indexer.db import make_engine
from tests.indexer.helpers import activity, check_equals_a_fresh_index, new_indexer


def test_kill_during_backfill_then_resume_equals_a_fresh_index(world, tmp_path) -> None:
    activity(world, rounds=4)
    c = world.client
    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    start = world.registry.deployment.block_number
    head = int(c.rpc.call("eth_blockNumber"), 16)
    engine = make_engine(url)
    kills_mid_run = 0
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.indexer.index_run", url, c.rpc.url, c.address, str(start)]
        )
        before = _cursor(engine, c)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None and _cursor(engine, c) == before:
            time.sleep(0.002)
        child.send_signal(signal.SIGKILL)
        child.wait()
        at = _cursor(engine, c)
        if at is not None and at < head:
            kills_mid_run += 1
    assert kills_mid_run >= 1, "no kill landed in the middle of the backfill"
    resumed = new_indexer(world, url, max_range=1)
    resumed.sync_once()
    check_equals_a_fresh_index(world, resumed.engine, tmp_path)


def _cursor(engine: Engine, client: RegistryClient) -> int | None:
    try:
        at = store.cursor(engine, client.chain_id, client.address.lower())
    except Exception:  # the child has not created the tables yet
        return None
    return at[0] if at else None


def _wait_for_cursor(engine: Engine, client: RegistryClient, block: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while (_cursor(engine, client) or -1) < block:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_kill_during_follow_then_resume_equals_a_fresh_index(world, tmp_path) -> None:
    c = world.client
    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    start = world.registry.deployment.block_number
    engine = make_engine(url)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.indexer.index_run", url, c.rpc.url, c.address, str(start), "follow"]
    )
    try:
        head_before = int(c.rpc.call("eth_blockNumber"), 16)
        # following: its backfill of the session's chain so far is done (a first range's commit is not enough)
        assert _wait_for_cursor(engine, c, head_before), "the follower did not finish its backfill"
        activity(world)  # the follower indexes these blocks as they come
        assert _wait_for_cursor(engine, c, head_before + 1), "the follower did not keep up with the activity"
        child.send_signal(signal.SIGKILL)
        child.wait()
        activity(world)  # more blocks while no indexer runs
    finally:
        if child.poll() is None:
            child.kill()
    resumed = new_indexer(world, url)
    resumed.sync_once()
    check_equals_a_fresh_index(world, resumed.engine, tmp_path)
