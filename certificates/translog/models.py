"""The certificate log's tables.

- `log_entries`: one row per leaf, `idx` 0-based and contiguous; `leaf_hash` is the RFC 9162
  leaf hash (32 raw bytes) and doubles as the level-0 node of the tree.
- `log_nodes`: the hash of every complete (perfect, aligned) subtree of level >= 1, keyed by
  `node_key = (level << 40) | index`; the subtree of level L and index i covers leaves
  [i * 2**L, (i + 1) * 2**L). Written once, when its last leaf is appended; never updated.

Both keys are BIGINT on PostgreSQL and INTEGER on SQLite, where an INTEGER PRIMARY KEY is the
rowid itself (no second index to maintain on every insert).

Another log (the points log: `points_log_entries`, `points_log_nodes`) has tables of the same
shape under its own names: `log_tables`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, Table
from sqlmodel import Field, SQLModel

KEY = BigInteger().with_variant(Integer(), "sqlite")


class LogEntry(SQLModel, table=True):
    __tablename__ = "log_entries"
    idx: int = Field(sa_column_kwargs={"primary_key": True, "autoincrement": False}, sa_type=KEY)
    leaf_hash: bytes = Field(sa_type=LargeBinary)
    kind: str  # "certificate", "revocation"
    ref: str  # what the entry is about, e.g. the certificate id
    appended_at: int = Field(sa_type=BigInteger)  # unix seconds


class LogNode(SQLModel, table=True):
    __tablename__ = "log_nodes"
    node_key: int = Field(sa_column_kwargs={"primary_key": True, "autoincrement": False}, sa_type=KEY)
    hash: bytes = Field(sa_type=LargeBinary)


TABLES = [LogEntry.__table__, LogNode.__table__]  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes at run time


def log_tables(entries: str, nodes: str) -> list[Table]:
    """The tables of another log with this one's shape (same columns, types and keys) under other
    names, in the same metadata; tables already defined under those names are returned as they are."""
    metadata = SQLModel.metadata
    return [
        metadata.tables[name] if name in metadata.tables else table.to_metadata(metadata, name=name)
        for table, name in zip(TABLES, (entries, nodes), strict=True)
    ]
