"""The local chain's state on disk, written so that no crash leaves it truncated.

anvil's own `--state` writer rewrites the file in place, so a kill -9 during a write left it at
0 bytes and the chain was gone. Here the state comes from `anvil_dumpState` and is written to a
temporary file, fsynced, and renamed over `state.json`; the snapshot it replaces is kept as
`state.json.prev`. A start loads the newest of the two that parses.

After each snapshot, `covered.json` next to it records the block it covers (number and hash): a
block above it dies with a kill -9 (its transactions are re-sent from the journal, into other
blocks), so the certificate service certifies only retirements at or below it (finality.py).
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import requests

from chain.errors import NodeStartError, NodeUnreachableError
from chain.rpc import JsonRpc, RpcError

PREVIOUS_SUFFIX = ".prev"
TEMPORARY_SUFFIX = ".tmp"
STREAM_PIECE = 256 * 1024
RESULT = re.compile(rb'"result"\s*:\s*"(0x)?')
COVERAGE_NAME = "covered.json"  # next to the state file: {"block": n, "hash": h} of the last snapshot


def previous_of(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, keep_previous: bool = True, mode: int = 0o644) -> None:
    """Replace `path` by `data` so that a reader always finds either the old or the new whole file;
    the old one stays as `<path>.prev` unless `keep_previous` is False. The file is created with
    `mode`, so a private one is never readable by others, not even while it is written."""
    write_atomically_from(path, lambda out: out.write(data), keep_previous=keep_previous, mode=mode)


def write_atomically_from(
    path: Path, write: Callable[[BinaryIO], object], *, keep_previous: bool = True, mode: int = 0o644
) -> None:
    """write_atomically, the content written by `write(file)` piece by piece; when it raises, the
    partial copy is removed and `path` stays as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + TEMPORARY_SUFFIX)
    try:
        temporary.unlink(missing_ok=True)  # a leftover keeps its own mode: never write into it
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)  # a partial copy on a full disk only keeps it full
        raise
    if keep_previous and path.exists():
        os.replace(path, previous_of(path))  # a crash right here leaves .prev, which a start falls back to
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def dump_state(rpc: JsonRpc) -> bytes:
    """The node's whole state as the JSON `--load-state` reads (anvil returns it gzipped, in hex)."""
    encoded: str = rpc.call("anvil_dumpState")
    return gzip.decompress(bytes.fromhex(encoded.removeprefix("0x")))


def stream_state(url: str, out: BinaryIO, timeout: float = 300.0) -> None:
    """Write the node's whole state (dump_state's JSON) to `out` as it arrives, never holding it:
    the reply's hex string is decoded and gunzipped piece by piece. Raises RpcError when the node
    refuses, NodeUnreachableError when it is gone, ValueError when the reply is cut short or damaged."""
    payload: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "anvil_dumpState", "params": []}
    found: re.Match[bytes] | None = None
    try:
        with requests.post(url, json=payload, stream=True, timeout=timeout) as response:
            pieces = response.iter_content(STREAM_PIECE)
            head = b""
            for piece in pieces:
                head += piece
                found = RESULT.search(head)
                if found is not None or len(head) > STREAM_PIECE:
                    break
            if found is None:
                reply = json.loads(head + b"".join(pieces))  # no result: an error, small
                raise RpcError(reply.get("error") or {"message": "anvil_dumpState returned no state"})
            inflate = zlib.decompressobj(wbits=31)  # gzip
            odd, done = b"", False
            for piece in itertools.chain([head[found.end() :]], pieces):
                if done:
                    continue  # the reply's closing brace
                end = piece.find(b'"')
                if end >= 0:
                    piece, done = piece[:end], True
                hexits = odd + piece
                cut = len(hexits) - len(hexits) % 2
                out.write(inflate.decompress(bytes.fromhex(hexits[:cut].decode())))
                odd = hexits[cut:]
            out.write(inflate.flush())
            if not done or odd or not inflate.eof:
                raise ValueError("anvil_dumpState's reply was cut short")
    except requests.RequestException as exc:
        raise NodeUnreachableError(url, type(exc).__name__) from None
    except zlib.error as exc:
        raise ValueError(f"anvil_dumpState's reply is not gzip: {exc}") from None


def take_snapshot(rpc: JsonRpc, path: Path) -> int:
    """Write the node's state to `path`, then record the block it covers (at least) in
    `covered.json`; returns that block."""
    head = int(rpc.call("eth_blockNumber"), 16)
    block = rpc.call("eth_getBlockByNumber", hex(head), False)
    write_atomically_from(path, lambda out: stream_state(rpc.url, out))
    # only once the state is on disk, so the record never claims more than a restart loads
    record = {"block": head, "hash": block["hash"] if isinstance(block, dict) else None}
    write_atomically(path.with_name(COVERAGE_NAME), json.dumps(record).encode(), keep_previous=False)
    return head


def read_coverage(directory: Path) -> tuple[int, str] | None:
    """(block, hash) the last snapshot in `directory` covers, or None when none is recorded."""
    try:
        record = json.loads((directory / COVERAGE_NAME).read_bytes())
        return int(record["block"]), str(record["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def parse_problem(path: Path) -> str | None:
    """Why `path` is no usable state snapshot, or None when it is one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if not data:
        return "empty (0 bytes)"
    try:
        state = json.loads(data)
    except ValueError as exc:
        return (
            f"not valid JSON (truncated or corrupt at byte {exc.pos})"
            if isinstance(exc, json.JSONDecodeError)
            else "not valid JSON"
        )
    if not isinstance(state, dict) or "accounts" not in state or "blocks" not in state:
        return "not an anvil state dump (no accounts or blocks)"
    return None


def state_to_load(path: Path) -> Path | None:
    """The newest good snapshot (`path`, else `path.prev`), or None for a fresh chain when there is
    none at all. Raises NodeStartError naming the cause and the fix when snapshots exist but none is good."""
    problems: list[str] = []
    for candidate in (path, previous_of(path)):
        if not candidate.exists():
            continue
        problem = parse_problem(candidate)
        if problem is None:
            return candidate
        problems.append(f"{candidate} is {problem}")
    if not problems:
        return None
    raise NodeStartError(
        "anvil",
        f"{'; '.join(problems)}, and there is no good earlier snapshot; restore a backup, or start a fresh chain "
        f"after moving it aside: mv {path} {path}.bad",
    )
