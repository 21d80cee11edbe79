"""Batches of behaviour records from a data source → credited points, one outcome per record.

A record: {"id": the source's own unique id, "account": "acc_…", "type": a methodology type,
"occurred_at": unix seconds or RFC 3339 with offset, "quantity": decimal text or number in the
type's unit, "identity": {the fields the methodology names for the type}}.

Outcomes: credited (points, the ledger transaction, the record key; `capped` when a cap cut it),
duplicate (the same behaviour was credited before, from any source: the Hubei rule; the same key, or
for buckets under a day the same second key, so reports straddling a bucket edge meet), or refused
with a code and a one-line reason (malformed, unknown_type, future, id_reused, unknown_account,
deleted_account, no_consent, cap_reached, below_one_point). A batch of more than MAX_BATCH records
is refused whole (BatchTooLargeError). Every other batch applies each good record exactly once: a
retried batch finds its records by (source, id) and answers the same outcomes, posting nothing new.

Caps are in points per account, per type, per Asia/Shanghai calendar day and calendar year; a record
that would pass a cap is credited up to it (`capped`), and one arriving with nothing left is refused
(cap_reached). Credits post through accounts.ledger: source:<id> −p, person:<account> +p expiring
after `lifetime` seconds: by default LEDGER_ACCOUNTS_POINTS_VALID_DAYS (accounts.ledger.valid_seconds),
at most POINTS_LIFETIME_MAX, Shenzhen's 10-year limit (next_wave.md §2.3).

Concurrency: a batch reads the stored records (by key, second key and the source's ids) without locking,
then adds to each cap counter it may move the most it could move (every candidate credited in
full), counters in sorted order: that locks them until commit and answers their values before the
batch. The batch is decided on those values, which no other batch can change now, and gives back
what the caps left unused. Records are then stored in key order (every batch locks counters, then
records, each in one order: batches queue and do not deadlock on keys; second keys, unique too, are
not in key order, so two batches each storing a report the other straddles can, rarely, and the
detector's retry below settles it); the key is their primary key, so a batch carrying a record
another batch is storing waits for it; the write is then undone to a savepoint, the stored records
read again and the batch decided anew on the counters it holds. A
deadlock or serialisation failure rolls the batch back and recomputes it; after 8 attempts
ConflictError (the batch is safe to resend). One statement per table per batch, no per-record
query (docs/accounts_ingest.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, or_, select
from sqlalchemy.exc import DBAPIError

from accounts import ledger
from accounts.errors import BatchTooLargeError, ConflictError, InputError
from accounts.methodology import CLOCK_SKEW, Behaviour, Methodology, day_of, load
from accounts.models import ACCOUNTS, BEHAVIOUR_RECORDS, CAP_COUNTERS, CONSENTS
from accounts.sources import Principal, require

MAX_BATCH = 1000
POINTS_LIFETIME_MAX = ledger.MAX_VALID_DAYS * ledger.DAY  # Shenzhen 碳普惠管理办法: validity ≤ 10 years
MAX_ID = 100
MAX_FIELD = 200
MAX_QUANTITY = Decimal(10**7)
RECORD_KEYS = frozenset({"id", "account", "type", "occurred_at", "quantity", "identity"})
_ACCOUNT = re.compile(r"acc_[a-z2-7]{26}")
# ASCII digits only: Decimal also reads full-width and other Unicode digits, "_" and whitespace
_DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_FIELD_INT = 10**MAX_FIELD
_RETRIES = 8


@dataclass(frozen=True)
class RecordOutcome:
    index: int  # the record's position in the batch
    id: str | None  # the source's record id, if it had a usable one
    status: str  # credited | duplicate | refused
    points: int = 0
    txn: str | None = None  # the ledger transaction that credited the behaviour
    record: str | None = None  # the behaviour's record key (for a duplicate: the one credited first)
    code: str | None = None  # refused: why, as a code
    reason: str | None = None  # refused: why, one line
    capped: bool = False  # credited fewer points than the behaviour is worth: a cap
    type_version: int | None = None
    illustrative: bool = False  # the factor that converted it has no public source


@dataclass
class _Parsed:
    index: int
    id: str
    account: str
    behaviour: Behaviour
    occurred_at: int
    quantity: Decimal
    key: str
    key2: str | None  # behaviour_keys: None for a bucket of a day or more
    points: int
    day: str = ""  # "d2026-11-30": the Asia/Shanghai day's cap period
    year: str = ""  # "y2026"
    counters: tuple[tuple[str, str, str], ...] = ()  # the cap counter rows it draws on

    @property
    def claims(self) -> tuple[str, ...]:
        """The keys under which another record is the same behaviour (a stored record's key or
        second key: the two are hashes of different texts, so one dict holds both)."""
        return (self.key,) if self.key2 is None else (self.key, self.key2)

    def __post_init__(self) -> None:
        day = day_of(self.occurred_at)
        self.day, self.year = "d" + day, "y" + day[:4]
        b = self.behaviour
        self.counters = tuple(
            (self.account, b.type, period)
            for period, cap in ((self.day, b.daily_cap_points), (self.year, b.yearly_cap_points))
            if cap is not None
        )


def _refused(index: int, rid: str | None, code: str, reason: str, b: Behaviour | None = None) -> RecordOutcome:
    return RecordOutcome(
        index,
        rid,
        "refused",
        code=code,
        reason=reason,
        type_version=b.version if b else None,
        illustrative=b.illustrative if b else False,
    )


def _occurred(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**40 else None
    if isinstance(value, str) and 10 < len(value) <= 40 and "T" in value.upper():
        try:
            when = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            return None
        return int(when.timestamp()) if when.tzinfo is not None and when.year >= 1970 else None
    return None


def _quantity(value: Any) -> Decimal | None:
    # the API reads a JSON number with a fraction as a Decimal (as written, api/routes/accounts_auth.py)
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, str, Decimal))
        or (isinstance(value, str) and len(value) > 40)
    ):
        return None
    if isinstance(value, str) and not _DECIMAL.fullmatch(value):
        return None
    try:
        q = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        return None
    if not q.is_finite() or q <= 0 or q > MAX_QUANTITY or -q.as_tuple().exponent > 6:  # type: ignore[operator]
        return None
    return q


def behaviour_key(account: str, b: Behaviour, fields: dict[str, str], occurred_at: int) -> str:
    """The behaviour's identity: sha256 of canonical JSON of the account, the identity group, the
    group's identity fields and occurred_at rounded to the group's time bucket."""
    return behaviour_keys(account, b, fields, occurred_at)[0]


def behaviour_keys(account: str, b: Behaviour, fields: dict[str, str], occurred_at: int) -> tuple[str, str | None]:
    """The behaviour's key (behaviour_key) and, within a quarter of a bucket of its bucket's edges,
    a second key: the same identity in buckets shifted by half a bucket, with "half": 1 added. Two
    reports of one behaviour less than a quarter of a bucket apart share the key (no edge between
    them) or else both lie that close to the edge between them, in one shifted bucket, and share
    the second key. A bucket of a day or more is a calendar period and has no second key."""
    # chain/canonical.py's bytes for {"account", "at", "fields", "group"[, "half"]} (keys in code-point
    # order, strings and integers only), written out: a tenth of json.dumps(sort_keys=True)'s cost
    q = _quote
    inner = ",".join(f"{q(k)}:{q(fields[k])}" for k in sorted(fields))
    head, tail = f'{{"account":{q(account)},"at":', f',"fields":{{{inner}}},"group":{q(b.identity_group)}'
    width, start = b.time_bucket_s, b.bucket(occurred_at)
    key = hashlib.sha256(f"{head}{start}{tail}}}".encode()).hexdigest()
    # half the records carry one: their write and read cost a unique index entry and a lookup more
    if width >= ledger.DAY or width // 4 <= occurred_at - start < width - width // 4:
        return key, None
    shifted = b.bucket(occurred_at + width // 2)
    return key, hashlib.sha256(f'{head}{shifted}{tail},"half":1}}'.encode()).hexdigest()


_quote = json.encoder.encode_basestring  # JSON string literal, non-ASCII kept (as canonical JSON)


def _parse(index: int, raw: object, methodology: Methodology, now: int) -> _Parsed | RecordOutcome:
    if not isinstance(raw, dict):
        return _refused(
            index, None, "malformed", "a record is an object with id, account, type, occurred_at, quantity, identity"
        )
    rid = raw.get("id")
    if not isinstance(rid, str) or not 0 < len(rid) <= MAX_ID or not rid.isprintable():
        return _refused(
            index, None, "malformed", f"id must be the source's record id, 1 to {MAX_ID} printable characters"
        )
    # a field name that is not text is named by its type: str() of a 5,000-digit int raises
    # and one that is not printable (a lone surrogate cannot even be encoded in the answer) by its repr
    extra = sorted(
        (k if k.isprintable() else ascii(k)) if isinstance(k, str) else f"<{type(k).__name__}>"
        for k in raw
        if k not in RECORD_KEYS
    )
    if extra:
        return _refused(
            index,
            rid,
            "malformed",
            f"unknown field(s) {', '.join(extra)[:100]}; a record has {', '.join(sorted(RECORD_KEYS))}",
        )
    account = raw.get("account")
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        return _refused(index, rid, "malformed", "account must be an account id: acc_ and 26 base32 characters")
    occurred_at = _occurred(raw.get("occurred_at"))
    if occurred_at is None:
        return _refused(index, rid, "malformed", "occurred_at must be unix seconds or an RFC 3339 time with offset")
    kind = raw.get("type")
    if not isinstance(kind, str):
        return _refused(index, rid, "malformed", "type must be a behaviour type name")
    b = methodology.at(kind, occurred_at)
    if b is None:
        known = methodology.by_type.get(kind)
        why = (
            f"no version of {kind} is in force at occurred_at"
            if known
            else f"unknown behaviour type {kind[:40]!r}; see `ledger accounts methodology`"
        )
        return _refused(index, rid, "unknown_type", why)
    quantity = _quantity(raw.get("quantity"))
    if quantity is None:
        return _refused(
            index,
            rid,
            "malformed",
            f"quantity must be a positive decimal in {b.unit}, at most {MAX_QUANTITY} with 6 decimals",
            b,
        )
    identity = raw.get("identity")
    if not isinstance(identity, dict):
        return _refused(
            index, rid, "malformed", f"identity must be an object with {', '.join(b.identity_fields) or 'no fields'}", b
        )
    fields: dict[str, str] = {}
    for name in b.identity_fields:
        value = identity.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and -_MAX_FIELD_INT < value < _MAX_FIELD_INT:
            value = str(value)  # larger is refused below: str() of a 5,000-digit int raises
        if isinstance(value, str) and len(value) <= 4 * MAX_FIELD:
            # one text, one identity: "Ａ１" (full-width, as many input methods type it), "A1 " and
            # "A1" from two apps are the same station (the Hubei rule), so NFKC and no padding
            value = unicodedata.normalize("NFKC", value).strip()
        if not isinstance(value, str) or not 0 < len(value) <= MAX_FIELD or not value.isprintable():
            return _refused(
                index,
                rid,
                "malformed",
                f"identity.{name} must be 1 to {MAX_FIELD} printable characters ({b.type} needs {', '.join(b.identity_fields)})",
                b,
            )
        fields[name] = value
    if occurred_at > now + CLOCK_SKEW:
        return _refused(
            index,
            rid,
            "future",
            f"occurred_at is {occurred_at - now} s in the future (allowed: {CLOCK_SKEW} s of clock skew)",
            b,
        )
    points = b.points(quantity)
    if points < 1:
        return _refused(
            index, rid, "below_one_point", f"{quantity} {b.unit} is worth less than one point (1 point = 1 g)", b
        )
    if points > ledger.MAX_POSTING:  # a type without caps, at the largest factor and quantity
        why = f"{quantity} {b.unit} is worth {points:,} points, more than the ledger's largest posting ({ledger.MAX_POSTING:,})"
        return _refused(index, rid, "malformed", why, b)
    return _Parsed(
        index, rid, account, b, occurred_at, quantity, *behaviour_keys(account, b, fields, occurred_at), points
    )


def _periods(p: _Parsed) -> tuple[str, str]:
    return p.day, p.year


def ingest(
    engine: Engine, principal: Principal, records: Sequence[object], now: int, lifetime: int | None = None
) -> list[RecordOutcome]:
    """Apply a batch of behaviour records from the principal's source (scope records:write)."""
    require(principal, "records:write")
    if not isinstance(records, (list, tuple)):
        raise InputError("a batch is a list of records")
    if len(records) > MAX_BATCH:
        raise BatchTooLargeError(f"a batch holds at most {MAX_BATCH} records, this one {len(records)}; split it")
    if lifetime is None:
        lifetime = ledger.valid_seconds()
    if isinstance(lifetime, bool) or not 0 < lifetime <= POINTS_LIFETIME_MAX:
        raise InputError(f"points live 1 to {POINTS_LIFETIME_MAX} seconds (10 years at most)")
    for _ in range(_RETRIES):
        try:
            return _ingest_once(engine, principal, records, now, lifetime)
        except (DBAPIError, engine.dialect.loaded_dbapi.Error) as e:
            # PostgreSQL's deadlock detector or a serialisation failure: recompute (statements on
            # the driver's cursor raise the driver's error, those through SQLAlchemy wrap it)
            # the last attempt's too ends in ConflictError below, never the driver's error (a 500)
            state = getattr(getattr(e, "orig", None) or e, "sqlstate", None)
            if state not in ("40P01", "40001"):
                raise
    raise ConflictError(
        f"the batch met concurrent batches for the same accounts {_RETRIES} times; send it again (a resent batch "
        "posts nothing twice)"
    )


