"""The sync loop: fetch → decode → apply → store, knowing nothing about particular events;
and reorg handling (detect by block hash, find the common ancestor, roll back, re-apply)."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

from chain.abi import ContractAbi, DecodedEvent
from chain.errors import ChainError
from chain.rpc import JsonRpc
from indexer import store
from indexer.fetch import LogFetcher
from indexer.projections import Projector

log = logging.getLogger(__name__)


class ReorgTooDeepError(ChainError):
    def __init__(self, window: int) -> None:
        super().__init__(
            f"the chain reorganised deeper than the {window} blocks kept; rebuild the mirror with `ledger index rebuild`"
        )


def raw_row(chain_id: int, log: dict[str, Any], event: DecodedEvent | None) -> dict[str, Any]:
    return {
        "chain_id": chain_id, "block_number": int(log["blockNumber"], 16), "log_index": int(log["logIndex"], 16),
        "block_hash": log["blockHash"], "tx_hash": log["transactionHash"], "tx_index": int(log["transactionIndex"], 16),
        "address": log["address"].lower(), "name": event.name if event else "unknown",
        "topics": ",".join(log["topics"]), "data": log["data"],
        "args": json.dumps(event.args if event else {}, default=lambda v: "0x" + v.hex() if isinstance(v, bytes) else str(v)),
    }


class Indexer:
    def __init__(
        self,
        rpc: JsonRpc,
        engine: Engine,
        abi: ContractAbi,
        *,
        chain_id: int,
        address: str,
        start_block: int,
        confirmations: int = 0,
        window: int = 64,
        max_range: int = 5_000,
    ) -> None:
        self.rpc = rpc
        self.engine = engine
        self.abi = abi
        self.chain_id = chain_id
        self.address = address.lower()
        self.start_block = start_block
        self.confirmations = confirmations
        self.window = window
        self.fetcher = LogFetcher(rpc, self.address, max_range=max_range)
        self.reload()

    def reload(self) -> None:
        self.state = store.load_state(self.engine)
        self.projector = Projector(self.state, self.chain_id)

    def target(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16) - self.confirmations

    def lag(self) -> int:
        at = store.cursor(self.engine, self.chain_id, self.address)
        return max(0, int(self.rpc.call("eth_blockNumber"), 16) - (at[0] if at else self.start_block - 1))

    def sync_once(self, on_progress: Any = None) -> int:
        """Index up to the current target block; returns the number of events stored."""
        self.handle_reorg()
        target = self.target()
        at = store.cursor(self.engine, self.chain_id, self.address)
        current = at[0] if at else self.start_block - 1
        total = 0
        while current < target:
            to, logs = self.fetcher.fetch(current + 1, target)
            try:
                total += self._apply_range(current + 1, to, logs, head=target)
            except _RangeChanged:
                self.reload()  # the range was applied in memory only: start over from the database
                self.handle_reorg()
                at = store.cursor(self.engine, self.chain_id, self.address)
                current, target = (at[0] if at else self.start_block - 1), self.target()
                continue
            except BaseException:
                self.reload()
                raise
            current = to
            if on_progress is not None:
                on_progress(current, target, total)
        return total

    def follow(self, stop: threading.Event, *, poll: float = 0.25, on_progress: Any = None) -> None:
        while not stop.is_set():
            self.sync_once(on_progress)
            stop.wait(poll)

    def _apply_range(self, first: int, last: int, logs: list[dict[str, Any]], *, head: int) -> int:
        window_start = max(first, head - self.window + 1)
        numbers = list(range(window_start, last + 1)) or [last]
        headers = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        blocks = [{"number": int(h["number"], 16), "hash": h["hash"], "parent_hash": h["parentHash"]} for h in headers]
        by_number = {b["number"]: b["hash"] for b in blocks}
        raw = []
        for entry in logs:
            if entry.get("removed"):
                continue
            number = int(entry["blockNumber"], 16)
            if number in by_number and entry["blockHash"] != by_number[number]:
                raise _RangeChanged()
            event = self.abi.decode_log(entry, checksum=False)
            if event is not None:
                self.projector.apply(event)
            raw.append(raw_row(self.chain_id, entry, event))
        store.store_range(
            self.engine, chain_id=self.chain_id, address=self.address, state=self.state, raw_events=raw,
            blocks=[b for b in blocks if b["number"] >= window_start], cursor_block=last, cursor_hash=by_number[last],
            journal_from=head - self.window + 1, prune_below=head - self.window + 1,
        )
        return len(raw)

    def handle_reorg(self) -> int:
        """If the chain no longer has the cursor's block, roll back to the common ancestor.
        Returns the depth rolled back (0 if none)."""
        at = store.cursor(self.engine, self.chain_id, self.address)
        if at is None:
            return 0
        number, known_hash = at
        if self._node_hash(number) == known_hash:
            return 0
        stored = store.stored_blocks(self.engine, self.chain_id)
        for n in sorted((n for n in stored if n < number), reverse=True):
            if self._node_hash(n) == stored[n]:
                removed = store.rollback_to(self.engine, chain_id=self.chain_id, address=self.address, ancestor=n, ancestor_hash=stored[n])
                log.warning("chain reorganised: rolled back %d blocks to %d (%d events removed)", number - n, n, removed,
                            extra={"reorg_depth": number - n, "ancestor": n})
                self.reload()
                return number - n
        raise ReorgTooDeepError(self.window)

    def _node_hash(self, number: int) -> str | None:
        block = self.rpc.call("eth_getBlockByNumber", hex(number), False)
        return None if block is None else str(block["hash"])


class _RangeChanged(Exception):
    """A block changed while its range was being read; the caller retries after reorg handling."""
