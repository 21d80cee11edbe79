"""Finality: how many blocks must sit on a retirement before the registry vouches for it, and
whether a retirement is still on the canonical chain (a reorganisation may have removed it).

Confirmations are counted as the indexer counts them (`indexer.sync.Indexer(confirmations=…)`):
the blocks mined on top of the retirement's block, head − block. 0 certifies at once.

On the durable local node a block is final only once a snapshot on disk covers it: a kill -9
loses the blocks above the last snapshot, and the journal re-sends their transactions into other
blocks, so a certificate naming such a block would vouch for a retirement that is no longer there.
The keeper records what its last snapshot covers (chain/snapshot.py, `covered.json`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from certificates.issuer import REORG_REASON, CertificationError
from chain.journal import journal_for
from chain.rpc import JsonRpc
from chain.snapshot import read_coverage
from indexer.sync import REORG_WINDOW  # the indexer's unfinalised window: deeper reorgs stop it

LOCAL_CHAIN_ID = 31337  # anvil and Hardhat's node (chain/settings.py)
# LEDGER_CONFIRMATIONS may name the kind of chain instead of a number
BY_CHAIN_KIND = {
    "local": 0,  # anvil / Hardhat: one process, nothing reorganises unless asked to
    # fork-choice proof of authority (Clique, Aura): signers that disagree can fork it for a few blocks. 16 is
    # this project's choice (a quarter of the window), not a figure any client publishes
    "poa": 16,
    "bft": 0,  # QBFT, IBFT 2.0, Tendermint: a block is final once sealed
    "pos": REORG_WINDOW,  # Ethereum-style proof of stake: finalised after two epochs (64 slots)
}
__all__ = ["REORG_REASON"]  # defined with the issuer, which releases such certificates' claims


class NotFinalError(CertificationError):
    """The retirement has fewer confirmations than the registry requires."""


class FinalitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    confirmations: str | None = None  # a whole number 0..REORG_WINDOW, or a kind of chain (BY_CHAIN_KIND)


def required_confirmations(chain_id: int, configured: str | int | None = None) -> int:
    """The confirmation depth: LEDGER_CONFIRMATIONS, else 0 on the local chain and the proof-of-stake
    figure elsewhere (an unknown chain is not assumed to finalise at once)."""
    value = FinalitySettings().confirmations if configured is None else configured
    if value is None or str(value).strip() == "":
        return 0 if chain_id == LOCAL_CHAIN_ID else BY_CHAIN_KIND["pos"]
    text = str(value).strip().lower()
    if text in BY_CHAIN_KIND:
        return BY_CHAIN_KIND[text]
    try:
        depth = int(text)
    except ValueError:
        depth = -1
    if not 0 <= depth <= REORG_WINDOW:
        raise CertificationError(
            f"LEDGER_CONFIRMATIONS={value!r} is not a whole number from 0 to {REORG_WINDOW} (the "
            f"indexer's unfinalised window) or one of {', '.join(BY_CHAIN_KIND)}; fix the setting"
        )
    return depth


@dataclass(frozen=True)
class RetirementRef:
    """Where a retirement should be on chain: its id names the transaction and the log's index."""

    id: str
    tx_hash: str
    log_index: int
    block_number: int


def head(rpc: JsonRpc) -> int:
    return int(rpc.call("eth_blockNumber"), 16)


def block_seconds(rpc: JsonRpc, at: int, span: int = 32) -> float | None:
    """The recent average block interval, for telling the operator how long to wait."""
    if at < 1:
        return None
    first = max(0, at - span)
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in (first, at)])
    older, newer = blocks
    if not isinstance(older, dict) or not isinstance(newer, dict):
        return None
    elapsed = int(newer["timestamp"], 16) - int(older["timestamp"], 16)
    return elapsed / (at - first) if elapsed > 0 else None


