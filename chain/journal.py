"""The journal of sent transactions: what the CLI and the bulk sender reported as sent survives a
kill -9 of the local node.

A state snapshot lags the chain by up to a second or so. Every signed raw transaction the node
accepted is appended here (fsynced) before anyone reports it sent or done, and re-sent when the
node starts again if the restored chain does not have it. Re-sending is safe: a signed
transaction carries its nonce, so it can be included once, and registry operations carry
operation ids the contract refuses to apply twice.

The journal belongs to the chain whose snapshots lie next to it (`var/anvil/`): a node starting a
fresh chain sets an old journal aside instead of replaying it. (Not the genesis hash: anvil gives
block 0 a new hash at every --load-state.)
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.archive import Archive
from chain.rpc import JsonRpc, RpcError
from chain.snapshot import write_atomically

log = logging.getLogger(__name__)

JOURNAL_NAME = "sent.jsonl"
MARKER_NAME = "node.json"  # written by a running durable node: its URL and journal, for other processes
STALE_AFTER = 600.0  # an entry never seen in a block after this many seconds was refused for good
RPC_CHUNK = 500


@dataclass(frozen=True)
class Entry:
    tx_hash: str
    raw: str
    at: float


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # appends from other processes must not race a compaction
            yield
        finally:
            os.close(fd)

    def has_entries(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def set_aside(self) -> Path | None:
        """Move the journal out of the way (a fresh chain must not receive an old chain's transactions)."""
        if not self.has_entries():
            return None
        aside = self.path.with_name(f"{self.path.name}.{int(time.time())}.orphaned")
        with self._locked():
            os.replace(self.path, aside)
        return aside

    def record(self, sent: Sequence[tuple[str, bytes]]) -> None:
        """Append (tx hash, signed raw transaction) pairs and fsync them."""
        if not sent:
            return
        now = round(time.time(), 3)
        lines = "".join(json.dumps({"h": h, "raw": "0x" + raw.hex(), "t": now}) + "\n" for h, raw in sent)
        with self._locked():
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            try:
                os.write(fd, lines.encode())
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self) -> list[Entry]:
        """Every readable entry; a line torn by a crash mid-append is skipped (it was never reported)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                e = json.loads(line)
                out.append(Entry(e["h"], e["raw"], float(e["t"])))
            except (ValueError, KeyError, TypeError):
                continue
        return out

    def replay(self, rpc: JsonRpc, archive: Archive | None = None) -> int:
        """Re-send journaled transactions the chain does not have; returns how many it accepted."""
        mine = self.entries()
        found = self._lookup(rpc, [e.tx_hash for e in mine], archive)
        missing = [e for e, tx in zip(mine, found, strict=True) if tx is None]
        refused: list[str] = []
        for start in range(0, len(missing), RPC_CHUNK):
            chunk = missing[start : start + RPC_CHUNK]
            replies = rpc.batch([("eth_sendRawTransaction", [e.raw]) for e in chunk])
            refused += [str(r) for r in replies if isinstance(r, RpcError)]  # e.g. a replaced fee: its twin got in
        if missing:
            log.warning(
                "re-sent %d journaled transactions the restored chain had lost (%d refused%s)",
                len(missing),
                len(refused),
                f", e.g. {refused[0][:120]}" if refused else "",
            )
        return len(missing) - len(refused)

    def compact(self, rpc: JsonRpc, durable_block: int, archive: Archive | None = None) -> int:
        """Drop entries a snapshot covers (mined at or below `durable_block`) and entries refused long
        ago; returns how many remain."""
        with self._locked():
            entries = self.entries()
            found = self._lookup(rpc, [e.tx_hash for e in entries], archive)
            now = time.time()
            keep = []
            for e, tx in zip(entries, found, strict=True):
                mined_at = int(tx["blockNumber"], 16) if tx and tx.get("blockNumber") else None
                if mined_at is not None and mined_at <= durable_block:
                    continue
                if tx is None and now - e.at > STALE_AFTER:
                    continue
                keep.append(e)
            if len(keep) == len(entries):
                return len(keep)
            text = "".join(json.dumps({"h": e.tx_hash, "raw": e.raw, "t": e.at}) + "\n" for e in keep)
            write_atomically(self.path, text.encode(), keep_previous=False)
            return len(keep)

    @staticmethod
    def _lookup(rpc: JsonRpc, hashes: list[str], archive: Archive | None = None) -> list[dict[str, Any] | None]:
        """Each transaction as the node has it, else as the archive of its older blocks has it."""
        found: list[dict[str, Any] | None] = []
        for start in range(0, len(hashes), RPC_CHUNK):
            chunk = hashes[start : start + RPC_CHUNK]
            replies = rpc.batch([("eth_getTransactionByHash", [h]) for h in chunk])
            for tx_hash, reply in zip(chunk, replies, strict=True):
                if isinstance(reply, RpcError):
                    raise reply
                found.append(reply if reply is not None or archive is None else archive.transaction(tx_hash))
        return found


# ---------------------------------------------------------------- which journal a client writes to

_running: dict[str, Journal] = {}  # durable nodes started by this process, by URL


def register(url: str, journal: Journal, marker: Path | None) -> None:
    _running[url] = journal
    if marker is not None:
        marker.write_text(json.dumps({"url": url, "journal": str(journal.path), "pid": os.getpid()}))


def unregister(url: str, marker: Path | None) -> None:
    _running.pop(url, None)
    if marker is None:
        return
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        recorded = {}
    if recorded.get("url") in (url, None):  # another node's record is not ours to delete
        marker.unlink(missing_ok=True)


def journal_for(url: str) -> Journal | None:
    """The journal of the durable local node at `url`: one started in this process, or the one
    recorded in `<LEDGER_VAR_DIR>/anvil/node.json` by `ledger node start`."""
    if url in _running:
        return _running[url]
    try:
        from chain.settings import ChainSettings

        marker = ChainSettings().var_dir / "anvil" / MARKER_NAME
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):  # no durable node recorded (or an unreadable configuration): nothing to journal
        return None
    if recorded.get("url") != url:
        return None
    return Journal(Path(recorded["journal"]))
