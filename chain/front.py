"""The durable local node's JSON-RPC front: the node's URL, in front of anvil on a private port.

It passes every request through to anvil, except the history anvil no longer holds (it keeps only
its last blocks' transactions, chain/archive.py): eth_getLogs, blocks, block receipts,
transactions (by hash, or by block and position, and their count) and receipts of archived blocks are answered from the archive, so callers see one
whole chain. When anvil is down it closes the connection unanswered, as a dead node would.

Not served from the archive: traces (debug_*/trace_*) and eth_call / state at old blocks (anvil
keeps few past states, --prune-history).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from chain.archive import Archive
from chain.errors import NodeUnreachableError
from chain.rpc import JsonRpc, RpcError

log = logging.getLogger(__name__)

HISTORY_METHODS = (
    b"eth_getLogs",
    b"eth_getBlockBy",
    b"eth_getBlockReceipts",
    b"eth_getTransactionByHash",
    b"eth_getTransactionReceipt",
    b"eth_getBlockTransactionCountBy",
    b"eth_getTransactionByBlock",
)
# a block's transactions by count or position: anvil answers 0 / null for blocks it forgot them of
COUNT_AND_INDEX = (
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex",
)
TAGS_AT_HEAD = ("latest", "pending", "safe", "finalized")
MINING = (b"evm_mine", b"anvil_mine", b"hardhat_mine")

Post = Callable[[Any], Any]  # turns anvil's result into the reply's
# anvil's own answer to a preflight: any origin may POST JSON-RPC (no credentials, nothing per caller)
CORS_PREFLIGHT = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET,POST"),
    ("Access-Control-Allow-Headers", "content-type"),
)


MAX_LOGS = 10_000  # an archived eth_getLogs answer is built in memory: bounded, as providers bound it
MAX_BODY = 64 * 2**20  # a JSON-RPC request far beyond any the registry sends


def _content_length(header: str | None) -> int | None:
    """The body's length, or None when the header is not a whole number in 0..MAX_BODY."""
    text = (header or "0").strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_BODY:
        return None
    return int(text)


class _BackendDown(Exception):
    pass


