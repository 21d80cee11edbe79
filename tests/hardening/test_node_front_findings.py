"""Findings of a hostile pass on the durable node's front and archive (issue 12): each test failed
before its fix."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from chain.archive import Archive
from chain.errors import NodeStartError
from chain.node import LocalNode
from chain.rpc import JsonRpc

# init code of a contract whose every call emits one log with no topics (PUSH1 0 PUSH1 0 LOG0 STOP)
EMITTER = "0x6006600c60003960066000f3" + "60006000a000"


def _wait(check: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def _emitter(rpc: JsonRpc) -> tuple[str, str]:
    sender = rpc.call("eth_accounts")[0]
    tx = rpc.call("eth_sendTransaction", {"from": sender, "data": EMITTER})
    receipt = _wait(lambda: rpc.call("eth_getTransactionReceipt", tx))
    return sender, receipt["contractAddress"]


def _emit(rpc: JsonRpc, sender: str, address: str) -> str:
    tx = rpc.call("eth_sendTransaction", {"from": sender, "to": address})
    _wait(lambda: rpc.call("eth_getTransactionReceipt", tx))
    return str(tx)


def test_an_empty_address_list_matches_every_address_in_archived_blocks_too(tmp_path: Path) -> None:
    """anvil reads `"address": []` as no address filter; the archive read it as none of them, so
    the same eth_getLogs found the logs of recent blocks but none of the archived ones."""
    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=2)
    with node:
        rpc = JsonRpc(node.url)
        sender, address = _emitter(rpc)
        for _ in range(5):
            _emit(rpc, sender, address)
        assert node.keeper is not None and node.front is not None
        node.keeper.snapshot()
        assert node.front.archive.head() >= 4  # some of the logs come from the archive
        every = rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
        assert len(every) == 5
        assert rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": []}) == every


def test_a_full_disk_for_the_archive_holds_mining_and_keeps_the_keeper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's 'database or disk is full' is no OSError: it ended the keeper's thread, so the node
    never mined again (every later send hung) even once space was freed, and nothing said why.
    While the archive cannot be written the node must not mine past it (anvil would forget the
    transactions of unarchived blocks); once it can, it catches up and mines again."""
    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=4, snapshot_interval=0.1)
    full = {"on": False}
    add = Archive._add

    def add_or_fail(self: Archive, *args: Any) -> None:
        if full["on"]:
            raise sqlite3.OperationalError("database or disk is full")
        add(self, *args)

    monkeypatch.setattr(Archive, "_add", add_or_fail)
    with node:
        rpc = JsonRpc(node.url)
        sender, address = _emitter(rpc)
        assert node.keeper is not None and node.front is not None
        keeper, archive = node.keeper, node.front.archive
        _wait(lambda: archive.head() == int(rpc.call("eth_blockNumber"), 16))
        full["on"] = True
        sent = [rpc.call("eth_sendTransaction", {"from": sender, "to": address}) for _ in range(8)]
        time.sleep(3)
        assert keeper._thread is not None and keeper._thread.is_alive()
        head = int(rpc.call("eth_blockNumber"), 16)
        assert head <= archive.head() + 1  # at most the block whose archiving failed
        full["on"] = False
        for tx in sent:
            _wait(lambda tx=tx: rpc.call("eth_getTransactionReceipt", tx))
        keeper.snapshot()
        assert len(rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})) == 8


def test_stopping_with_an_unwritable_archive_still_stops_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stop()'s last snapshot archives first; a SQLite failure there escaped stop(), leaving anvil
    running, the front listening and the state locked (the next start refused: 'another node')."""
    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=4)
    node.start()
    try:
        rpc = JsonRpc(node.url)
        sender, address = _emitter(rpc)

        def fail(self: Archive, *args: Any) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(Archive, "_add", fail)
        rpc.call("eth_sendTransaction", {"from": sender, "to": address})
        process = node.process
        node.stop()
        assert process is not None and process.poll() is not None
        assert node.state_lock is None and node.front is None
    finally:
        if node.process is not None and node.process.poll() is None:
            node.process.kill()


def test_an_unreadable_archive_refuses_the_start_in_one_line(tmp_path: Path) -> None:
    """A garbage archive.sqlite made start() raise SQLite's bare 'file is not a database' after the
    front and anvil were up (both left running, the state locked); now a one-line refusal naming
    the file and the fix, and nothing left behind."""
    state = tmp_path / "anvil" / "state.json"
    with LocalNode(state_file=state, block_window=4) as node:
        rpc = JsonRpc(node.url)
        _emitter(rpc)
    archive = state.parent / "archive.sqlite"
    for leftover in state.parent.glob("archive.sqlite*"):
        leftover.unlink()
    archive.write_bytes(b"not a database" * 500)
    node = LocalNode(state_file=state, block_window=4)
    with pytest.raises(NodeStartError) as refused:
        node.start()
    message = str(refused.value)
    assert "\n" not in message and str(archive) in message and "mv " in message
    assert node.state_lock is None and node.front is None
    assert node.process is None or node.process.poll() is not None


def test_a_blocks_transactions_by_count_and_position_come_from_the_archive(tmp_path: Path) -> None:
    """eth_getBlockTransactionCountBy* answered 0x0 and eth_getTransactionByBlock*AndIndex null for
    an archived block with transactions (anvil's answer once it forgot them): wrong, not an error."""
    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=2)
    with node:
        rpc = JsonRpc(node.url)
        sender, address = _emitter(rpc)
        first = _emit(rpc, sender, address)
        for _ in range(5):
            _emit(rpc, sender, address)
        assert node.keeper is not None
        node.keeper.snapshot()
        receipt = rpc.call("eth_getTransactionReceipt", first)
        number, block_hash = receipt["blockNumber"], receipt["blockHash"]
        assert rpc.call("eth_getBlockTransactionCountByNumber", number) == "0x1"
        assert rpc.call("eth_getBlockTransactionCountByHash", block_hash) == "0x1"
        assert rpc.call("eth_getTransactionByBlockNumberAndIndex", number, "0x0")["hash"] == first
        assert rpc.call("eth_getTransactionByBlockHashAndIndex", block_hash, "0x0")["hash"] == first
        assert rpc.call("eth_getTransactionByBlockNumberAndIndex", number, "0x1") is None
        head = rpc.call("eth_blockNumber")  # still in anvil: passed through
        assert rpc.call("eth_getBlockTransactionCountByNumber", head) == "0x1"


