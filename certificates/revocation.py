"""Revoking a certificate: first on chain (the revocation list contract), then in the database
with a revocation entry appended to the log. Running it again after a crash in between finds the
chain already done and finishes the database part."""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import Engine, update
from sqlmodel import col

from certificates.copies import certificate_row
from certificates.document import iso_utc, revocation_entry
from certificates.errors import ServiceError
from certificates.models import CertificateRow
from certificates.translog.log import TransparencyLog
from chain import rfc9162
from chain.client import RegistryClient
from chain.errors import RegistryRevertError


class RevocationError(ServiceError, ValueError):
    pass


def revoke(engine: Engine, log: TransparencyLog, revocations: RegistryClient, cert_id: str, reason: str) -> str:
    """Revoke `cert_id`; returns the revocation transaction hash (or "" if the chain already had it)."""
    if not reason.strip():
        raise RevocationError("give the reason for the revocation (it is published in the log)")
    with engine.connect() as conn:
        row = certificate_row(conn, cert_id)
    if row.revoked_at is not None:
        raise RevocationError(f"{cert_id} was already revoked (tx {row.revocation_tx})")
    reason_hash = hashlib.sha256(reason.encode()).digest()
    tx_hash: str
    try:
        tx_hash = revocations.transact("revoke", (bytes.fromhex(row.leaf_hash), reason_hash)).tx_hash
    except RegistryRevertError as exc:
        if exc.name != "CertificateAlreadyRevoked":
            raise
        tx_hash = ""
    now = int(time.time())
    entry = revocation_entry(cert_id, row.leaf_hash, reason, iso_utc(now))
    with engine.begin() as conn:
        [index] = log.append(conn, [(rfc9162.leaf_hash(entry), "revocation", cert_id)])
        conn.execute(
            update(CertificateRow)
            .where(col(CertificateRow.id) == cert_id)
            .values(
                revoked_at=now, revocation_reason=reason, revocation_tx=tx_hash or None, revocation_leaf_index=index
            )
        )
    return tx_hash
