"""Alembic environment of the parcels' geometry (land/models.py). Versioned apart from the mirror's
and the other domains' (`alembic_version_land`); certificates/db.py `create_schema` runs it after
theirs, by path."""

from chain import alembic_env
from land import models

alembic_env.run(models.TABLES, "alembic_version_land")
