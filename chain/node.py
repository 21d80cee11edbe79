"""Start and stop the local EVM node: anvil (default) or Hardhat 2's node (keeps nothing across
restarts).

With a `state_file`, anvil is the durable local node: it mines only when transactions wait and
its state is snapshotted atomically by a keeper thread (chain/keeper.py, chain/snapshot.py);
transactions reported as sent are journaled (chain/journal.py) and re-sent on the next start if
the restored chain lost them. Its memory is bounded: anvil keeps the transactions of its last
`block_window` blocks and a few past states; the keeper archives every block on disk first
(chain/archive.py), and the node's URL is a front (chain/front.py) that answers history from
the archive, with anvil behind it on a private port. Without one (tests, benchmarks) it is a plain anvil with interval
mining, or automine when `block_time` is None."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import requests

from chain.archive import ARCHIVE_NAME, Archive
from chain.errors import ChainError, NodeStartError
from chain.front import Front
from chain.journal import JOURNAL_NAME, MARKER_NAME, Journal, register, unregister
from chain.keeper import Keeper
from chain.keys import DEV_ACCOUNT_COUNT
from chain.paths import HARDHAT_DIR
from chain.rpc import JsonRpc, RpcError
from chain.settings import LOCAL_CHAIN_ID
from chain.snapshot import state_to_load

log = logging.getLogger(__name__)

ANVIL_BINARY = HARDHAT_DIR / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
HARDHAT_BINARY = HARDHAT_DIR / "node_modules" / ".bin" / "hardhat"
GAS_LIMIT = 300_000_000
PR_SET_PDEATHSIG = 1
STATE_LOCK_NAME = "node.lock"  # next to the state file: held by the one process running a node on it
# anvil keeps in memory a full copy of the state per past block it can answer calls at (the
# revert-reason replay of a just-mined transaction needs the one before it): a few, since each copy
# grows with the registry (--prune-history)
HISTORY_STATES = 1
# blocks whose transactions (with receipts, logs and traces) anvil keeps; older ones live in the
# archive, which the keeper fills at once after every block (--transaction-block-keeper)
BLOCK_WINDOW = 16

# jemalloc keeps freed pages for 10 s by default, so anvil's RSS carried the last dumps' buffers
JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"

NodeKind = Literal["anvil", "hardhat"]


def _die_with_parent() -> None:
    """Linux: the node gets SIGTERM when the process that started it dies, even by kill -9."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_ready(url: str) -> bool:
    try:
        r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
        return r.ok and "result" in r.json()
    except (requests.RequestException, ValueError):
        return False


