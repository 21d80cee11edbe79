"""The points log's tables: an RFC 9162 log of its own, beside the certificate log.

- `points_log_entries` / `points_log_nodes`: the certificate log's shape (certificates/translog/
  models.py) under the points log's names; `ref` is the points entry's id, `kind` its kind.
- `points_log_anchors`: each (tree size, root) this database anchored in contracts/PointsLogAnchor.sol,
  with its transaction; statements prove entries against the latest without asking the node, and
  `accounts.pointslog.check` compares every row with the chain.
- `points_entries_unlogged`: a partial index on the points ledger (accounts/ledger_models.py) holding
  only the entries not yet in the log, so `append_pending` finds them without scanning the ledger.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Table
from sqlmodel import Field, SQLModel, col

from accounts.ledger_models import PointsEntry
from certificates.translog.models import log_tables

ENTRIES, NODES = "points_log_entries", "points_log_nodes"


class PointsLogAnchor(SQLModel, table=True):
    __tablename__ = "points_log_anchors"
    tree_size: int = Field(primary_key=True, sa_type=BigInteger)
    root: str  # 64 hex digits, as anchored
    tx_hash: str
    block_number: int = Field(sa_type=BigInteger)
    anchored_at: int = Field(sa_type=BigInteger)  # unix seconds, when this database recorded it


UNLOGGED = Index(
    "points_entries_unlogged",
    col(PointsEntry.id),
    postgresql_where=col(PointsEntry.log_idx).is_(None),
    sqlite_where=col(PointsEntry.log_idx).is_(None),
)

TABLES: list[Table] = [*log_tables(ENTRIES, NODES), PointsLogAnchor.__table__]  # type: ignore[attr-defined]  # set by SQLModel
