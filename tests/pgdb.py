"""A PostgreSQL database of a test's own: created empty, dropped at the end. Tests on one server run
side by side (xdist workers, other jobs), so each test that writes gets a database nobody else sees."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from certificates.db import create_schema
from indexer.db import make_engine


def drop_database(admin: Engine, name: str, attempts: int = 10) -> None:
    """DROP DATABASE … WITH (FORCE), retried: FORCE cannot end an autovacuum worker that has just
    started on the new tables (InsufficientPrivilege, "permission denied to terminate process"), nor
    win against one connecting (ObjectInUse); both are gone a moment later."""
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except (ProgrammingError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


@contextmanager
def scratch_database(postgres_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database named `prefix_<random>` on the server of `postgres_url`."""
    admin = create_engine(make_url(postgres_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


@contextmanager
def scratch_engine(postgres_url: str, prefix: str) -> Iterator[Engine]:
    """An engine on a new database with every domain's migrations run (certificates.db.create_schema)."""
    with scratch_database(postgres_url, prefix) as url:
        engine = make_engine(url)
        try:
            create_schema(engine)
            yield engine
        finally:
            engine.dispose()
