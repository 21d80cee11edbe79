"""The one Alembic environment every domain's migrations run in (certificates/, mrv/, footprint/,
land/, ...): each domain versions its own tables apart from the others (`alembic_version_<domain>`),
so no domain's schema knows another's. Each domain's Alembic env.py is one call:
`run(TABLES, "alembic_version_<domain>")`; certificates/db.py runs each by path."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import context
from sqlalchemy.schema import SchemaItem, Table
from sqlmodel import SQLModel


def run(tables: Iterable[Table], version_table: str) -> None:
    """Run the migrations of the domain owning `tables` on the connection certificates/db.py passes."""
    own = {table.name for table in tables}

    def include_object(
        obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
    ) -> bool:
        table = obj if isinstance(obj, Table) else getattr(obj, "table", None)  # a column, an index: its table
        return table is None or table.name in own

    context.configure(
        connection=context.config.attributes["connection"],
        target_metadata=SQLModel.metadata,
        render_as_batch=True,
        include_object=include_object,
        version_table=version_table,
    )
    with context.begin_transaction():
        context.run_migrations()
