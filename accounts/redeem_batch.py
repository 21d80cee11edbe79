"""Group commit for redemptions: many in one database transaction, each still exactly once per
(source, idempotency key), never beyond a right's stock nor a person's points, each with its own
outcome (one refused redemption never fails the others), and `RedemptionBatcher`, which an API
worker puts its concurrent requests through so they share one commit.

Why: a redemption is a few hundred microseconds of work, but each commit waits for a WAL flush
(about 7 ms on the development machine). `rights.redeem` pays one commit per redemption;
`redeem_many` pays one per batch, and on PostgreSQL does the work in two statements.

How, in one transaction (on SQLite after `ledger.write_lock`: one writer, the same steps):
1. claim the keys: one INSERT … ON CONFLICT DO NOTHING of every request whose right is active and
   account live, in (source, key) order; a key claimed or being claimed by another transaction is
   a replay (or waits for that transaction, as `rights.redeem` does);
2. lock the asked persons' live lots (FOR UPDATE, ordered by account, expiry, lot) and then the
   asked rights (FOR UPDATE, ordered by id): the lock order of `rights.redeem` (key, lots, right),
   so batches, single redemptions, corrections and reversals never wait on each other in a circle;
3. decide in request order, in Python, against the locked stock and lots: withdrawn, out of stock,
   too few points (with the balance), or taken (the lots oldest expiry first, as `ledger.spend`);
4. write: the refused claims deleted (the key stays usable, as after a refused `rights.redeem`),
   the stock, the lots, the spends and the entries (PostgreSQL: one statement; SQLite: one a table).
The answer comes back only after the commit, so nothing acknowledged can be lost."""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from accounts import ledger, rights
from accounts.errors import AccountsError, ConflictError, InputError
from accounts.ledger_models import ENTRIES, LOTS, REDEMPTIONS, RIGHTS, SPENDS
from accounts.models import ACCOUNTS

MAX_BATCH = 1_000  # requests per transaction: bounded locks held and statement sizes


@dataclass(frozen=True)
class RedeemRequest:
    source_id: str  # the app redeeming on the person's behalf (its scope checked at the edge)
    account_id: str
    right_id: int
    idempotency_key: str
    now: int


Outcome = rights.RedemptionInfo | AccountsError  # the redemption, or the refusal `rights.redeem` would raise


def redeem_many(engine: Engine, requests: Sequence[RedeemRequest]) -> list[Outcome]:
    """Apply the requests in one transaction; one outcome per request, in order. A request's
    outcome is what `rights.redeem` would have answered had the requests come one after another in
    this order; the same key twice in one batch is one redemption (the second answers replayed)."""
    if len(requests) > MAX_BATCH:
        raise InputError(f"a batch of redemptions holds at most {MAX_BATCH}, this one {len(requests)}; split it")
    outcomes: list[Outcome | None] = [None] * len(requests)
    first: dict[tuple[str, str], int] = {}
    todo: list[int] = []
    for i, q in enumerate(requests):
        try:
            rights._check_request(q.account_id, q.right_id, q.idempotency_key)
        except InputError as refused:
            outcomes[i] = refused
            continue
        if (q.source_id, q.idempotency_key) not in first:
            first[(q.source_id, q.idempotency_key)] = i
            todo.append(i)
    if todo:
        with engine.begin() as conn:
            ledger.write_lock(conn)
            _apply(conn, requests, todo, outcomes)
    for i, q in enumerate(requests):
        if outcomes[i] is None:  # a repeat of a key earlier in this batch
            j = first[(q.source_id, q.idempotency_key)]
            outcomes[i] = _repeat(requests[j], outcomes[j], q)
    return [o for o in outcomes if o is not None]


def _repeat(earlier: RedeemRequest, outcome: Outcome | None, q: RedeemRequest) -> Outcome:
    assert outcome is not None  # decided in _apply
    if isinstance(outcome, rights.RedemptionInfo):
        if (earlier.account_id, earlier.right_id) != (q.account_id, q.right_id):
            return ConflictError(
                f"idempotency key {q.idempotency_key!r} was used for another redemption ({outcome.id}); "
                "use a new key for a new redemption"
            )
        return dataclasses.replace(outcome, replayed=True)
    return outcome


