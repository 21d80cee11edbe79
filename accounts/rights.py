"""Rights exchange (权益兑换): merchants list rights with a stock and a price in points; an app
redeems one for a person, exactly once per idempotency key and never beyond the stock; the merchant
that owns the right may reverse a redemption within its window.

Never oversold: the stock is taken by one conditional statement (`UPDATE rights SET stock = stock - 1
WHERE id = ? AND stock > 0 AND active RETURNING …`) in the same database transaction as the
person's debit, so on PostgreSQL concurrent redemptions queue on the right's row and the 11th of a
stock of 10 finds stock = 0; a refusal (too few points) rolls the stock back with the rest.

Lock order on PostgreSQL, so no two transactions wait on each other in a circle: a redemption
takes the key (the redemption's unique index), the person's lots, then the right's row; a reversal
takes the redemption's row, then the right's row, and only adds new lots; corrections and the
expiry sweep take lots only; stock changes and withdrawals take the right's row only. (SQLite has
one writer at a time.)"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from accounts import ledger
from accounts.errors import ConflictError, InputError, NotFoundError, ScopeError
from accounts.ledger_models import LOTS, REDEMPTIONS, RIGHTS, SPENDS
from accounts.models import ACCOUNTS, SOURCES

KINDS = ("coupon", "ticket", "transit_credit", "other")
MAX_STOCK = 10**9
MAX_PRICE = 10**9  # points; 1 point = 1 g CO2e (Hubei 1:1, research §2.1), so a million kg: far beyond any right
MAX_WINDOW = 30 * 86_400  # seconds; illustrative: a month covers a refund of a coupon or a ticket
_KEY_CHARS = 100


class NotYoursError(ScopeError):
    """A merchant acting on another merchant's right or redemption."""


@dataclass(frozen=True)
class RightInfo:
    id: int
    merchant_id: str
    name: str
    kind: str
    stock: int
    price: int
    reversal_window: int
    active: bool
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class RedemptionInfo:
    id: str
    source_id: str
    idempotency_key: str
    account_id: str
    right_id: int
    points: int
    created_at: int
    reversed_at: int | None
    replayed: bool = False  # True: a retry of an earlier request, answered with its first outcome


def _right(r: Any) -> RightInfo:
    return RightInfo(
        r.id,
        r.merchant_id,
        r.name,
        r.kind,
        r.stock,
        r.price,
        r.reversal_window,
        bool(r.active),
        r.created_at,
        r.updated_at,
    )


def _redemption(r: Any, *, replayed: bool = False) -> RedemptionInfo:
    return RedemptionInfo(
        r.id, r.source_id, r.idempotency_key, r.account_id, r.right_id, r.points, r.created_at, r.reversed_at, replayed
    )


def _right_id(value: object) -> int:
    """A right id the database can hold: ids past bigint reached the driver as a DataError."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ledger.MAX_ID:
        raise InputError("right is a right's id, a positive whole number")
    return value


def _text_id(value: object, what: str, prefix: str) -> str:
    """An account or redemption id as given: printable, so no NUL reaches PostgreSQL's text."""
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) > 64 or not value.isprintable():
        raise InputError(f"{what} is an id {prefix}… of printable characters")
    return value