def _ingest_once(
    engine: Engine, principal: Principal, records: Sequence[object], now: int, lifetime: int
) -> list[RecordOutcome]:
    source = principal.source_id
    outcomes: list[RecordOutcome | None] = [None] * len(records)
    with engine.begin() as conn:
        db: _Db = _Postgres(conn) if conn.dialect.name == "postgresql" else _Sqlite(conn)
        methodology = load(conn)
        parsed: list[_Parsed] = []
        for i, raw in enumerate(records):
            got = _parse(i, raw, methodology, now)
            if isinstance(got, RecordOutcome):
                outcomes[i] = got
            else:
                parsed.append(got)
        if not parsed:
            return [o for o in outcomes if o is not None]
        db.begin()
        keys, ids, found = _keys(parsed), sorted({p.id for p in parsed}), parsed
        by_id, by_key = db.read(source, keys, ids)
        # a retried record answers its first outcome even if the consent or the account went since
        parsed = _check_accounts(db, source, found, outcomes, retried=by_id.keys())
        # what each cap counter would move if no cap bound: an upper bound of its move. Adding it
        # locks the counters (sorted: two batches never wait for each other in a cycle) until commit
        # and answers their values before this batch, so the decisions below are taken on values
        # no concurrent batch can change; what the caps left uncredited is given back before commit
        planned = _moves(_candidates(parsed, by_id, by_key))
        before = db.hold(sorted(planned.items())) if planned else {}
        # the batch's credits are one ledger transaction (the source −total, each person +p), named
        # at random: unique without asking the database
        txn = "credit:" + secrets.token_hex(16)
        fresh = False
        while True:
            credits = _decide(parsed, by_id, by_key, dict(before), outcomes, txn)
            if not fresh and any(
                (o := outcomes[p.index]) is not None and (o.capped or o.code == "cap_reached") for p in parsed
            ):
                # a cap cut a record: the counters were read after any batch sharing them committed,
                # the stored records before. A batch that committed in between (this batch sent
                # before, say) is read now, lest its credits be counted against its own records
                fresh = True
                again = db.read(source, keys, ids)
                if again[0].keys() != by_id.keys() or again[1].keys() != by_key.keys():
                    by_id, by_key = again
                    kept = {p.index for p in parsed}
                    parsed = [p for p in found if p.index in kept or p.id in by_id]
                    continue
            moved = _moves(credits)
            back = {k: n - moved.get(k, 0) for k, n in planned.items() if n != moved.get(k, 0)}
            if not credits:
                break
            db.mark()
            lost = db.write(source, _rows(source, credits, now, txn), credits, now, now + lifetime)
            if not lost:
                break
            # a concurrent batch stored a record this one read as absent and committed (the insert
            # waited for it): the same behaviour from another record, the same record sent again, or
            # its id for another behaviour. Each such record answers as if the batches had come one
            # after the other (a duplicate, its first outcome, or id_reused) and its points go back to
            # the counters; but where a cap cut a record of this batch counting them, the write is
            # undone and the batch decided anew on a fresh read (the counters are still held)
            freed = _moves([(p, n) for p, n in credits if p.key in lost])
            if not any(
                (o := outcomes[p.index]) is not None
                and (
                    ((o.capped or o.code == "cap_reached") and not freed.keys().isdisjoint(p.counters))
                    # a duplicate of a lost record may share only a key the stored one does not have
                    # (keys and second keys are not transitive): decided anew, it may be a credit
                    or (o.status == "duplicate" and o.record in lost)
                )
                for p in parsed
            ):
                for k, n in freed.items():
                    back[k] = back.get(k, 0) + n
                gone = [p for p, _ in credits if p.key in lost]
                _settle(parsed, lost, *db.read(source, _keys(gone), sorted({p.id for p in gone})), outcomes)
                break
            db.undo()
            by_id, by_key = db.read(source, keys, ids)
            # the records decided before, and any now found stored under its id (it answers its first
            # outcome); the accounts are not read again (no counter was held for a record they refused)
            kept = {p.index for p in parsed}
            parsed = [p for p in found if p.index in kept or p.id in by_id]
            fresh = True
        if back:
            db.give_back(sorted(back.items()))
    return [o for o in outcomes if o is not None]


