"""Output for the operator: one red line for an error, never a traceback or a secret."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from api.errors import ServiceError
from chain.errors import ChainError

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code=1)


def operator_errors(fn: F) -> F:
    """Turn the project's own errors into one line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ChainError, ServiceError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(code=130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:  # a bug of ours: say so in one line, details only on request
            logging.getLogger("ledger").debug("unexpected error", exc_info=True)
            fail(f"unexpected {type(exc).__name__}; this is a bug, please report it (run with --verbose for details)")

    return wrapper  # type: ignore[return-value]
