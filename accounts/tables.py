"""Every table of the accounts domain, for its migrations and for backups."""

from __future__ import annotations

from sqlalchemy import Table

from accounts import ledger_models, models, pointslog_models

ALL: list[Table] = [*models.TABLES, *ledger_models.TABLES, *pointslog_models.TABLES]