def _keys(parsed: Sequence[_Parsed]) -> tuple[list[str], list[str]]:
    """The records' keys and second keys, each sorted: what `_Db.read` looks up."""
    return sorted({p.key for p in parsed}), sorted({p.key2 for p in parsed if p.key2 is not None})


def _first(p: _Parsed, found: dict[str, Any]) -> Any:
    """The record in `found` (by key and second key) that `p` repeats, or None. Its key and second
    key can meet two credits: then the one stored first, and of one batch's the nearer in time (a
    retry, deciding again, names the same one)."""
    hits = [found[c] for c in p.claims if c in found]
    if len(hits) < 2:
        return hits[0] if hits else None

    def rank(x: Any) -> tuple[int, int, str]:
        received = 2**62 if isinstance(x, _Parsed) else int(x.received_at)  # this batch's come last
        near = abs(x.occurred_at - p.occurred_at) if x.occurred_at is not None else 2**62
        return received, near, x.key

    return min(hits, key=rank)


def _settle(
    parsed: list[_Parsed],
    lost: set[str],
    by_id: dict[str, Any],
    by_key: dict[str, Any],
    outcomes: list[RecordOutcome | None],
) -> None:
    """The outcomes of the records whose key a concurrent batch stored first (and of their repeats
    in the batch), from what that batch stored: the same record (a resend) answers its first
    outcome, another record under its id is id_reused, another record of its behaviour a duplicate."""
    for p in parsed:
        o = outcomes[p.index]
        if o is None or o.status == "refused" or o.record not in lost:
            continue
        stored = by_id.get(p.id)
        if stored is None:
            first = _first(p, by_key)
            outcomes[p.index] = replace(
                o,
                status="duplicate",
                points=0,
                capped=False,
                txn=first and first.txn,
                record=first.key if first is not None else o.record,
            )
        elif _same_record(p, stored):
            outcomes[p.index] = replace(
                o, status="credited", points=int(stored.points), capped=bool(stored.capped), txn=stored.txn
            )
        else:
            outcomes[p.index] = _id_reused(p)


