"""Alembic environment of the imported emission factors (footprint/store.py). Versioned apart from
the mirror's, the certificates' and mrv's (`alembic_version_footprint`); certificates/db.py
`create_schema` runs it after theirs, by path."""

from chain import alembic_env
from footprint import store

alembic_env.run(store.TABLES, "alembic_version_footprint")
