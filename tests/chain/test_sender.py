"""The bulk sender: a run killed halfway and re-run applies each operation once; stuck
transactions are replaced with higher fees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from chain.node import LocalNode
from chain.opids import sequential_op_ids
from chain.sender import BulkSender, Operation
from chain.types import Scenario
from tests.chain.bulk_run import client_for, operations
from tests.conftest import HASH, ISSUED, PROJECT, Cast, deploy_world

COUNT = 4_000


@pytest.fixture
def interval_node():
    with LocalNode(block_time=0.5) as node:
        yield node


def fund_buyer(client, cast: Cast, batch_id: int) -> None:
    client.transfer(cast.holder.address, cast.buyer.address, batch_id, 5_000, sender=cast.holder)


def applied_count(client, ids: list[int]) -> int:
    words = {i >> 8 for i in ids}
    bits = {w: client.view("appliedOperationBits", w) for w in words}
    return sum(1 for i in ids if bits[i >> 8] >> (i & 0xFF) & 1)


def op_ids_in_events(client) -> Counter[int]:
    logs = client.rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": client.address})
    events = client.decode_events(logs)
    return Counter(e.args["opId"] for e in events if e.name in {"CreditsRetired", "CreditsTransferred"})


def test_a_run_killed_halfway_then_rerun_applies_every_operation_exactly_once(
    interval_node, build, cast, tmp_path
) -> None:
    world = deploy_world(interval_node.url, tmp_path, build, cast)
    client, batch_id = world.client, world.batch_id
    fund_buyer(client, cast, batch_id)
    ops = operations("killed-run", COUNT, batch_id)
    ids = [op.op_id for op in ops]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.chain.bulk_run", interval_node.url, client.address, "killed-run", str(COUNT)],
        cwd=os.getcwd(),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and applied_count(client, ids) == 0:
        assert child.poll() is None, "the bulk run ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    applied_before = applied_count(client, ids)
    assert 0 < applied_before < COUNT, "the kill must land mid-run"

    report = BulkSender(client_for(interval_node.url, client.address), batch_size=100).run(ops)
    assert report.failed == 0
    assert report.applied + report.already_applied == COUNT
    assert report.already_applied >= applied_before  # txs still pending at the kill may land during settling
    counts = op_ids_in_events(client)
    assert all(counts[i] == 1 for i in ids), "an operation was applied twice or never"
    retirements = COUNT // 2
    assert client.supply(batch_id).retired == retirements
    assert client.supply(batch_id).issued == ISSUED


def test_stuck_transactions_are_replaced_with_higher_fees(build, cast, tmp_path) -> None:
    with LocalNode(block_time=None) as node:
        world = deploy_world(node.url, tmp_path, build, cast)
        client, batch_id = world.client, world.batch_id
        client.rpc.call("evm_setAutomine", False)  # nothing is mined until we say so
        ids = sequential_op_ids("stuck-run", 20)
        ops = [Operation(i, "retire", (i, batch_id, 1, int(Scenario.PERSONAL), HASH, HASH), cast.holder) for i in ids]
        miner = threading.Timer(2.5, lambda: client.rpc.call("evm_mine"))
        miner.start()
        try:
            report = BulkSender(client, stuck_after=1.0).run(ops)
        finally:
            miner.cancel()
        assert report.replaced >= len(ops)
        assert report.applied == len(ops) and report.failed == 0
        mined = client.rpc.call("eth_getTransactionByHash", report.results[0].tx_hash)
        assert (
            mined is not None and int(mined["maxPriorityFeePerGas"], 16) > 1_000_000_000
        )  # bumped above the first tip
        assert client.supply(batch_id).retired == len(ops)


def test_a_rerun_of_a_finished_run_sends_nothing(world) -> None:
    ids = sequential_op_ids("finished-run", 10)
    ops = [
        Operation(i, "retire", (i, world.batch_id, 1, int(Scenario.PERSONAL), HASH, HASH), world.cast.holder)
        for i in ids
    ]
    first = BulkSender(world.client).run(ops)
    assert first.applied == 10
    nonce = world.client.rpc.call("eth_getTransactionCount", world.cast.holder.address, "latest")
    second = BulkSender(world.client).run(ops)
    assert second.already_applied == 10 and second.applied == 0
    assert world.client.rpc.call("eth_getTransactionCount", world.cast.holder.address, "latest") == nonce


def test_a_failing_operation_is_reported_with_its_decoded_error(world) -> None:
    ids = sequential_op_ids("failing-run", 2)
    ops = [
        Operation(ids[0], "retire", (ids[0], world.batch_id, 1, 0, HASH, HASH), world.cast.holder, "row 1"),
        Operation(ids[1], "retire", (ids[1], world.batch_id, 10**9, 0, HASH, HASH), world.cast.holder, "row 2"),
    ]
    report = BulkSender(world.client).run(ops)
    assert [r.outcome for r in report.results] == ["applied", "failed"]
    error = report.results[1].error
    assert error is not None and error.name == "RegistryInsufficientFreeBalance"
    assert world.client.project(PROJECT).batch_count == 1


def test_only_operations_with_their_own_operation_id_are_accepted(world) -> None:
    from chain.errors import InvalidInputError

    holder = world.cast.holder
    transfer = Operation(
        5, "safeTransferFrom", (holder.address, world.cast.buyer.address, world.batch_id, 1, b""), holder
    )
    with pytest.raises(InvalidInputError, match="takes no operation id"):
        BulkSender(world.client).run([transfer])
    mismatched = Operation(5, "retire", (6, world.batch_id, 1, 0, HASH, HASH), holder, "row 3")
    with pytest.raises(InvalidInputError, match="row 3: its first argument must be its operation id"):
        BulkSender(world.client).run([mismatched])


def test_a_refused_send_does_not_leave_the_run_waiting_on_a_growing_chain(build, cast, tmp_path) -> None:
    with LocalNode(block_time=0.5) as node:
        world = deploy_world(node.url, tmp_path, build, cast)
        ids = sequential_op_ids("gap-run", 2)
        ops = [
            Operation(
                ids[0],
                "retire",
                (ids[0], world.batch_id, 1, 0, HASH, HASH),
                cast.holder,
                "too much gas",
                gas=400_000_000,
            ),
            Operation(ids[1], "retire", (ids[1], world.batch_id, 1, 0, HASH, HASH), cast.holder, "fine"),
        ]
        started = time.monotonic()
        report = BulkSender(world.client, stuck_after=1.0, max_rounds=2).run(ops)
        assert time.monotonic() - started < 60
        first = report.results[0]
        assert first.outcome == "failed" and first.error is not None and "refused" in str(first.error)
        assert report.results[1].outcome in {"applied", "unconfirmed"}
