"""The certificate service's schema, on top of the mirror's, in the same database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import Engine

from indexer.db import create_schema as create_mirror_schema
from indexer.migrate import alembic_config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: object):  # type: ignore[no-untyped-def]
    config = alembic_config(connection)
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def create_schema(engine: Engine) -> None:
    """The mirror's migrations, then the certificate tables' migrations."""
    create_mirror_schema(engine)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "head")


def new_revision(engine: Engine, message: str) -> None:
    """Developers: write a migration for the difference between the models and the database."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True, rev_id="a0001")
