"""A hostile user's findings against the regional interconnection (issue 20, bridge/): one test
per finding, each docstring saying what went wrong before the fix."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import pytest
import requests

from bridge.reconcile import reconcile
from bridge.relay import Endpoint, Relay
from bridge.settings import BridgeSettings, open_endpoint
from chain.errors import InvalidInputError
from chain.types import ExportStatus
from tests.bridge import conftest as two_registries
from tests.bridge.conftest import DESTINATION_NAME, Pair
from tests.bridge.test_crash_and_reorg import relay_env

# the two anvils of tests/bridge, as fixtures found here by their names
pair_base = two_registries.pair_base
pair = two_registries.pair


def settings_for(pair: Pair, **changes: Any) -> BridgeSettings:
    env = {k.removeprefix("LEDGER_BRIDGE_").lower(): v for k, v in relay_env(pair).items() if "LEDGER_BRIDGE_" in k}
    return BridgeSettings(**{**env, **changes})


class FaultyNode:
    """A real HTTP front of a node that refuses about half the calls it forwards (a rate limit
    reply, or a load balancer's 502 page), like a busy public endpoint."""

    def __init__(self, upstream: str, seed: int) -> None:
        rng = random.Random(seed)
        lock = threading.Lock()
        self.refused = 0

        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    roll = rng.random()
                if roll < 0.25:
                    node.refused += 1
                    self._send(502, b"<html>502 Bad Gateway</html>", "text/html")
                elif roll < 0.5:
                    node.refused += 1
                    payload = json.loads(body)
                    error = {"code": -32005, "message": "rate limited"}

                    def one(p: dict[str, Any]) -> dict[str, Any]:
                        return {"jsonrpc": "2.0", "id": p["id"], "error": error}

                    refusal = [one(p) for p in payload] if isinstance(payload, list) else one(payload)
                    self._send(200, json.dumps(refusal).encode(), "application/json")
                else:
                    reply = requests.post(upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30)
                    self._send(200, reply.content, "application/json")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def faulty(pair: Pair) -> Iterator[tuple[FaultyNode, FaultyNode]]:
    nodes = FaultyNode(pair.source_node.url, 1), FaultyNode(pair.destination_node.url, 2)
    yield nodes
    for n in nodes:
        n.close()


def test_a_source_reorg_reusing_an_export_id_with_another_amount_is_not_confirmed(pair: Pair) -> None:
    """Before: the relay confirmed any pending export whose origin key the destination had
    imported, whatever the import held. A source reorg dropped export X (1,000 kg, already imported
    and confirmed); the same id was then requested again for 5,000 kg and the relay confirmed it
    against the 1,000 kg import: 5,000 kg cancelled on the source for 1,000 kg minted on the
    destination, 4,000 kg gone from the combined supply."""
    src, dst, cast = pair.source.client, pair.destination.client, pair.source.cast
    before = src.rpc.call("evm_snapshot")
    export_id = pair.export(1_000)
    assert pair.relay().step().confirmed == 1
    src.rpc.call("evm_revert", before)  # the reorg: the request and its confirmation are gone
    account = bytes(12) + bytes.fromhex(cast.buyer.address[2:])
    src.request_export(export_id, cast.holder.address, pair.source.batch_id, 5_000, DESTINATION_NAME, account)

    report = pair.relay().step()

    assert report.confirmed == 0
    assert src.export_of(export_id).status == ExportStatus.PENDING  # still frozen: an operator decides
    why = report.held[export_id]
    assert why.startswith("ImportDoesNotMatchExport") and "asks 5000 kg" in why and "imported as 1000 kg" in why
    assert (report.aborted, report.refusals) == (0, {})  # not released either: 1,000 kg exist on the destination
    assert dst.supply(2).issued == 1_000  # the destination's one import, not imported again
    # 20,000 held: 5,000 frozen for the held export, 15,000 free; nothing cancelled on the source
    assert src.locked_of(cast.holder.address, 1) == (0, 5_000)
    assert src.supply(1).cancelled == 0


def test_the_audit_reports_a_pending_export_whose_import_holds_another_amount(pair: Pair) -> None:
    """Before: after the reorg of the test above, `ledger bridge audit` said 'reconciled: no
    difference': a pending export whose key was imported counted as in flight whatever the import
    held (5,000 kg frozen on the source against 1,000 kg minted on the destination), though the
    relay can never settle it."""
    src, cast = pair.source.client, pair.source.cast
    before = src.rpc.call("evm_snapshot")
    export_id = pair.export(1_000)
    pair.relay().step()
    src.rpc.call("evm_revert", before)
    relay = pair.relay()
    # the reorg alone: an import under a key the source no longer exported, reported as such
    dropped = reconcile(relay.source, relay.destination)
    assert any("never exported" in p for p in dropped.problems)
    account = bytes(12) + bytes.fromhex(cast.buyer.address[2:])
    src.request_export(export_id, cast.holder.address, pair.source.batch_id, 5_000, DESTINATION_NAME, account)

    found = reconcile(relay.source, relay.destination)

    assert f"export {export_id} asks 5000 kg but its origin key was imported as 1000 kg on the destination" in (
        found.problems
    )
    assert not found.ok


def test_a_destination_address_without_a_registry_is_one_clear_line(pair: Pair) -> None:
    """Before: a destination registry address holding no contract (a typo, an account) was taken,
    and the first pass with an export died in the bulk sender on `int('0x', 16)` (ValueError: not a
    ChainError, so `ledger bridge run` stopped) instead of naming the setting to fix."""
    source, destination = pair.endpoints()
    nowhere = type(destination.client)(
        destination.client.rpc,
        pair.destination.cast.buyer.address,
        destination.client.abi,
        chain_id=destination.client.chain_id,
        signer=destination.client.signer,
    )
    with pytest.raises(InvalidInputError, match="no contract at"):
        Relay(source, Endpoint(nowhere, DESTINATION_NAME), pair.recognitions)


def test_a_relay_from_a_registry_to_itself_is_refused(pair: Pair) -> None:
    """Before: source and destination configured as the same registry (one address copied into
    both settings) was taken: nothing stopped the relay importing each export into the registry it
    came from (minting there what it then cancelled)."""
    source, _ = pair.endpoints()
    itself = Endpoint(source.client, DESTINATION_NAME)
    with pytest.raises(InvalidInputError, match="same registry"):
        Relay(source, itself, pair.recognitions)


def test_a_node_failing_half_its_calls_slows_the_relay_but_does_not_stop_it(
    pair: Pair, faulty: tuple[FaultyNode, FaultyNode]
) -> None:
    """Before: opening the endpoints failed on the first refused eth_chainId; `Relay.run` caught
    ChainError only, and an RPC error reply (a rate limit: RpcError)
    ended `ledger bridge run`; with that caught, a pass still failed whenever any of its ~20 reads
    failed, so against a node refusing half its calls no pass ever finished (30 passes: both
    exports still pending)."""
    src = pair.source.client
    ids = [pair.export(1_000), pair.export(2_000)]
    settings = settings_for(pair, source_rpc_url=faulty[0].url, destination_rpc_url=faulty[1].url)
    destination = open_endpoint(settings, "destination")
    relay = Relay(open_endpoint(settings, "source"), destination, settings.recognition(destination), settle_timeout=5)
    passes = count()
    relay.run(
        poll=0.01, stop=lambda: next(passes) >= 10 or all(src.export_of(i).status != ExportStatus.PENDING for i in ids)
    )

    assert [src.export_of(i).status for i in ids] == [ExportStatus.CONFIRMED] * 2
    assert faulty[0].refused + faulty[1].refused > 10  # the faults happened
    # each imported once: the destination's batch 1 plus two imports, 1,000 + 2,000 = 3,000 kg
    dst = pair.destination.client
    assert sorted(dst.supply(b).issued for b in (2, 3)) == [1_000, 2_000]
    assert len(relay.destination.events("BatchImported", 0, relay.destination.head())) == 2


def test_a_wrong_chain_id_names_the_bridge_setting(pair: Pair) -> None:
    """Before: LEDGER_BRIDGE_DESTINATION_CHAIN_ID set to the wrong chain gave the registry's own
    line, 'point LEDGER_RPC_URL at the right node or set LEDGER_CHAIN_ID': two settings the bridge
    does not read."""
    settings = settings_for(pair, destination_chain_id=1)
    with pytest.raises(InvalidInputError) as refused:
        open_endpoint(settings, "destination")
    line = str(refused.value)
    assert (
        "expects chain 1 (LEDGER_BRIDGE_DESTINATION_CHAIN_ID)" in line and "LEDGER_BRIDGE_DESTINATION_RPC_URL" in line
    )
    assert "LEDGER_RPC_URL" not in line.replace("LEDGER_BRIDGE_DESTINATION_RPC_URL", "")


def test_an_idle_pass_does_not_ask_about_every_export_ever_relayed(pair: Pair) -> None:
    """Before: each pass asked `exportOf` of every export ever requested to the destination, even
    long settled: 300 relayed exports made an idle pass 304 RPC calls (one per export plus the
    head and log reads), 5,000 exports 5,000 calls every 2 s."""
    ids = [pair.export(10 + i) for i in range(40)]
    relay = pair.relay()
    assert relay.step().confirmed == 40
    sent: list[int] = []
    rpc = relay.source.client.rpc
    post = rpc._post

    def counted(payload: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(len(payload) if isinstance(payload, list) else 1)
        return post(payload, *args, **kwargs)

    rpc._post = counted  # type: ignore[method-assign]
    idle = relay.step()

    assert idle.seen == 0 and len(ids) == 40
    # a head and three log reads (requested, confirmed, aborted: 13 calls here with the log
    # fetcher's own head reads), the same for 40 exports as for 5,000; not 40 exportOf calls more
    assert sum(sent) < 20, sent
