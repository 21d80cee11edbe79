"""Alembic environment of the imported emission factors (footprint/store.py). Versioned apart from
the mirror's, the certificates' and mrv's (`alembic_version_footprint`); certificates/db.py
`create_schema` runs it after theirs, by path."""

from alembic import context
from sqlalchemy.schema import SchemaItem, Table
from sqlmodel import SQLModel

from footprint import store

config = context.config
OWN = {table.name for table in store.TABLES}


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    table = obj if isinstance(obj, Table) else getattr(obj, "table", None)  # a column, an index: its table
    return table is None or table.name in OWN


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,
        include_object=include_object,
        version_table="alembic_version_footprint",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
