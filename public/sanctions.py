"""What a sanctions notice (处理通报) adds to a participant's status change: the date of its
block, read from the node (the mirror keeps block numbers, not times), and the reason document
itself when the registry has published it.

Dates are best effort: without a node, or when it does not answer, the notice shows the block
number and transaction only, which are the authoritative record anyway."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path

from chain.errors import ChainError
from chain.rpc import JsonRpc, RpcError

_times: dict[tuple[str, int], int] = {}  # (node URL, block) -> unix seconds; blocks never change time
_lock = threading.Lock()


_clients: dict[str, JsonRpc] = {}
QUICK_TIMEOUT = 3.0  # seconds


def _quick(rpc: JsonRpc) -> JsonRpc:
    with _lock:
        client = _clients.get(rpc.url)
        if client is None:
            client = _clients[rpc.url] = JsonRpc(rpc.url, timeout=QUICK_TIMEOUT)
    return client


def block_dates(rpc: JsonRpc | None, blocks: list[int]) -> dict[int, str]:
    """ISO dates (UTC) of the given blocks that the node answered for; {} without a node."""
    if rpc is None or not blocks:
        return {}
    wanted = sorted(set(blocks))
    with _lock:
        missing = [b for b in wanted if (rpc.url, b) not in _times]
    if missing:
        try:  # a client of its own with a short timeout: a notice page never waits a minute for dates
            answers = _quick(rpc).batch([("eth_getBlockByNumber", [hex(b), False]) for b in missing])
        except (ChainError, RpcError, OSError, ValueError):
            answers = []
        with _lock:
            for b, a in zip(missing, answers, strict=False):
                if isinstance(a, dict) and "timestamp" in a:
                    _times[(rpc.url, b)] = int(a["timestamp"], 16)
    with _lock:
        found = {b: _times[(rpc.url, b)] for b in wanted if (rpc.url, b) in _times}
    return {b: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") for b, t in found.items()}


class PublicDocuments:
    """Reason documents the registry has chosen to publish: files in one directory, each named by
    the sha256 (hex) of its bytes. A file is served only if its bytes still hash to its name."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def find(self, reason_hash: str) -> Path | None:
        name = reason_hash.lower().removeprefix("0x")
        if self.directory is None or len(name) != 64 or any(c not in "0123456789abcdef" for c in name):
            return None
        path = self.directory / name
        # a regular file in the directory itself: a symlink would publish whatever it points at
        if path.is_symlink() or not path.is_file() or path.resolve().parent != self.directory.resolve():
            return None
        return path if _hashes_to(path, name) else None


# (path, inode, size, mtime) → whether the bytes hash to the name: a sanctions page lists every
# notice's document, and re-reading each file on every page was a full hash of every document
_checked: dict[tuple[str, int, int, int], bool] = {}


def _hashes_to(path: Path, name: str) -> bool:
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    with _lock:
        known = _checked.get(key)
    if known is None:
        known = hashlib.sha256(path.read_bytes()).hexdigest() == name
        with _lock:
            if len(_checked) >= 4096:
                _checked.clear()
            _checked[key] = known
    return known