def _count(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{what} is a whole number from {low:,} to {high:,}")
    return value


def _merchant(conn: Connection, merchant_id: str) -> None:
    kind = conn.execute(select(SOURCES.c.kind).where(SOURCES.c.id == merchant_id)).scalar()
    if kind is None:
        raise NotFoundError(f"no source {merchant_id}; the operator registers merchants as sources of kind merchant")
    if kind != "merchant":
        raise ScopeError(f"source {merchant_id} is of kind {kind}; only a source of kind merchant lists rights")


def _owned(conn: Connection, merchant_id: str, right_id: int, *, lock: bool = False) -> Any:
    _right_id(right_id)
    q = select(RIGHTS).where(RIGHTS.c.id == right_id)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise NotFoundError(f"no right {right_id}; list rights to find its id")
    if row.merchant_id != merchant_id:
        raise NotYoursError(f"right {right_id} belongs to another merchant; a merchant changes only its own rights")
    return row


# --- merchants: listing, stock, withdrawal ------------------------------------------------------


def add_right(
    engine: Engine, merchant_id: str, *, name: str, kind: str, stock: int, price: int, reversal_window: int, now: int
) -> RightInfo:
    """List a new right of the merchant (a source of kind merchant)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InputError("a right's name is 1 to 200 printable characters")
    if kind not in KINDS:
        raise InputError(f"a right's kind is one of {', '.join(KINDS)}, not {kind!r}")
    _count(stock, "stock", 0, MAX_STOCK)
    _count(price, "price in points", 1, MAX_PRICE)
    _count(reversal_window, "the reversal window in seconds", 0, MAX_WINDOW)
    values = {
        "merchant_id": merchant_id,
        "name": name.strip(),
        "kind": kind,
        "stock": stock,
        "price": price,
        "reversal_window": reversal_window,
        "active": True,
        "created_at": now,
        "updated_at": now,
    }
    with engine.begin() as conn:
        _merchant(conn, merchant_id)
        right_id = conn.execute(insert(RIGHTS).values(**values).returning(RIGHTS.c.id)).scalar_one()
    return RightInfo(id=right_id, **values)  # type: ignore[arg-type]  # the dict's values are typed above


def get_right(engine: Engine, right_id: int) -> RightInfo:
    _right_id(right_id)
    with engine.connect() as conn:
        row = conn.execute(select(RIGHTS).where(RIGHTS.c.id == right_id)).first()
    if row is None:
        raise NotFoundError(f"no right {right_id}; list rights to find its id")
    return _right(row)


def list_rights(engine: Engine, merchant_id: str | None = None, *, include_withdrawn: bool = False) -> list[RightInfo]:
    """Rights by id, one merchant's or all; withdrawn ones only if asked."""
    q = select(RIGHTS).order_by(RIGHTS.c.id)
    if merchant_id is not None:
        q = q.where(RIGHTS.c.merchant_id == merchant_id)
    if not include_withdrawn:
        q = q.where(RIGHTS.c.active.is_(True))
    with engine.connect() as conn:
        return [_right(r) for r in conn.execute(q)]


def set_stock(engine: Engine, merchant_id: str, right_id: int, stock: int, now: int) -> RightInfo:
    """Set the stock the merchant counts as left (redemptions since its count are its to reconcile:
    the stock never goes below zero either way)."""
    _count(stock, "stock", 0, MAX_STOCK)
    with engine.begin() as conn:
        _owned(conn, merchant_id, right_id, lock=True)
        conn.execute(update(RIGHTS).where(RIGHTS.c.id == right_id).values(stock=stock, updated_at=now))
        return _right(conn.execute(select(RIGHTS).where(RIGHTS.c.id == right_id)).one())


def withdraw(engine: Engine, merchant_id: str, right_id: int, now: int) -> RightInfo:
    """Stop redemptions of the right (reversals of earlier ones stay possible within their window)."""
    with engine.begin() as conn:
        _owned(conn, merchant_id, right_id, lock=True)
        conn.execute(update(RIGHTS).where(RIGHTS.c.id == right_id).values(active=False, updated_at=now))
        return _right(conn.execute(select(RIGHTS).where(RIGHTS.c.id == right_id)).one())


# --- redemption -------------------------------------------------------------------------------


def _new_id() -> str:
    return "red_" + base64.b32encode(secrets.token_bytes(20)).decode().lower()[:26]


def _existing(conn: Connection, source_id: str, key: str, account_id: str, right_id: int) -> RedemptionInfo | None:
    row = conn.execute(
        select(REDEMPTIONS).where(REDEMPTIONS.c.source_id == source_id, REDEMPTIONS.c.idempotency_key == key)
    ).first()
    if row is None:
        return None
    if row.account_id != account_id or row.right_id != right_id:
        raise ConflictError(
            f"idempotency key {key!r} was used for another redemption ({row.id}); use a new key for a new redemption"
        )
    return _redemption(row, replayed=True)


def _check_request(account_id: object, right_id: object, key: object) -> None:
    _text_id(account_id, "account", "acc_")
    _right_id(right_id)
    if not isinstance(key, str) or not 0 < len(key) <= _KEY_CHARS or not key.isascii() or not key.isprintable():
        raise InputError(f"idempotency key is 1 to {_KEY_CHARS} printable ASCII characters, new for each redemption")


def _claim(
    conn: Connection, red_id: str, source_id: str, key: str, account_id: str, right_id: int, now: int
) -> int | None:
    """Insert the redemption, priced from the right, if the key is new, the right active and the
    account live: its price, or None (then `_why_not` says which). One statement: on PostgreSQL a
    concurrent request with the same key waits here for the first to commit, then finds its row."""
    live = select(ACCOUNTS.c.id).where(ACCOUNTS.c.id == account_id, ACCOUNTS.c.deleted_at.is_(None)).exists()
    priced = select(
        literal(red_id),
        literal(source_id),
        literal(key),
        literal(account_id),
        RIGHTS.c.id,
        RIGHTS.c.price,
        literal(now),
    ).where(RIGHTS.c.id == right_id, RIGHTS.c.active.is_(True), live)
    columns = ["id", "source_id", "idempotency_key", "account_id", "right_id", "points", "created_at"]
    insert_ = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert_(REDEMPTIONS)
        .from_select(columns, priced)
        .on_conflict_do_nothing(index_elements=["source_id", "idempotency_key"])
        .returning(REDEMPTIONS.c.points)
    )
    price = conn.execute(stmt).scalar()
    return None if price is None else int(price)


