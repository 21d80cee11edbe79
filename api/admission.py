"""Admission control: at most N requests that read the database run at once per worker; the rest
wait on the event loop (no thread, no connection held) and are answered 503 with Retry-After if
their turn does not come in time.

Why: FastAPI takes a route's pooled connection in its dependency, then waits for a thread to run
the route itself, still holding the connection; with more clients than connections the pool ran
dry and requests waited 30 s for it (issue 12, item 4). Bounding the requests that may hold a
connection to fewer than the pool holds means none waits for the pool."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import problem

# the paths that read the database; the pages, the explorer (it reads the node) and the OpenAPI
# document are served without waiting
GATED = ("/api/", "/certificates/", "/registry")  # /registry: the public registry's pages and downloads


def busy_response(retry_after: int) -> Any:
    response = problem(503, "Busy", f"the service is at capacity; retry in {retry_after} s")
    response.headers["Retry-After"] = str(retry_after)
    return response


class Admission:
    def __init__(self, app: ASGIApp, *, limit: int, queue_timeout: float, retry_after: int) -> None:
        self.app = app
        self.limit, self.queue_timeout, self.retry_after = limit, queue_timeout, retry_after
        # one semaphore per event loop: a test may serve the same app from several loops in turn
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        return gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not scope["path"].startswith(GATED):
            await self.app(scope, receive, send)
            return
        gate = self._gate()
        try:
            await asyncio.wait_for(gate.acquire(), self.queue_timeout)
        except TimeoutError:
            await busy_response(self.retry_after)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.release()
