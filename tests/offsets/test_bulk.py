"""The bulk path (docs/offsets.md §6–7) on SQLite and on a real PostgreSQL: purchases stored many at a
time, certificates issued a chunk a transaction, every one verified by certificates/verify.py with
the shared reads done once; a chunk that cannot be wholly issued leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from certificates.evidence import ChainEvidence
from certificates.issuer import CertificationError
from certificates.models import CertificateRow
from certificates.translog.models import LogEntry
from chain.types import RetirementId
from offsets.batcher import tree_for
from offsets.certify import certify_retired, mark_purchases
from offsets.models import OffsetPurchase, OffsetRetirement
from offsets.purchases import Order, PurchaseError, purchase_id_for, purchase_many
from offsets.verification import (
    LogPaths,
    NodeTarget,
    SharedEvidence,
    node_revocations,
    personal_certificate_ids,
    personal_documents,
    verify_all,
    verify_in_processes,
)
from tests.offsets.conftest import Platform, account

# 7 people buying 1..7 kg: 1 + 2 + ... + 7 = 28 kg. With M = 4: a retirement of 4 purchases, then one
# of 3; with chunks of 3 the first is certified in 3 + 1, the second in 3.
ORDERS = [Order(account(f"bulk-{k}", "s"), k, f"bulk-{k}") for k in range(1, 8)]


@pytest.fixture(params=["sqlite", "postgres"])
def any_platform(request: pytest.FixtureRequest) -> Platform:
    p: Platform = request.getfixturevalue("platform" if request.param == "sqlite" else "pg_platform")
    return p


def _count(p: Platform, table: Any, *where: Any) -> int:
    with p.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _evidence(p: Platform) -> SharedEvidence:
    node = ChainEvidence(
        p.client.rpc, registry=p.service.context.deployment.address, revocations=p.service.context.issuer.revocations
    )
    return SharedEvidence(node, node_revocations(node, p.world.registry.deployment.block_number))


def test_purchases_to_verified_certificates_in_bulk(any_platform: Platform) -> None:
    p = any_platform
    start = p.balance()
    ids = purchase_many(p.engine, [*ORDERS, ORDERS[0]], now=1_000)  # the first order sent twice: one purchase
    assert ids == [purchase_id_for(o.idempotency_key) for o in [*ORDERS, ORDERS[0]]]
    assert purchase_many(p.engine, ORDERS[:3], now=2_000) == ids[:3]  # a retried call stores nothing new
    assert _count(p, OffsetPurchase) == 7
    b = p.batcher(max_purchases=4)
    settled = b.run_once() + b.run_once()
    assert b.run_once() == []
    # bought in the same second, purchases go oldest first and then by id (as single purchases do)
    by_id = sorted(ORDERS, key=lambda o: purchase_id_for(o.idempotency_key))
    first_four = sum(o.kg for o in by_id[:4])
    assert [(s.amount, s.purchases) for s in settled] == [(first_four, 4), (28 - first_four, 3)]
    assert p.balance() == start - 28
    issued = certify_retired(p.service, chunk=3)
    assert len(issued) == len(set(issued)) == 7
    assert certify_retired(p.service) == []
    assert p.service.anchor(force=True) is not None
    assert _count(p, LogEntry) == 7 and _count(p, OffsetPurchase, col(OffsetPurchase.certificate_id).is_(None)) == 0
    shared = _evidence(p)
    with p.engine.connect() as conn:
        cert_ids = personal_certificate_ids(conn)
        verdicts = list(verify_all(conn, shared, cert_ids, chunk=3))
        # the documents built in bulk are the ones the service hands out, one by one
        docs = personal_documents(conn, LogPaths.read(conn), cert_ids)
    assert sorted(cert_ids) == sorted(issued)
    assert [v.status for v in verdicts] == ["valid"] * 7
    assert shared.lookups == 2  # one node lookup per retirement, for 7 certificates
    assert docs == [p.service.document(c) for c in cert_ids]
    # each certificate's own allocation: its purchase's kilograms, inside its retirement's serials
    assert sorted(d["certificate"]["claim"]["quantity_kg"] for d in docs) == [1, 2, 3, 4, 5, 6, 7]
    # in two processes: the first 4 certificates (the first retirement's) and the last 3 (the second's)
    d = p.service.context.deployment
    target = NodeTarget(p.db_url, p.client.rpc.url, d.chain_id, d.address, p.service.context.issuer.revocations)
    assert verify_in_processes(target, frozenset(), cert_ids, workers=2) == (["valid"] * 7, 2)


def test_a_revoked_certificate_is_found_by_the_shared_revocation_list(platform: Platform) -> None:
    p = platform
    purchase_many(p.engine, ORDERS[:3], now=1_000)
    p.batcher().run_once()
    first, *rest = certify_retired(p.service)
    assert p.service.anchor(force=True) is not None
    p.service.revoke(first, "bought by mistake")
    with p.engine.connect() as conn:
        statuses = {v.certificate_id: v.status for v in verify_all(conn, _evidence(p), [first, *rest])}
    assert statuses == {first: "revoked", rest[0]: "valid", rest[1]: "valid"}


def test_a_chunk_with_a_purchase_already_certified_is_not_issued_at_all(any_platform: Platform) -> None:
    """Another process certified Alice meanwhile: the chunk of Alice and Bob fails on its marking
    statement (1 row of 2 marked) and rolls back whole, Bob's certificate and log leaf with it."""
    p = any_platform
    purchase_many(p.engine, ORDERS[:2], now=1_000)
    p.batcher().run_once()
    [alice_cert] = certify_retired(p.service, limit=1)
    with p.engine.connect() as conn:
        op = conn.execute(select(col(OffsetRetirement.op_id))).scalar_one()
        tx, log_index = conn.execute(select(col(OffsetRetirement.tx_hash), col(OffsetRetirement.log_index))).one()
        tree = tree_for(conn, op)[0]
    alice, bob = (purchase_id_for(o.idempotency_key) for o in ORDERS[:2])
    shares = []
    for pid in (alice, bob):
        allocation, proof = tree.proof(pid)
        shares.append({"leaf": allocation.as_json(), "proof": proof.as_json()})
    rid = RetirementId.of(p.service.context.deployment.chain_id, tx, int(log_index))
    with pytest.raises(CertificationError, match="1 of these purchases already have their certificate"):
        p.service.certify_shares(rid, shares, anchor=False, on_issued=mark_purchases([alice, bob]))
    assert (_count(p, CertificateRow), _count(p, LogEntry)) == (1, 1)
    assert _count(p, OffsetPurchase, col(OffsetPurchase.certificate_id).is_(None)) == 1
    assert len(certify_retired(p.service)) == 1  # Bob, once
    assert _count(p, CertificateRow) == 2 and alice_cert