def _why_not(conn: Connection, source_id: str, key: str, account_id: str, right_id: int) -> RedemptionInfo:
    """Why nothing was claimed: the key's first redemption (returned: a replay), else the refusal."""
    seen = _existing(conn, source_id, key, account_id, right_id)
    if seen is not None:
        return seen
    right = conn.execute(select(RIGHTS.c.active).where(RIGHTS.c.id == right_id)).first()
    if right is None:
        raise NotFoundError(f"no right {right_id}; list rights to find its id")
    if not right.active:
        raise ConflictError(f"right {right_id} is withdrawn; choose another right")
    account = conn.execute(select(ACCOUNTS.c.deleted_at).where(ACCOUNTS.c.id == account_id)).first()
    if account is None:
        raise NotFoundError(f"no account {account_id}; accounts are opened with scope accounts:write")
    raise ConflictError(f"account {account_id} is deleted; it redeems nothing")


def _take_stock(conn: Connection, right_id: int, now: int) -> Any:
    """The one conditional statement that keeps the stock from going below zero."""
    row = conn.execute(
        update(RIGHTS)
        .where(RIGHTS.c.id == right_id, RIGHTS.c.stock > 0, RIGHTS.c.active.is_(True))
        .values(stock=RIGHTS.c.stock - 1, updated_at=now)
        .returning(RIGHTS.c.merchant_id)
    ).first()
    if row is None:
        # withdrawn between the claim and here, or sold out: either way this request gets no unit
        raise ConflictError(f"right {right_id} is out of stock; choose another right or try when the merchant restocks")
    return row


def redeem(
    engine: Engine, principal_source_id: str, account_id: str, right_id: int, idempotency_key: str, now: int
) -> RedemptionInfo:
    """Redeem one unit of a right for a person on behalf of the calling source (an app with scope
    redemptions:write; the edge checks the scope): one stock unit taken, the price debited from
    the person's oldest-expiring points and credited to "merchant:<id>", in one transaction (on
    PostgreSQL one statement, `_REDEEM_PG`; elsewhere statement by statement, `_redeem_steps`).

    Exactly once per (source, idempotency key): a retry answers the first redemption (replayed=True);
    the same key with another account or right is refused. Refusals (no such right, withdrawn, out of
    stock, too few points, with the balance) store nothing, so the key stays usable. A price never
    changes once listed (there is no function for it), so the price the claim read is the price."""
    _check_request(account_id, right_id, idempotency_key)
    red_id = _new_id()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            return _redeem_pg(conn, red_id, principal_source_id, idempotency_key, account_id, right_id, now)
        return _redeem_steps(conn, red_id, principal_source_id, idempotency_key, account_id, right_id, now)


