"""The certificate service's schema, on top of the mirror's, in the same database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from certificates.settings import ServiceSettings
from indexer.db import create_schema as create_mirror_schema
from indexer.db import make_engine
from indexer.migrate import alembic_config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_LOCK_KEY = 0x5343_4C45_4447_4D49  # PostgreSQL advisory lock while migrating (not the indexer's writer lock)
# domain packages above this one keep their tables in the same database, each with its own migrations and
# version table; named by path, since certificates may not import them (docs/architecture.md)
DOMAIN_MIGRATIONS = (
    MIGRATIONS.parents[1] / "mrv" / "migrations",
    MIGRATIONS.parents[1] / "footprint" / "migrations",
    MIGRATIONS.parents[1] / "land" / "migrations",
    MIGRATIONS.parents[1] / "offsets" / "migrations",
    MIGRATIONS.parents[1] / "accounts" / "migrations",
)


def _config(connection: object, location: Path = MIGRATIONS) -> Config:
    config = alembic_config(connection)
    config.set_main_option("script_location", str(location))
    return config


def create_schema(engine: Engine) -> None:
    """The mirror's migrations, then the certificate tables' migrations; one process at a time, so
    API workers starting together on a fresh PostgreSQL database do not race to create the tables."""
    with _schema_lock(engine):
        create_mirror_schema(engine)
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                # Python's sqlite3 runs CREATE TABLE outside any transaction unless one is open: a migration
                # cut short (a full disk) left tables without their version stamp, and no start succeeded after
                connection.exec_driver_sql("BEGIN")
            command.upgrade(_config(connection), "head")
            for location in DOMAIN_MIGRATIONS:
                command.upgrade(_config(connection, location), "head")


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":  # SQLite serialises writers itself
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEMA_LOCK_KEY})
            conn.commit()


def new_revision(engine: Engine, message: str) -> None:
    """Developers: write a migration for the difference between the models and the database."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True, rev_id="a0001")


def api_engine(settings: ServiceSettings, url: str | None = None) -> Engine:
    """The API's own engine (DATABASE_URL by default): a pool a little larger than the requests
    admitted at once (api/admission.py), and a pool timeout shorter than any client's, so a
    request that cannot get a connection is answered 503, not left hanging."""
    return make_engine(
        url, pool_size=settings.api_concurrency + 4, max_overflow=0, pool_timeout=settings.db_pool_timeout
    )
