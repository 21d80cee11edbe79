"""The points log's tables: an RFC 9162 log of its own, beside the certificate log."""

from __future__ import annotations

from sqlalchemy import Table

TABLES: list[Table] = []