def _rows(source: str, credits: list[tuple[_Parsed, int]], now: int, txn: str) -> list[tuple[Any, ...]]:
    """The behaviour_records rows of the credits (in _RECORD_COLUMNS' order)."""
    return [
        (
            p.key,
            source,
            p.id,
            p.account,
            p.behaviour.type,
            p.behaviour.version,
            p.occurred_at,
            str(p.quantity),
            points,
            points < p.points,
            now,
            txn,
            p.key2,
        )
        for p, points in credits
    ]


def _moves(credits: list[tuple[_Parsed, int]]) -> dict[tuple[str, str, str], int]:
    """What the credits add to each cap counter."""
    moves: dict[tuple[str, str, str], int] = {}
    for p, points in credits:
        for k in p.counters:
            moves[k] = moves.get(k, 0) + points
    return moves


def _check_accounts(
    db: _Db, source: str, parsed: list[_Parsed], outcomes: list[RecordOutcome | None], retried: Collection[str]
) -> list[_Parsed]:
    """Drop (with their outcome) records for unknown or deleted accounts or without live consent,
    except those `retried` (record ids stored before)."""
    deleted: dict[str, bool] = {}
    kinds: dict[str, set[str]] = {}
    wanted = sorted({p.account for p in parsed if p.id not in retried})
    for account, deleted_at, kind in db.accounts(source, wanted) if wanted else []:
        deleted[account] = deleted_at is not None
        if kind is not None:
            kinds.setdefault(account, set()).add(kind)
    kept = []
    for p in parsed:
        b = p.behaviour
        if p.id in retried:
            kept.append(p)
        elif p.account not in deleted:
            why = f"no account {p.account}; open it first (scope accounts:write)"
            outcomes[p.index] = _refused(p.index, p.id, "unknown_account", why, b)
        elif deleted[p.account]:
            why = f"account {p.account} is deleted and takes no records"
            outcomes[p.index] = _refused(p.index, p.id, "deleted_account", why, b)
        elif b.data_kind not in kinds.get(p.account, ()):
            why = f"no live consent of {p.account} for {source} to send {b.data_kind} data"
            outcomes[p.index] = _refused(p.index, p.id, "no_consent", why, b)
        else:
            kept.append(p)
    return kept


