"""One personal certificate a purchase (docs/offsets.md §6): scenario Personal, carrying the
purchase's allocation and its proof to the aggregated retirement's claim hash, issued through
certificates/issuer.py and appended to the transparency log. Exactly once: the purchase is marked
in the transaction that issues its certificate, so a crash leaves it either issued and marked, or
neither."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, update
from sqlmodel import col

from certificates.issuer import CertificationError
from certificates.service import CertificateService
from chain.types import RetirementId
from offsets.batcher import tree_for
from offsets.models import OffsetPurchase, OffsetRetirement


def certify_retired(service: CertificateService, *, limit: int | None = None) -> list[str]:
    """Issue the certificate of every retired purchase that has none yet; the ids issued. Run again
    after a crash: what was issued is not issued twice."""
    with service.engine.connect() as conn:
        rows = conn.execute(
            select(
                col(OffsetPurchase.id),
                col(OffsetPurchase.retirement_op),
                col(OffsetRetirement.tx_hash),
                col(OffsetRetirement.log_index),
                col(OffsetRetirement.block_number),
            )
            .join(OffsetRetirement, col(OffsetRetirement.op_id) == col(OffsetPurchase.retirement_op))
            .where(col(OffsetPurchase.certificate_id).is_(None), col(OffsetRetirement.tx_hash).is_not(None))
            .order_by(col(OffsetRetirement.block_number), col(OffsetPurchase.serial_first))
            .limit(limit)
        ).all()
        trees = {op: tree_for(conn, op)[0] for op in {r.retirement_op for r in rows}}
    if rows:
        service.catch_up(max(int(r.block_number) for r in rows))
    issued: list[str] = []
    chain_id = service.context.deployment.chain_id
    for r in rows:
        allocation, proof = trees[r.retirement_op].proof(r.id)
        rid = RetirementId.of(chain_id, r.tx_hash, int(r.log_index))
        done = service.certify(
            [rid],
            anchor=False,
            scenario_key="Personal",
            fields={},
            allocation={"leaf": allocation.as_json(), "proof": proof.as_json()},
            on_issued=_marker(r.id),
        )
        issued.append(done.certificate_id)
    return issued


def _marker(purchase_id: str) -> Callable[[Connection, str], None]:
    def mark(conn: Connection, certificate_id: str) -> None:
        marked = conn.execute(
            update(OffsetPurchase)
            .where(col(OffsetPurchase.id) == purchase_id, col(OffsetPurchase.certificate_id).is_(None))
            .values(certificate_id=certificate_id)
        )
        if marked.rowcount != 1:  # another process certified it meanwhile: this issuance rolls back
            raise CertificationError(f"purchase {purchase_id} already has its certificate")

    return mark
