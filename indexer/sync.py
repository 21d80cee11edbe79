"""The sync loop: fetch → decode → apply → store, knowing nothing about particular events;
and reorg handling (detect by block hash, find the common ancestor, roll back, re-apply)."""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from chain.abi import ContractAbi
from chain.artifacts import contract_abi
from chain.errors import ChainError, NodeUnreachableError
from chain.logs import LogFetcher
from chain.rpc import JsonRpc, RpcError
from chain.settings import ChainSettings
from indexer import store
from indexer.decode import IndexedEvent, LogDecoder
from indexer.fetch import split_at_blocks
from indexer.import_origins import gate_address
from indexer.projections import Projector
from indexer.writer import ProcessWriter, ThreadWriter

log = logging.getLogger(__name__)


# blocks kept undoable (the journal); a deeper reorganisation stops the indexer. Certification's
# confirmation depth is capped by it (certificates/finality.py).
REORG_WINDOW = 64


class ReorgTooDeepError(ChainError):
    def __init__(self, window: int) -> None:
        super().__init__(
            f"the chain reorganised deeper than the {window} blocks kept; rebuild the mirror with `ledger index rebuild`"
        )


FOLLOWING, NODE_UNREACHABLE, STOPPED = "following", "node unreachable", "stopped"


@dataclass
class FollowStatus:
    """What the following indexer is doing, for /health (read from another thread)."""

    state: str = "starting"
    reason: str | None = None  # why the node is unreachable: no URL (it may hold an API key)
    since: float = field(default_factory=time.time)

    def set(self, state: str, reason: str | None = None) -> bool:
        """Record `state`; whether it changed."""
        changed = state != self.state
        if changed:
            self.since = time.time()
        self.state, self.reason = state, reason
        return changed


_following: list[FollowStatus] = []  # the indexer following the head in this process, if any (`ledger up`)


def following_status() -> FollowStatus | None:
    """The status of the indexer that follows the head in this process, for /health; None if none does."""
    return _following[-1] if _following else None