def _same_record(p: _Parsed, first: Any) -> bool:
    """Whether `p` repeats the record stored or met earlier under its id (a retry) rather than
    reusing the id: the same behaviour, and the same type, time and quantity where still known (a
    deleted account's record keeps only its key)."""
    if first is None or first.key != p.key:
        return False
    if isinstance(first, _Parsed):
        return (first.behaviour.type, first.occurred_at, first.quantity) == (
            p.behaviour.type,
            p.occurred_at,
            p.quantity,
        )
    if first.type != p.behaviour.type:
        return False
    if first.occurred_at is not None and first.occurred_at != p.occurred_at:
        return False
    return first.quantity is None or Decimal(first.quantity) == p.quantity


def _candidates(parsed: list[_Parsed], by_id: dict[str, Any], by_key: dict[str, Any]) -> list[tuple[_Parsed, int]]:
    """The records `_decide` may credit, each at its full points: not a retry, a repeat of an id in
    the batch or a behaviour stored before. A behaviour repeated in the batch is counted each time
    (a cap may refuse the first, and the second, of another type in its group, draw on other
    counters): what they add to the counters is an upper bound of what `_decide` moves."""
    ids: set[str] = set()
    out = []
    for p in parsed:
        if p.id in by_id or p.id in ids:
            continue
        ids.add(p.id)
        if _first(p, by_key) is None:
            out.append((p, p.points))
    return out


def _id_reused(p: _Parsed) -> RecordOutcome:
    why = f"record id {p.id} was used before for another record (behaviour, time or quantity); send a new id"
    return _refused(p.index, p.id, "id_reused", why, p.behaviour)


