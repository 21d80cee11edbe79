"""A thin JSON-RPC client over one HTTP session, with batches (web3 sends one request per call)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import requests

from chain.errors import NodeUnreachableError


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        super().__init__(str(error.get("message", error)))


class JsonRpc:
    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        return self.call_with_body(method, *params)[0]

    def call_with_body(self, method: str, *params: Any) -> tuple[Any, bytes]:
        """The result and the reply's raw JSON text (the indexer hands it on without re-encoding)."""
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        reply, body = self._post_with_body(payload)
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply["result"], body

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any | RpcError]:
        """Results in call order; a failed call yields its RpcError instead of raising."""
        if not calls:
            return []
        first = next(self._ids)
        payload = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self._ids)
        replies = self._post(payload)
        if isinstance(replies, dict):  # the whole batch was refused
            raise RpcError(replies.get("error", replies))
        by_id = {r.get("id"): r for r in replies}
        out: list[Any | RpcError] = []
        for i in range(len(calls)):
            r = by_id.get(first + i, {"error": {"message": "no reply in batch"}})
            out.append(RpcError(r["error"]) if "error" in r else r.get("result"))
        return out

    def _post(self, payload: Any) -> Any:
        return self._post_with_body(payload)[0]

    def _post_with_body(self, payload: Any) -> tuple[Any, bytes]:
        try:
            response = self._session.post(self.url, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NodeUnreachableError(self.url, type(exc).__name__) from None
        try:
            body = response.content
            return json.loads(body), body
        except ValueError:
            raise NodeUnreachableError(self.url, f"HTTP {response.status_code}, not JSON") from None