def _apply(
    conn: Connection, requests: Sequence[RedeemRequest], todo: list[int], outcomes: list[Outcome | None]
) -> None:
    pg = conn.dialect.name == "postgresql"
    # 1. the claims, in (source, key) order so that two batches sharing keys take them in one order
    ordered = sorted(todo, key=lambda i: (requests[i].source_id, requests[i].idempotency_key))
    if pg:
        claimed, lots, found = _claim_pg(conn, requests, ordered)
    else:
        claimed = _claim_steps(conn, requests, ordered)
    for i in todo:  # not claimed: a replay, or the refusal rights.redeem names
        if i not in claimed:
            q = requests[i]
            try:
                outcomes[i] = rights._why_not(conn, q.source_id, q.idempotency_key, q.account_id, q.right_id)
            except AccountsError as refused:
                outcomes[i] = refused
    if claimed:
        if not pg:  # 2. the lots, then the rights (SQLite: under the write lock)
            lots, found = _lock(conn, requests, sorted(claimed))
        _take(conn, requests, claimed, lots, found, outcomes)


# On PostgreSQL each step is one statement whose rows travel as one JSON or array parameter: a
# batch costs five round trips and a commit, and the SQL text stays small (psycopg parses a
# statement's text on every call; a 700-parameter VALUES list cost more than the work it carried).
_CLAIM_PG = text("""
WITH claim AS (
    INSERT INTO redemptions (id, source_id, idempotency_key, account_id, right_id, points, created_at)
    SELECT x.id, x.source_id, x.idempotency_key, x.account_id, r.id, r.price, x.created_at
    FROM json_to_recordset(CAST(:rows AS json))
         AS x(n int, id text, source_id text, idempotency_key text, account_id text, right_id bigint, created_at bigint)
    JOIN rights r ON r.id = x.right_id AND r.active
    WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = x.account_id AND a.deleted_at IS NULL)
    ORDER BY x.n
    ON CONFLICT (source_id, idempotency_key) DO NOTHING
    RETURNING id, points, account_id, right_id
), lots AS MATERIALIZED (
    SELECT entry_id, account, expires_at, remaining FROM points_lots
    WHERE account = ANY(CAST(:persons AS text[])) AND remaining > 0 AND expires_at > CAST(:now AS bigint)
      AND EXISTS (SELECT 1 FROM claim)
    ORDER BY account, expires_at, entry_id
    FOR UPDATE
), locked AS MATERIALIZED (
    SELECT id, stock, active, merchant_id FROM rights
    WHERE id = ANY(CAST(:rights AS bigint[])) AND EXISTS (SELECT 1 FROM claim)
    ORDER BY id
    FOR UPDATE
)
SELECT 'claim' AS what, id AS red_id, points AS a, NULL::bigint AS b, NULL::bigint AS c, NULL::text AS s,
       NULL::boolean AS active FROM claim
UNION ALL
SELECT 'lot', NULL, entry_id, expires_at, remaining, account, NULL FROM lots
UNION ALL
SELECT 'right', NULL, id, stock, NULL, merchant_id, active FROM locked
""")


@dataclass(frozen=True)
class _Lot:
    entry_id: int
    account: str
    expires_at: int
    remaining: int


@dataclass(frozen=True)
class _Right:
    id: int
    stock: int
    active: bool
    merchant_id: str


def _claim_pg(
    conn: Connection, requests: Sequence[RedeemRequest], ordered: list[int]
) -> tuple[dict[int, tuple[str, int]], list[Any], list[Any]]:
    """The claims, then the asked persons' live lots, then the asked rights, locked in that order
    (rights.redeem's) by one statement: UNION ALL runs its branches in turn, and each CTE runs to its
    end when first read, so the claim is done before the lots are locked and the lots before the rights."""
    by_id: dict[str, int] = {}
    rows = []
    for n, i in enumerate(ordered):
        q, red_id = requests[i], rights._new_id()
        by_id[red_id] = i
        rows.append(
            {
                "n": n,
                "id": red_id,
                "source_id": q.source_id,
                "idempotency_key": q.idempotency_key,
                "account_id": q.account_id,
                "right_id": q.right_id,
                "created_at": q.now,
            }
        )
    now = min(requests[i].now for i in ordered)
    claimed: dict[int, tuple[str, int]] = {}
    lots: list[Any] = []
    found: list[Any] = []
    # every asked person and right, not only the claimed ones (the claim's rows are unknown to the
    # planner, which then scanned every lot): locking a replay's lots too costs nothing but the wait
    persons = sorted({ledger.person(requests[i].account_id) for i in ordered})
    right_ids = sorted({requests[i].right_id for i in ordered})
    params = {"rows": json.dumps(rows), "now": now, "persons": persons, "rights": right_ids}
    for r in conn.execute(_CLAIM_PG, params):
        if r.what == "claim":
            claimed[by_id[r.red_id]] = (r.red_id, int(r.a))
        elif r.what == "lot":
            lots.append(_Lot(r.a, r.s, r.b, r.c))
        else:
            found.append(_Right(r.a, r.b, bool(r.active), r.s))
    return claimed, lots, found


