"""Which personal certificate holds a kilogram (docs/offsets.md §6): the purchase whose allocation's
serial sub-range contains the serial, once its certificate is issued. What it names is what the
certificate itself shows publicly: the certificate id, the purchase id, the serial sub-range and
the account's salted commitment, never an account."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from offsets.models import OffsetPurchase


@dataclass(frozen=True)
class Holding:
    certificate_id: str
    purchase_id: str
    serial_first: int
    serial_last: int
    account_commitment: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def holding(conn: Connection, serial: int) -> Holding | None:
    """The certified purchase whose serials contain `serial`, or None (not retired for a person, or
    not certified yet). Serials are global and a purchase's are consecutive, so the purchase with
    the greatest first serial at or below it is the only candidate (one indexed lookup)."""
    row = conn.execute(
        select(
            col(OffsetPurchase.id),
            col(OffsetPurchase.certificate_id),
            col(OffsetPurchase.serial_first),
            col(OffsetPurchase.serial_last),
            col(OffsetPurchase.account_commitment),
        )
        .where(col(OffsetPurchase.serial_first) <= serial, col(OffsetPurchase.certificate_id).is_not(None))
        .order_by(col(OffsetPurchase.serial_first).desc())
        .limit(1)
    ).first()
    if row is None or row.serial_last is None or int(row.serial_last) < serial:
        return None
    return Holding(str(row.certificate_id), row.id, int(row.serial_first), int(row.serial_last), row.account_commitment)
