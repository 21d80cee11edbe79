"""The points ledger: balanced, append-only transactions of five kinds, balances at a time, lots
spent oldest expiry first, the expiry sweep, operator corrections, statements and the audit.

- `post` is the write path of sources' credits (accounts/ingest.py); a person is only ever debited
  here (redeem through accounts/rights.py, a negative correction, expiry), each debit taking its
  lots oldest expiry first and recording what it took (`points_spends`).
- Points lapse `points_valid_days` after they are credited: at most 10 years, the Shenzhen rule
  (深圳市碳普惠管理办法, 深环规〔2022〕5号: 碳积分 valid for no more than 10 years; research
  next_wave.md §2.3). A balance at `now` never counts a lot with expires_at <= now, whether or not
  the sweep (`expire_due`) has written its "expire" transaction yet.
- There is no transfer: no function moves points from one person to another, and the only kinds
  written are credit, redeem, reverse, expire and correct (KINDS).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, Engine, bindparam, case, func, insert, or_, select, text, update

from accounts.errors import ConflictError, InputError, NotFoundError
from accounts.ledger_models import ENTRIES, LOTS, REDEMPTIONS, SPENDS, PointsEntry
from accounts.models import ACCOUNTS
from indexer.db import read_snapshot

KINDS = ("credit", "redeem", "reverse", "expire", "correct")
EXPIRED = "expired"  # where lapsed points go
OPERATOR = "operator"  # the other side of a correction
DAY = 86_400
# 10 years of the Shenzhen rule (§2.3) in whole days: ten calendar years span 3,652 or 3,653 days
# (two or three 29 Februaries), so 3,652 days never outlasts ten years from any start date
MAX_VALID_DAYS = 3_652
MAX_PAGE = 500
MAX_ID = 2**63 - 1  # the largest BIGINT: an id or cursor beyond it is no row's, and PostgreSQL refuses to compare it
# the largest posting: a billion kg CO2e at 1 point = 1 g (research §2.1), far beyond any person's
# or merchant's points, and far inside BIGINT, so a sum of postings never overflows it
MAX_POSTING = 10**15
_SWEEP_CHUNK = 1_000  # lots expired per database transaction: short transactions, bounded memory


class UnbalancedError(ValueError):
    """A transaction whose postings do not sum to zero: a bug of the caller, never user input."""


class InsufficientPointsError(ConflictError):
    """A debit larger than the points the person holds at that moment."""

    def __init__(self, account: str, balance: int, needed: int) -> None:
        self.balance = balance
        self.needed = needed
        super().__init__(f"{account} holds {balance} points at this time, {needed} are needed; nothing was taken")


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_ACCOUNTS_", extra="ignore")

    points_valid_days: int = MAX_VALID_DAYS  # default and maximum: the Shenzhen rule (§2.3)


def valid_seconds(settings: LedgerSettings | None = None) -> int:
    """How long a credited point lives, from the setting LEDGER_ACCOUNTS_POINTS_VALID_DAYS; InputError
    (one line) for more than 10 years or less than a day."""
    days = (settings or LedgerSettings()).points_valid_days
    if days > MAX_VALID_DAYS:
        raise InputError(
            f"LEDGER_ACCOUNTS_POINTS_VALID_DAYS={days} is more than 10 years ({MAX_VALID_DAYS} days), the "
            "Shenzhen maximum (深环规〔2022〕5号); set it to 3652 or less"
        )
    if days < 1:
        raise InputError(f"LEDGER_ACCOUNTS_POINTS_VALID_DAYS={days}: points must live at least 1 day; set 1 to 3652")
    return days * DAY


def expiry_for(credited_at: int, settings: LedgerSettings | None = None) -> int:
    """When points credited at `credited_at` lapse (the Posting's expires_at of a credit)."""
    return credited_at + valid_seconds(settings)


def person(account_id: str) -> str:
    """The ledger account of a person's account id ("acc_…" → "person:acc_…")."""
    return account_id if account_id.startswith("person:") else f"person:{account_id}"


@dataclass(frozen=True)
class Posting:
    account: str  # "person:<account id>", "source:<source id>", "merchant:<source id>", "expired"
    amount: int  # points, signed
    expires_at: int | None = None  # on a person's credit
    ref: str | None = None  # what this posting is about, where not the transaction's `ref`: a batch of
    # credits is one transaction whose person postings each name their behaviour record


def post(conn: Connection, txn: str, kind: str, ref: str, postings: list[Posting], now: int) -> None:
    """Append one transaction inside the caller's database transaction. `txn` names it once: the
    caller derives it from what it is about, so a retried operation cannot post twice (the caller
    checks first; the ledger itself is append-only and never updates an amount).

    A person may only be credited here, with an expiry: debits of a person go through the functions
    that spend lots (accounts.rights.redeem, `correct`, `expire_due`), so no caller can move or
    cancel a person's points around them."""
    _check(txn, kind, postings)
    for p in postings:
        if p.account.startswith("person:") and (p.amount < 0 or (p.amount > 0 and p.expires_at is None)):
            raise UnbalancedError(f"transaction {txn}: a person is credited here with expires_at, never debited")
        if p.expires_at is not None and (
            isinstance(p.expires_at, bool)
            or not isinstance(p.expires_at, int)
            or p.expires_at > now + MAX_VALID_DAYS * DAY
        ):
            raise UnbalancedError(
                f"transaction {txn}: expires_at {p.expires_at!r} is more than 10 years ({MAX_VALID_DAYS} days) after "
                f"{now}, the Shenzhen maximum (深环规〔2022〕5号); use expiry_for"
            )
    _append(conn, txn, kind, ref, postings, now)


def _check(txn: str, kind: str, postings: list[Posting]) -> None:
    if kind not in KINDS:
        raise UnbalancedError(f"transaction {txn}: kind {kind!r} is not one of {', '.join(KINDS)}")
    for p in postings:
        if isinstance(p.amount, bool) or not isinstance(p.amount, int) or abs(p.amount) > MAX_POSTING:
            raise UnbalancedError(
                f"transaction {txn}: a posting is a whole number of points up to {MAX_POSTING:,}, not {p.amount!r}"
            )
    if len(postings) < 2 or sum(p.amount for p in postings) != 0:
        raise UnbalancedError(f"transaction {txn} does not balance: {[p.amount for p in postings]}")


def _append(conn: Connection, txn: str, kind: str, ref: str, postings: list[Posting], now: int) -> None:
    """The entries, and a lot for each positive posting to a person (it carries an expiry)."""
    rows = [
        {
            "txn": txn,
            "account": p.account,
            "amount": p.amount,
            "kind": kind,
            "ref": ref if p.ref is None else p.ref,
            "created_at": now,
            "expires_at": p.expires_at,
        }
        for p in postings
    ]
    lots = [p for p in postings if p.account.startswith("person:") and p.amount > 0]
    if not lots:
        conn.execute(insert(PointsEntry), rows)
        return
    ids = conn.execute(insert(ENTRIES).returning(ENTRIES.c.id, sort_by_parameter_order=True), rows).scalars().all()
    conn.execute(
        insert(LOTS),
        [
            {"entry_id": i, "account": p.account, "expires_at": p.expires_at, "remaining": p.amount}
            for i, p in zip(ids, postings, strict=True)
            if p.account.startswith("person:") and p.amount > 0
        ],
    )


def write_lock(conn: Connection) -> None:
    """On SQLite, take the database's write lock before a transaction's first read. pysqlite opens
    its transaction at the first INSERT/UPDATE/DELETE, so a function that reads and then writes
    read outside its transaction, and two at once both acted on what they read (a redemption
    reversed 8 times, a lot spent below zero, a lot expired by every sweep). A write that changes
    nothing opens the transaction and takes the lock (waiting for another writer up to the busy
    timeout), so what follows reads the last commit. PostgreSQL locks the rows instead (FOR UPDATE)."""
    if conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE points_lots SET remaining = remaining WHERE 0"))


# --- balances and spending -------------------------------------------------------------------


def _live_lots(conn: Connection, account: str, now: int, *, lock: bool) -> list[Any]:
    """The person's lots with points left that have not lapsed at `now`, oldest expiry first."""
    q = (
        select(LOTS.c.entry_id, LOTS.c.expires_at, LOTS.c.remaining)
        .where(LOTS.c.account == account, LOTS.c.remaining > 0, LOTS.c.expires_at > now)
        .order_by(LOTS.c.expires_at, LOTS.c.entry_id)
    )
    return list(conn.execute(q.with_for_update() if lock else q).all())


def balance_in(conn: Connection, account: str, now: int) -> int:
    """The balance of a ledger account at `now`: for a person the live lots (lapsed points never
    count), for any other account the sum of its entries."""
    if account.startswith("person:"):
        q = select(func.coalesce(func.sum(LOTS.c.remaining), 0)).where(
            LOTS.c.account == account, LOTS.c.remaining > 0, LOTS.c.expires_at > now
        )
    else:
        q = select(func.coalesce(func.sum(ENTRIES.c.amount), 0)).where(ENTRIES.c.account == account)
    return int(conn.execute(q).scalar_one())


def balance(engine: Engine, account_id: str, now: int) -> int:
    """A person's points at `now` (an account id, or any ledger account string)."""
    with engine.connect() as conn:
        return balance_in(conn, person(account_id) if account_id.startswith("acc_") else account_id, now)


@dataclass(frozen=True)
class Taken:
    lot_id: int
    expires_at: int
    amount: int


def spend(conn: Connection, account: str, amount: int, txn: str, now: int) -> list[Taken]:
    """Take `amount` points from the person's live lots, oldest expiry first (ties: oldest lot),
    inside the caller's transaction, recording each take under `txn`. The lots are locked (PostgreSQL
    FOR UPDATE) so two debits of one person never both count the same points; InsufficientPointsError
    names the balance and takes nothing. The caller posts the matching entries."""
    lots = _live_lots(conn, account, now, lock=True)
    held = sum(r.remaining for r in lots)
    if held < amount:
        raise InsufficientPointsError(account, held, amount)
    taken: list[Taken] = []
    left = amount
    for r in lots:
        if left == 0:
            break
        t = min(left, r.remaining)
        taken.append(Taken(r.entry_id, r.expires_at, t))
        left -= t
    _record(conn, txn, taken)
    return taken


def _record(conn: Connection, txn: str, taken: list[Taken]) -> None:
    if not taken:
        return
    conn.execute(
        update(LOTS).where(LOTS.c.entry_id == bindparam("lot")).values(remaining=LOTS.c.remaining - bindparam("take")),
        [{"lot": t.lot_id, "take": t.amount} for t in taken],
    )
    conn.execute(insert(SPENDS), [{"txn": txn, "lot_id": t.lot_id, "amount": t.amount} for t in taken])


def debit(
    conn: Connection, *, account: str, to: str, amount: int, txn: str, kind: str, ref: str, now: int
) -> list[Taken]:
    """Spend `amount` of a person's points to the account `to` as one transaction: one negative
    posting per lot taken, carrying that lot's expiry, so the entries alone show which points went."""
    taken = spend(conn, account, amount, txn, now)
    postings = [Posting(account, -t.amount, t.expires_at) for t in taken] + [Posting(to, amount)]
    _check(txn, kind, postings)
    _append(conn, txn, kind, ref, postings, now)
    return taken


# --- expiry -----------------------------------------------------------------------------------


def expire_due(engine: Engine, now: int) -> int:
    """Write an "expire" transaction (person → "expired", txn "expire:<lot entry id>") for the
    remainder of every lot lapsed at `now`. Idempotent: a swept lot has nothing left, so a second
    sweep finds nothing; concurrent sweeps skip each other's locked lots. Returns lots expired."""
    done = 0
    while True:
        with engine.begin() as conn:
            write_lock(conn)
            q = (
                select(LOTS.c.entry_id, LOTS.c.account, LOTS.c.expires_at, LOTS.c.remaining)
                .where(LOTS.c.remaining > 0, LOTS.c.expires_at <= now)
                .order_by(LOTS.c.expires_at, LOTS.c.entry_id)
                .limit(_SWEEP_CHUNK)
            )
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            due = conn.execute(q).all()
            for r in due:
                txn = f"expire:{r.entry_id}"
                _record(conn, txn, [Taken(r.entry_id, r.expires_at, r.remaining)])
                postings = [Posting(r.account, -r.remaining, r.expires_at), Posting(EXPIRED, r.remaining)]
                _append(conn, txn, "expire", str(r.entry_id), postings, now)
        done += len(due)
        if len(due) < _SWEEP_CHUNK:
            return done


# --- corrections ------------------------------------------------------------------------------


def correct(engine: Engine, account_id: str, amount: int, reason: str, now: int) -> str:
    """An operator's correction of a person's points: a new "correct" transaction against the
    "operator" account, never an update. A positive correction is a new lot that lapses like a
    credit made now; a negative one takes lots oldest expiry first and never below zero. Returns
    the transaction's name."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0 or abs(amount) > 10**12:
        raise InputError("a correction is a non-zero whole number of points (negative to take points away)")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 200 or not reason.isprintable():
        raise InputError("a correction needs a reason of 1 to 200 printable characters (no personal data)")
    if (
        not isinstance(account_id, str)
        or not account_id.startswith("acc_")
        or len(account_id) > 64
        or not account_id.isprintable()
    ):
        raise InputError("account is an id acc_… of printable characters")
    account = person(account_id)
    txn = f"correct:{secrets.token_hex(8)}"
    with engine.begin() as conn:
        write_lock(conn)
        # a typo must not mint points into a lot nobody holds
        if conn.execute(select(ACCOUNTS.c.id).where(ACCOUNTS.c.id == account_id)).first() is None:
            raise NotFoundError(f"no account {account_id}; check the id (ledger accounts statement shows it)")
        if amount > 0:
            postings = [Posting(OPERATOR, -amount), Posting(account, amount, expiry_for(now))]
            _append(conn, txn, "correct", reason.strip(), postings, now)
        else:
            debit(
                conn, account=account, to=OPERATOR, amount=-amount, txn=txn, kind="correct", ref=reason.strip(), now=now
            )
    return txn


# --- statements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementEntry:
    id: int
    txn: str
    kind: str
    ref: str
    amount: int
    created_at: int
    expires_at: int | None


@dataclass(frozen=True)
class Statement:
    account: str  # the ledger account, e.g. "person:acc_…"
    balance: int  # at `now`
    next_lapse_amount: int  # points lapsing soonest (0: none)
    next_lapse_at: int | None  # when they lapse
    entries: list[StatementEntry]  # newest first
    next_before: int | None  # pass as `before` for the next (older) page; None: no more


def statement(engine: Engine, account_id: str, now: int, limit: int = 50, before: int | None = None) -> Statement:
    """A person's (or any ledger account's) balance at `now`, the points lapsing soonest, and a page
    of entries newest first. `before` is the keyset cursor: entries with id < before. Three index
    reads, none proportional to the account's history: the live lots ((account, expires_at) where
    remaining > 0) and one page of (account, id)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit is 1 to {MAX_PAGE} entries")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int) or not 1 <= before <= MAX_ID):
        raise InputError("before is an entry id from the previous page's next_before")
    if not isinstance(account_id, str) or not 0 < len(account_id) <= 80 or not account_id.isprintable():
        raise InputError("account is a ledger account or an id acc_… of printable characters")
    account = person(account_id) if account_id.startswith("acc_") else account_id
    with read_snapshot(engine) as conn:  # the balance and the page from one moment
        bal = balance_in(conn, account, now)
        lapse = conn.execute(
            select(LOTS.c.expires_at, func.sum(LOTS.c.remaining))
            .where(LOTS.c.account == account, LOTS.c.remaining > 0, LOTS.c.expires_at > now)
            .group_by(LOTS.c.expires_at)
            .order_by(LOTS.c.expires_at)
            .limit(1)
        ).first()
        q = select(ENTRIES).where(ENTRIES.c.account == account)
        if before is not None:
            q = q.where(ENTRIES.c.id < before)
        rows = conn.execute(q.order_by(ENTRIES.c.id.desc()).limit(limit + 1)).all()
    entries = [StatementEntry(r.id, r.txn, r.kind, r.ref, r.amount, r.created_at, r.expires_at) for r in rows[:limit]]
    return Statement(
        account=account,
        balance=bal,
        next_lapse_amount=int(lapse[1]) if lapse else 0,
        next_lapse_at=int(lapse[0]) if lapse else None,
        entries=entries,
        next_before=entries[-1].id if len(rows) > limit else None,
    )