def _claim_steps(conn: Connection, requests: Sequence[RedeemRequest], ordered: list[int]) -> dict[int, tuple[str, int]]:
    """SQLite: the same claim, the right's price and the account read first (the write lock is held)."""
    asked = [requests[i] for i in ordered]
    price = {
        r.id: int(r.price)
        for r in conn.execute(
            select(RIGHTS.c.id, RIGHTS.c.price).where(
                RIGHTS.c.id.in_({q.right_id for q in asked}), RIGHTS.c.active.is_(True)
            )
        )
    }
    live = set(
        conn.execute(
            select(ACCOUNTS.c.id).where(
                ACCOUNTS.c.id.in_({q.account_id for q in asked}), ACCOUNTS.c.deleted_at.is_(None)
            )
        ).scalars()
    )
    by_id: dict[str, int] = {}
    rows = []
    for i in ordered:
        q = requests[i]
        if q.right_id in price and q.account_id in live:
            red_id = rights._new_id()
            by_id[red_id] = i
            rows.append(
                {
                    "id": red_id,
                    "source_id": q.source_id,
                    "idempotency_key": q.idempotency_key,
                    "account_id": q.account_id,
                    "right_id": q.right_id,
                    "points": price[q.right_id],
                    "created_at": q.now,
                }
            )
    if not rows:
        return {}
    stmt = (
        sqlite_insert(REDEMPTIONS)
        .on_conflict_do_nothing(index_elements=["source_id", "idempotency_key"])
        .returning(REDEMPTIONS.c.id)
    )
    return {by_id[r]: (r, price[requests[by_id[r]].right_id]) for r in conn.execute(stmt, rows).scalars()}


def _lock(conn: Connection, requests: Sequence[RedeemRequest], order: list[int]) -> tuple[list[Any], list[Any]]:
    """SQLite: the claimed persons' live lots and the claimed rights (the write lock is held)."""
    persons = sorted({ledger.person(requests[i].account_id) for i in order})
    now = min(requests[i].now for i in order)
    lots = conn.execute(
        select(LOTS.c.entry_id, LOTS.c.account, LOTS.c.expires_at, LOTS.c.remaining)
        .where(LOTS.c.account.in_(persons), LOTS.c.remaining > 0, LOTS.c.expires_at > now)
        .order_by(LOTS.c.account, LOTS.c.expires_at, LOTS.c.entry_id)
    ).all()
    found = conn.execute(
        select(RIGHTS.c.id, RIGHTS.c.stock, RIGHTS.c.active, RIGHTS.c.merchant_id).where(
            RIGHTS.c.id.in_({requests[i].right_id for i in order})
        )
    ).all()
    return list(lots), list(found)


