"""kill -9 of the relay after each step, and reorganisations of either chain while it relays:
every export still ends imported once and confirmed (the relay keeps nothing of its own)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.origin import origin_key
from bridge.reconcile import reconcile
from chain.rpc import JsonRpc
from chain.types import ExportStatus
from tests.bridge.conftest import DESTINATION_NAME, SOURCE_NAME, Pair
from tests.conftest import HOLDER_START

ROOT = Path(__file__).resolve().parents[2]


def relay_env(pair: Pair) -> dict[str, str]:
    key = "0x" + bytes(pair.source.cast.registrar.key).hex()
    return {
        **os.environ,
        "LEDGER_BRIDGE_SOURCE_RPC_URL": pair.source_node.url,
        "LEDGER_BRIDGE_SOURCE_REGISTRY": pair.source.client.address,
        "LEDGER_BRIDGE_SOURCE_NAME": SOURCE_NAME,
        "LEDGER_BRIDGE_SOURCE_KEY": key,
        "LEDGER_BRIDGE_DESTINATION_RPC_URL": pair.destination_node.url,
        "LEDGER_BRIDGE_DESTINATION_REGISTRY": pair.destination.client.address,
        "LEDGER_BRIDGE_DESTINATION_NAME": DESTINATION_NAME,
        "LEDGER_BRIDGE_DESTINATION_KEY": key,
        "LEDGER_BRIDGE_DESTINATION_RECOGNITIONS": pair.recognitions.client.address,
    }


def start_relay(pair: Pair, crash_at: str = "") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bridge.relay_process", crash_at],
        cwd=ROOT,
        env=relay_env(pair),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def imports_under(pair: Pair, key: bytes) -> int:
    d = pair.relay().destination
    return sum(1 for e in d.events("BatchImported", 0, d.head()) if bytes(e.args["originKey"]) == key)


def assert_exactly_once(pair: Pair, export_id: int, amount: int) -> None:
    src, dst = pair.source.client, pair.destination.client
    key = origin_key(src.chain_id, src.address, export_id)
    assert src.export_of(export_id).status == ExportStatus.CONFIRMED
    assert imports_under(pair, key) == 1
    batch = int(dst.view("importedBatch", key))
    assert dst.supply(batch).issued == amount
    assert src.supply(1).cancelled == amount
    relay = pair.relay()
    found = reconcile(relay.source, relay.destination)
    assert found.ok, found.problems
    assert found.source_exported == found.destination_imported == amount


def wait_pending(rpc: JsonRpc, *addresses: str, timeout: float = 30.0) -> None:
    """Until one of `addresses` has a transaction in the node's pool (sent, not mined)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(
            rpc.call("eth_getTransactionCount", a, "pending") != rpc.call("eth_getTransactionCount", a, "latest")
            for a in addresses
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the relay sent nothing")


@pytest.mark.parametrize("step", ["seen", "imported", "confirm ready", "confirmed"])
def test_kill_at_a_step_then_restart_applies_once(pair: Pair, step: str) -> None:
    export_id = pair.export(3_000)
    crashed = start_relay(pair, step)
    assert crashed.wait(timeout=120) == -9  # SIGKILL, at that step
    restarted = start_relay(pair)
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()[-2000:]
    assert_exactly_once(pair, export_id, 3_000)
    # after a crash once the import was mined, the restart imported nothing more
    if step in ("imported", "confirm ready", "confirmed"):
        assert b"imported=0" in out


@pytest.mark.parametrize("side", ["destination", "source"])
def test_kill_with_a_transaction_in_the_pool_then_restart(pair: Pair, side: str) -> None:
    """The import (or the confirmation) was sent but not mined when the relay died."""
    export_id = pair.export(3_000)
    node = pair.destination.client.rpc if side == "destination" else pair.source.client.rpc
    node.call("evm_setAutomine", False)
    relay = start_relay(pair)
    wait_pending(node, pair.source.cast.registrar.address)
    relay.kill()
    relay.wait(timeout=30)
    node.call("evm_mine")
    node.call("evm_setAutomine", True)
    restarted = start_relay(pair)
    _, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()[-2000:]
    assert_exactly_once(pair, export_id, 3_000)


def test_a_reorg_of_the_source_drops_a_request_the_relay_never_acted_on(pair: Pair) -> None:
    src = pair.source.client
    export_id = pair.export(3_000)
    relay = pair.relay(source_depth=2)
    assert relay.step().seen == 0  # one block deep of the two needed: not acted on
    src.rpc.call("anvil_reorg", 1, [])  # the request's block is replaced by an empty one
    for _ in range(3):
        src.rpc.call("evm_mine")
    assert src.export_of(export_id).status == ExportStatus.NONE
    report = relay.step()
    assert (report.seen, report.imported) == (0, 0)
    assert src.free_balance_of(pair.source.cast.holder.address, 1) == HOLDER_START
    assert imports_under(pair, origin_key(src.chain_id, src.address, export_id)) == 0


def test_a_reorg_of_the_destination_drops_an_import_which_is_made_again(pair: Pair) -> None:
    dst = pair.destination.client
    export_id = pair.export(3_000)
    relay = pair.relay(destination_depth=2)
    first = relay.step()
    assert (first.imported, first.confirmed, first.waiting) == (1, 0, 1)  # not deep enough to confirm
    dst.rpc.call("anvil_reorg", 1, [])  # the import's block is replaced by an empty one
    key = origin_key(pair.source.client.chain_id, pair.source.client.address, export_id)
    assert int(dst.view("importedBatch", key)) == 0
    second = relay.step()
    assert (second.imported, second.confirmed) == (1, 0)  # the same origin key and op id, once more
    for _ in range(2):
        dst.rpc.call("evm_mine")
    third = relay.step()
    assert (third.imported, third.confirmed) == (0, 1)
    assert_exactly_once(pair, export_id, 3_000)
