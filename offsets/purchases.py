"""Taking a person's purchase of kilograms, exactly once per idempotency key (docs/offsets.md §5)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, insert
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


def _refuse_bad(account_commitment: str, kg: int, idempotency_key: str) -> None:
    if not (isinstance(account_commitment, str) and len(account_commitment) == 64 and set(account_commitment) <= HEX):
        raise PurchaseError(
            "the account commitment must be 64 lowercase hex digits (a salted sha256, never the account)"
        )
    if isinstance(kg, bool) or not isinstance(kg, int) or not 0 < kg <= MAX_SAFE:
        raise PurchaseError(f"kg must be a whole number of kilograms from 1 to {MAX_SAFE}")
    if not (isinstance(idempotency_key, str) and 0 < len(idempotency_key) <= MAX_KEY and idempotency_key.isprintable()):
        raise PurchaseError(f"the idempotency key must be 1 to {MAX_KEY} printable characters")


def purchase(
    engine: Engine, account_commitment: str, kg: int, idempotency_key: str, *, now: int | None = None
) -> Taken:
    """Store the purchase once. A repeated key returns the first purchase; the same key with other
    kilograms or another account is refused (a client reusing a key for a new purchase)."""
    _refuse_bad(account_commitment, kg, idempotency_key)
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


@dataclass(frozen=True)
class Order:
    """One purchase as a platform's front end hands it over in bulk."""

    account_commitment: str
    kg: int
    idempotency_key: str


LOOKUP_CHUNK = 500  # key hashes a lookup names at once: far below SQLite's bound on parameters


def purchase_many(engine: Engine, orders: Sequence[Order], *, now: int | None = None) -> list[str]:
    """Store many purchases at once with the same exactly-once rule as `purchase`: one transaction,
    one multi-row insert of the keys not seen before; the purchase ids, in the orders' order. A bad
    order or a key reused for another purchase refuses the whole call (naming the order), so nothing
    is half-stored; a repeated order (same key, kilograms and account) is the same purchase."""
    wanted: dict[str, tuple[str, str, int]] = {}  # key hash -> (purchase id, account, kg)
    ids: list[str] = []
    for n, o in enumerate(orders):
        try:
            _refuse_bad(o.account_commitment, o.kg, o.idempotency_key)
        except PurchaseError as exc:
            raise PurchaseError(f"order {n + 1}: {exc}") from None
        key_hash = _key_hash(o.idempotency_key)
        seen = wanted.setdefault(key_hash, (purchase_id_for(o.idempotency_key), o.account_commitment, o.kg))
        if seen[1:] != (o.account_commitment, o.kg):
            raise PurchaseError(f"order {n + 1}: its idempotency key names another order of this call; use a new key")
        ids.append(seen[0])
    at = int(time.time()) if now is None else now
    with engine.begin() as conn:
        hashes = list(wanted)
        for i in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = hashes[i : i + LOOKUP_CHUNK]
            for row in conn.execute(
                select(
                    col(OffsetPurchase.key_hash), col(OffsetPurchase.account_commitment), col(OffsetPurchase.kg)
                ).where(col(OffsetPurchase.key_hash).in_(chunk))
            ):
                _, account, kg = wanted.pop(row.key_hash)
                if (row.account_commitment, int(row.kg)) != (account, kg):
                    raise PurchaseError(
                        f"an idempotency key was used for another purchase ({row.kg} kg); use a new key for a new purchase"
                    )
        if wanted:
            # a concurrent call storing one of these keys meanwhile makes this insert fail whole
            # (IntegrityError, rolled back): calling again then finds those keys stored
            conn.execute(
                insert(OffsetPurchase),
                [
                    {"id": pid, "key_hash": h, "account_commitment": a, "kg": kg, "created_at": at}
                    for h, (pid, a, kg) in wanted.items()
                ],
            )
    return ids
