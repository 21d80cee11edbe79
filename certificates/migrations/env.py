"""Alembic environment of the certificate service's tables (certificates, claims, sealed
beneficiaries, the transparency log). Versioned apart from the mirror (`alembic_version_api`),
so the indexer's schema knows nothing of the layer above it."""

from certificates import models as certificate_models
from certificates.translog import models as log_models
from chain import alembic_env

alembic_env.run(certificate_models.TABLES + log_models.TABLES, "alembic_version_api")
