"""The keeper's snapshot is streamed from anvil_dumpState's reply to disk, never held whole; a reply
cut short or damaged never replaces the last good snapshot."""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chain.rpc import RpcError
from chain.snapshot import STREAM_PIECE, TEMPORARY_SUFFIX, stream_state, write_atomically_from

# random hashes: gzip cannot shrink them, so the reply spans many pieces
STATE = {
    "accounts": {"0x" + "11" * 20: {"balance": "0x1"}},
    "blocks": [{"hash": os.urandom(32).hex()} for _ in range(20_000)],
}


@contextmanager
def replying(body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def dump_reply(data: bytes) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x" + gzip.compress(data).hex()}).encode()


def test_a_dump_is_written_as_it_arrives_and_equals_the_state(tmp_path: Path) -> None:
    data = json.dumps(STATE).encode()
    reply = dump_reply(data)
    assert len(reply) > 3 * STREAM_PIECE  # several pieces, split anywhere in the hex
    path = tmp_path / "state.json"
    with replying(reply) as url:
        write_atomically_from(path, lambda out: stream_state(url, out))
    assert path.read_bytes() == data


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r[: len(r) // 2],  # cut short mid-hex
        lambda r: r[:-40] + b'"}',  # the gzip trailer missing
        lambda r: r.replace(b'"0x1f8b', b'"0x0000', 1),  # not gzip
    ],
)
def test_a_damaged_dump_leaves_the_last_snapshot_whole_and_no_temporary(tmp_path: Path, damage) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"accounts": {}, "blocks": []}')
    with replying(damage(dump_reply(json.dumps(STATE).encode()))) as url, pytest.raises(ValueError):
        write_atomically_from(path, lambda out: stream_state(url, out))
    assert path.read_bytes() == b'{"accounts": {}, "blocks": []}'
    assert not path.with_name(path.name + TEMPORARY_SUFFIX).exists()


def test_a_refused_dump_is_the_nodes_error(tmp_path: Path) -> None:
    reply = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "not supported"}}).encode()
    with replying(reply) as url, pytest.raises(RpcError, match="not supported"):
        write_atomically_from(tmp_path / "state.json", lambda out: stream_state(url, out))
    assert not (tmp_path / "state.json").exists()