def _decide(
    parsed: list[_Parsed],
    by_id: dict[str, Any],
    by_key: dict[str, Any],
    counters: dict[tuple[str, str, str], int],
    outcomes: list[RecordOutcome | None],
    txn: str,
) -> list[tuple[_Parsed, int]]:
    """Each record's outcome, in batch order, drawing the cap counters down as records are
    credited in transaction `txn`."""
    first_of_id: dict[str, _Parsed] = {}
    credited_here: dict[str, _Parsed] = {}
    credits: list[tuple[_Parsed, int]] = []
    for p in parsed:
        b = p.behaviour
        v, ill = b.version, b.illustrative
        stored = by_id.get(p.id)
        earlier = first_of_id.get(p.id)
        if stored is not None or earlier is not None:
            if not _same_record(p, stored if stored is not None else earlier):
                outcomes[p.index] = _id_reused(p)
                continue
            if stored is not None:  # a retry: the first outcome again
                outcomes[p.index] = RecordOutcome(
                    p.index,
                    p.id,
                    "credited",
                    int(stored.points),
                    stored.txn,
                    p.key,
                    capped=bool(stored.capped),
                    type_version=v,
                    illustrative=ill,
                )
            else:  # the same record twice in one batch: the second answers as the first
                first = outcomes[earlier.index] if earlier is not None else None
                assert first is not None
                outcomes[p.index] = replace(first, index=p.index)
            continue
        first_of_id[p.id] = p
        here, stored = _first(p, credited_here), _first(p, by_key)
        if here is not None or stored is not None:
            # the transaction that credited it and its key: one stored before, else this batch's
            # (named again below, among all the batch credits, as a retry will find them)
            first_txn, first_key = (stored.txn, stored.key) if stored is not None else (txn, here.key)
            outcomes[p.index] = RecordOutcome(
                p.index, p.id, "duplicate", 0, first_txn, first_key, type_version=v, illustrative=ill
            )
            continue
        day, year = _periods(p)
        room = p.points
        which = ""
        for period, cap, label in ((day, b.daily_cap_points, "daily"), (year, b.yearly_cap_points, "yearly")):
            if cap is not None:
                left = cap - counters[(p.account, b.type, period)]
                if left < room:
                    room, which = left, label
        if room <= 0:
            outcomes[p.index] = _refused(
                p.index,
                p.id,
                "cap_reached",
                f"the {which} cap of {b.type} is reached for {p.account} ({day[1:] if which == 'daily' else year[1:]}, Asia/Shanghai)",
                b,
            )
            continue
        for k in p.counters:
            counters[k] += room
        for claim in p.claims:
            credited_here[claim] = p
        credits.append((p, room))
        outcomes[p.index] = RecordOutcome(
            p.index, p.id, "credited", room, txn, p.key, capped=room < p.points, type_version=v, illustrative=ill
        )
    for p in parsed:
        o = outcomes[p.index]
        if o is not None and o.status == "duplicate" and o.txn == txn and (here := _first(p, credited_here)):
            outcomes[p.index] = replace(o, record=here.key)
    return credits


