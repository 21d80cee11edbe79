"""Two relays with different keys on the same pair at once, blocks mined once a second so each
one's transactions wait in the pool while the other reads: every export still ends imported once
and confirmed, or refused on the destination and aborted-and-released on the source."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from eth_account.signers.local import LocalAccount

from bridge.origin import origin_key
from bridge.recognition import RELAYER_ROLE, RecognitionContract
from bridge.reconcile import reconcile
from bridge.relay import Endpoint, PassReport, Relay
from chain.client import RegistryClient
from chain.roles import role_id
from chain.rpc import JsonRpc
from chain.types import ExportStatus
from tests.bridge.conftest import DESTINATION_NAME, SOURCE_NAME, Pair
from tests.bridge.test_crash_and_reorg import ROOT, imports_under, relay_env, wait_pending
from tests.conftest import HOLDER_START, METHODOLOGY


def _start(pair: Pair, key: str) -> subprocess.Popen[bytes]:
    env = {**relay_env(pair), "LEDGER_BRIDGE_SOURCE_KEY": key, "LEDGER_BRIDGE_DESTINATION_KEY": key}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bridge.relay_loop", "150"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_two_relays_with_different_keys_never_import_and_abort_one_export(pair: Pair) -> None:
    src, dst, cast = pair.source.client, pair.destination.client, pair.source.cast
    second = cast.newcomer  # the second relay's key: registrar on the source, relayer at the gate
    src.transact("grantRole", (role_id("REGISTRAR_ROLE"), second.address), sender=cast.admin)
    dst.transact("grantRole", (RELAYER_ROLE, second.address), sender=cast.admin)
    # 6 exports of a recognised methodology, 3 of one the destination never recognised (SCGM-002-V01)
    recognised = {pair.export(1_000 + i): 1_000 + i for i in range(6)}
    unrecognised = {
        pair.export(2_000 + i, holder=cast.owner.address, batch=pair.other_batch): 2_000 + i for i in range(3)
    }
    for rpc in (src.rpc, dst.rpc):
        rpc.call("evm_setAutomine", False)
        rpc.call("evm_setIntervalMining", 1)

    relays = [_start(pair, "0x" + bytes(k.key).hex()) for k in (cast.registrar, second)]
    # once an import waits in the destination's pool, the destination withdraws its recognition
    wait_pending(dst.rpc, cast.registrar.address, second.address)
    pair.recognitions.withdraw(SOURCE_NAME, METHODOLOGY, b"\x0a" * 32)
    outputs = [r.communicate(timeout=200) for r in relays]
    for rpc in (src.rpc, dst.rpc):
        rpc.call("evm_setIntervalMining", 0)
        rpc.call("evm_setAutomine", True)

    for relay, (out, err) in zip(relays, outputs, strict=True):
        assert relay.returncode == 0, err.decode()[-2000:]
        assert b"seen=" in out and not out.startswith(b"seen=0 "), out  # each relay acted on the exports
    confirmed = aborted = 0
    for export_id, amount in {**recognised, **unrecognised}.items():
        key = origin_key(src.chain_id, src.address, export_id)
        status = src.export_of(export_id).status
        if status == ExportStatus.CONFIRMED:
            assert imports_under(pair, key) == 1
            assert dst.supply(int(dst.view("importedBatch", key))).issued == amount
            confirmed += 1
        else:
            assert status == ExportStatus.ABORTED, (export_id, status)
            assert imports_under(pair, key) == 0
            assert pair.recognitions.client.view("refusedWith", key) != b"\0" * 32
            aborted += 1
    assert confirmed + aborted == 9 and aborted >= 3  # the unrecognised three are always refused
    assert all(src.export_of(i).status == ExportStatus.ABORTED for i in unrecognised)
    checker = pair.relay()
    found = reconcile(checker.source, checker.destination)
    assert found.ok, found.problems


class RefusesEverything(RecognitionContract):
    """A relay whose own read says the methodology is not recognised (a stale or misconfigured view)."""

    def refusals(self, origin_registry: str, methodology_ids: set[str]) -> dict[str, str]:
        return {m: f"MethodologyNotRecognised: {m} (this relay's view)" for m in methodology_ids}


def _own_relay(pair: Pair, key: LocalAccount, recognition: type[RecognitionContract]) -> Relay:
    """A relay with its own connections (it runs in a thread beside another) and its own key."""
    s, d = pair.source.client, pair.destination.client
    src = RegistryClient(JsonRpc(pair.source_node.url), s.address, s.abi, chain_id=s.chain_id, signer=key)
    dst = RegistryClient(JsonRpc(pair.destination_node.url), d.address, d.abi, chain_id=d.chain_id, signer=key)
    gate = recognition(
        RecognitionContract.at(dst.rpc, pair.recognitions.client.address, chain_id=d.chain_id, signer=key).client
    )
    return Relay(Endpoint(src, SOURCE_NAME), Endpoint(dst, DESTINATION_NAME), gate, settle_timeout=30.0)


def _sent_or_done(rpc: JsonRpc, address: str, step: Future[PassReport], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not step.done():
        if rpc.call("eth_getTransactionCount", address, "pending") != rpc.call(
            "eth_getTransactionCount", address, "latest"
        ):
            return
        time.sleep(0.05)


@pytest.mark.parametrize("first", ["import", "refusal"])
def test_an_import_and_a_refusal_in_one_block_decide_the_key_once(pair: Pair, first: str) -> None:
    """Relay A imports, relay B (another key, another view) refuses the same export while the first
    one's transaction waits in the destination's pool (mined in one block afterwards). Whichever was
    sent first decides: the second is refused before it is sent or reverts when mined, and the
    source is told only what the destination decided. (Before the gate, the refusing relay aborted
    on the source as soon as its own key had nothing pending, with the other's import in the pool.)"""
    src, dst, cast = pair.source.client, pair.destination.client, pair.source.cast
    second = cast.newcomer
    src.transact("grantRole", (role_id("REGISTRAR_ROLE"), second.address), sender=cast.admin)
    dst.transact("grantRole", (RELAYER_ROLE, second.address), sender=cast.admin)
    export_id = pair.export(3_000)
    key = origin_key(src.chain_id, src.address, export_id)
    importer = _own_relay(pair, cast.registrar, RecognitionContract)
    refuser = _own_relay(pair, second, RefusesEverything)
    order = [(importer, cast.registrar), (refuser, second)]
    if first == "refusal":
        order.reverse()
    dst.rpc.call("evm_setAutomine", False)
    with ThreadPoolExecutor(2) as pool:
        (a, a_key), (b, b_key) = order
        passes = [pool.submit(a.step)]
        wait_pending(dst.rpc, a_key.address)  # the first one's transaction waits in the pool
        passes.append(pool.submit(b.step))
        # the second one's is refused before it is sent (its simulation sees the pending first one),
        # or it waits in the pool too and reverts when mined after the first: either way not applied
        _sent_or_done(dst.rpc, b_key.address, passes[1])
        dst.rpc.call("evm_mine")  # one block, in the order sent
        dst.rpc.call("evm_setAutomine", True)
        reports = [p.result(timeout=120) for p in passes]
    assert sum(r.confirmed + r.aborted for r in reports) <= 1
    for relay in (importer, refuser):  # later passes settle it, and never the other way
        relay.step()
    status = src.export_of(export_id).status
    refused = pair.recognitions.client.view("refusedWith", key) != b"\0" * 32
    if first == "import":
        assert (status, imports_under(pair, key), refused) == (ExportStatus.CONFIRMED, 1, False)
        assert src.supply(1).cancelled == 3_000
    else:
        assert (status, imports_under(pair, key), refused) == (ExportStatus.ABORTED, 0, True)
        assert src.free_balance_of(cast.holder.address, 1) == HOLDER_START  # released
    checker = pair.relay()
    found = reconcile(checker.source, checker.destination)
    assert found.ok, found.problems
