"""Taking a person's purchase of kilograms, exactly once per idempotency key (docs/offsets.md §5)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from offsets.allocation import HEX, MAX_SAFE
from offsets.models import OffsetPurchase

MAX_KEY = 200  # an idempotency key is a client's random token; bounded so it cannot be a document


class PurchaseError(ValueError):
    """A purchase refused: one line naming the problem and the fix; nothing is stored."""


@dataclass(frozen=True)
class Taken:
    purchase: OffsetPurchase
    created: bool  # False: the key was seen before and this is its first purchase


def purchase_id_for(idempotency_key: str) -> str:
    """The purchase id a key gives: the same on every retry, and it does not reveal the key."""
    return "P" + hashlib.sha256(b"offset-purchase\x1f" + idempotency_key.encode()).hexdigest()[:24]


def _key_hash(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def purchase(
    engine: Engine, account_commitment: str, kg: int, idempotency_key: str, *, now: int | None = None
) -> Taken:
    """Store the purchase once. A repeated key returns the first purchase; the same key with other
    kilograms or another account is refused (a client reusing a key for a new purchase)."""
    if not (len(account_commitment) == 64 and set(account_commitment) <= HEX):
        raise PurchaseError(
            "the account commitment must be 64 lowercase hex digits (a salted sha256, never the account)"
        )
    if isinstance(kg, bool) or not isinstance(kg, int) or not 0 < kg <= MAX_SAFE:
        raise PurchaseError(f"kg must be a whole number of kilograms from 1 to {MAX_SAFE}")
    if not (0 < len(idempotency_key) <= MAX_KEY and idempotency_key.isprintable()):
        raise PurchaseError(f"the idempotency key must be 1 to {MAX_KEY} printable characters")
    row = OffsetPurchase(
        id=purchase_id_for(idempotency_key),
        key_hash=_key_hash(idempotency_key),
        account_commitment=account_commitment,
        kg=kg,
        created_at=int(time.time()) if now is None else now,
    )
    with Session(engine) as session:
        first = session.exec(select(OffsetPurchase).where(col(OffsetPurchase.key_hash) == row.key_hash)).first()
        if first is None:
            session.add(row)
            try:
                session.commit()
                session.refresh(row)
                return Taken(row, True)
            except IntegrityError:
                session.rollback()  # a concurrent retry of the same key won the insert
                first = session.exec(select(OffsetPurchase).where(col(OffsetPurchase.key_hash) == row.key_hash)).first()
                if first is None:
                    raise
        stored = first
        if stored.kg != kg or stored.account_commitment != account_commitment:
            raise PurchaseError(
                f"this idempotency key was used for another purchase ({stored.kg} kg); use a new key for a new purchase"
            )
        session.expunge(stored)
        return Taken(stored, False)
