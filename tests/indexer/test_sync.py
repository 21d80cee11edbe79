"""The mirror equals the chain: after a backfill, after reorganisations, after kill -9."""

from __future__ import annotations

import pytest

from indexer.fetch import split_at_blocks
from tests.indexer.helpers import activity, check_against_chain, check_equals_a_fresh_index, dump, new_indexer


def test_a_backfill_mirrors_every_event_and_the_invariants_hold(world, tmp_path) -> None:
    activity(world, rounds=2)
    indexer = new_indexer(world, f"sqlite:///{tmp_path / 'mirror.sqlite'}")
    stored = indexer.sync_once()
    assert stored > 50
    check_against_chain(indexer.engine, world.client)
    tables = dump(indexer.engine)
    assert len(tables["retirements"]) == 4 and len(tables["anchored_roots"]) == 2
    assert any(row[4] == "retired" for row in tables["lots"])
    assert indexer.sync_once() == 0  # nothing new


def test_a_large_answer_is_cut_into_steps_between_blocks(world, tmp_path) -> None:
    activity(world)
    c = world.client
    start, head = world.registry.deployment.block_number, int(c.rpc.call("eth_blockNumber"), 16)
    logs = c.rpc.call("eth_getLogs", {"fromBlock": hex(start), "toBlock": hex(head), "address": c.address})
    steps = split_at_blocks(start, head, logs, 5)
    assert len(steps) > 3
    assert [entry for _, _, part in steps for entry in part] == logs  # nothing lost, nothing reordered
    assert steps[0][0] == start and steps[-1][1] == head
    for (first, last, part), following in zip(steps, steps[1:]):
        assert following[0] == last + 1  # consecutive blocks, none skipped
        assert len(part) >= 5 and all(first <= int(e["blockNumber"], 16) <= last for e in part)
        assert part[-1]["blockNumber"] != following[2][0]["blockNumber"]  # a block is never split
    stepped = new_indexer(world, f"sqlite:///{tmp_path / 'stepped.sqlite'}", max_range=10_000)
    stepped.fetcher.target_events = 5
    stepped.sync_once()
    check_equals_a_fresh_index(world, stepped.engine, tmp_path)


def test_indexing_in_small_ranges_gives_the_same_mirror(world, tmp_path) -> None:
    activity(world)
    whole = new_indexer(world, f"sqlite:///{tmp_path / 'a.sqlite'}")
    whole.sync_once()
    pieces = new_indexer(world, f"sqlite:///{tmp_path / 'b.sqlite'}", max_range=3)
    pieces.sync_once()
    assert dump(pieces.engine) == dump(whole.engine)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_a_reorganisation_is_rolled_back_and_reapplied(world, tmp_path, depth) -> None:
    c, cast = world.client, world.cast
    activity(world)
    indexer = new_indexer(world, f"sqlite:///{tmp_path / 'mirror.sqlite'}")
    indexer.sync_once()
    # replace the last `depth` blocks by blocks holding other transactions
    op = world.op()
    replacement = c.abi.encode_call("retire", (op, world.batch_id, 7, 0, b"\x55" * 32, b"\x56" * 32))
    tx = {"from": cast.holder.address, "to": c.address, "data": "0x" + replacement.hex(), "gas": hex(300_000)}
    c.rpc.call("anvil_reorg", depth, [[tx, 0]])
    assert indexer.handle_reorg() >= 1
    indexer.sync_once()
    check_equals_a_fresh_index(world, indexer.engine, tmp_path)
    assert c.is_operation_applied(op)