def gate_events() -> list[dict[str, Any]]:
    """The import gate's ImportOrigin event, the one of its events the mirror keeps."""
    return [i for i in contract_abi("MethodologyRecognitions").abi if i.get("name") == "ImportOrigin"]


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
        window: int = REORG_WINDOW,
        max_range: int = 5_000,
        writer_process: bool | None = None,
        gate: str | None = None,
    ) -> None:
        self.rpc = rpc
        self.engine = engine
        self.abi = abi
        self.chain_id = chain_id
        self.address = address.lower()
        self.start_block = start_block
        self.confirmations = confirmations
        self.window = window
        # the import gate's logs too (its ImportOrigin events), when one is configured (LEDGER_IMPORT_GATE)
        self.gate = gate_address(ChainSettings().import_gate if gate is None else gate)
        self.fetcher = LogFetcher(rpc, [self.address, self.gate] if self.gate else self.address, max_range=max_range)
        self.decoder = LogDecoder(ContractAbi(abi.abi + gate_events()) if self.gate else abi)
        self.writer_process = writer_process  # None: a child process for backfills only
        self._indexes_ok = False  # the deferred indexes are known to exist
        self.status = FollowStatus()
        self.reload()

    def reload(self) -> None:
        self.state = store.load_state(self.engine)
        self.projector = Projector(self.state, self.chain_id)

    def target(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16) - self.confirmations

    def lag(self) -> int:
        at = store.cursor(self.engine, self.chain_id, self.address)
        return max(0, int(self.rpc.call("eth_blockNumber"), 16) - (at[0] if at else self.start_block - 1))

    def sync_once(self, on_progress: Any = None, *, until: int | None = None) -> int:
        """Index up to the current target block; returns the number of events stored.

        The cyclic garbage collector is off meanwhile: the state holds millions of rows and
        no cycles, and each full collection would walk all of them.
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._sync(on_progress, until)
        finally:
            if enabled:
                gc.enable()

    def _sync(self, on_progress: Any, until: int | None) -> int:
        """Index up to the current target block; returns the number of events stored.

        Three stages overlap: a reader thread fetches the next ranges' logs and block headers,
        this thread decodes and applies them, and a writer commits each finished range (one
        transaction per range, in order) while the next one is applied. The writer is a thread;
        in a backfill (an empty mirror or more than `window` blocks behind) a child process takes
        over once it has started, so a short backfill never waits for it (see `indexer/writer.py`).
        `writer_process=True` writes with the child from the first range, `False` never. A first
        backfill (an empty mirror, or one whose first backfill was interrupted) drops the
        secondary indexes and builds them at its end, one sort each, rather than row by row.
        """
        self.handle_reorg()
        target = self.target() if until is None else min(until, self.target())
        at = store.cursor(self.engine, self.chain_id, self.address)
        current = at[0] if at else self.start_block - 1
        if current >= target:
            return 0
        self.state.journal_from = target - self.window + 1
        reads: queue.Queue[Any] = queue.Queue(maxsize=4)
        halt = threading.Event()
        backfill = at is None or target - current > self.window
        in_process = self.writer_process if self.writer_process is not None else backfill
        deferring = in_process and (at is None or bool(store.missing_indexes(self.engine)))
        if deferring:
            store.drop_deferred_indexes(self.engine)
            self._indexes_ok = False
        elif not self._indexes_ok:
            store.create_missing_indexes(self.engine)  # after an interrupted first backfill
            self._indexes_ok = True
        reader = threading.Thread(target=self._read_ahead, args=(current, target, reads, halt), daemon=True)
        # a backfill's child process takes most of a second to start: until it is ready (or for a
        # backfill that ends first) a thread writes, then hands over at a range boundary
        child = ProcessWriter(self.engine) if in_process else None
        writer: ThreadWriter | ProcessWriter = (
            child if child is not None and self.writer_process else ThreadWriter(self.engine)
        )
        reader.start()
        total = 0
        changed = False
        try:
            while not writer.failed and not (child is not None and child.failed):
                item = reads.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                first, last, logs, headers = item
                write = self._apply_range(first, last, logs, headers, head=target)
                if child is not None and writer is not child and child.ready:
                    failure = writer.close()  # the ranges it holds are written first, in order
                    writer = child
                    if failure is not None:
                        raise failure
                    log.info("the writer process takes over from block %d", first, extra={"from_block": first})
                writer.put(write)
                total += len(write.raw_events)
                if on_progress is not None:
                    on_progress(last, target, total)
        except _RangeChanged:
            changed = True
        except BaseException:
            self._finish(halt, reads, reader, writer, child)
            self.reload()
            raise
        failure = self._finish(halt, reads, reader, writer, child)
        if failure is not None:
            self.reload()
            raise failure
        if changed:  # the range was applied in memory only: start over from the database
            self.reload()
            return total + self._sync(on_progress, until)
        if deferring:
            store.create_missing_indexes(self.engine)
            self._indexes_ok = True
        return total

    def _read_ahead(self, current: int, target: int, reads: queue.Queue[Any], halt: threading.Event) -> None:
        window_start = target - self.window + 1
        try:
            while current < target and not halt.is_set():
                last, logs = self.fetcher.fetch(current + 1, target)
                steps = split_at_blocks(current + 1, last, logs, self.fetcher.target_events)
                # the headers each step needs: its blocks in the unfinalised window, else its last block
                wanted = [list(range(max(a, window_start), b + 1)) or [b] for a, b, _ in steps]
                numbers = sorted({n for step in wanted for n in step})
                fetched = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
                header_of = dict(zip(numbers, fetched, strict=True))
                for (a, b, step_logs), step_numbers in zip(steps, wanted, strict=True):
                    if halt.is_set():
                        break
                    reads.put((a, b, step_logs, [header_of[n] for n in step_numbers]))
                current = last
            reads.put(None)
        except BaseException as exc:  # noqa: BLE001  # handed to the applying thread, which raises it
            reads.put(exc)

    @staticmethod
    def _finish(
        halt: threading.Event,
        reads: queue.Queue[Any],
        reader: threading.Thread,
        writer: ThreadWriter | ProcessWriter,
        child: ProcessWriter | None,
    ) -> BaseException | None:
        """Stop reading, let the writer finish the ranges it was given, stop a child process that
        never took over; the first failure."""
        halt.set()
        while reader.is_alive():
            try:
                reads.get(timeout=0.05)  # unblock a reader waiting for room
            except queue.Empty:
                pass
        failure = writer.close()
        if child is not None and child is not writer:
            child.abandon()  # it never took a range: nothing of it to wait for
            failure = failure or child.failure  # it died before it could take over
        return failure

    def follow(
        self, stop: threading.Event, *, poll: float = 0.25, on_progress: Any = None, max_backoff: float = 30.0
    ) -> None:
        """Follow the head until `stop`. A node that cannot be reached (or errs) is retried with
        back-off, for as long as it takes, and `self.status` says so (/health reads it); anything
        else (the database, a reorganisation too deep) is raised: the caller's supervisor stops
        the process rather than serve a mirror that no longer moves."""
        delay = 0.0
        _following[:] = [self.status]
        while not stop.is_set():
            try:
                self.sync_once(on_progress)
            except (NodeUnreachableError, RpcError) as exc:
                delay = min(max_backoff, max(0.5, delay * 2))
                reason = exc.reason if isinstance(exc, NodeUnreachableError) else f"node error: {str(exc)[:80]}"
                if self.status.set(NODE_UNREACHABLE, reason):
                    log.warning(
                        "the node cannot be reached (%s); retrying with back-off up to %.0f s", reason, max_backoff
                    )
                stop.wait(delay)
                continue
            if delay:
                log.warning("the node answers again; following the head")
            delay = 0.0
            self.status.set(FOLLOWING)
            stop.wait(poll)
        self.status.set(STOPPED)

    def _apply_range(
        self, first: int, last: int, logs: list[dict[str, Any]], headers: list[Any], *, head: int
    ) -> store.RangeWrite:
        blocks = []
        for h in headers:
            if not isinstance(h, dict):
                raise _RangeChanged()  # the block vanished while we read: a reorganisation
            blocks.append({"number": int(h["number"], 16), "hash": h["hash"], "parent_hash": h["parentHash"]})
        by_number = {b["number"]: b["hash"] for b in blocks}
        raw: list[tuple[Any, ...]] = []  # raw_events rows, in store.RAW_COLUMNS order
        spec_of, args_of, handlers = self.decoder.spec, self.decoder.args, self.projector.handlers
        apply, chain_id = self.projector.apply, self.chain_id
        seen_number, number = None, 0  # a range's logs come block by block: parse each block's number once
        for entry in logs:
            if entry.get("removed"):
                continue
            block_hash = entry["blockHash"]
            if entry["blockNumber"] != seen_number:
                seen_number = entry["blockNumber"]
                number = int(seen_number, 16)
            if number in by_number and block_hash != by_number[number]:
                raise _RangeChanged()
            topics, tx_hash, address = entry["topics"], entry["transactionHash"], entry["address"].lower()
            log_index = int(entry["logIndex"], 16)
            spec = spec_of(topics[0]) if topics else None
            name = spec.name if spec is not None else "unknown"
            raw.append(
                (
                    chain_id,
                    number,
                    log_index,
                    block_hash,
                    tx_hash,
                    int(entry["transactionIndex"], 16),
                    address,
                    name,
                    ",".join(topics),
                    entry["data"],
                )
            )
            if spec is not None and name in handlers:  # events nobody handles are stored raw only
                apply(IndexedEvent(name, args_of(spec, entry), address, number, block_hash, tx_hash, log_index))
        window_start = head - self.window + 1
        return store.take_range(
            self.state,
            chain_id=self.chain_id,
            address=self.address,
            raw_events=raw,
            blocks=[b for b in blocks if b["number"] >= window_start],
            cursor_block=last,
            cursor_hash=by_number[last],
            journal_from=window_start,
            prune_below=window_start,
        )

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
                removed = store.rollback_to(
                    self.engine, chain_id=self.chain_id, address=self.address, ancestor=n, ancestor_hash=stored[n]
                )
                log.warning(
                    "chain reorganised: rolled back %d blocks to %d (%d events removed)",
                    number - n,
                    n,
                    removed,
                    extra={"reorg_depth": number - n, "ancestor": n},
                )
                self.reload()
                return number - n
        raise ReorgTooDeepError(self.window)

    def _node_hash(self, number: int) -> str | None:
        block = self.rpc.call("eth_getBlockByNumber", hex(number), False)
        return None if block is None else str(block["hash"])


class _RangeChanged(Exception):
    """A block changed while its range was being read; the caller retries after reorg handling."""
