"""A thin JSON-RPC client over one HTTP session, with batches (web3 sends one request per call)."""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
import requests
import urllib3

from chain.errors import NodeUnreachableError, NotJsonRpcError, shown_url

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
PATH = re.compile(r"(^|[\s'\"(=])/[^\s'\"]+")


class RedactUrls(logging.Filter):
    """urllib3 logs every request's path and query at debug level ("POST /v3/KEY?apikey=… HTTP/1.1"),
    and full URLs on redirects and retries; hosted nodes carry their API key there. Each record
    from urllib3 keeps only scheme, host and port (chain/errors.py:shown_url)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: drop its arguments rather than risk them
            message = str(record.msg)
        message = URL.sub(lambda m: shown_url(m.group(0)), message)
        record.msg, record.args = PATH.sub(lambda m: m.group(1) + "/…", message), None
        return True


def redact_urllib3_logs() -> None:
    """Put the filter on every urllib3 logger (a logger's filters see only its own records)."""
    import urllib3.connection
    import urllib3.connectionpool
    import urllib3.poolmanager
    import urllib3.response
    import urllib3.util.retry  # noqa: F401  (each module creates its logger on import)

    names = [name for name in logging.root.manager.loggerDict if name == "urllib3" or name.startswith("urllib3.")]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactUrls) for f in logger.filters):
            logger.addFilter(RedactUrls())


redact_urllib3_logs()


def loads_strings(body: bytes) -> Any:
    """Parse a reply whose values are all strings, booleans and lists, such as eth_getLogs':
    orjson parses them 1.5x faster than json. Not for other replies: orjson reads an integer
    beyond 64 bits as a float (here any number would fail loudly where a string is expected)."""
    return orjson.loads(body)


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

    def call(self, method: str, *params: Any, parse: Callable[[bytes], Any] = json.loads) -> Any:
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        reply = self._post(payload, parse)
        if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
            raise NotJsonRpcError(self.url, f"{method} got JSON without a result or an error")
        if "error" in reply:
            raise RpcError(reply["error"] if isinstance(reply["error"], dict) else {"message": str(reply["error"])})
        return reply["result"]

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
            if "error" not in replies:
                raise NotJsonRpcError(self.url, "a batch got JSON that is neither replies nor an error")
            raise RpcError(
                replies["error"] if isinstance(replies["error"], dict) else {"message": str(replies["error"])}
            )
        if not isinstance(replies, list) or not all(isinstance(r, dict) for r in replies):
            raise NotJsonRpcError(self.url, "a batch got JSON that is not a list of replies")
        by_id = {r.get("id"): r for r in replies}
        out: list[Any | RpcError] = []
        for i in range(len(calls)):
            r = by_id.get(first + i, {"error": {"message": "no reply in batch"}})
            out.append(RpcError(r["error"]) if "error" in r else r.get("result"))
        return out

    def _post(self, payload: Any, parse: Callable[[bytes], Any] = json.loads) -> Any:
        try:
            response = self._session.post(self.url, json=payload, timeout=self.timeout, stream=True)
            # read at once: `.content` reads in 10 KB chunks, which took 3x the CPU on the indexer's
            # replies of megabytes; the connection goes back to the pool once the body is read
            body = response.raw.read(decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise NodeUnreachableError(self.url, type(exc).__name__) from None
        try:
            return parse(body)
        except ValueError:
            raise NotJsonRpcError(self.url, f"HTTP {response.status_code}, not JSON") from None
