"""The mirror's schema is managed by Alembic migrations (indexer/migrations/versions/)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # Python's sqlite3 runs CREATE TABLE outside any transaction unless one is open: a migration
            # cut short (a full disk) left tables without their version stamp, and no start succeeded after
            connection.exec_driver_sql("BEGIN")
        command.upgrade(alembic_config(connection), revision)


def new_revision(engine: Engine, message: str) -> None:
    """Developers: write a migration for the difference between the models and the database."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
