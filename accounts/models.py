"""The accounts tables: data sources and their keys, accounts, consents, the behaviour methodology,
behaviour records and cap counters."""

from __future__ import annotations

from sqlalchemy import Table

TABLES: list[Table] = []