# --- audit ------------------------------------------------------------------------------------


def audit(engine: Engine) -> list[str]:
    """Recompute what the ledger derives and check its rules; one line per problem, [] if none:
    every transaction sums to zero; only the five kinds; every lot's remainder = its entry's amount
    minus what spends took, on its entry's person; no lot without a person credit behind it; a credit
    credits a behaviour record (its ref) to a person once; each debit's spends equal its person postings; no remainder below zero;
    each redemption paid its merchant its points once, and was given back iff it says reversed."""
    problems: list[str] = []
    with read_snapshot(engine) as conn:  # every check on one moment: a live ingest makes no false alarm
        for txn, total in conn.execute(
            select(ENTRIES.c.txn, func.sum(ENTRIES.c.amount))
            .group_by(ENTRIES.c.txn)
            .having(func.sum(ENTRIES.c.amount) != 0)
        ):
            problems.append(f"transaction {txn} sums to {total}, not 0")
        for (kind,) in conn.execute(select(ENTRIES.c.kind).where(ENTRIES.c.kind.not_in(KINDS)).distinct()):
            problems.append(f"entries of unknown kind {kind!r}")
        taken = select(SPENDS.c.lot_id, func.sum(SPENDS.c.amount).label("taken")).group_by(SPENDS.c.lot_id).subquery()
        lots = conn.execute(
            select(
                ENTRIES.c.id,
                ENTRIES.c.amount,
                ENTRIES.c.expires_at,
                LOTS.c.entry_id,
                LOTS.c.remaining,
                LOTS.c.expires_at.label("lot_expires"),
                LOTS.c.account.label("lot_account"),
                ENTRIES.c.account,
                taken.c.taken,
            )
            .select_from(
                ENTRIES.outerjoin(LOTS, LOTS.c.entry_id == ENTRIES.c.id).outerjoin(
                    taken, taken.c.lot_id == ENTRIES.c.id
                )
            )
            .where(ENTRIES.c.account.like("person:%"), ENTRIES.c.amount > 0)
        ).all()
        for r in lots:
            expected = r.amount - (r.taken or 0)
            if r.entry_id is None:
                problems.append(f"entry {r.id} credits a person but has no lot")
            elif r.remaining != expected or r.lot_expires != r.expires_at:
                problems.append(
                    f"lot {r.id} holds {r.remaining} (expires {r.lot_expires}); its entries give {expected} (expires {r.expires_at})"
                )
            if r.entry_id is not None and r.lot_account != r.account:
                problems.append(f"lot {r.id} belongs to {r.lot_account}; its entry credits {r.account}")
            if expected < 0:
                problems.append(f"lot {r.id} was spent below zero ({expected})")
        # the lots a balance reads but the walk above cannot reach: forged, or on another entry
        for (lot_id,) in conn.execute(
            select(LOTS.c.entry_id)
            .select_from(LOTS.outerjoin(ENTRIES, ENTRIES.c.id == LOTS.c.entry_id))
            .where(or_(ENTRIES.c.id.is_(None), ENTRIES.c.amount <= 0, ENTRIES.c.account.not_like("person:%")))
        ):
            problems.append(f"lot {lot_id} has no positive entry of its person behind it")
        # a behaviour earns once: each person credit names its behaviour record (`ref`), and post
        # leaves the retry check to its caller, so a caller that posted a credit twice wrote
        # balanced transactions only this count shows
        for ref, n in conn.execute(
            select(ENTRIES.c.ref, func.count())
            .where(ENTRIES.c.kind == "credit", ENTRIES.c.account.like("person:%"))
            .group_by(ENTRIES.c.ref)
            .having(func.count() > 1)
        ):
            problems.append(f"{ref} is credited to a person {n} times; a behaviour earns once")
        debits = (
            select(ENTRIES.c.txn, (-func.sum(ENTRIES.c.amount)).label("out"))
            .where(ENTRIES.c.account.like("person:%"), ENTRIES.c.amount < 0)
            .group_by(ENTRIES.c.txn)
            .subquery()
        )
        spent = select(SPENDS.c.txn, func.sum(SPENDS.c.amount).label("took")).group_by(SPENDS.c.txn).subquery()
        for d in conn.execute(
            select(debits.c.txn, debits.c.out, spent.c.took)
            .select_from(debits.outerjoin(spent, spent.c.txn == debits.c.txn))
            .where(func.coalesce(spent.c.took, 0) != debits.c.out)
        ):
            problems.append(f"transaction {d.txn} debits persons {d.out} points but its spends took {d.took or 0}")
        problems += _audit_redemptions(conn)
    return problems