def _take(
    conn: Connection,
    requests: Sequence[RedeemRequest],
    claimed: dict[int, tuple[str, int]],
    found_lots: list[Any],
    found_rights: list[Any],
    outcomes: list[Outcome | None],
) -> None:
    order = sorted(claimed)  # request order: the first asked is the first served
    lots: dict[str, list[list[int]]] = defaultdict(list)  # person → [lot id, expires_at, remaining], FIFO order
    for r in found_lots:
        lots[r.account].append([r.entry_id, r.expires_at, r.remaining])
    right = {r.id: r for r in found_rights}
    stock = {k: int(r.stock) for k, r in right.items()}
    # 3. the decisions, in request order
    w = _Writes()
    for i in order:
        q, (red_id, cost) = requests[i], claimed[i]
        r = right[q.right_id]
        account = ledger.person(q.account_id)
        if not r.active:  # withdrawn after the claim read it
            outcomes[i] = ConflictError(f"right {q.right_id} is withdrawn; choose another right")
        elif stock[q.right_id] <= 0:
            outcomes[i] = ConflictError(
                f"right {q.right_id} is out of stock; choose another right or try when the merchant restocks"
            )
        else:
            mine = [lot for lot in lots[account] if lot[2] > 0 and lot[1] > q.now]
            held = sum(lot[2] for lot in mine)
            if held < cost:
                outcomes[i] = ledger.InsufficientPointsError(account, held, cost)
            else:
                w.redeem(q, red_id, cost, account, f"merchant:{r.merchant_id}", mine)
                stock[q.right_id] -= 1
                outcomes[i] = rights.RedemptionInfo(
                    red_id, q.source_id, q.idempotency_key, q.account_id, q.right_id, cost, q.now, None
                )
                continue
        w.refused.append(red_id)
    # 4. the writes
    if conn.dialect.name == "postgresql":
        w.write_pg(conn)
    else:
        w.write_steps(conn)


class _Writes:
    """What a batch writes, gathered while deciding, then written one statement per table."""

    def __init__(self) -> None:
        self.refused: list[str] = []
        self.units: dict[int, list[int]] = {}  # right → [units taken, latest now]
        self.took: dict[int, int] = defaultdict(int)  # lot → points taken by this batch
        self.spends: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []

    def redeem(
        self, q: RedeemRequest, red_id: str, cost: int, account: str, merchant: str, mine: list[list[int]]
    ) -> None:
        """Take `cost` from the person's live lots oldest expiry first (as ledger.spend) and record it."""
        txn, left = f"redeem:{red_id}", cost
        postings: list[ledger.Posting] = []
        for lot in mine:
            if left == 0:
                break
            t = min(left, lot[2])
            lot[2] -= t
            left -= t
            self.took[lot[0]] += t
            self.spends.append({"txn": txn, "lot_id": lot[0], "amount": t})
            postings.append(ledger.Posting(account, -t, lot[1]))
        postings.append(ledger.Posting(merchant, cost))
        ledger._check(txn, "redeem", postings)
        for p in postings:
            self.entries.append(
                {
                    "n": len(self.entries),
                    "txn": txn,
                    "account": p.account,
                    "amount": p.amount,
                    "kind": "redeem",
                    "ref": red_id,
                    "created_at": q.now,
                    "expires_at": p.expires_at,
                }
            )
        units = self.units.setdefault(q.right_id, [0, q.now])
        units[0] += 1
        units[1] = max(units[1], q.now)

    def write_pg(self, conn: Connection) -> None:
        conn.execute(
            _WRITE_PG,
            {
                "refused": self.refused,
                "units": json.dumps([{"id": k, "units": n, "at": at} for k, (n, at) in self.units.items()]),
                "took": json.dumps([{"lot": k, "take": n} for k, n in self.took.items()]),
                "spends": json.dumps(self.spends),
                "entries": json.dumps(self.entries),
            },
        )

    def write_steps(self, conn: Connection) -> None:
        if self.refused:
            conn.execute(delete(REDEMPTIONS).where(REDEMPTIONS.c.id.in_(self.refused)))
        if not self.units:
            return
        conn.execute(
            update(RIGHTS)
            .where(RIGHTS.c.id == bindparam("rid"))
            .values(stock=RIGHTS.c.stock - bindparam("n"), updated_at=bindparam("at")),
            [{"rid": k, "n": n, "at": at} for k, (n, at) in self.units.items()],
        )
        conn.execute(
            update(LOTS)
            .where(LOTS.c.entry_id == bindparam("lot"))
            .values(remaining=LOTS.c.remaining - bindparam("take")),
            [{"lot": k, "take": n} for k, n in self.took.items()],
        )
        conn.execute(insert(SPENDS), self.spends)
        conn.execute(insert(ENTRIES), [{k: v for k, v in e.items() if k != "n"} for e in self.entries])


