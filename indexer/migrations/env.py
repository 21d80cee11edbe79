"""Alembic environment: the mirror's schema is the SQLModel metadata of indexer/models.py."""

from alembic import context
from sqlmodel import SQLModel

from indexer import models

config = context.config
target_metadata = SQLModel.metadata
# only the mirror's tables: the certificate service (api/) keeps its own migrations in the same database
OWN = {table.name for table in models.TABLES}


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in OWN


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
