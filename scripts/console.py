"""Output for the operator: one red line for an error, never a traceback or a secret."""

from __future__ import annotations

import errno
import functools
import logging
import os
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from certificates.errors import ServiceError
from chain.errors import ChainError

console = Console()
err_console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> NoReturn:
    # the message is text, not markup (an id in [brackets] stays), and one line however wide the terminal
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code=1)


FULL_DISK = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def disk_full(exc: BaseException) -> str | None:
    """Why a write failed when the disk (or the file-size limit) is full, else None: an OSError, or
    SQLite's own report of it wrapped by SQLAlchemy."""
    if isinstance(exc, OSError) and exc.errno in FULL_DISK:
        return exc.strerror or os.strerror(exc.errno)
    said = str(getattr(exc, "orig", "") or "")
    if "database or disk is full" in said:
        return "the database or disk is full"
    # SQLite's report of a write refused by the file-size limit (or a failing disk)
    return "the database's disk reported an I/O error" if said == "disk I/O error" else None


def database_busy(exc: BaseException) -> str | None:
    """SQLite's report that another connection holds the write lock (wrapped by SQLAlchemy), else None."""
    said = str(getattr(exc, "orig", "") or "")
    return said if said in ("database is locked", "database table is locked") else None


def operator_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the project's own errors into one line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
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
            if (full := disk_full(exc)) is not None:  # the machine's, not ours: name it and the fix
                fail(f"a write failed ({full}); free some space (or raise the file-size limit) and run again")
            if str(getattr(exc, "orig", "") or "") == "file is not a database":  # SQLite's, on opening it
                fail(
                    "the database file is not an SQLite database (file is not a database); point DATABASE_URL at "
                    "the registry's database, or at a new file"
                )
            if (busy := database_busy(exc)) is not None:  # another process's transaction, not ours
                fail(
                    f"the database is busy ({busy}): another process holds its write lock (a sqlite3 shell, a "
                    "long transaction); stop or finish it and run again"
                )
            logging.getLogger("ledger").debug("unexpected error", exc_info=True)
            fail(f"unexpected {type(exc).__name__}; this is a bug, please report it (run with --verbose for details)")

    return wrapper