def _terminate(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


ACCEPT_LOST_HISTORY = "LEDGER_NODE_ACCEPT_LOST_HISTORY"  # "1": serve a chain whose archive lacks old history


def lost_history(archive: Archive) -> str:
    """The refusal to serve a chain whose archive lacks transactions the node no longer holds (a
    deleted, old or foreign archive.sqlite): eth_getLogs from the deployment block would miss them."""
    first, last = min(archive.gaps), max(archive.gaps)
    return (
        f"the archive {archive.path} lacks the transactions of {len(archive.gaps)} block(s) ({first}-{last}) that "
        f"the node no longer holds; restore it from a backup (it belongs beside state.json), or set "
        f"{ACCEPT_LOST_HISTORY}=1 to serve the chain without that history"
    )


@dataclass
class LocalNode:
    """A node process on 127.0.0.1. `state_file` (anvil only) persists the chain across restarts."""

    kind: NodeKind = "anvil"
    port: int = field(default_factory=free_port)
    state_file: Path | None = None
    block_time: float | None = 1
    log_file: Path | None = None
    extra_args: tuple[str, ...] = ()
    die_with_parent: bool = True
    snapshot_interval: float = 1.0
    history_states: int | None = HISTORY_STATES  # None: `--prune-history` alone, no past states at all
    block_window: int | None = BLOCK_WINDOW  # None: anvil keeps every transaction (and needs no archive)
    process: subprocess.Popen[bytes] | None = None
    keeper: Keeper | None = None
    loaded_from: Path | None = None  # the snapshot the running node started from
    replayed: int = 0  # journaled transactions re-sent at the last start
    state_lock: int | None = field(default=None, repr=False)  # descriptor holding STATE_LOCK_NAME while we run
    front: Front | None = None  # a durable node's URL: anvil runs behind it on `backend_port`
    backend_port: int | None = None
    _spawner: ThreadPoolExecutor | None = field(default=None, repr=False)  # starts anvil on a refresh

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def durable(self) -> bool:
        return self.kind == "anvil" and self.state_file is not None

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port or self.port}"

    @property
    def archive(self) -> Archive | None:
        """Blocks anvil forgot the transactions of, with them (a durable node with a window only)."""
        if self.state_file is None or self.block_window is None:
            return None
        return Archive(self.state_file.parent / ARCHIVE_NAME)

    @property
    def journal(self) -> Journal | None:
        return Journal(self.state_file.parent / JOURNAL_NAME) if self.state_file is not None else None

    def command(self, port: int | None = None, state: Path | None = None) -> list[str]:
        """anvil's command line; `state` is a snapshot to load known to be good (else the newest
        good one is looked for)."""
        port = port or self.port
        if self.kind == "hardhat":
            return [str(HARDHAT_BINARY), "node", "--hostname", "127.0.0.1", "--port", str(port)]
        if not ANVIL_BINARY.exists():
            raise NodeStartError("anvil", f"{ANVIL_BINARY} is missing; run `npm ci` in hardhat-local/")
        cmd = [
            str(ANVIL_BINARY),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            str(LOCAL_CHAIN_ID),
            "--gas-limit",
            str(GAS_LIMIT),
            "--accounts",
            str(DEV_ACCOUNT_COUNT),
            "--silent",
        ]
        if self.state_file is not None:
            # no --state: anvil rewrites that file in place and a kill -9 mid-write truncated it; the
            # keeper mines (no empty blocks) and snapshots atomically. Pruned history bounds memory.
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--no-mining", "--prune-history"]
            if self.history_states is not None:
                cmd.append(str(self.history_states))
            if self.block_window is not None:
                cmd += ["--transaction-block-keeper", str(self.block_window)]
            self.loaded_from = state or state_to_load(self.state_file)
            if self.loaded_from is not None:
                cmd += ["--load-state", str(self.loaded_from)]
        elif self.block_time:
            # interval mining: automine (and anvil's --mixed-mining) leaves bursts of transactions pending
            cmd += ["--block-time", str(self.block_time)]
        cmd += list(self.extra_args)
        return cmd

    def start(self, timeout: float = 30.0) -> LocalNode:
        if self.keeper is not None:  # a restart after the node died: the old keeper has nothing to keep
            self.keeper.stop()
            self.keeper = None
        self._lock_state()
        try:
            if self.front is None:  # else the port is ours: a restart keeps the front, callers keep their URL
                self._check_port_free()
            self.replayed = 0
            self._check_archive()
            if self.durable and self.journal is not None and self.journal.has_entries():
                assert self.state_file is not None
                if state_to_load(self.state_file) is None:
                    aside = self.journal.set_aside()
                    log.warning(
                        "a fresh chain: the old chain's journal of sent transactions was set aside as %s", aside
                    )
                else:
                    self._recover(timeout)
            archive = self.archive
            if self.durable and archive is not None:
                self.backend_port = free_port()
                self.process = self._launch(self.backend_port, timeout)
                if self.front is None:
                    self.front = Front(self.port, self.backend_url, archive, self.block_window or 1)
                    self.front.start()
                else:
                    self.front.backend_url = self.backend_url
            else:
                self.process = self._launch(self.port, timeout)
        except BaseException:
            if self.process is not None and self.process.poll() is None:
                _terminate(self.process)
            self._unlock_state()  # no node of ours runs on the state: another may start
            raise
        log.info("node started", extra={"node": self.kind, "url": self.url})
        if self.durable:
            self._keep()
        return self

    def _launch(self, port: int, timeout: float, state: Path | None = None) -> subprocess.Popen[bytes]:
        log_offset = 0
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        command = self.command(port, state)
        env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
        if self.durable:  # anvil's jemalloc: hand freed pages (each snapshot's dump) back within a second
            env.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
        # the child keeps its own copy of the log's descriptor; ours is closed (restarts would leak it)
        with open(self.log_file, "ab") if self.log_file else contextlib.nullcontext(subprocess.DEVNULL) as out:
            process = subprocess.Popen(
                command,
                cwd=HARDHAT_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent else None,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.process = process
                raise NodeStartError(self.kind, self._failure_cause(log_offset))
            if rpc_ready(url):
                return process
            time.sleep(0.05)
        _terminate(process)
        raise NodeStartError(self.kind, f"no answer on {url} within {timeout:.0f} s")

    def _recover(self, timeout: float) -> None:
        """Re-send journaled transactions the restored chain lost on a private port, where no client
        can take their nonces first, and snapshot the result; the node then starts from that."""
        assert self.state_file is not None and self.journal is not None
        port = free_port()
        process = self._launch(port, timeout)
        try:
            rpc = JsonRpc(f"http://127.0.0.1:{port}")
            archive = self.archive
            keeper = Keeper(rpc, self.state_file, self.journal, block_time=self.block_time or 1, archive=archive)
            rpc.call("evm_setAutomine", False)
            if archive is not None:  # first drop the blocks the restored chain lost: their transactions are re-sent
                archive.follow(rpc)
                if archive.gaps and os.environ.get(ACCEPT_LOST_HISTORY) != "1":
                    raise NodeStartError(self.kind, lost_history(archive))
            self.replayed = self.journal.replay(rpc, archive)
            keeper.mine_pending()
            keeper.snapshot()
            keeper.compact_journal()
        finally:
            _terminate(process)

    def _keep(self) -> None:
        """Re-send what the journal still holds and the chain lacks, mine it, snapshot, then keep
        mining and snapshotting in the background."""
        assert self.state_file is not None and self.journal is not None
        rpc = JsonRpc(self.backend_url)
        journal = self.journal
        archive = self.front.archive if self.front is not None else None
        keeper = Keeper(
            rpc,
            self.state_file,
            journal,
            block_time=self.block_time or 1,
            snapshot_interval=self.snapshot_interval,
            archive=archive,
            refresh=self._refresh if archive is not None else None,
            node_rss=self._node_rss,
        )
        rpc.call("evm_setAutomine", False)
        if archive is not None:
            archive.follow(rpc)
            if archive.gaps and os.environ.get(ACCEPT_LOST_HISTORY) != "1":
                self.stop()  # no snapshot: nothing was mined, and the refusal leaves the files as they were
                raise NodeStartError(self.kind, lost_history(archive))
        self.replayed += journal.replay(rpc, archive)
        keeper.mine_pending()
        keeper.snapshot()
        keeper.compact_journal()
        keeper.start()
        self.keeper = keeper
        register(self.url, journal, self.state_file.parent / MARKER_NAME)

    def _node_rss(self) -> int:
        process = self.process
        if process is None:
            return 0
        try:
            with open(f"/proc/{process.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def _refresh(self) -> None:
        """Swap anvil for a fresh one loaded from a snapshot taken now (the keeper calls this when
        anvil's memory crept up): the front holds new requests and lets those in flight finish,
        what is pending is mined into the snapshot, the new anvil starts on another private port,
        then the front resumes on it and the old one is stopped. Nobody sees the node go away."""
        assert self.front is not None and self.keeper is not None and self.state_file is not None
        keeper, front = self.keeper, self.front
        front.pause()
        try:
            keeper.mine_pending(timeout=5)
            keeper.snapshot()
            port, old = free_port(), self.process
            if self._spawner is None:
                # Linux sends PR_SET_PDEATHSIG when the *thread* that started anvil ends: not the
                # keeper's (it ends at every restart), but one that lives as long as the node
                self._spawner = ThreadPoolExecutor(1, thread_name_prefix="node-spawner")
            try:
                process = self._spawner.submit(self._launch, port, 30.0, self.state_file).result()
            except BaseException:
                self.process = old  # _launch keeps a process that died at once; the old one still serves
                raise
            self.process, self.backend_port = process, port
            keeper.rpc = JsonRpc(self.backend_url)
            front.backend_url = self.backend_url
            keeper.rpc.call("evm_setAutomine", False)
            keeper.journal.replay(keeper.rpc, keeper.archive)  # nothing, unless a send slipped past the pause
        finally:
            front.resume()
        if old is not None:
            _terminate(old)

    def _lock_state(self) -> None:
        """One durable node per state directory: a second one (another LEDGER_NODE_PORT, the same
        LEDGER_VAR_DIR) would replay and compact the first one's journal, overwrite its snapshots
        and, stopping, delete its node.json, after which nothing journals for the first."""
        if not self.durable or self.state_lock is not None:
            return
        assert self.state_file is not None
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        path = self.state_file.parent / STATE_LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise NodeStartError(
                self.kind,
                f"another node keeps its state in {self.state_file.parent}; stop it "
                "(`ledger node stop`, or the `ledger up` using it) or set another LEDGER_VAR_DIR",
            ) from None
        self.state_lock = fd  # released by stop(), or by the kernel when this process dies

    def _unlock_state(self) -> None:
        if self.state_lock is not None:
            os.close(self.state_lock)
            self.state_lock = None

    def _check_archive(self) -> None:
        """An archive SQLite cannot read (a torn copy, another file in its place) refuses the start in
        one line, before anything follows or replays against it."""
        archive = self.archive if self.durable else None
        if archive is None:
            return
        try:
            archive.head()
        except sqlite3.DatabaseError as exc:
            raise NodeStartError(
                self.kind,
                f"its archive {archive.path} is unreadable ({exc}); restore it from a backup, or move it aside "
                f"(mv {archive.path} {archive.path}.bad) and start again, and the history anvil no longer "
                "holds will be missing",
            ) from None
        finally:
            archive.close()

    def _check_port_free(self) -> None:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # only a listener counts, not TIME_WAIT
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise NodeStartError(self.kind, self._port_in_use()) from None
                raise

    def _port_in_use(self) -> str:
        return (
            f"port {self.port} is in use by another program; stop it (`ledger node stop` if it is ours, "
            f"`ss -ltnp 'sport = :{self.port}'` shows which) or set LEDGER_NODE_PORT to a free port"
        )

    def _failure_cause(self, log_offset: int) -> str:
        """One line: what the node's log says went wrong, and the fix."""
        code = self.process.returncode if self.process is not None else None
        if self.log_file is None or not self.log_file.exists():
            return f"exited with code {code}"
        with open(self.log_file, "rb") as f:
            f.seek(log_offset)
            text = f.read().decode(errors="replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if any("address already in use" in line.lower() for line in lines):
            return self._port_in_use()
        errors = [line for line in lines if "error" in line.lower()] or lines
        said = errors[-1][:200] if errors else "nothing"
        if self.loaded_from is not None and any("state" in line.lower() for line in errors):
            return (
                f"it could not load {self.loaded_from}: {said}; move the file aside "
                f"(mv {self.loaded_from} {self.loaded_from}.bad) and start again"
            )
        return f"exited with code {code}: {said} (full log: {self.log_file})"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully; a durable node takes a last snapshot first."""
        if self.keeper is not None:
            self.keeper.stop()
            if self.process is not None and self.process.poll() is None:
                try:
                    self.keeper.mine_pending(timeout=5)  # what was accepted goes into the last snapshot
                    self.keeper.snapshot()
                    self.keeper.compact_journal()
                except (ChainError, RpcError, OSError, ValueError, sqlite3.Error) as exc:  # the journal keeps it
                    log.warning("last snapshot failed: %s", type(exc).__name__)
            self.keeper = None
            if self.state_file is not None:
                unregister(self.url, self.state_file.parent / MARKER_NAME)
        if self.front is not None:
            self.front.stop()
            self.front = None
        try:
            if self.process is None or self.process.poll() is not None:
                return
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        finally:
            self._unlock_state()  # only once our anvil is gone: until then the state is still ours
            if self._spawner is not None:
                self._spawner.shutdown(wait=False)
                self._spawner = None

    def __enter__(self) -> LocalNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
