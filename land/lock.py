"""One land registration at a time per database, from its overlap check until its land is stored.

Without it two registrations of overlapping land started together both pass the check (neither's
land is stored yet), both are accepted on chain (their hashes differ) and both store their land.
On PostgreSQL the lock is a session advisory lock, so registrations on several machines sharing the
database wait for each other; on SQLite (one machine) it is an flock on a file beside the database.
A registration that cannot get the lock within WAIT_S is refused in one line, never left waiting.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from land.errors import LandError

WAIT_S = 60.0  # a registration holds the lock for one transaction's confirmation: seconds, not minutes
_POLL_S = 0.05
_ADVISORY_KEY = 0x4C414E44  # "LAND": the one advisory lock this registry takes


def _refused() -> LandError:
    return LandError(
        f"another land registration has held the parcel lock for over {WAIT_S:g} s; "
        "let it finish (or stop it) and run this again"
    )


@contextmanager
def registration_lock(engine: Engine) -> Iterator[None]:
    """Hold the registry's land lock for the duration of the block."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine):
            yield
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # a private database: nobody else to wait for
        return
    with _flock(Path(f"{database}.land-lock")):
        yield


@contextmanager
def _advisory(engine: Engine) -> Iterator[None]:
    with engine.connect() as conn:
        deadline = time.monotonic() + WAIT_S
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}).scalar():
            if time.monotonic() > deadline:
                raise _refused()
            time.sleep(_POLL_S)
        conn.commit()  # the lock is the session's; end the implicit transaction that took it
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
            conn.commit()


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    try:
        handle = path.open("a")
    except OSError as exc:
        raise LandError(
            f"cannot open the land lock {path} ({exc.strerror}); the database's directory must exist and be writable"
        ) from None
    with handle:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _refused() from None
                time.sleep(_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