def _audit_redemptions(conn: Connection) -> list[str]:
    """Each redemption row against its transactions (entries' ref is the redemption id): the
    merchant was paid its points once, and given them back if and only if it says reversed."""
    problems: list[str] = []
    paid = (
        select(ENTRIES.c.ref, func.sum(ENTRIES.c.amount).label("paid"))
        .where(ENTRIES.c.kind == "redeem", ENTRIES.c.account.like("merchant:%"))
        .group_by(ENTRIES.c.ref)
        .subquery()
    )
    back = (
        select(ENTRIES.c.ref, func.sum(ENTRIES.c.amount).label("back"))
        .where(ENTRIES.c.kind == "reverse", ENTRIES.c.account.like("person:%"))
        .group_by(ENTRIES.c.ref)
        .subquery()
    )
    for r in conn.execute(
        select(REDEMPTIONS.c.id, REDEMPTIONS.c.points, REDEMPTIONS.c.reversed_at, paid.c.paid, back.c.back)
        .select_from(
            REDEMPTIONS.outerjoin(paid, paid.c.ref == REDEMPTIONS.c.id).outerjoin(back, back.c.ref == REDEMPTIONS.c.id)
        )
        .where(
            or_(
                func.coalesce(paid.c.paid, 0) != REDEMPTIONS.c.points,
                func.coalesce(back.c.back, 0)
                != case((REDEMPTIONS.c.reversed_at.is_(None), 0), else_=REDEMPTIONS.c.points),
            )
        )
    ):
        if (r.paid or 0) != r.points:
            problems.append(
                f"redemption {r.id} says {r.points} points; its transaction redeem:{r.id} paid the merchant {r.paid or 0}"
            )
        if (r.back or 0) != (0 if r.reversed_at is None else r.points):
            said = "not reversed" if r.reversed_at is None else "reversed"
            problems.append(f"redemption {r.id} says {said}; its transaction reverse:{r.id} gave back {r.back or 0}")
    for (ref,) in conn.execute(
        select(paid.c.ref).where(~select(REDEMPTIONS.c.id).where(REDEMPTIONS.c.id == paid.c.ref).exists())
    ):
        problems.append(f"transaction redeem:{ref} has no redemption row (its idempotency key would redeem again)")
    return problems
