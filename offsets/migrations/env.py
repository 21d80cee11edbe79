"""Alembic environment of the offsets tables (offsets/models.py). Versioned apart from the mirror's
and the other domains' (`alembic_version_offsets`); certificates/db.py `create_schema` runs it
after theirs, by path."""

from chain import alembic_env
from offsets import models

alembic_env.run(models.TABLES, "alembic_version_offsets")