def _redeem_steps(
    conn: Connection,
    red_id: str,
    source_id: str,
    key: str,
    account_id: str,
    right_id: int,
    now: int,
    take_stock: Callable[[Connection, int, int], Any] = _take_stock,
) -> RedemptionInfo:
    """The redemption statement by statement (SQLite; the benchmark's baselines swap `take_stock`)."""
    price = _claim(conn, red_id, source_id, key, account_id, right_id, now)
    if price is None:
        return _why_not(conn, source_id, key, account_id, right_id)
    right = take_stock(conn, right_id, now)
    ledger.debit(
        conn,
        account=ledger.person(account_id),
        to=f"merchant:{right.merchant_id}",
        amount=price,
        txn=f"redeem:{red_id}",
        kind="redeem",
        ref=red_id,
        now=now,
    )
    return RedemptionInfo(red_id, source_id, key, account_id, right_id, price, now, None)


# The same redemption as one PostgreSQL statement, so a redemption costs one round trip and a
# commit instead of seven: at ~0.2 ms a round trip and 7 ms an fsync shared by concurrent commits,
# the round trips and the Python around them, not the disk, bounded throughput. Step by step as
# `redeem`'s generic path: claim the key (priced from the right), take a unit (only if the claim
# succeeded and the person holds the price), lock the live lots and take the price from them
# oldest expiry first (running sum), record the takes (lots, spends) and post the entries (one
# negative posting per lot with its expiry, the merchant's positive one). Every write below the
# claim joins `stock`, so when no unit is taken nothing else is written; the caller rolls the
# claim back. Lock order: the key, the person's lots, the right's row; no path takes the right's
# row and then lots, so this order cannot close a circle.
_REDEEM_PG = text("""
WITH claim AS (
    INSERT INTO redemptions (id, source_id, idempotency_key, account_id, right_id, points, created_at)
    SELECT CAST(:id AS text), CAST(:source AS text), CAST(:key AS text), CAST(:account AS text),
           r.id, r.price, CAST(:now AS bigint)
    FROM rights r
    WHERE r.id = CAST(:right AS bigint) AND r.active
      AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = CAST(:account AS text) AND a.deleted_at IS NULL)
    ON CONFLICT (source_id, idempotency_key) DO NOTHING
    RETURNING points
), lots AS (
    SELECT entry_id, expires_at, remaining FROM points_lots
    WHERE account = CAST(:person AS text) AND remaining > 0 AND expires_at > CAST(:now AS bigint)
    ORDER BY expires_at, entry_id
    FOR UPDATE
), held AS (
    SELECT coalesce(sum(remaining), 0) AS points FROM lots
), stock AS (
    UPDATE rights SET stock = stock - 1, updated_at = CAST(:now AS bigint)
    WHERE id = CAST(:right AS bigint) AND stock > 0 AND active
      AND (SELECT points FROM claim) <= (SELECT points FROM held)
    RETURNING merchant_id, price
), take AS (
    SELECT x.entry_id, x.expires_at, least(x.remaining, stock.price - (x.run - x.remaining)) AS amount
    FROM (SELECT l.*, sum(l.remaining) OVER (ORDER BY l.expires_at, l.entry_id) AS run FROM lots l) x, stock
    WHERE x.run - x.remaining < stock.price
), spent AS (
    UPDATE points_lots p SET remaining = p.remaining - t.amount FROM take t WHERE p.entry_id = t.entry_id
), spends AS (
    INSERT INTO points_spends (txn, lot_id, amount) SELECT CAST(:txn AS text), entry_id, amount FROM take
), entries AS (
    INSERT INTO points_entries (txn, account, amount, kind, ref, created_at, expires_at)
    SELECT CAST(:txn AS text), CAST(:person AS text), -amount, 'redeem', CAST(:id AS text),
           CAST(:now AS bigint), expires_at
    FROM take
    UNION ALL
    SELECT CAST(:txn AS text), 'merchant:' || merchant_id, price, 'redeem', CAST(:id AS text),
           CAST(:now AS bigint), NULL
    FROM stock
)
SELECT (SELECT points FROM claim) AS claimed,
       (SELECT count(*) FROM stock) AS taken,
       (SELECT points FROM held) AS held,
       (SELECT stock FROM rights WHERE id = CAST(:right AS bigint)) AS stock_seen
""")


