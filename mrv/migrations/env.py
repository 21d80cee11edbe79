"""Alembic environment of the measurement tables (mrv/store.py): reports and results stored
content-addressed. Versioned apart from the mirror's and the certificates' (`alembic_version_mrv`);
certificates/db.py `create_schema` runs it after theirs, by path."""

from chain import alembic_env
from mrv import store

alembic_env.run(store.TABLES, "alembic_version_mrv")