def test_a_deleted_archive_refuses_the_start_instead_of_serving_a_chain_without_its_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With archive.sqlite deleted, the node started and eth_getLogs from block 0 found 4 of 12 logs,
    with one log line to say so: now the start is refused in one line naming the fix, and an operator
    who accepts the loss says so explicitly."""
    state = tmp_path / "anvil" / "state.json"
    with LocalNode(state_file=state, block_window=4) as node:
        rpc = JsonRpc(node.url)
        sender, address = _emitter(rpc)
        for _ in range(12):
            _emit(rpc, sender, address)
        assert len(rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})) == 12
    for leftover in state.parent.glob("archive.sqlite*"):
        leftover.unlink()
    node = LocalNode(state_file=state, block_window=4)
    with pytest.raises(NodeStartError) as refused:
        node.start()
    message = str(refused.value)
    assert "\n" not in message and "archive.sqlite" in message and "restore it from a backup" in message
    assert "LEDGER_NODE_ACCEPT_LOST_HISTORY=1" in message
    assert node.state_lock is None and node.front is None
    assert node.process is None or node.process.poll() is not None
    monkeypatch.setenv("LEDGER_NODE_ACCEPT_LOST_HISTORY", "1")
    with LocalNode(state_file=state, block_window=4) as accepted:
        logs = JsonRpc(accepted.url).call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
        assert 0 < len(logs) < 12  # served, without the history the operator accepted to lose


@pytest.mark.parametrize("length", ["-1", "abc", "9" * 30, "٣"])
def test_a_bad_content_length_is_refused_at_once_not_waited_on(tmp_path: Path, length: str) -> None:
    """`Content-Length: -1` made the front read until the caller closed (a thread held for as long
    as the caller liked); a non-number raised in the handler; 10^30 asked to read forever."""
    import socket
    from urllib.parse import urlsplit

    node = LocalNode(state_file=tmp_path / "anvil" / "state.json")
    with node:
        where = urlsplit(node.url)
        assert where.hostname is not None and where.port is not None
        with socket.create_connection((where.hostname, where.port), timeout=5) as raw:
            raw.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
            reply = raw.recv(4096).decode("latin-1")  # a timeout here is the thread held
        assert reply.startswith("HTTP/1.1 400") or reply.startswith("HTTP/1.0 400"), reply[:80]
        assert JsonRpc(node.url).call("eth_chainId")  # the front still answers


def test_a_huge_archived_log_query_is_refused_as_providers_do_and_the_fetcher_splits_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The front built every archived log of a range in memory, however many; now it answers
    "query returned more than N results" past N, and the one fetcher (chain/logs.py) narrows its
    range and still reads every log."""
    import chain.front
    from chain.logs import LogFetcher

    monkeypatch.setattr(chain.front, "MAX_LOGS", 3)
    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=2)
    with node:
        rpc = JsonRpc(node.url)
        sender, address = _emitter(rpc)
        for _ in range(6):
            _emit(rpc, sender, address)
        assert node.keeper is not None and node.front is not None
        node.keeper.snapshot()
        archived = node.front.archive.head()
        assert archived >= 6
        with pytest.raises(Exception, match="more than 3 results"):
            rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(archived)})
        found = LogFetcher(rpc, address, start_range=64).fetch_all(0, archived)
        assert len(found) == 6 and len({(log["blockNumber"], log["logIndex"]) for log in found}) == 6


def test_a_batch_that_mines_still_reads_history_from_the_archive(tmp_path: Path) -> None:
    """A batch holding evm_mine went to anvil whole, so an eth_getLogs beside it missed every
    archived block's logs."""
    import requests

    node = LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=2)
    with node:
        rpc = JsonRpc(node.url)
        sender, address = _emitter(rpc)
        for _ in range(5):
            _emit(rpc, sender, address)
        assert node.keeper is not None and node.front is not None
        node.keeper.snapshot()
        assert node.front.archive.head() >= 4
        batch = [
            {"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_getLogs", "params": [{"fromBlock": "0x0", "address": address}]},
        ]
        replies = requests.post(node.url, json=batch, timeout=30).json()
        assert [r["id"] for r in replies] == [1, 2] and "result" in replies[0]
        assert len(replies[1]["result"]) == 5
