"""Alembic environment: the mirror's schema is the SQLModel metadata of indexer/models.py."""

from alembic import context
from sqlalchemy.schema import SchemaItem, Table
from sqlmodel import SQLModel

from indexer import models

config = context.config
target_metadata = SQLModel.metadata
# only the mirror's tables: the certificate service (certificates/) keeps its own migrations in the same database
OWN = {table.name for table in models.TABLES}


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    table = obj if isinstance(obj, Table) else getattr(obj, "table", None)  # a column, an index: its table
    return table is None or table.name in OWN


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection, target_metadata=target_metadata, render_as_batch=True, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
