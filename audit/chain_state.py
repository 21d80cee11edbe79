"""The registry's state from the chain alone: every log of the registry (eth_getLogs) and its
views (eth_call, in JSON-RPC batches). No SQL, no code shared with the indexer's projections."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chain.client import RegistryClient
from chain.logs import LogFetcher
from chain.types import CancellationReason, RetirementId

ZERO = "0x" + "00" * 20


@dataclass
class Where:
    tx_hash: str
    block_number: int


@dataclass
class ChainState:
    issued: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    retired: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    cancelled: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    batch_at: dict[int, Where] = field(default_factory=dict)
    balances: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    last_move: dict[tuple[str, int], Where] = field(default_factory=dict)
    locked: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    views_balance: dict[tuple[str, int], int] = field(default_factory=dict)
    supply_views: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)
    retirements: dict[str, dict[str, Any]] = field(default_factory=dict)
    anchors: dict[int, dict[str, Any]] = field(default_factory=dict)
    verification: dict[int, str] = field(default_factory=dict)  # batch → verificationReportHash, 0x-hex
    reversal_cancelled: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # reason Reversal
    events: int = 0
    head: int = 0


def read_chain(
    client: RegistryClient,
    start_block: int,
    *,
    until: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ChainState:
    rpc, state = client.rpc, ChainState()
    state.head = until if until is not None else int(rpc.call("eth_blockNumber"), 16)
    fetcher = LogFetcher(rpc, client.address.lower(), target_events=20_000)
    first = start_block
    while first <= state.head:
        last, logs = fetcher.fetch(first, state.head)
        for raw in logs:
            event = client.abi.decode_log(raw, checksum=False)
            if event is not None:
                _apply(state, client.chain_id, event)
                state.events += 1
        if progress:
            progress(last - start_block + 1, state.head - start_block + 1)
        first = last + 1
    _read_views(client, state)
    return state


def _apply(s: ChainState, chain_id: int, e: Any) -> None:
    a, at = e.args, Where(e.tx_hash, e.block_number)
    if e.name in ("TransferSingle", "TransferBatch"):
        pairs = [(a["id"], a["value"])] if e.name == "TransferSingle" else list(zip(a["ids"], a["values"], strict=True))
        frm, to = a["from"].lower(), a["to"].lower()
        for batch_id, value in pairs:
            if frm == ZERO:
                s.issued[batch_id] += value
            else:
                s.balances[(frm, batch_id)] -= value
                s.last_move[(frm, batch_id)] = at
            if to != ZERO:
                s.balances[(to, batch_id)] += value
                s.last_move[(to, batch_id)] = at
    elif e.name in ("BatchIssued", "BatchImported"):
        s.batch_at[a["batchId"]] = at
        if e.name == "BatchIssued":
            s.verification[a["batchId"]] = "0x" + a["request"]["verificationReportHash"].hex()
    elif e.name == "CreditsRetired":
        s.retired[a["batchId"]] += a["amount"]
        s.retirements[RetirementId.of(chain_id, e.tx_hash, e.log_index)] = {
            "batch_id": a["batchId"],
            "holder": a["holder"].lower(),
            "amount": a["amount"],
            "beneficiary_commitment": "0x" + a["beneficiaryCommitment"].hex(),
            "tx_hash": e.tx_hash,
            "block_number": e.block_number,
            "log_index": e.log_index,
        }
    elif e.name == "CreditsCancelled":
        s.cancelled[a["batchId"]] += a["amount"]
        if a["reason"] == CancellationReason.REVERSAL:
            s.reversal_cancelled[a["batchId"]] += a["amount"]
    elif e.name == "LogRootAnchored":
        s.anchors[a["treeSize"]] = {"root": a["root"].hex(), "tx_hash": e.tx_hash, "block_number": e.block_number}


def _read_views(client: RegistryClient, s: ChainState) -> None:
    batches = sorted(s.batch_at)
    for batch_id, supply in zip(batches, client.view_many("supply", [(b,) for b in batches])):
        issued, circulating, retired, cancelled = (int(v) for v in supply)
        s.supply_views[batch_id] = (issued, circulating, retired, cancelled)
    pairs = sorted(s.balances)
    calls = [(holder, batch) for holder, batch in pairs]
    from eth_utils import to_checksum_address

    checksummed = [(to_checksum_address(h), b) for h, b in calls]
    for pair, value in zip(pairs, client.view_many("balanceOf", checksummed)):
        s.views_balance[pair] = int(value)
    for pair, (pledged, frozen) in zip(pairs, client.view_many("lockedOf", checksummed)):
        s.locked[pair] = (int(pledged), int(frozen))
