"""The database: SQLite in var/ by default, PostgreSQL when DATABASE_URL points at one; and the
one-writer lock (a lock file for SQLite, an advisory lock for PostgreSQL)."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

from chain.errors import ChainError
from chain.settings import ChainSettings
from indexer import models


class IndexerLockedError(ChainError):
    def __init__(self, where: str) -> None:
        super().__init__(f"another indexer is already writing to {where}; stop it first (one writer per database)")


def database_url() -> str:
    """DATABASE_URL, else SQLite at $LEDGER_VAR_DIR/ledger.sqlite."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{ChainSettings().var_dir / 'ledger.sqlite'}"


def make_engine(
    url: str | None = None, *, pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 30.0
) -> Engine:
    """The pool defaults are SQLAlchemy's; the API sizes its own (certificates/db.py `api_engine`), since a
    request that waits for a connection must give up before its client does."""
    url = url or database_url()
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {}  # an in-memory database is one connection, not a pool
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            # 16 KiB pages for a new file (an existing one keeps its own): a raw event row is ~700 bytes,
            # and bulk inserts of such rows ran a third faster than with 4 KiB pages
            cursor.execute("PRAGMA page_size=16384")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # a killed process loses no committed transaction
            cursor.execute("PRAGMA cache_size=-65536")  # up to 64 MiB: a backfill's index pages stay cached
            cursor.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **pool)


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection whose reads all see one moment, rolled back at the end: REPEATABLE READ, read
    only, on PostgreSQL (READ COMMITTED gives each statement a moment of its own); on SQLite an
    explicit BEGIN (the driver starts none for a SELECT), whose first read fixes the snapshot while
    writers carry on (WAL mode). For what reads several statements and must not mix two commits."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        else:
            conn.execution_options(isolation_level="REPEATABLE READ")
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        try:
            yield conn
        finally:
            conn.rollback()


def create_schema(engine: Engine) -> None:
    """Bring the database to the newest schema through the Alembic migrations."""
    from indexer.migrate import upgrade

    _ = models
    upgrade(engine)


def drop_schema(engine: Engine) -> None:
    """Drop every table of the mirror, and Alembic's record of the schema version."""
    from sqlmodel import SQLModel

    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def mirror_tables() -> list[Any]:
    """The tables of indexer/models.py (other layers keep their own tables in the same database)."""
    return list(models.TABLES)


def reset_mirror(engine: Engine) -> None:
    """Empty the mirror (for a rebuild) and nothing else: certificates and their log stay."""
    from sqlmodel import SQLModel

    create_schema(engine)
    tables = mirror_tables()
    SQLModel.metadata.drop_all(engine, tables=tables)
    SQLModel.metadata.create_all(engine, tables=tables)


LOCK_KEY = int.from_bytes(hashlib.sha256(b"sichuan-carbon-ledger-indexer").digest()[:8], "big", signed=True)


class WriterLock:
    """Held for the indexer's lifetime; a second indexer on the same database is refused."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._file: Any = None
        self._conn: Any = None

    def acquire(self) -> WriterLock:
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            # the file itself, not the name it was reached by: a symlink, a relative path or a
            # `..` detour to the same database must find the same lock
            database = os.path.realpath(str(url.database))
            self._file = open(database + ".lock", "w")  # noqa: SIM115  # held open for the lock's lifetime
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._file.close()
                raise IndexerLockedError(database) from None
        else:
            self._conn = self.engine.connect()
            if not self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar():
                self._conn.close()
                raise IndexerLockedError(url.render_as_string(hide_password=True))
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
        if self._conn is not None:
            # a pooled connection outlives close(): unlock, or the next writer in this process is refused
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            self._conn.close()

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
