"""Alembic environment of the accounts tables (accounts/tables.py). Versioned apart from the mirror's
and the other domains' (`alembic_version_accounts`); certificates/db.py `create_schema` runs it
after theirs, by path."""

from accounts import tables
from chain import alembic_env

alembic_env.run(tables.ALL, "alembic_version_accounts")
