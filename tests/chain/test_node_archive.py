"""The durable node's bounded memory: anvil keeps only its last blocks' transactions
(--transaction-block-keeper); the keeper archives every block before anvil forgets it, and the
node's front answers history from the archive, across restarts and kill -9."""

from __future__ import annotations

import os
import signal
import threading
import time

from chain import keeper as keeper_module
from chain.archive import matches_topics
from chain.node import LocalNode
from chain.rpc import JsonRpc
from chain.types import Scenario
from tests.conftest import HASH, deploy_world

A, B, C = "0x" + "aa" * 32, "0x" + "bb" * 32, "0x" + "cc" * 32


def all_logs(rpc: JsonRpc, **flt: object) -> list[dict]:
    return rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", **flt})


def test_topic_rule_matches_anvils() -> None:
    assert matches_topics([A, B], [A])
    assert matches_topics([A, B], [None, [C, B.upper().replace("0X", "0x")]])
    assert matches_topics([A], [A, None])  # a wildcard beyond the log's topics matches (as in anvil)
    assert not matches_topics([A], [A, B])
    assert not matches_topics([A, B], [[B, C]])
    assert matches_topics([A, B], [[], B])


def test_the_front_answers_history_exactly_as_anvil_does(build, cast, tmp_path) -> None:
    """A window larger than the chain: anvil still holds every block, so the archive's answers
    (which the front gives for archived blocks) can be compared with anvil's own."""
    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=10_000)
    with node:
        world = deploy_world(node.url, tmp_path / "d", build, cast)
        c = world.client
        for k in range(3):
            c.retire(9000 + k, world.batch_id, 1 + k, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
        assert node.keeper is not None and node.front is not None
        node.keeper.snapshot()  # archives up to the head
        front, anvil = JsonRpc(node.url), JsonRpc(node.backend_url)
        head = int(anvil.call("eth_blockNumber"), 16)
        assert node.front.archive.head() == head
        some = all_logs(anvil, address=c.address)
        topic0, block_hash = some[-1]["topics"][0], some[-1]["blockHash"]
        filters: list[dict] = [
            {},
            {"address": c.address},
            {"address": [c.address.lower(), "0x" + "11" * 20]},
            {"address": c.address, "topics": [topic0]},
            {"topics": [[topic0, A]], "toBlock": hex(head - 1)},
            {"topics": [None, None, None, None]},
            {"fromBlock": hex(3), "toBlock": hex(head - 2)},
        ]
        for flt in filters:
            assert all_logs(front, **flt) == all_logs(anvil, **flt), flt
        assert front.call("eth_getLogs", {"blockHash": block_hash}) == anvil.call(
            "eth_getLogs", {"blockHash": block_hash}
        )
        for n in (1, head // 2, head):
            for full in (False, True):
                assert front.call("eth_getBlockByNumber", hex(n), full) == anvil.call(
                    "eth_getBlockByNumber", hex(n), full
                )
            assert front.call("eth_getBlockReceipts", hex(n)) == anvil.call("eth_getBlockReceipts", hex(n))
        tx = anvil.call("eth_getBlockByNumber", hex(head), True)["transactions"][0]
        assert front.call("eth_getBlockByHash", tx["blockHash"], True) == anvil.call(
            "eth_getBlockByHash", tx["blockHash"], True
        )


def test_history_beyond_the_window_survives_restarts_and_kill_9(build, cast, tmp_path) -> None:
    state = tmp_path / "anvil" / "state.json"
    node = LocalNode(state_file=state, block_window=4, log_file=tmp_path / "anvil" / "node.log")
    with node:
        world = deploy_world(node.url, tmp_path / "d", build, cast)
        c = world.client
        first = c.retire(9100, world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
        for k in range(1, 8):
            c.retire(9100 + k, world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
        anvil = JsonRpc(node.backend_url)
        assert anvil.call("eth_getTransactionReceipt", first.tx_hash) is None, "anvil was to forget it"
        front = c.rpc
        receipt = front.call("eth_getTransactionReceipt", first.tx_hash)
        assert receipt is not None and receipt["status"] == "0x1"
        assert front.call("eth_getTransactionByHash", first.tx_hash)["hash"] == first.tx_hash
        old = front.call("eth_getBlockByNumber", receipt["blockNumber"], True)
        assert [t["hash"] for t in old["transactions"]] == [first.tx_hash]
        retired = [e for e in c.decode_events(all_logs(front, address=c.address)) if e.name == "CreditsRetired"]
        assert len(retired) == 8
        front.call("anvil_mine", hex(50))  # far beyond the window: mined in parts, archived between them
        c.retire(9200, world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
        front.call("anvil_mine", hex(20))
        before_kill = all_logs(front, address=c.address)
        assert len([e for e in c.decode_events(before_kill) if e.name == "CreditsRetired"]) == 9
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGKILL)  # whatever the last snapshot missed is re-sent from the journal
        node.process.wait()
        node.start()
        after = all_logs(c.rpc, address=c.address)
        retired_after = [e for e in c.decode_events(after) if e.name == "CreditsRetired"]
        # the same transactions (a lost one re-sent by the journal, into another block), each once
        assert sorted(g["transactionHash"] for g in after) == sorted(g["transactionHash"] for g in before_kill)
        assert len(retired_after) == 9
        numbers = [(int(g["blockNumber"], 16), int(g["logIndex"], 16)) for g in after]
        assert numbers == sorted(set(numbers)), "no log twice, in chain order"
    with LocalNode(state_file=state, block_window=4) as again:
        logs = all_logs(JsonRpc(again.url), address=c.address)
        assert logs == after


def test_anvil_is_swapped_for_a_fresh_one_while_callers_keep_sending(build, cast, tmp_path, monkeypatch) -> None:
    """The keeper's answer to anvil's creeping memory: a new anvil from a fresh snapshot behind the
    same URL, with operations sent throughout; none fails, none is lost or applied twice."""
    monkeypatch.setattr(keeper_module, "REFRESH_MIN_INTERVAL", 0.0)
    monkeypatch.setattr(keeper_module, "RSS_SETTLE", 0.0)
    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=4)
    with node:
        world = deploy_world(node.url, tmp_path / "d", build, cast)
        c = world.client
        assert node.process is not None and node.keeper is not None
        first = node.process
        done: list[str] = []

        def send() -> None:
            for k in range(12):
                c.retire(9300 + k, world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
                done.append(str(k))

        sender = threading.Thread(target=send)
        sender.start()
        node.keeper.refresh_growth = -(2**40)  # whatever anvil holds counts as grown
        deadline = time.monotonic() + 60
        while node.keeper.refreshes < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        node.keeper.refresh_growth = 2**40
        sender.join(timeout=120)
        assert node.keeper.refreshes >= 1 and node.process is not first
        assert first.poll() is not None, "the old anvil was stopped"
        assert len(done) == 12
        retired = [e for e in c.decode_events(all_logs(c.rpc, address=c.address)) if e.name == "CreditsRetired"]
        assert len(retired) == 12
        assert all(c.is_operation_applied(9300 + k) for k in range(12))
        node.keeper.stop()  # the thread that asked for the new anvil ends: the anvil must not die with it
        time.sleep(0.5)
        assert node.process.poll() is None
