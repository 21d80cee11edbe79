"""`ledger audit --peer RPC`: the two-registry reconciliation (bridge/reconcile.py) of this
registry's exports against the peer registry they went to, its differences in the audit's report.

This registry is the source (named LEDGER_BRIDGE_SOURCE_NAME); the peer is the node at `peer_url`
with its registry at LEDGER_BRIDGE_DESTINATION_REGISTRY (named LEDGER_BRIDGE_DESTINATION_NAME).
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.reconcile import reconcile
from bridge.relay import Endpoint
from bridge.settings import BridgeSettings, open_endpoint
from chain.client import RegistryClient


def audit_peer(
    client: RegistryClient,
    start_block: int,
    peer_url: str,
    add: Callable[[str, str, str], None],
    settings: BridgeSettings | None = None,
) -> dict[str, int]:
    """Report each difference with `add(check, subject, detail)`; return what was checked."""
    s = settings or BridgeSettings()
    peer = open_endpoint(s.model_copy(update={"destination_rpc_url": peer_url}), "destination", sign=False)
    this = Endpoint(client, s.source_name, start_block=start_block)
    found = reconcile(this, peer)
    for problem in found.problems:
        add("bridge", f"{this.name} -> {peer.name}", problem)
    return {"exports confirmed to the peer": found.confirmed_exports, "imports at the peer": found.imports}