def missing(rpc: JsonRpc, registry: str, topic: bytes, refs: Iterable[RetirementRef]) -> list[RetirementRef]:
    """The retirements the node no longer has where they were: no receipt, a different block, or no
    CreditsRetired log of the registry at that index. One JSON-RPC batch."""
    wanted = list(refs)
    if not wanted:
        return []
    receipts = rpc.batch([("eth_getTransactionReceipt", [r.tx_hash]) for r in wanted])
    own, first_topic = registry.lower(), "0x" + topic.hex()
    gone = []
    for ref, receipt in zip(wanted, receipts, strict=True):
        if not _holds(receipt, ref, own, first_topic):
            gone.append(ref)
    return gone


def _holds(receipt: Any, ref: RetirementRef, registry: str, topic: str) -> bool:
    if not isinstance(receipt, dict) or int(receipt.get("status", "0x0"), 16) != 1:
        return False
    if int(receipt["blockNumber"], 16) != ref.block_number:
        return False
    return any(
        int(log["logIndex"], 16) == ref.log_index
        and log["address"].lower() == registry
        and log["topics"]
        and log["topics"][0].lower() == topic
        for log in receipt["logs"]
    )


def require_final(
    rpc: JsonRpc,
    refs: list[RetirementRef],
    required: int,
    *,
    wait: float = 0.0,
    on_wait: Callable[[int, int], None] | None = None,
    poll: float = 1.0,
) -> None:
    """Refuse (NotFinalError) unless every retirement has `required` confirmations; with `wait`
    seconds, wait for them first. `on_wait(confirmations, required)` is told once when waiting starts."""
    if not refs or required <= 0:
        return
    deepest = max(r.block_number for r in refs)  # the youngest retirement decides
    deadline = time.monotonic() + wait
    told = False
    while True:
        now = head(rpc)
        have = max(0, now - deepest)
        if have >= required:
            return
        if time.monotonic() >= deadline:
            break
        if on_wait is not None and not told:
            on_wait(have, required)
            told = True
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
    ids = ", ".join(r.id for r in refs if now - r.block_number < required)
    seconds = block_seconds(rpc, now)
    eta = (
        f" (about {round((required - have) * seconds)} s at {seconds:.0f} s a block)"
        if seconds and seconds >= 1
        else ""
    )  # on a node that mines on demand there is no rate to quote
    raise NotFinalError(
        f"retirement {ids} has {have} of the {required} confirmations required (LEDGER_CONFIRMATIONS); "
        f"wait {required - have} more block(s){eta}, or certify with --wait"
    )


def durable_block(rpc: JsonRpc) -> int | None:
    """The block the durable local node's last snapshot covers (-1: none yet), or None when the node
    is not the durable local node (its blocks are as final as its chain makes them)."""
    journal = journal_for(rpc.url)  # a durable node started here, or recorded in var/anvil/node.json
    if journal is None:
        return None
    covered = read_coverage(journal.path.parent)
    if covered is None:
        return -1
    block, block_hash = covered
    at = rpc.call("eth_getBlockByNumber", hex(block), False)
    if not isinstance(at, dict) or at.get("hash") != block_hash:
        return -1  # a record left by another chain in the same directory
    return block


def require_durable(rpc: JsonRpc, refs: list[RetirementRef], *, wait: float, poll: float = 0.1) -> None:
    """On the durable local node, refuse (NotFinalError) unless its last snapshot covers every
    retirement's block, after waiting up to `wait` seconds for the keeper to take one."""
    if not refs:
        return
    deepest = max(r.block_number for r in refs)
    deadline = time.monotonic() + wait
    while True:
        covered = durable_block(rpc)
        if covered is None or covered >= deepest:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(poll)
    ids = ", ".join(r.id for r in refs if r.block_number > covered)
    raise NotFinalError(
        f"retirement {ids} is in block {deepest}, which the local node's durable snapshot does not cover "
        f"yet (it covers block {covered}), so a crash could still lose it; certify again in a moment or "
        "with --wait, and if it stays so check that the node is running (`ledger node status`)"
    )
