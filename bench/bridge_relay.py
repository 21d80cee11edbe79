"""1,000 exports relayed end to end between two anvils, against a naive one-at-a-time relay.

    .venv/bin/python bench/bridge_relay.py [--exports 1000]

Both relays do the same work per export (an import through the destination's import gate, a
confirmation on the source) and are counted the same way: every JSON-RPC call, a batch counting each call in it,
beside the HTTP requests. The relay (bridge/relay.py) reads the two chains with eth_getLogs and
batched eth_calls and sends in bulk (chain/sender.py); the naive one sends each import and each
confirmation through RegistryClient.transact (estimate, fees, nonce, send, wait for the receipt).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge.origin import confirm_op_id, evidence_hash, import_op_id, origin_key
from bridge.recognition import RecognitionContract, deploy_recognitions, grant_gate_roles
from bridge.relay import Endpoint, Relay
from chain.artifacts import load
from chain.client import RegistryClient
from chain.keys import dev_accounts
from chain.node import LocalNode
from chain.opids import sequential_op_ids
from chain.rpc import JsonRpc
from chain.sender import BulkSender, Operation
from chain.types import short_id
from tests.conftest import METHODOLOGY, PROJECT, Cast, deploy_world

DEST = "CQ-TANHUITONG"


class CountingRpc(JsonRpc):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.calls = 0
        self.requests = 0

    def call(self, method: str, *params: Any, **kw: Any) -> Any:
        self.calls += 1
        self.requests += 1
        return super().call(method, *params, **kw)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        self.calls += len(calls)
        self.requests += 1 if calls else 0
        return super().batch(calls)


def counting(client: RegistryClient) -> tuple[RegistryClient, CountingRpc]:
    rpc = CountingRpc(client.rpc.url)
    counted = RegistryClient(rpc, client.address, client.abi, chain_id=client.chain_id, signer=client.signer)
    return counted, rpc


def request_exports(client: RegistryClient, cast: Cast, namespace: str, n: int) -> list[int]:
    """n exports of 10 kg from the holder to the destination (set-up, not measured)."""
    ids = sequential_op_ids(namespace, n)
    account = bytes(12) + bytes.fromhex(cast.buyer.address[2:])
    ops = [
        Operation(
            i, "requestExport", (i, cast.holder.address, 1, 10, short_id(DEST), account), cast.registrar, gas=400_000
        )
        for i in ids
    ]
    report = BulkSender(client).run(ops)
    assert report.applied == n, [r.error for r in report.results if r.error][:2]
    return ids


def naive(source: RegistryClient, gate: RecognitionContract, cast: Cast, ids: list[int]) -> None:
    """One export at a time, each write waited for, through the same import gate: what a first relay would do."""
    b = source.batch(1)
    first, last = b.first_serial, b.first_serial + b.issued - 1
    for export_id in ids:
        e = source.export_of(export_id)
        key = origin_key(source.chain_id, source.address, export_id)
        to = "0x" + e.destination_account[12:].hex()
        credit = (key, short_id("SC-LINCAO"), short_id(PROJECT), to, 2024, e.amount, evidence_hash(key, 1, first, last))
        origin = (source.chain_id, source.address, export_id, 1, first, last)
        done = gate.client.transact("importCredits", (import_op_id(key), credit, origin))
        source.confirm_export(confirm_op_id(key), export_id, bytes.fromhex(done.tx_hash[2:]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exports", type=int, default=1_000)
    n = parser.parse_args().exports
    build = load()
    cast = Cast(*dev_accounts()[:12])
    with LocalNode(block_time=None) as a, LocalNode(block_time=None) as b, tempfile.TemporaryDirectory() as tmp:
        source = deploy_world(a.url, Path(tmp) / "a", build, cast)
        JsonRpc(b.url).call("eth_sendTransaction", {"from": cast.admin.address, "to": cast.admin.address})
        destination = deploy_world(b.url, Path(tmp) / "b", build, cast)
        d = destination.client
        # the destination's import gate (contracts/MethodologyRecognitions.sol): imports go through it
        gate_address = deploy_recognitions(
            d.rpc, chain_id=d.chain_id, deployer=cast.admin, registry=d.address, build=build
        )
        grant_gate_roles(d, gate_address, [cast.registrar.address], admin=cast.admin)
        RecognitionContract.at(d.rpc, gate_address, chain_id=d.chain_id, signer=cast.registrar).recognise(
            "SC-LINCAO", METHODOLOGY, b"\x01" * 32
        )
        src, src_rpc = counting(source.client)
        dst, dst_rpc = counting(destination.client)
        gate = RecognitionContract.at(dst_rpc, gate_address, chain_id=d.chain_id, signer=cast.registrar)

        request_exports(source.client, cast, "bench-bridge-relay", n)
        relay = Relay(Endpoint(src, "SC-LINCAO"), Endpoint(dst, DEST), gate)
        started = time.perf_counter()
        passes, confirmed = 0, 0
        while confirmed < n and passes < 5:
            report = relay.step()
            passes += 1
            confirmed += report.confirmed
        relay_seconds = time.perf_counter() - started
        assert confirmed == n, confirmed
        relay_calls = src_rpc.calls + dst_rpc.calls
        relay_requests = src_rpc.requests + dst_rpc.requests

        ids = request_exports(source.client, cast, "bench-bridge-naive", n)
        src_rpc.calls = src_rpc.requests = dst_rpc.calls = dst_rpc.requests = 0
        started = time.perf_counter()
        naive(src, gate, cast, ids)
        naive_seconds = time.perf_counter() - started
        naive_calls = src_rpc.calls + dst_rpc.calls
        naive_requests = src_rpc.requests + dst_rpc.requests

    print(f"{n} exports relayed end to end (import on the destination, confirmation on the source), two anvils")
    print(
        f"relay (bridge/relay.py, {passes} pass(es)): {relay_seconds:.2f} s, {n / relay_seconds:.0f} exports/s, "
        f"{relay_calls / n:.2f} RPC calls per export in {relay_requests / n:.3f} HTTP requests per export"
    )
    print(
        f"naive (one at a time, receipt waited): {naive_seconds:.2f} s, {n / naive_seconds:.0f} exports/s, "
        f"{naive_calls / n:.2f} RPC calls per export in {naive_requests / n:.3f} HTTP requests per export"
    )


if __name__ == "__main__":
    main()
