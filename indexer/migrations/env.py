"""Alembic environment: the mirror's schema is the SQLModel metadata of indexer/models.py."""

from alembic import context
from sqlmodel import SQLModel

from indexer import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