def test_a_tampered_share_refuses_the_whole_chunk(platform: Platform) -> None:
    p = platform
    purchase_many(p.engine, ORDERS[:2], now=1_000)
    (settled,) = p.batcher().run_once()
    p.service.catch_up(settled.block_number)  # the mirror has the retirement (certify_retired does this)
    with p.engine.connect() as conn:
        op, tx, log_index = conn.execute(
            select(col(OffsetRetirement.op_id), col(OffsetRetirement.tx_hash), col(OffsetRetirement.log_index))
        ).one()
        tree = tree_for(conn, op)[0]
    shares = []
    for o in ORDERS[:2]:
        allocation, proof = tree.proof(purchase_id_for(o.idempotency_key))
        shares.append({"leaf": allocation.as_json(), "proof": proof.as_json()})
    shares[1]["leaf"]["kg"] += 1  # Bob claims 3 kg for his 2 serials
    rid = RetirementId.of(p.service.context.deployment.chain_id, tx, int(log_index))
    bob = purchase_id_for(ORDERS[1].idempotency_key)
    with pytest.raises(CertificationError, match=rf"share 2 \(purchase {bob}\): .*kilograms"):
        p.service.certify_shares(rid, shares, anchor=False)
    assert (_count(p, CertificateRow), _count(p, LogEntry)) == (0, 0)


def test_bad_orders_store_nothing(platform: Platform) -> None:
    p = platform
    bad = [ORDERS[0], Order("Alice", 3, "k-2")]
    with pytest.raises(PurchaseError, match="order 2: the account commitment must be 64 lowercase hex"):
        purchase_many(p.engine, bad)
    with pytest.raises(PurchaseError, match="order 2: its idempotency key names another order"):
        purchase_many(p.engine, [ORDERS[0], Order(ORDERS[0].account_commitment, 9, ORDERS[0].idempotency_key)])
    assert _count(p, OffsetPurchase) == 0
    purchase_many(p.engine, ORDERS[:1])
    with pytest.raises(PurchaseError, match="used for another purchase"):
        purchase_many(p.engine, [ORDERS[1], Order(ORDERS[0].account_commitment, 9, ORDERS[0].idempotency_key)])
    assert _count(p, OffsetPurchase) == 1  # Bob's order of that call was not stored either
