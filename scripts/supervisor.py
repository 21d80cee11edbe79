"""The main job's threads under supervision: the API server in the main thread, workers (the
indexer, the anchorer) beside it. A worker that dies stops the server, and the process exits
non-zero with one line saying which worker died and why: a registry whose mirror no longer moves
must not go on answering as if it did (issue 12, item 5)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from chain.errors import ChainError

log = logging.getLogger("ledger.supervisor")


class WorkerDiedError(ChainError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(
            f"the {name} thread stopped ({reason}); the service was stopped with it — fix the cause "
            "and run the command again (--verbose logs the details)"
        )


class Supervisor:
    def __init__(self) -> None:
        self.stop = threading.Event()  # set: every worker should end
        self.died: list[tuple[str, str]] = []  # (worker, reason) of workers that raised
        self._server: Any = None
        self._lock = threading.Lock()

    def start(self, name: str, target: Callable[..., None], *args: Any) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:  # whatever it was, the process must not go on without it
                reason = str(exc).splitlines()[0][:200] if isinstance(exc, ChainError) else type(exc).__name__
                log.debug("the %s thread died", name, exc_info=True)
                self._died(name, reason)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    def _died(self, name: str, reason: str) -> None:
        with self._lock:
            self.died.append((name, reason))
            server = self._server
        self.stop.set()
        if server is not None:
            server.should_exit = True  # uvicorn finishes the requests under way and returns

    def serve(self, app: Any, host: str, port: int, *, factory: bool = False) -> None:
        """Serve `app` (an application, or with `factory` the import string of its factory) until
        Ctrl-C or a worker dies; then raise WorkerDiedError if one did."""
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", factory=factory))
        with self._lock:
            self._server = server
            early = bool(self.died)
        if not early:
            server.run()
        self.stop.set()
        self.check()

    def check(self) -> None:
        if self.died:
            raise WorkerDiedError(*self.died[0])
