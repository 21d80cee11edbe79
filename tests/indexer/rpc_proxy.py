"""A JSON-RPC proxy on 127.0.0.1 that injects faults into eth_getLogs: JSON-RPC errors,
"range too large", HTTP 429 and timeouts, in the order given, then passes calls through."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class FaultProxy:
    def __init__(self, upstream: str, faults: list[str], *, stall: float = 2.0) -> None:
        self.upstream = upstream
        self.faults = deque(faults)
        self.stall = stall
        self.injected: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                fault = proxy.next_fault(request)
                if fault == "429":
                    self._reply(429, b"Too Many Requests")
                    return
                if fault == "timeout":
                    time.sleep(proxy.stall)
                if fault in ("error", "range"):
                    message = "query exceeds max block range 10" if fault == "range" else "internal error"
                    self._reply(
                        200,
                        json.dumps(
                            {"jsonrpc": "2.0", "id": request.get("id"), "error": {"code": -32000, "message": message}}
                        ).encode(),
                    )
                    return
                upstream = requests.post(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=30
                )
                self._reply(upstream.status_code, upstream.content)

            def _reply(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout fault)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next_fault(self, request: object) -> str | None:
        if isinstance(request, dict) and request.get("method") == "eth_getLogs" and self.faults:
            fault = self.faults.popleft()
            self.injected.append(fault)
            return fault
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
