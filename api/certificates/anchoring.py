"""When the log's (size, root) goes on chain: after `every` new entries, or when the oldest
unanchored entry is `interval` seconds old, or on demand."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, select

from api.translog.log import TransparencyLog
from api.translog.models import LogEntry
from chain.client import RegistryClient, TxResult


@dataclass(frozen=True)
class AnchorPolicy:
    every: int = 16
    interval: float = 60.0


def anchor_due(engine: Engine, log: TransparencyLog, anchored: int, policy: AnchorPolicy, now: float | None = None) -> bool:
    size = log.size()
    if size <= anchored:
        return False
    if size - anchored >= policy.every:
        return True
    with engine.connect() as conn:
        oldest = conn.execute(select(LogEntry.appended_at).where(LogEntry.idx == anchored)).scalar()
    return oldest is not None and (now or time.time()) - oldest >= policy.interval


def anchor(client: RegistryClient, engine: Engine, log: TransparencyLog, policy: AnchorPolicy | None = None,
           *, force: bool = False) -> TxResult | None:
    """Anchor the log's current root if the policy (or `force`) says so; None if nothing to do."""
    anchored, _ = client.latest_anchor()
    if not force and not anchor_due(engine, log, anchored, policy or AnchorPolicy()):
        return None
    size = log.size()
    if size <= anchored:
        return None
    return client.anchor_log_root(size, log.root(size))