class Front:
    def __init__(self, port: int, backend_url: str, archive: Archive, window: int) -> None:
        self.port = port
        self.window = window
        self.backend_url = backend_url
        self.archive = archive
        self._local = threading.local()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()  # open keep-alive connections, closed by stop()
        self._connections_lock = threading.Lock()
        self._gate = threading.Condition()  # pause(): new requests wait, the ones in flight finish
        self._paused = False
        self._active = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as anvil offers

            def setup(self) -> None:
                super().setup()
                # headers and body leave in two writes: with Nagle on, the body waits for the
                # caller's delayed ACK (~40 ms a call, measured by bench/node_front.py)
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with front._connections_lock:
                    front._connections.add(self.connection)

            def finish(self) -> None:
                with front._connections_lock:
                    front._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                length = _content_length(self.headers.get("Content-Length"))
                if length is None:  # read(-1) would wait for the caller to close: a thread held
                    self.close_connection = True
                    self.send_error(400, "Content-Length must be a whole number of bytes up to 64 MiB")
                    return
                body = self.rfile.read(length)
                try:
                    reply = front.handle(body)
                except _BackendDown:
                    self.close_connection = True  # no answer: the caller sees an unreachable node
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.send_header("Access-Control-Allow-Origin", "*")  # as anvil: a browser may read the chain
                self.end_headers()
                self.wfile.write(reply)

            def do_OPTIONS(self) -> None:
                """A browser's CORS preflight (the verify page's in-browser verifier), answered as anvil does."""
                self.send_response(200)
                for name, value in CORS_PREFLIGHT:
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="node-front", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and drop every open connection, so that callers reconnect to whatever
        listens on the port next instead of talking to a front that is gone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    # ------------------------------------------------------------------ passing through

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _forward(self, body: bytes) -> bytes:
        try:
            response = self._session().post(
                self.backend_url, data=body, headers={"Content-Type": "application/json"}, timeout=300
            )
            return response.content
        except requests.RequestException:
            raise _BackendDown from None

    def _ask(self, method: str, *params: Any) -> Any:
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        reply = json.loads(self._forward(json.dumps(request).encode()))
        if "error" in reply:
            raise _Refused(reply["error"])
        return reply["result"]

    def _backend(self) -> JsonRpc:
        rpc: JsonRpc | None = getattr(self._local, "rpc", None)
        if rpc is None:
            rpc = self._local.rpc = JsonRpc(self.backend_url)
        return rpc

    def pause(self, timeout: float = 30.0) -> None:
        """Hold new requests and wait for those in flight (the node swaps its anvil: node.py)."""
        with self._gate:
            self._paused = True
            self._gate.wait_for(lambda: self._active == 0, timeout)

    def resume(self) -> None:
        with self._gate:
            self._paused = False
            self._gate.notify_all()

    def handle(self, body: bytes) -> bytes:
        with self._gate:
            self._gate.wait_for(lambda: not self._paused, 120)
            self._active += 1
        try:
            return self._handle(body)
        finally:
            with self._gate:
                self._active -= 1
                self._gate.notify_all()

    def _handle(self, body: bytes) -> bytes:
        if any(m in body for m in MINING):
            batch = _batch(body)
            if batch is not None:  # one item at a time: the history in it still reads the archive
                return json.dumps([json.loads(self._handle(json.dumps(item).encode())) for item in batch]).encode()
            return self._mine(body)
        if not any(m in body for m in HISTORY_METHODS):
            return self._forward(body)  # the common case (sends, calls): bytes in, bytes out
        try:
            request = json.loads(body)
        except ValueError:
            return self._forward(body)  # anvil says what is wrong with it
        items = request if isinstance(request, list) else [request]
        if not items or not all(isinstance(i, dict) for i in items):
            return self._forward(body)
        replies: list[Any] = [None] * len(items)
        forwarded: list[tuple[int, dict[str, Any], Post]] = []
        for k, item in enumerate(items):
            try:
                plan = self._plan(item.get("method"), item.get("params") or [])
            except _Refused as exc:
                replies[k] = {"jsonrpc": "2.0", "id": item.get("id"), "error": exc.error}
                continue
            except (TypeError, ValueError, KeyError, AttributeError, IndexError):
                plan = ("forward", item.get("params"), _same)  # malformed: anvil's own error
            if plan[0] == "local":
                replies[k] = {"jsonrpc": "2.0", "id": item.get("id"), "result": plan[1]}
            else:
                forwarded.append((k, {**item, "params": plan[1]}, plan[2]))
        if forwarded:
            sent = [f[1] for f in forwarded]
            answers = json.loads(self._forward(json.dumps(sent if isinstance(request, list) else sent[0]).encode()))
            answers = answers if isinstance(answers, list) else [answers]
            by_id = {json.dumps(a.get("id")): a for a in answers if isinstance(a, dict)}
            for (k, item, post), answer in zip(forwarded, answers, strict=False):
                answer = by_id.get(json.dumps(item.get("id")), answer)
                if isinstance(answer, dict) and "result" in answer:
                    answer = {**answer, "result": post(answer["result"])}
                replies[k] = answer
        out = replies if isinstance(request, list) else replies[0]
        return json.dumps(out).encode()

    def _mine(self, body: bytes) -> bytes:
        """Blocks mined by a caller (tests, `anvil_mine` of many blocks) go into the archive before
        anvil forgets their transactions: a long run is mined in parts of half the window."""
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        method = request.get("method") if isinstance(request, dict) else None
        params = (request.get("params") or []) if isinstance(request, dict) else []
        count = _number(params[0]) if method in ("anvil_mine", "hardhat_mine") and params else None
        part = max(1, self.window // 2)
        try:
            self.archive.follow(self._backend())
            if count is not None and count > part:
                while count > part:
                    self._ask(str(method), hex(part), *params[1:])
                    self.archive.follow(self._backend())
                    count -= part
                body = json.dumps({**request, "params": [hex(count), *params[1:]]}).encode()
            reply = self._forward(body)
            self.archive.follow(self._backend())
        except (NodeUnreachableError, RpcError):
            raise _BackendDown from None
        except _Refused as exc:
            return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": exc.error}).encode()
        return reply

    # ------------------------------------------------------------------ history from the archive

    def _plan(self, method: Any, params: list[Any]) -> tuple[str, Any, Post]:
        """("local", result, _) answered here, or ("forward", params, post) for anvil."""
        archive = self.archive
        if method == "eth_getLogs":
            return self._plan_logs(params)
        if method == "eth_getBlockByNumber":
            number = _number(params[0])
            if number is not None and 0 < number <= archive.head():
                return ("local", archive.block(number, full=bool(params[1]) if len(params) > 1 else False), _same)
        elif method == "eth_getBlockByHash":
            block = archive.block(block_hash=str(params[0]), full=bool(params[1]) if len(params) > 1 else False)
            if block is not None:
                return ("local", block, _same)
        elif method == "eth_getBlockReceipts":
            at = params[0]
            number = archive.number_of(at) if isinstance(at, str) and len(at) == 66 else _number(at)
            if number is not None and 0 < number <= archive.head():
                return ("local", archive.receipts(number), _same)
        elif method in COUNT_AND_INDEX:
            number = archive.number_of(str(params[0])) if "Hash" in method else _number(params[0])
            block = archive.block(number, full=method.startswith("eth_getTransactionByBlock")) if number else None
            if block is not None:
                if method.startswith("eth_getBlockTransactionCount"):
                    return ("local", hex(len(block["transactions"])), _same)
                index = _number(params[1])
                if index is None:
                    raise ValueError(params[1])
                txs = block["transactions"]
                return ("local", txs[index] if index < len(txs) else None, _same)
        elif method == "eth_getTransactionByHash":
            tx_hash = str(params[0])
            return ("forward", params, lambda r: r if r is not None else archive.transaction(tx_hash))
        elif method == "eth_getTransactionReceipt":
            tx_hash = str(params[0])
            return ("forward", params, lambda r: r if r is not None else archive.receipt(tx_hash))
        return ("forward", params, _same)

    def _plan_logs(self, params: list[Any]) -> tuple[str, Any, Post]:
        flt = dict(params[0])
        archive = self.archive
        addresses = flt.get("address")
        if isinstance(addresses, str):
            addresses = [addresses]
        elif addresses == []:
            addresses = None  # as anvil reads it: no address filter, not "none of them"
        topics = flt.get("topics") or []
        if flt.get("blockHash") is not None:
            number = archive.number_of(str(flt["blockHash"]))
            if number is None:
                return ("forward", params, _same)
            return ("local", archive.logs(number, number, addresses, topics), _same)
        archived = archive.head()
        first = self._resolve(flt.get("fromBlock", "latest"))
        if first > archived:
            return ("forward", params, _same)  # all of it is still in anvil
        last = self._resolve(flt.get("toBlock", "latest"))
        if first > last:
            return ("forward", params, _same)  # anvil's own error
        older = archive.logs(first, min(last, archived), addresses, topics, limit=MAX_LOGS)
        if len(older) > MAX_LOGS:  # as geth and Infura answer; chain/logs.py then asks for less
            raise _Refused({"code": -32005, "message": f"query returned more than {MAX_LOGS} results"})
        if last <= archived:
            return ("local", older, _same)
        rest = {**flt, "fromBlock": hex(archived + 1)}
        return ("forward", [rest, *params[1:]], lambda newer: older + (newer or []))

    def _resolve(self, tag: Any) -> int:
        if tag is None or tag in TAGS_AT_HEAD:
            return int(self._ask("eth_blockNumber"), 16)
        if tag == "earliest":
            return 0
        number = _number(tag)
        if number is None:
            raise ValueError(tag)
        return number


class _Refused(Exception):
    def __init__(self, error: Any) -> None:
        super().__init__(str(error))
        self.error = error


def _batch(body: bytes) -> list[Any] | None:
    """The items of a JSON-RPC batch of more than one request, else None."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    return request if isinstance(request, list) and len(request) > 1 else None


def _same(result: Any) -> Any:
    return result


def _number(tag: Any) -> int | None:
    if isinstance(tag, str) and tag.startswith("0x") and len(tag) <= 18:
        return int(tag, 16)
    if isinstance(tag, int):
        return tag
    return None
