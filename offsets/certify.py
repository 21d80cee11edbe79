"""One personal certificate a purchase (docs/offsets.md §6): scenario Personal, carrying the
purchase's allocation and its proof to the aggregated retirement's claim hash, issued through
certificates/issuer.py and appended to the transparency log.

In bulk: a retirement's purchases are certified in chunks, each chunk ONE transaction
(`CertificateService.certify_shares`: every certificate row, every log leaf, and the purchases
marked with their certificate ids by one statement). Exactly once: a crash leaves a chunk wholly
issued and marked, or wholly not; a rerun issues only the rest. `certify_one_by_one` is the first
slice's path (a transaction and a log append per certificate), kept as the benchmark's baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, select, update
from sqlmodel import col

from certificates.issuer import CertificationError
from certificates.service import CertificateService
from chain.types import RetirementId
from offsets.allocation import AllocationError, AllocationTree
from offsets.batcher import tree_for
from offsets.models import OffsetPurchase, OffsetRetirement

CHUNK = 5_000  # certificates a transaction: 10,000 parameters in the marking statement, under SQLite's 32,766


def _pending(service: CertificateService, limit: int | None) -> tuple[list[Any], dict[str, AllocationTree | str]]:
    """Retired purchases without a certificate, by retirement then serial, and their trees (or why
    a retirement's tree is refused)."""
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
            .order_by(
                col(OffsetRetirement.block_number), col(OffsetRetirement.log_index), col(OffsetPurchase.serial_first)
            )
            .limit(limit)
        ).all()
        trees: dict[str, AllocationTree | str] = {}
        for op in {r.retirement_op for r in rows}:
            try:
                trees[op] = tree_for(conn, op)[0]
            except AllocationError as exc:  # the store's allocations were altered: refuse, never certify
                trees[op] = f"its allocations in the store are refused: {exc}"
    if rows:
        service.catch_up(max(int(r.block_number) for r in rows))
    return list(rows), trees


def _share(tree: AllocationTree, purchase_id: str) -> dict[str, Any]:
    allocation, proof = tree.proof(purchase_id)
    return {"leaf": allocation.as_json(), "proof": proof.as_json()}


def certify_retired(
    service: CertificateService, *, limit: int | None = None, chunk: int = CHUNK, refused: list[str] | None = None
) -> list[str]:
    """Issue the certificate of every retired purchase that has none yet, `chunk` a transaction;
    the ids issued, in serial order. Run again after a crash: what was issued is not issued twice.
    With `refused`, a retirement whose chunk is refused (its serials are not the planned ones, say)
    is named there and set aside, so it does not keep every later retirement uncertified."""
    if not 0 < chunk <= CHUNK:
        raise ValueError(f"a chunk is 1 to {CHUNK} certificates")
    rows, trees = _pending(service, limit)
    chain_id = service.context.deployment.chain_id
    issued: list[str] = []
    for _, group in groupby(rows, key=lambda r: r.retirement_op):
        mine = list(group)
        rid = RetirementId.of(chain_id, mine[0].tx_hash, int(mine[0].log_index))
        tree = trees[mine[0].retirement_op]
        if isinstance(tree, str):
            if refused is None:
                raise CertificationError(f"retirement {mine[0].tx_hash}: {tree}")
            refused.append(f"retirement {mine[0].tx_hash}: {tree}")
            continue
        for i in range(0, len(mine), chunk):
            ids = [r.id for r in mine[i : i + chunk]]
            try:
                done = service.certify_shares(
                    rid, [_share(tree, pid) for pid in ids], anchor=False, on_issued=mark_purchases(ids)
                )
            except CertificationError as exc:
                if refused is None:
                    raise
                refused.append(f"retirement {mine[0].tx_hash}: {exc}")
                break
            issued += [d.certificate_id for d in done]
    return issued


def mark_purchases(purchase_ids: Sequence[str]) -> Callable[[Connection, list[str]], None]:
    """Marks each purchase with its certificate id in the issuing transaction: ONE statement (an
    UPDATE from a VALUES list, which SQLite ≥ 3.33 and PostgreSQL both read, columns column1 and
    column2). A purchase already marked (another process certified it meanwhile) makes the count
    fall short, and the whole chunk rolls back."""

    def mark(conn: Connection, certificate_ids: list[str]) -> None:
        if len(certificate_ids) != len(purchase_ids):
            raise CertificationError("each purchase gets exactly one certificate")
        m = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        rows = ", ".join([f"({m}, {m})"] * len(purchase_ids))
        params = tuple(x for pair in zip(purchase_ids, certificate_ids, strict=True) for x in pair)
        table = OffsetPurchase.__tablename__
        marked = conn.exec_driver_sql(
            f"UPDATE {table} SET certificate_id = v.column2 FROM (VALUES {rows}) AS v "
            f"WHERE {table}.id = v.column1 AND {table}.certificate_id IS NULL",
            params,
        )
        if marked.rowcount != len(purchase_ids):
            raise CertificationError(
                f"{len(purchase_ids) - marked.rowcount} of these purchases already have their certificate; "
                "another process certified them, run the command again"
            )

    return mark


def certify_one_by_one(service: CertificateService, *, limit: int | None = None) -> list[str]:
    """The first slice's path, kept as the benchmark's naive baseline: one `certify` (a transaction,
    a log append and the node's finality checks) per purchase."""
    rows, trees = _pending(service, limit)
    chain_id = service.context.deployment.chain_id
    issued: list[str] = []
    for r in rows:
        rid = RetirementId.of(chain_id, r.tx_hash, int(r.log_index))
        tree = trees[r.retirement_op]
        if isinstance(tree, str):
            raise CertificationError(f"retirement {r.tx_hash}: {tree}")
        done = service.certify(
            [rid],
            anchor=False,
            scenario_key="Personal",
            fields={},
            allocation=_share(tree, r.id),
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