# the refused claims deleted (their keys usable again), then the stock, the lots, the spends and the
# entries (in the order decided, so a transaction's postings are adjacent in the points log)
_WRITE_PG = text("""
WITH refused AS (
    DELETE FROM redemptions WHERE id = ANY(CAST(:refused AS text[]))
), stock AS (
    UPDATE rights r SET stock = r.stock - u.units, updated_at = u.at
    FROM json_to_recordset(CAST(:units AS json)) AS u(id bigint, units bigint, at bigint) WHERE r.id = u.id
), lots AS (
    UPDATE points_lots p SET remaining = p.remaining - t.take
    FROM json_to_recordset(CAST(:took AS json)) AS t(lot bigint, take bigint) WHERE p.entry_id = t.lot
), spends AS (
    INSERT INTO points_spends (txn, lot_id, amount)
    SELECT txn, lot_id, amount FROM json_to_recordset(CAST(:spends AS json)) AS s(txn text, lot_id bigint, amount bigint)
)
INSERT INTO points_entries (txn, account, amount, kind, ref, created_at, expires_at)
SELECT txn, account, amount, kind, ref, created_at, expires_at
FROM json_to_recordset(CAST(:entries AS json))
     AS e(n int, txn text, account text, amount bigint, kind text, ref text, created_at bigint, expires_at bigint)
ORDER BY n
""")


# --- the batcher ---------------------------------------------------------------------------------


class _Waiting:
    __slots__ = ("done", "outcome", "request")

    def __init__(self, request: RedeemRequest) -> None:
        self.request = request
        self.done = threading.Event()
        self.outcome: Outcome | BaseException | None = None


_RETRIES = 3  # a batch that lost a deadlock or serialization race to another transaction: nothing of it committed
_RETRY_CODES = {"40P01", "40001"}  # PostgreSQL deadlock_detected, serialization_failure


class RedemptionBatcher:
    """Put concurrent redemptions through shared transactions: `redeem` blocks its caller (an API
    worker thread) until the batch holding its request has committed, then answers or raises what
    `rights.redeem` would have. Each of `workers` threads takes every request waiting (up to
    `max_batch`) as one `redeem_many`: no timer, so a lone request goes at once, and under load
    the batches grow by themselves while the previous ones wait for their flush. Several workers
    keep the CPU busy while a batch waits for the disk.

    A batch that fails as a whole (a deadlock against another process's batch, a lost connection)
    is retried whole up to 3 times on a deadlock or serialization failure (nothing of it was
    committed, and the keys make a retry exactly once); any other failure is raised to every
    caller of that batch, none of whose redemptions was applied."""

    def __init__(self, engine: Engine, *, workers: int = 2, max_batch: int = 200) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise InputError(f"max_batch is 1 to {MAX_BATCH}")
        self._engine = engine
        self._max = max_batch
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, daemon=True, name=f"redeem-batch-{k}") for k in range(workers)
        ]
        self._closed = False
        self.batches = 0  # transactions run, and requests they carried: the mean batch for a benchmark
        self.carried = 0
        for t in self._threads:
            t.start()

    def redeem(
        self, source_id: str, account_id: str, right_id: int, idempotency_key: str, now: int
    ) -> rights.RedemptionInfo:
        """As `rights.redeem(engine, source_id, account_id, right_id, idempotency_key, now)`."""
        if self._closed:
            raise RuntimeError("the redemption batcher is closed")
        waiting = _Waiting(RedeemRequest(source_id, account_id, right_id, idempotency_key, now))
        self._queue.put(waiting)
        waiting.done.wait()
        if isinstance(waiting.outcome, BaseException):
            raise waiting.outcome
        assert waiting.outcome is not None
        return waiting.outcome

    def close(self) -> None:
        """Finish what is queued, then stop the workers."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._apply(batch)
            if stop:
                return

    def _apply(self, batch: list[_Waiting]) -> None:
        self.batches += 1
        self.carried += len(batch)
        for attempt in range(_RETRIES + 1):
            try:
                outcomes: list[Outcome] | BaseException = redeem_many(self._engine, [w.request for w in batch])
                break
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code in _RETRY_CODES and attempt < _RETRIES:
                    continue
                outcomes = exc
                break
            except Exception as exc:  # noqa: BLE001  # handed to every caller of the batch, never swallowed
                outcomes = exc
                break
        for k, w in enumerate(batch):
            w.outcome = outcomes if isinstance(outcomes, BaseException) else outcomes[k]
            w.done.set()
