"""Verifying every personal certificate of many aggregated retirements (docs/offsets.md §7), with
the verifier `ledger verify` runs (`certificates.verify.verify_document`), each certificate's own
checks done for each: its allocation proof to the claim hash, its serials, its log inclusion to
the anchored root, its field commitments, claim and revocation. What many certificates share is
read once: the retirement event (one node lookup per retirement), the anchored root (one per tree
size), the chain id, and the revocation list (its events, one query, instead of an `eth_call` per
certificate).

The documents are the ones `CertificateService.document` hands out (certificates/copies.py), built
many at a time: the rows read in chunks, every inclusion proof of the anchored tree computed at
once from the log's leaves (offsets/merkle.py) instead of one query per certificate. Whatever
built them, the verifier checks each proof against the root anchored on chain."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from certificates.evidence import ChainEvidence
from certificates.models import CertificateRow
from certificates.translog.models import LogEntry
from certificates.verify import Evidence, EvidenceError, OnChainRetirement, Verdict, verify_document
from chain.rpc import JsonRpc
from chain.signing import keccak256
from indexer.db import make_engine
from indexer.models import AnchoredRoot
from offsets.merkle import root_and_paths
from offsets.models import OffsetPurchase

REVOKED_EVENT = "CertificateRevoked(bytes32,bytes32,address)"  # contracts/CertificateRevocations.sol


class DocumentsError(RuntimeError):
    """The documents cannot be built (nothing anchored, or the log disagrees with its anchor)."""


@dataclass
class SharedEvidence:
    """An Evidence whose answers many certificates share are read once. `revoked_leaves`: the leaf
    hashes the revocation list has revoked (see `node_revocations`); None asks `inner` each time."""

    inner: Evidence
    revoked_leaves: frozenset[str] | None = None
    _retirements: dict[tuple[str, int], OnChainRetirement | None] = field(default_factory=dict)
    _roots: dict[int, str | None] = field(default_factory=dict)
    _chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.inner.chain_id
        return self._chain_id

    @property
    def registry(self) -> str:
        return self.inner.registry

    @property
    def source(self) -> str:
        return self.inner.source

    def anchored_root(self, tree_size: int) -> str | None:
        if tree_size not in self._roots:
            self._roots[tree_size] = self.inner.anchored_root(tree_size)
        return self._roots[tree_size]

    def retirement(self, tx_hash: str, log_index: int) -> OnChainRetirement | None:
        key = (tx_hash, log_index)
        if key not in self._retirements:
            self._retirements[key] = self.inner.retirement(tx_hash, log_index)
        return self._retirements[key]

    def revoked(self, leaf_hash: str) -> bool:
        if self.revoked_leaves is None:
            return self.inner.revoked(leaf_hash)
        return leaf_hash in self.revoked_leaves

    @property
    def lookups(self) -> int:
        """Retirement events read from `inner`: one per retirement, however many certificates."""
        return len(self._retirements)


def node_revocations(evidence: ChainEvidence, from_block: int = 0) -> frozenset[str]:
    """Every leaf hash the certificates' revocation list has revoked, from its `CertificateRevoked`
    events (leafHash is indexed): `revokedAt(leaf)` is non-zero exactly for these, since `revoke`
    sets it once and emits the event in the same call, and nothing unsets it. The list's governor
    is checked as `ChainEvidence.revoked` checks it (a zero leaf is never revoked)."""
    if evidence.revoked("00" * 32):
        raise EvidenceError("the revocation list says the zero leaf is revoked; it is not this registry's list")
    logs = evidence.rpc.call(
        "eth_getLogs",
        {
            "address": evidence.revocations,
            "fromBlock": hex(from_block),
            "toBlock": "latest",
            "topics": ["0x" + keccak256(REVOKED_EVENT.encode()).hex()],
        },
    )
    return frozenset(str(log["topics"][1])[2:].lower() for log in logs)


@dataclass(frozen=True)
class LogPaths:
    """Every inclusion proof of the latest anchored tree, computed at once from the log's leaves."""

    anchor: AnchoredRoot
    paths: list[list[bytes]]

    @classmethod
    def read(cls, conn: Connection) -> LogPaths:
        row = conn.execute(select(AnchoredRoot).order_by(col(AnchoredRoot.tree_size).desc()).limit(1)).first()
        if row is None:
            raise DocumentsError("the log has not been anchored yet; anchor it (`ledger anchor`) first")
        anchor = AnchoredRoot.model_validate(dict(row._mapping))
        leaves = [
            bytes(h)
            for (h,) in conn.execute(
                select(col(LogEntry.leaf_hash)).where(col(LogEntry.idx) < anchor.tree_size).order_by(col(LogEntry.idx))
            )
        ]
        root, paths = root_and_paths(leaves)
        if len(leaves) != anchor.tree_size or "0x" + root.hex() != anchor.root:
            raise DocumentsError(
                f"the log's first {anchor.tree_size} leaves do not give the root anchored for that size; "
                "the log is damaged, audit it (`ledger audit`)"
            )
        return cls(anchor, paths)

    def proof(self, leaf_index: int) -> dict[str, Any] | None:
        """As certificates/copies.py's `proof_for` gives it; None for a leaf above the anchored size."""
        a = self.anchor
        if leaf_index >= a.tree_size:
            return None
        return {
            "leaf_index": leaf_index,
            "tree_size": a.tree_size,
            "root": a.root[2:],
            "inclusion": [p.hex() for p in self.paths[leaf_index]],
            "anchor": {"tx_hash": a.tx_hash, "block_number": a.block_number},
        }