class _Db:
    """The batch's statements: the reads, the counters held, then one write. PostgreSQL's send
    whole columns as arrays (one statement text whatever the batch size, so psycopg prepares it
    once; SQLAlchemy's per-row parameter handling would cost more than the database's work);
    SQLite's are executemany on the driver's cursor."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def begin(self) -> None:
        """Before the batch's first read."""

    def accounts(self, source: str, ids: list[str]) -> list[tuple[str, int | None, str | None]]:
        """(account, deleted_at, a data kind the source has live consent for, or None) rows."""
        a, c = ACCOUNTS.c, CONSENTS.c
        join = ACCOUNTS.outerjoin(CONSENTS, and_(c.account_id == a.id, c.source_id == source, c.revoked_at.is_(None)))
        rows = self.conn.execute(select(a.id, a.deleted_at, c.data_kind).select_from(join).where(a.id.in_(ids)))
        return [(r[0], r[1], r[2]) for r in rows]

    def read(
        self, source: str, keys: tuple[list[str], list[str]], ids: list[str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Stored records the batch meets, by the source's record id (retries) and by key or second
        key (duplicates: `keys` is both lists, `_keys`)."""
        r = BEHAVIOUR_RECORDS.c
        rows = self.conn.execute(
            select(
                r.key,
                r.source_id,
                r.source_record_id,
                r.points,
                r.capped,
                r.type,
                r.occurred_at,
                r.quantity,
                r.txn,
                r.key2,
                r.received_at,
            ).where(
                or_(
                    r.key.in_(keys[0]),
                    r.key2.in_(keys[1]),
                    and_(r.source_id == source, r.source_record_id.in_(ids)),
                )
            )
        ).all()
        return _found(source, rows)

    def hold(self, planned: list[tuple[tuple[str, str, str], int]]) -> dict[tuple[str, str, str], int]:
        """Add each planned move to its counter (created if absent), holding the counters until
        commit; their values before the moves."""
        raise NotImplementedError

    def give_back(self, back: list[tuple[tuple[str, str, str], int]]) -> None:
        """Take back what `hold` added and no credit used."""
        raise NotImplementedError

    def mark(self) -> None:
        """Before `write`: what `undo` goes back to."""

    def undo(self) -> None:
        """Undo what was written since `mark` (the counters stay held)."""
        raise NotImplementedError

    def write(
        self, source: str, rows: list[tuple[Any, ...]], credits: list[tuple[_Parsed, int]], now: int, expires_at: int
    ) -> set[str]:
        """Store the records and post their credits as one ledger transaction (each row names it):
        the keys a concurrent batch stored first (those are not credited here)."""
        raise NotImplementedError


_RECORD_COLUMNS = (
    "key, source_id, source_record_id, account_id, type, version, occurred_at, quantity, points, capped, received_at, "
    "txn, key2"
)
_READ_COLUMNS = "key, source_id, source_record_id, points, capped, type, occurred_at, quantity, txn, key2, received_at"


def _found(source: str, rows: Sequence[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stored records by the source's record id, and by key and by second key (`_Parsed.claims`)."""
    by_key = {x.key: x for x in rows} | {x.key2: x for x in rows if x.key2 is not None}
    return {x.source_record_id: x for x in rows if x.source_id == source}, by_key


class _Sqlite(_Db):
    """SQLite has one writer at a time: the batch takes the database's write lock before it reads,
    so nothing it reads changes before it commits."""

    def _raw(self) -> Any:
        raw = self.conn.connection.driver_connection
        assert raw is not None
        return raw

    def begin(self) -> None:
        ledger.write_lock(self.conn)

    def hold(self, planned: list[tuple[tuple[str, str, str], int]]) -> dict[tuple[str, str, str], int]:
        k = CAP_COUNTERS.c
        wanted = dict(planned)
        got = self.conn.execute(
            select(k.account_id, k.type, k.period, k.points).where(
                k.account_id.in_(sorted({a for (a, _, _), _ in planned}))
            )
        ).all()
        before = dict.fromkeys(wanted, 0) | {(a, t, d): int(n) for a, t, d, n in got if (a, t, d) in wanted}
        self._raw().executemany(
            "INSERT INTO cap_counters (account_id, type, period, points) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account_id, type, period) DO UPDATE SET points = points + excluded.points",
            [(a, t, d, n) for (a, t, d), n in planned],
        )
        return before

    def give_back(self, back: list[tuple[tuple[str, str, str], int]]) -> None:
        self._raw().executemany(
            "UPDATE cap_counters SET points = points - ? WHERE account_id = ? AND type = ? AND period = ?",
            [(n, a, t, d) for (a, t, d), n in back],
        )

    def write(
        self, source: str, rows: list[tuple[Any, ...]], credits: list[tuple[_Parsed, int]], now: int, expires_at: int
    ) -> set[str]:
        """The records, then the credits through accounts.ledger.post. Under the write lock no
        other batch stored a key read as absent."""
        done = (
            self._raw()
            .executemany(
                f"INSERT INTO behaviour_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                rows,
            )
            .rowcount
        )
        if done != len(rows):
            raise ConflictError("another writer stored records of this batch; send it again (it posts nothing twice)")
        txn = rows[0][11]
        ledger.post(
            self.conn,
            txn,
            "credit",
            f"batch:{len(credits)}",
            [
                ledger.Posting(f"source:{source}", -sum(points for _, points in credits)),
                *(ledger.Posting(f"person:{p.account}", n, expires_at, "record:" + p.key) for p, n in credits),
            ],
            now,
        )
        return set()


def _json(value: object) -> str:
    # orjson: a tenth of json.dumps's time on a column of 1,000 strings; the same JSON text
    return orjson.dumps(value).decode()


def _any(param: str) -> str:
    """`= ANY` of a JSON array of strings: the index is used as with an array parameter."""
    return f"ANY({_col(param)})"


def _col(param: str, kind: str = "text") -> str:
    """A column sent as a JSON array of scalars, as a PostgreSQL array of `kind`."""
    return f"ARRAY(SELECT json_array_elements_text(%({param})s::json))::{kind}[]"


def _cols(prefix: str, columns: Sequence[Sequence[object]]) -> dict[str, str]:
    """{prefix0: JSON array, prefix1: …}: each column a JSON array of scalars (json.dumps of a
    list of strings or numbers costs a twentieth of a list of objects)."""
    return {f"{prefix}{i}": _json(list(c)) for i, c in enumerate(columns)}


def _counter_cols(items: list[tuple[tuple[str, str, str], int]]) -> dict[str, str]:
    """Counters and amounts as the four columns c0..c3 of _COUNTERS_MOVE."""
    return _cols(
        "c", [[k[0] for k, _ in items], [k[1] for k, _ in items], [k[2] for k, _ in items], [n for _, n in items]]
    )


class _Postgres(_Db):
    """Columns travel as JSON arrays of scalars, one per column, unpacked by the server (unnest):
    the driver's array adaptation costs about 8 µs per element in Python, json.dumps of a list of
    scalars well under 1 µs, and of a list of objects (json_to_recordset) about 15 µs a row."""

    def _cur(self) -> Any:
        raw = self.conn.connection.driver_connection
        assert raw is not None
        return raw.cursor()

    def accounts(self, source: str, ids: list[str]) -> list[tuple[str, int | None, str | None]]:
        with self._cur() as cur:
            cur.execute(
                "SELECT a.id, a.deleted_at, c.data_kind FROM accounts a LEFT JOIN consents c ON c.account_id = a.id "
                f"AND c.source_id = %(source)s AND c.revoked_at IS NULL WHERE a.id = {_any('ids')} "
                # a deletion marks the account first: under this lock the batch either sees the mark
                # (waiting for the deletion to commit) or makes the deletion wait until its records
                # are in, which the deletion then strips; shared, so batches never wait on each other
                "FOR SHARE OF a",
                {"source": source, "ids": _json(ids)},
            )
            return list(cur.fetchall())

    def read(
        self, source: str, keys: tuple[list[str], list[str]], ids: list[str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        with self._cur() as cur:
            cur.execute(
                f"SELECT {_READ_COLUMNS} FROM behaviour_records WHERE key = {_any('keys')} UNION ALL "
                + (
                    f"SELECT {_READ_COLUMNS} FROM behaviour_records WHERE key2 = {_any('keys2')} UNION ALL "
                    if keys[1]
                    else ""
                )
                + f"SELECT {_READ_COLUMNS} FROM behaviour_records "
                f"WHERE source_id = %(source)s AND source_record_id = {_any('ids')}",
                {"keys": _json(keys[0]), "keys2": _json(keys[1]), "source": source, "ids": _json(ids)},
            )
            rows = [_Row(*x) for x in cur.fetchall()]
        return _found(source, rows)

    def hold(self, planned: list[tuple[tuple[str, str, str], int]]) -> dict[tuple[str, str, str], int]:
        """One statement: each counter created with its move or incremented by it, in sorted order
        (every batch locks in that one order: batches sharing a person's counter queue, never deadlock)."""
        with self._cur() as cur:
            cur.execute(_COUNTERS_ADD, _counter_cols(planned))
            after = {(a, t, d): int(n) for a, t, d, n in cur.fetchall()}
        return {k: after[k] - n for k, n in planned}

    def mark(self) -> None:
        with self._cur() as cur:
            cur.execute("SAVEPOINT credits")

    def undo(self) -> None:
        with self._cur() as cur:
            cur.execute("ROLLBACK TO SAVEPOINT credits")

    def give_back(self, back: list[tuple[tuple[str, str, str], int]]) -> None:
        with self._cur() as cur:
            cur.execute(
                "UPDATE cap_counters k SET points = k.points - u.n "
                f"FROM unnest({_col('c0')}, {_col('c1')}, {_col('c2')}, {_col('c3', 'bigint')}) AS u(a, t, d, n) "
                "WHERE k.account_id = u.a AND k.type = u.t AND k.period = u.d",
                _counter_cols(back),
            )

    def write(
        self, source: str, rows: list[tuple[Any, ...]], credits: list[tuple[_Parsed, int]], now: int, expires_at: int
    ) -> set[str]:
        """One statement: the records in key order, the key the guard against a concurrent batch (a
        key another batch stored first is skipped: that behaviour is its credit); then the batch's
        transaction as accounts.ledger.post writes it (the source −total, then each stored record's
        person +p with its expiry) and the persons' lots. Records lock after the counters (`hold`),
        in sorted order."""
        with self._cur() as cur:
            cur.execute(
                _PG_WRITE,
                {
                    # key, id, account, type, version, occurred_at, quantity, points, capped, key2
                    **_cols("r", [c for i, c in enumerate(zip(*rows, strict=True)) if i not in (1, 10, 11)]),
                    "txn": rows[0][11],
                    "source": source,
                    "source_account": f"source:{source}",
                    "now": now,
                    "expires_at": expires_at,
                },
            )
            stored = {key for (key,) in cur.fetchall()}
        return {r[0] for r in rows} - stored


_COUNTERS_ADD = f"""
INSERT INTO cap_counters (account_id, type, period, points)
SELECT a, t, d, n FROM unnest({_col("c0")}, {_col("c1")}, {_col("c2")}, {_col("c3", "bigint")})
    WITH ORDINALITY AS u(a, t, d, n, o)
ORDER BY o ON CONFLICT (account_id, type, period) DO UPDATE SET points = cap_counters.points + excluded.points
RETURNING account_id, type, period, points
"""

_PG_WRITE = f"""
WITH r AS (
    INSERT INTO behaviour_records ({_RECORD_COLUMNS})
    SELECT k, %(source)s, i, a, t, v, o, q, p, c, %(now)s, %(txn)s, k2
    FROM unnest({_col("r0")}, {_col("r1")}, {_col("r2")}, {_col("r3")}, {_col("r4", "int")}, {_col("r5", "bigint")},
                {_col("r6")}, {_col("r7", "bigint")}, {_col("r8", "bool")}, {_col("r9")})
                AS x(k, i, a, t, v, o, q, p, c, k2)
    ORDER BY k ON CONFLICT DO NOTHING RETURNING key, account_id, points
), e AS (
    INSERT INTO points_entries (txn, account, amount, kind, ref, created_at, expires_at)
    SELECT %(txn)s, x.account, x.amount, 'credit', x.ref, %(now)s, x.expires_at
    FROM (
        SELECT 0::bigint AS o, %(source_account)s AS account, (-sum(points))::bigint AS amount,
               'batch:' || count(*) AS ref, NULL::bigint AS expires_at
        FROM r HAVING count(*) > 0
        UNION ALL
        SELECT n.o, 'person:' || r.account_id, r.points, 'record:' || r.key, %(expires_at)s::bigint
        FROM r JOIN unnest({_col("r0")}) WITH ORDINALITY AS n(k, o) ON n.k = r.key
    ) AS x
    ORDER BY x.o
    RETURNING id, account, amount, expires_at
), l AS (
    INSERT INTO points_lots (entry_id, account, expires_at, remaining)
    SELECT id, account, expires_at, amount FROM e WHERE amount > 0
)
SELECT key FROM r
"""


@dataclass(frozen=True)
class _Row:
    key: str
    source_id: str
    source_record_id: str
    points: int
    capped: bool
    type: str
    occurred_at: int | None  # None once the account is deleted
    quantity: str | None
    txn: str
    key2: str | None  # None: a bucket of a day or more, or stored before second keys (2026-12)
    received_at: int
