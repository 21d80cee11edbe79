"""The durable local node's keeper: mines only when transactions wait, and snapshots the state
after blocks, so an idle chain neither grows nor loses what was acknowledged.

anvil runs with `--no-mining`: interval mining made a block every second even when idle (the
state grew without bound) and automine leaves bursts of thousands pending. The keeper polls the
pool and mines a block (`evm_mine`, up to the gas limit) while transactions are pending: at once
for one or two, else at most one block per `block_time`. It snapshots (chain/snapshot.py) when
the head moved, at most once per `snapshot_interval` (less often once a snapshot takes more
than a tenth of that), and compacts the journal of sent transactions once it has grown.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from chain.archive import Archive
from chain.errors import ChainError, NodeUnreachableError
from chain.journal import Journal
from chain.rpc import JsonRpc, RpcError
from chain.snapshot import take_snapshot

log = logging.getLogger(__name__)

POLL = 0.05
LONE = 2
COMPACT_AFTER_BYTES = 1_000_000
SNAPSHOT_DUTY = 10  # wait at least this many times the last snapshot's duration before the next
REFRESH_GROWTH = 8 * 2**20  # anvil RSS growth (bytes) since its last start that gets it restarted
REFRESH_MIN_INTERVAL = 120.0
RSS_CHECK = 1.0
RSS_SETTLE = 5.0  # after a (re)start, the lowest RSS seen in this many seconds is the base


class Keeper:
    def __init__(
        self,
        rpc: JsonRpc,
        state_file: Path,
        journal: Journal,
        *,
        block_time: float = 1.0,
        snapshot_interval: float = 1.0,
        archive: Archive | None = None,
        refresh: Callable[[], None] | None = None,
        node_rss: Callable[[], int] | None = None,
        refresh_growth: int = REFRESH_GROWTH,
    ) -> None:
        self.rpc = rpc
        self.archive = archive
        self.refresh, self.node_rss, self.refresh_growth = refresh, node_rss, refresh_growth
        self.refreshes = 0
        self.longest_refresh_seconds = 0.0  # the longest a refresh held callers' requests
        self._rss_base: int | None = None  # the node's RSS soon after it (re)started
        self._rss_checked = 0.0
        self._refreshed = time.monotonic()
        self.state_file = state_file
        self.journal = journal
        self.block_time = block_time
        self.snapshot_interval = snapshot_interval
        self.snapshotted_block = -1
        self.snapshots = 0
        self.last_snapshot_seconds = 0.0
        self.snapshot_problem: str | None = None  # why the last snapshot failed, while snapshots fail
        self.archive_problem: str | None = None  # why the archive could not be written, while it cannot
        self._mined_by_us: set[int] = set()
        self._last_mined = 0.0
        self._last_snapshot = 0.0
        self._seen_head = -1
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one snapshot at a time (the loop, a caller's sync(), stop())
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._seen_head = self.head()
        self._thread = threading.Thread(target=self._run, name="node-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def pending(self) -> int:
        return int(self.rpc.call("txpool_status")["pending"], 16)

    def mine_pending(self, timeout: float = 60.0) -> None:
        """Mine until nothing is pending (used after a replay, before the node is handed out)."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            self._mine()

    def snapshot(self) -> int:
        """Write a snapshot now; returns the block it covers."""
        with self._lock:
            started = time.monotonic()
            if self.archive is not None:  # first: the snapshot holds only the node's last blocks' transactions
                self.archive.follow(self.rpc)
            block = take_snapshot(self.rpc, self.state_file)
            self.snapshotted_block = block
            self.snapshots += 1
            self._last_snapshot = time.monotonic()
            self.last_snapshot_seconds = self._last_snapshot - started
        return block

    def compact_journal(self) -> None:
        self.journal.compact(self.rpc, self.snapshotted_block, self.archive)

    def _mine(self) -> None:
        self.rpc.call("evm_mine")
        self._last_mined = time.monotonic()
        self._mined_by_us.add(self.head())

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            try:
                self._tick()
            except (NodeUnreachableError, RpcError, OSError, ValueError) as exc:
                # the node is gone (killed, or stopping; a dump cut short): whoever owns it restarts it;
                # keep what is on disk
                log.debug("keeper paused: %s", type(exc).__name__)
                time.sleep(0.5)

    def _tick(self) -> None:
        now = time.monotonic()
        pending = self.pending()
        # a lone transaction or two (a CLI operation) is mined at once, ~50 ms instead of a block time;
        # a stream of them is gathered into one block per block_time
        if pending and (pending <= LONE or now - self._last_mined >= self.block_time) and self._archive_ok():
            self._mine()
        head = self.head()
        if head != self._seen_head:
            self._refuse_interval_mining(head)
            self._seen_head = head
            if self.archive is not None and not self._archive_follows(head):
                return
        # a snapshot rewrites the whole chain (~6.5 kB per operation): as it grows, snapshot less often
        # so that dumping takes at most a tenth of the time; the journal covers the gap
        interval = max(self.snapshot_interval, SNAPSHOT_DUTY * self.last_snapshot_seconds)
        if head > self.snapshotted_block and now - self._last_snapshot >= interval:
            if not self._snapshot_or_warn():
                return
            if self.journal.path.exists() and self.journal.path.stat().st_size > COMPACT_AFTER_BYTES:
                self.compact_journal()
        self._refresh_if_grown(now)

    def _refresh_if_grown(self, now: float) -> None:
        """anvil's memory creeps with every transaction even once it forgot it (~1.5-2 kB each under
        load, with --transaction-block-keeper and no past states or not): past `refresh_growth` above
        what it held after its last start, the node swaps it for a fresh one loaded from a snapshot
        (node.py), at most once per REFRESH_MIN_INTERVAL. An idle node never grows, never swaps."""
        if self.refresh is None or self.node_rss is None or now - self._rss_checked < RSS_CHECK:
            return
        self._rss_checked = now
        rss = self.node_rss()
        if self._rss_base is None or now - self._refreshed < RSS_SETTLE:
            self._rss_base = rss if self._rss_base is None else min(self._rss_base, rss)
            return
        if rss > self._rss_base + self.refresh_growth and now - self._refreshed >= REFRESH_MIN_INTERVAL:
            log.info("restarting anvil from a snapshot: its memory grew by %d MB", (rss - self._rss_base) // 2**20)
            self._refreshed = started = time.monotonic()
            try:
                self.refresh()
            except (ChainError, RpcError, OSError, ValueError, sqlite3.Error) as exc:  # the old anvil still serves
                log.warning("could not restart anvil to free its memory: %s", exc)
                return
            self.refreshes += 1
            self._rss_base, self._refreshed = None, time.monotonic()
            self.longest_refresh_seconds = max(self.longest_refresh_seconds, self._refreshed - started)

    def _archive_ok(self) -> bool:
        """Whether the node may mine: not while the archive cannot be written, or anvil would forget
        the transactions of blocks the archive lacks (their logs lost for good); callers' sends wait."""
        return self.archive is None or self.archive_problem is None or self._archive_follows(None)

    def _archive_follows(self, head: int | None) -> bool:
        """Archive up to `head`; on a SQLite failure (a full disk: no OSError) say so once and
        return False, and the node mines no more until it succeeds."""
        assert self.archive is not None
        try:
            with self._lock:
                self.archive.follow(self.rpc, head)
        except sqlite3.Error as exc:
            problem = str(exc) or type(exc).__name__
            if problem != self.archive_problem:
                log.warning(
                    "cannot write the node's archive %s (%s); the node mines nothing until it can: "
                    "free some space there",
                    self.archive.path,
                    problem,
                )
            self.archive_problem = problem
            return False
        if self.archive_problem is not None:
            log.warning("the node's archive is written again; mining resumed")
            self.archive_problem = None
        return True

    def _snapshot_or_warn(self) -> bool:
        """Snapshot; on a file error (a full disk) say so once, at the interval retry, and return False.
        The operator must learn that the node is no longer durable: the journal keeps what was sent, and
        certificates wait until a snapshot covers their retirement (certificates/finality.py)."""
        try:
            self.snapshot()
        except sqlite3.Error:  # the archive, written first, is full: the snapshot waits for it
            self._last_snapshot = time.monotonic()
            return False
        except OSError as exc:  # the node's own failures are NodeUnreachableError / RpcError, not OSError
            self._last_snapshot = time.monotonic()
            problem = exc.strerror or type(exc).__name__
            if problem != self.snapshot_problem:
                log.warning(
                    "cannot snapshot the node's state to %s (%s); sent transactions are kept in the journal "
                    "and certificates wait for a snapshot: free some space there",
                    self.state_file.parent,
                    problem,
                )
            self.snapshot_problem = problem
            return False
        if self.snapshot_problem is not None:
            log.warning("snapshots of the node's state resumed (block %d)", self.snapshotted_block)
            self.snapshot_problem = None
        return True

    def _refuse_interval_mining(self, head: int) -> None:
        """A caller may switch interval mining back on (e.g. evm_setIntervalMining after loading with
        automine); its empty blocks would grow the state again, so turn it off."""
        ours = head in self._mined_by_us
        self._mined_by_us.clear()
        if ours or head <= self._seen_head:
            return
        block = self.rpc.call("eth_getBlockByNumber", hex(head), False)
        if block is not None and not block["transactions"]:
            self.rpc.call("evm_setIntervalMining", 0)
            log.info("switched interval mining off: the durable node mines only when transactions wait")