def _redeem_pg(
    conn: Connection, red_id: str, source_id: str, key: str, account_id: str, right_id: int, now: int
) -> RedemptionInfo:
    params = {
        "id": red_id,
        "source": source_id,
        "key": key,
        "account": account_id,
        "person": ledger.person(account_id),
        "right": right_id,
        "now": now,
        "txn": f"redeem:{red_id}",
    }
    row = conn.execute(_REDEEM_PG, params).one()
    if row.claimed is None:
        return _why_not(conn, source_id, key, account_id, right_id)
    if row.taken == 0:
        # the claim is rolled back with the exception; as on the statement-by-statement path, an
        # empty stock is named before too few points
        if row.stock_seen > 0 and row.held < row.claimed:
            raise ledger.InsufficientPointsError(ledger.person(account_id), int(row.held), int(row.claimed))
        raise ConflictError(f"right {right_id} is out of stock; choose another right or try when the merchant restocks")
    return RedemptionInfo(red_id, source_id, key, account_id, right_id, int(row.claimed), now, None)


def get_redemption(engine: Engine, redemption_id: str) -> RedemptionInfo:
    _text_id(redemption_id, "redemption", "red_")
    with engine.connect() as conn:
        row = conn.execute(select(REDEMPTIONS).where(REDEMPTIONS.c.id == redemption_id)).first()
    if row is None:
        raise NotFoundError(f"no redemption {redemption_id}")
    return _redemption(row)


# --- reversal ---------------------------------------------------------------------------------


def reverse(engine: Engine, merchant_source_id: str, redemption_id: str, now: int) -> RedemptionInfo:
    """The merchant that owns the right undoes a redemption, once, while now < redeemed + window:
    a "reverse" transaction (merchant → person) and one unit of stock back.

    The points come back with their original expiry: the reversal posts one lot per lot the
    redemption took, with that lot's expires_at, so a reversal never lengthens (or shortens) the
    life of the person's points. Points whose expiry passed in between come back already lapsed and
    the next sweep expires them: the alternative, fresh points, would let a redeem-and-reverse cycle
    renew points beyond the 10 years of the Shenzhen rule."""
    _text_id(redemption_id, "redemption", "red_")
    with engine.begin() as conn:
        ledger.write_lock(conn)
        row = conn.execute(select(REDEMPTIONS).where(REDEMPTIONS.c.id == redemption_id).with_for_update()).first()
        if row is None:
            raise NotFoundError(f"no redemption {redemption_id}")
        right = conn.execute(
            select(RIGHTS.c.merchant_id, RIGHTS.c.reversal_window).where(RIGHTS.c.id == row.right_id)
        ).one()
        if right.merchant_id != merchant_source_id:
            raise NotYoursError(
                f"redemption {redemption_id} is of another merchant's right; only that merchant may reverse it"
            )
        if row.reversed_at is not None:
            raise ConflictError(f"redemption {redemption_id} was reversed already (at {row.reversed_at})")
        closes = row.created_at + right.reversal_window
        if now >= closes:
            raise ConflictError(
                f"redemption {redemption_id} can no longer be reversed: its window of {right.reversal_window} s "
                f"closed at {closes}"
            )
        conn.execute(update(RIGHTS).where(RIGHTS.c.id == row.right_id).values(stock=RIGHTS.c.stock + 1, updated_at=now))
        taken = conn.execute(
            select(SPENDS.c.lot_id, SPENDS.c.amount)
            .where(SPENDS.c.txn == f"redeem:{redemption_id}")
            .order_by(SPENDS.c.id)
        ).all()
        expiry = _lot_expiry(conn, [t.lot_id for t in taken])
        account = ledger.person(row.account_id)
        postings = [ledger.Posting(account, t.amount, expiry[t.lot_id]) for t in taken]
        postings.append(ledger.Posting(f"merchant:{right.merchant_id}", -row.points))
        ledger.post(conn, f"reverse:{redemption_id}", "reverse", redemption_id, postings, now)
        conn.execute(update(REDEMPTIONS).where(REDEMPTIONS.c.id == redemption_id).values(reversed_at=now))
        return _redemption(conn.execute(select(REDEMPTIONS).where(REDEMPTIONS.c.id == redemption_id)).one())


def _lot_expiry(conn: Connection, lot_ids: list[int]) -> dict[int, int]:
    return {
        r.entry_id: r.expires_at
        for r in conn.execute(select(LOTS.c.entry_id, LOTS.c.expires_at).where(LOTS.c.entry_id.in_(lot_ids)))
    }