def personal_documents(conn: Connection, paths: LogPaths, certificate_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The public documents of these personal certificates, as `CertificateService.document` gives
    them (a personal certificate has no footprint report and no sealed field), in one query."""
    rows = {
        r.id: r
        for r in conn.execute(
            select(
                col(CertificateRow.id),
                col(CertificateRow.leaf_index),
                col(CertificateRow.body),
                col(CertificateRow.public_fields),
                col(CertificateRow.revoked_at),
                col(CertificateRow.revocation_reason),
                col(CertificateRow.revocation_tx),
            ).where(col(CertificateRow.id).in_(certificate_ids))
        )
    }
    docs = []
    for cert_id in certificate_ids:
        r = rows[cert_id]
        body = json.loads(r.body)
        doc = {
            "format": body["format"],
            "certificate": body,
            "disclosed": json.loads(r.public_fields),
            "proof": paths.proof(int(r.leaf_index)),
        }
        if r.revoked_at is not None:
            doc["revocation"] = {"revoked_at": r.revoked_at, "reason": r.revocation_reason, "tx_hash": r.revocation_tx}
        docs.append(doc)
    return docs


CHUNK = 2_000  # documents held at once: a document is about 2 KB of JSON, parsed several times that


def personal_certificate_ids(conn: Connection) -> list[str]:
    """Every personal certificate issued for a purchase, in certificate order."""
    rows = conn.execute(
        select(col(OffsetPurchase.certificate_id))
        .join(CertificateRow, col(CertificateRow.id) == col(OffsetPurchase.certificate_id))
        .order_by(col(CertificateRow.number))
    )
    return [str(c) for (c,) in rows]


def verify_all(
    conn: Connection, evidence: Evidence, certificate_ids: Sequence[str], *, chunk: int = CHUNK
) -> Iterator[Verdict]:
    """The verdict of each certificate, in order, built and checked `chunk` documents at a time."""
    paths = LogPaths.read(conn)
    for i in range(0, len(certificate_ids), chunk):
        for doc in personal_documents(conn, paths, certificate_ids[i : i + chunk]):
            yield verify_document(doc, evidence)


@dataclass(frozen=True)
class NodeTarget:
    """What a verifying process needs to reach the node and the service database on its own."""

    database_url: str
    rpc_url: str
    chain_id: int
    registry: str
    revocations: str


def _verify_slice(job: tuple[NodeTarget, frozenset[str], list[str], int]) -> tuple[list[str], int]:
    target, revoked, ids, chunk = job
    engine = make_engine(target.database_url)
    node = ChainEvidence(
        JsonRpc(target.rpc_url), chain_id=target.chain_id, registry=target.registry, revocations=target.revocations
    )
    shared = SharedEvidence(node, revoked)
    try:
        with engine.connect() as conn:
            return [v.status for v in verify_all(conn, shared, ids, chunk=chunk)], shared.lookups
    finally:
        engine.dispose()


def verify_in_processes(
    target: NodeTarget, revoked: frozenset[str], certificate_ids: Sequence[str], *, workers: int, chunk: int = CHUNK
) -> tuple[list[str], int]:
    """The verdicts' statuses in order, the certificates split in `workers` contiguous parts, each
    verified by its own process with its own SharedEvidence (so one node lookup per retirement per
    process); the node lookups made, in all. Each certificate is checked as `verify_all` checks it."""
    ids = list(certificate_ids)
    size = -(-len(ids) // workers) if ids else 0
    jobs = [(target, revoked, ids[i : i + size], chunk) for i in range(0, len(ids), size)] if ids else []
    if len(jobs) <= 1:
        results = [_verify_slice(job) for job in jobs]
    else:
        with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
            results = pool.map(_verify_slice, jobs)
    return [s for statuses, _ in results for s in statuses], sum(n for _, n in results)
