"""The points ledger's one write path: `post` appends one balanced transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert

from accounts.ledger_models import PointsEntry


class UnbalancedError(ValueError):
    """A transaction whose postings do not sum to zero: a bug of the caller, never user input."""


@dataclass(frozen=True)
class Posting:
    account: str  # "person:<account id>", "source:<source id>", "merchant:<source id>", "expired"
    amount: int  # points, signed
    expires_at: int | None = None  # on a person's credit


def post(conn: Connection, txn: str, kind: str, ref: str, postings: list[Posting], now: int) -> None:
    """Append one transaction inside the caller's database transaction. `txn` names it once: the
    caller derives it from what it is about, so a retried operation cannot post twice (the caller
    checks first; the ledger itself is append-only and never updates an amount)."""
    if len(postings) < 2 or sum(p.amount for p in postings) != 0:
        raise UnbalancedError(f"transaction {txn} does not balance: {[p.amount for p in postings]}")
    conn.execute(
        insert(PointsEntry),
        [
            {
                "txn": txn,
                "account": p.account,
                "amount": p.amount,
                "kind": kind,
                "ref": ref,
                "created_at": now,
                "expires_at": p.expires_at,
            }
            for p in postings
        ],
    )
