"""Where a certificate row becomes a document: the public copy (personal fields hidden unless
disclosed), the holder's copy (every field opened), with the inclusion proof to an anchored size."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection
from sqlmodel import col, select

from certificates import footprint_report
from certificates.errors import ServiceError
from certificates.models import CertificateRow
from certificates.translog.log import TransparencyLog
from certificates.vault import Vault
from indexer.models import AnchoredRoot


class CertificateNotFoundError(ServiceError, LookupError):
    """No such certificate, or no anchored tree of the size asked for its proof."""


def anchored_size_for(conn: Connection, leaf_index: int, tree_size: int | None = None) -> AnchoredRoot | None:
    """The anchored tree `tree_size`, or the latest anchored tree that contains the leaf."""
    query = select(AnchoredRoot)
    if tree_size is not None:
        row = conn.execute(query.where(AnchoredRoot.tree_size == tree_size)).first()
    else:
        row = conn.execute(
            query.where(AnchoredRoot.tree_size > leaf_index).order_by(col(AnchoredRoot.tree_size).desc()).limit(1)
        ).first()
    # a Core connection returns the columns, not the model: build it, so its fields keep their types
    return None if row is None else AnchoredRoot.model_validate(dict(row._mapping))


def certificate_row(conn: Connection, cert_id: str) -> CertificateRow:
    row = conn.execute(select(CertificateRow).where(CertificateRow.id == cert_id)).first()
    if row is None:
        raise CertificateNotFoundError(f"no certificate {cert_id}")
    return CertificateRow.model_validate(dict(row._mapping))


def proof_for(
    conn: Connection, log: TransparencyLog, leaf_index: int, tree_size: int | None = None
) -> dict[str, Any] | None:
    anchor = anchored_size_for(conn, leaf_index, tree_size)
    if anchor is None:
        if tree_size is not None:
            raise CertificateNotFoundError(f"tree size {tree_size} has not been anchored (see /api/v1/log/roots)")
        return None
    if anchor.tree_size <= leaf_index:
        raise CertificateNotFoundError(
            f"the anchored tree of size {anchor.tree_size} does not contain leaf {leaf_index}"
        )
    return {
        "leaf_index": leaf_index,
        "tree_size": anchor.tree_size,
        "root": anchor.root[2:],
        "inclusion": [p.hex() for p in log.inclusion_proof(leaf_index, anchor.tree_size, conn)],
        "anchor": {"tx_hash": anchor.tx_hash, "block_number": anchor.block_number},
    }


def document(
    conn: Connection, log: TransparencyLog, cert_id: str, *, vault: Vault | None = None, tree_size: int | None = None
) -> dict[str, Any]:
    """The certificate document; with a vault, the holder's copy with every field opened."""
    row = certificate_row(conn, cert_id)
    disclosed = json.loads(row.public_fields)
    if vault is not None and row.sealed_fields is not None:
        disclosed.update(vault.open(row.id, row.sealed_fields))
    body = json.loads(row.body)
    doc = {
        "format": body["format"],
        "certificate": body,
        "disclosed": disclosed,
        "proof": proof_for(conn, log, row.leaf_index, tree_size),
    }
    footprint_report.attach(conn, doc, vault)  # the report, when its hash is opened (docs/certificate-format.md §5.1)
    if row.revoked_at is not None:
        doc["revocation"] = {
            "revoked_at": row.revoked_at,
            "reason": row.revocation_reason,
            "tx_hash": row.revocation_tx,
        }
    return doc
