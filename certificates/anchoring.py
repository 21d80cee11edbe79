"""When the log's (size, root) goes on chain: after `every` new entries, or when the oldest
unanchored entry is `interval` seconds old, or on demand. Never while the log holds a certificate,
not revoked, whose retirement a reorganisation removed from the chain."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, or_
from sqlmodel import col, select

from certificates.errors import ServiceError
from certificates.finality import REORG_REASON, RetirementRef, head, missing
from certificates.models import CertificateClaim, CertificateRow
from certificates.translog.log import TransparencyLog
from certificates.translog.models import LogEntry
from chain.client import RegistryClient, TxResult
from indexer.models import Retirement
from indexer.sync import REORG_WINDOW


class AnchorRefusedError(ServiceError):
    pass


@dataclass(frozen=True)
class AnchorPolicy:
    every: int = 16
    interval: float = 60.0


def anchor_due(
    engine: Engine, log: TransparencyLog, anchored: int, policy: AnchorPolicy, now: float | None = None
) -> bool:
    size = log.size()
    if size <= anchored:
        return False
    if size - anchored >= policy.every:
        return True
    with engine.connect() as conn:
        oldest = conn.execute(select(LogEntry.appended_at).where(LogEntry.idx == anchored)).scalar()
    return oldest is not None and (now or time.time()) - oldest >= policy.interval


@dataclass(frozen=True)
class ReorgCheck:
    vanished: list[tuple[str, RetirementRef]]  # (certificate id, retirement) of unrevoked certificates
    settled: int  # every certificate numbered up to this one is final: later checks can start above it


def reorganised(client: RegistryClient, engine: Engine, *, window: int = REORG_WINDOW, after: int = 0) -> ReorgCheck:
    """The certificates (numbered above `after`), not revoked, whose retirement the node no longer
    has where the certificate's body says. Only retirements within `window` blocks of the head can
    have been reorganised (a deeper reorganisation stops the indexer), so only those go to the node:
    the ones the mirror still holds there, and the ones the mirror has already rolled back."""
    low = head(client.rpc) - window + 1
    with engine.connect() as conn:
        top = conn.execute(select(func.max(CertificateRow.number))).scalar() or 0  # before: later ones are above it
        suspects: dict[str, int] = dict(
            conn.execute(
                select(CertificateRow.id, CertificateRow.number)
                .join(CertificateClaim, col(CertificateRow.id) == CertificateClaim.certificate_id)
                .outerjoin(Retirement, col(Retirement.id) == CertificateClaim.retirement_id)
                .where(CertificateRow.number > after, CertificateRow.number <= top)
                .where(col(CertificateRow.revoked_at).is_(None))
                .where(or_(col(Retirement.id).is_(None), col(Retirement.block_number) >= low))
            ).all()
        )
        bodies = (
            conn.execute(
                select(CertificateRow.id, CertificateRow.body).where(col(CertificateRow.id).in_(sorted(suspects)))
            ).all()
            if suspects
            else []
        )
    refs: list[tuple[str, RetirementRef]] = []
    for cert_id, body in bodies:
        for r in json.loads(body)["retirements"]:
            if r["block_number"] >= low:
                refs.append((cert_id, RetirementRef(r["id"], r["tx_hash"], r["log_index"], r["block_number"])))
    gone = {
        ref.id
        for ref in missing(
            client.rpc, client.address, client.abi.event_topics["CreditsRetired"], [ref for _, ref in refs]
        )
    }
    settled = min(suspects.values()) - 1 if suspects else max(top, after)
    return ReorgCheck([(cert_id, ref) for cert_id, ref in refs if ref.id in gone], settled)


def anchor(
    client: RegistryClient,
    engine: Engine,
    log: TransparencyLog,
    policy: AnchorPolicy | None = None,
    *,
    force: bool = False,
    settle: Callable[[], int] | None = None,
) -> TxResult | None:
    """Anchor the log's current root if the policy (or `force`) says so; None if nothing to do.
    `settle` runs first (the service revokes certificates of reorganised retirements there, so their
    revocations are in the root) and returns the certificate number up to which all are final; a
    certificate above it still unrevoked with its retirement gone refuses the anchor."""
    anchored, anchored_root = client.latest_anchor()
    if not force and not anchor_due(engine, log, anchored, policy or AnchorPolicy()):
        if log.size() < anchored:
            raise AnchorRefusedError(_not_extending(anchored, log.size()))
        return None
    if anchored and (log.size() < anchored or log.root(anchored) != anchored_root):
        # a log restored from an old backup, or another database: anchoring it would put a second history on chain
        raise AnchorRefusedError(_not_extending(anchored, log.size()))
    settled = settle() if settle is not None else 0
    left = reorganised(client, engine, after=settled).vanished
    if left:
        cert_id, ref = left[0]
        raise AnchorRefusedError(
            f"not anchoring: certificate {cert_id}{f' (and {len(left) - 1} more)' if len(left) > 1 else ''} vouches "
            f"for retirement {ref.id}, which "
            f"is no longer on chain; revoke it first: ledger certificate revoke {cert_id} --reason '{REORG_REASON}'"
        )
    size = log.size()
    if size <= anchored:
        return None
    return client.anchor_log_root(size, log.root(size))


def _not_extending(anchored: int, size: int) -> str:
    held = "fewer entries" if size < anchored else "a different root at that size"
    return (
        f"not anchoring: the chain has anchored a log of {anchored} entries and this database's log has {held} "
        f"({size} entries); it is not the log the chain vouches for: restore the latest backup "
        "(`ledger backup restore`) or point DATABASE_URL at the registry's own database"
    )
