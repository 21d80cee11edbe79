"""Alembic environment of the certificate service's tables (certificates, claims, sealed
beneficiaries, the transparency log). Versioned apart from the mirror (`alembic_version_api`),
so the indexer's schema knows nothing of the layer above it."""

from alembic import context
from sqlalchemy.schema import SchemaItem, Table
from sqlmodel import SQLModel

from certificates import models as certificate_models
from certificates.translog import models as log_models

config = context.config
OWN = {table.name for table in certificate_models.TABLES + log_models.TABLES}


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
        version_table="alembic_version_api",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
