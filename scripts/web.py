"""The public API as the command line starts it: by its import string, the way `uvicorn` does,
so the command line never imports the HTTP code (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

APP = "api.asgi:app"  # a factory: each call builds the API from the environment (LEDGER_*, DATABASE_URL)


def build_app() -> Any:
    """The API application itself, for answering in this process (`ledger audit` without --api)."""
    from uvicorn.importer import import_from_string

    factory: Callable[[], Any] = import_from_string(APP)
    return factory()


def serve(host: str, port: int) -> None:
    """Serve the API until Ctrl-C."""
    import uvicorn

    uvicorn.run(APP, factory=True, host=host, port=port, log_level="warning")
