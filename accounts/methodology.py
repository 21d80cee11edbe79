"""The behaviour methodology: behaviour type → grams CO2e avoided per unit, versioned like the factor
library (footprint/library.py).

Rows ship in accounts/behaviours/*.csv; the operator imports later versions (`import_rows`), which
are stored in `behaviour_versions`. No row changes once shipped or imported: a correction is a
higher version with a later `valid_from`, and a record is converted by the version in force at its
`occurred_at` (the highest version whose valid_from is not after it).

Points: 1 point = 1 g CO2e avoided (Hubei 碳碳星球's published 1:1 rule, next_wave.md §2.1),
rounded down to a whole point. Caps are in points, per account, per type, per Asia/Shanghai calendar
day (UTC+8, no daylight saving since 1991) and calendar year. Every row cites its source or says
`illustrative=true` (the factor) / `caps_illustrative=true` (the caps).

The behaviour's identity (the Hubei rule: one behaviour earns once across all channels) is built
from the row's `identity_group` (types describing the same act share one, e.g. a metro trip
reported by distance or by ticket), the `identity_fields` the source must send, and occurred_at
rounded down to `time_bucket_s` in Asia/Shanghai time."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from accounts.errors import InputError
from accounts.ledger import write_lock
from accounts.models import BEHAVIOUR_VERSIONS
from chain.canonical import canonical_json, sha256_hex

BEHAVIOURS_DIR = Path(__file__).resolve().parent / "behaviours"
COLUMNS = (
    "type",
    "version",
    "data_kind",
    "unit",
    "g_per_unit",
    "daily_cap_points",
    "yearly_cap_points",
    "identity_group",
    "identity_fields",
    "time_bucket_s",
    "valid_from",
    "source",
    "source_url",
    "illustrative",
    "caps_illustrative",
    "note",
)
CLOCK_SKEW = 300  # seconds a record may lie in the future: device clocks drift (illustrative)
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991: a fixed offset is exact
OFFSET = 8 * 3600
_EPOCH = date(1970, 1, 1)
_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True)
class Behaviour:
    type: str
    version: int
    data_kind: str
    unit: str
    g_per_unit: Decimal
    daily_cap_points: int | None
    yearly_cap_points: int | None
    identity_group: str
    identity_fields: tuple[str, ...]
    time_bucket_s: int
    valid_from: int  # unix seconds (the CSV's date is midnight Asia/Shanghai)
    source: str
    source_url: str
    illustrative: bool
    caps_illustrative: bool
    note: str
    row_hash: str  # sha256 of the row's canonical JSON: what a record's conversion pins

    def points(self, quantity: Decimal) -> int:
        """Whole points (1 point = 1 g) for `quantity` units, rounded down."""
        return int((quantity * self.g_per_unit).to_integral_value(rounding=ROUND_DOWN))

    def bucket(self, occurred_at: int) -> int:
        """occurred_at rounded down to the row's time bucket, counted in Asia/Shanghai time."""
        b = self.time_bucket_s
        return (occurred_at + OFFSET) // b * b - OFFSET


def day_of(t: int) -> str:
    """The Asia/Shanghai calendar day of unix time t, e.g. "2026-11-30"."""
    return _day((t + OFFSET) // 86400)


@functools.lru_cache(maxsize=4096)
def _day(n: int) -> str:
    return (_EPOCH + timedelta(days=n)).isoformat()


def _int(row: dict[str, str], name: str, *, optional: bool = False, low: int = 0) -> int | None:
    text = (row.get(name) or "").strip()
    if not text and optional:
        return None
    if not re.fullmatch(r"[0-9]{1,12}", text) or int(text) < low:
        raise InputError(f"methodology row {row.get('type')!r}: {name} must be a whole number ≥ {low}, not {text!r}")
    return int(text)


def _bool(row: dict[str, str], name: str) -> bool:
    text = (row.get(name) or "").strip().lower()
    if text not in ("true", "false"):
        raise InputError(f"methodology row {row.get('type')!r}: {name} must be true or false, not {text!r}")
    return text == "true"


def _valid_from(row: dict[str, str]) -> int:
    text = (row.get("valid_from") or "").strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return int(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp())
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InputError(
            f"methodology row {row.get('type')!r}: valid_from is a date (midnight Asia/Shanghai) or an "
            f"RFC 3339 time with offset, not {text!r}"
        )
    return int(when.timestamp())


def parse_row(row: dict[str, str]) -> Behaviour:
    """One CSV row as a Behaviour, or InputError naming the column at fault."""
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise InputError(f"methodology rows need the columns {', '.join(COLUMNS)}; missing {', '.join(missing)}")
    clean = {c: (row[c] or "").strip() for c in COLUMNS}
    kind = clean["type"]
    for name in ("type", "data_kind", "identity_group"):
        if not _NAME.fullmatch(clean[name]):
            raise InputError(f"methodology row {kind!r}: {name} must be lower-case letters, digits, hyphens")
    fields = tuple(clean["identity_fields"].split())
    if any(not _FIELD.fullmatch(f) for f in fields) or len(set(fields)) != len(fields):
        raise InputError(f"methodology row {kind!r}: identity_fields are distinct snake_case names, space-separated")
    try:
        g = Decimal(clean["g_per_unit"])
    except InvalidOperation:
        g = Decimal(-1)
    if not g.is_finite() or g <= 0 or g > 10**9:
        raise InputError(f"methodology row {kind!r}: g_per_unit must be a positive decimal number")
    if not clean["source"]:
        raise InputError(f"methodology row {kind!r}: cite a source (or write 'illustrative: why')")
    if not clean["unit"]:
        raise InputError(f"methodology row {kind!r}: name the unit")
    version = _int(clean, "version", low=1)
    bucket = _int(clean, "time_bucket_s", low=1)
    assert version is not None and bucket is not None
    if bucket > 86400 or 86400 % bucket:
        raise InputError(f"methodology row {kind!r}: time_bucket_s must divide a day (86400)")
    return Behaviour(
        type=kind,
        version=version,
        data_kind=clean["data_kind"],
        unit=clean["unit"],
        g_per_unit=g,
        daily_cap_points=_int(clean, "daily_cap_points", optional=True, low=1),
        yearly_cap_points=_int(clean, "yearly_cap_points", optional=True, low=1),
        identity_group=clean["identity_group"],
        identity_fields=fields,
        time_bucket_s=bucket,
        valid_from=_valid_from(clean),
        source=clean["source"],
        source_url=clean["source_url"],
        illustrative=_bool(clean, "illustrative"),
        caps_illustrative=_bool(clean, "caps_illustrative"),
        note=clean["note"],
        row_hash=sha256_hex(canonical_json(clean)),
    )


def _parse_csv(text: str, where: str) -> list[Behaviour]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise InputError(f"{where}: the header must be {','.join(COLUMNS)}")
    return [parse_row(r) for r in reader]


@functools.cache
def shipped() -> tuple[Behaviour, ...]:
    """The rows shipped in accounts/behaviours/*.csv."""
    rows: list[Behaviour] = []
    for path in sorted(BEHAVIOURS_DIR.glob("*.csv")):
        rows += _parse_csv(path.read_text(encoding="utf-8"), str(path))
    return tuple(rows)


def data_kinds() -> frozenset[str]:
    """The kinds of data consent is given for: those the shipped rows name."""
    return frozenset(b.data_kind for b in shipped())


class Methodology:
    """Every version of every type (shipped and imported), for looking up the one in force."""

    def __init__(self, rows: Iterable[Behaviour]) -> None:
        self.by_type: dict[str, list[Behaviour]] = {}
        for b in rows:
            self.by_type.setdefault(b.type, []).append(b)
        for versions in self.by_type.values():
            versions.sort(key=lambda b: b.version)
        self._check()

    def _check(self) -> None:
        groups: dict[str, tuple[tuple[str, ...], int]] = {}
        for kind, versions in self.by_type.items():
            seen = [b.version for b in versions]
            if len(set(seen)) != len(seen):
                raise InputError(f"methodology type {kind} has a version twice")
            for b in versions:
                shape = (b.identity_fields, b.time_bucket_s)
                if groups.setdefault(b.identity_group, shape) != shape:
                    raise InputError(
                        f"identity group {b.identity_group}: every type in it must name the same identity "
                        f"fields and time bucket ({kind} v{b.version} differs)"
                    )

    def at(self, kind: str, t: int) -> Behaviour | None:
        """The version of `kind` in force at unix time t (None: unknown type or none in force yet)."""
        best = None
        for b in self.by_type.get(kind, ()):
            if b.valid_from <= t:
                best = b
        return best

    def latest(self, kind: str) -> Behaviour | None:
        """The highest version of `kind`."""
        versions = self.by_type.get(kind)
        return versions[-1] if versions else None

    def all(self) -> list[Behaviour]:
        """Every row, by type then version."""
        return [b for kind in sorted(self.by_type) for b in self.by_type[kind]]


def _imported(conn: Connection) -> list[Behaviour]:
    rows = conn.execute(select(BEHAVIOUR_VERSIONS.c.row_json)).scalars().all()
    return [parse_row(json.loads(r)) for r in rows]


def load(conn: Connection) -> Methodology:
    """The shipped rows plus those the operator imported (one query). Where both hold a type's
    version (a release shipping a type the operator had imported), the database's row is kept:
    records were converted by it, and refusing both would refuse every batch."""
    imported = _imported(conn)
    held = {(b.type, b.version) for b in imported}
    return Methodology([*(b for b in shipped() if (b.type, b.version) not in held), *imported])


def import_rows(engine: Engine, csv_text: str, now: int) -> list[Behaviour]:
    """Import new versions from CSV text (the shipped columns); each must be the next version of its
    type (or version 1 of a new type). All rows or none."""
    rows = _parse_csv(csv_text, "the imported CSV")
    if not rows:
        raise InputError("the imported CSV has no rows")
    with engine.begin() as conn:
        # one import at a time: each checks the whole methodology with its rows, so two at once could
        # each pass and together break a group's shape, after which every batch would be refused
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE behaviour_versions IN SHARE ROW EXCLUSIVE MODE"))
        else:
            write_lock(conn)
        current = load(conn)
        merged = Methodology([*current.all(), *rows])  # checks versions and identity groups together
        for b in rows:
            versions = [x for x in merged.by_type[b.type] if x.version < b.version]
            expected = len(versions) + 1  # versions are 1, 2, ... without gaps
            if b.version != expected:
                raise InputError(f"{b.type} v{b.version}: versions go 1, 2, 3...; import v{expected}")
            if versions and b.valid_from <= versions[-1].valid_from:
                raise InputError(f"{b.type} v{b.version}: valid_from must be after v{versions[-1].version}'s")
            before = versions[-1] if versions else None
            if before and b.identity_group != before.identity_group:
                _check_move(before, b, now, merged)
        conn.execute(
            insert(BEHAVIOUR_VERSIONS),
            [{"type": b.type, "version": b.version, "row_json": _row_json(b), "imported_at": now} for b in rows],
        )
    return rows


def _check_move(before: Behaviour, b: Behaviour, now: int, merged: Methodology) -> None:
    """A type moves to another identity group only from a start in the future (records credited
    since a past start carry the old group's key: the same behaviour sent again would earn a second
    time under the new one) and on a boundary of both groups' time buckets (else the bucket it cuts
    holds a behaviour under each key). Midnight Asia/Shanghai is a boundary of every bucket."""
    where = f"{b.type} v{b.version}: moves the type from identity group {before.identity_group} to {b.identity_group}"
    if b.valid_from <= now + CLOCK_SKEW:
        raise InputError(
            f"{where}, which only a future start may do; give a valid_from after {day_of(now + CLOCK_SKEW)}"
        )
    if before.bucket(b.valid_from) != b.valid_from or b.bucket(b.valid_from) != b.valid_from:
        raise InputError(f"{where} inside a time bucket; give a date as valid_from (midnight Asia/Shanghai)")
    # the types it shared the old group with describe the same act: left behind (or sent elsewhere)
    # one act would earn once under each group's key
    left = sorted(
        t
        for t in merged.by_type
        if t != b.type
        and (was := merged.at(t, b.valid_from - 1)) is not None
        and was.identity_group == before.identity_group
        and (now_in := merged.at(t, b.valid_from)) is not None
        and now_in.identity_group != b.identity_group
    )
    if left:
        raise InputError(
            f"{where}, leaving {', '.join(left)} in it: one act would earn under each group; move "
            f"{'it' if len(left) == 1 else 'them'} in the same sheet, from the same valid_from"
        )


def _row_json(b: Behaviour) -> str:
    return canonical_json(as_row(b)).decode()


def as_row(b: Behaviour) -> dict[str, Any]:
    """The row in the CSV's columns, as text (what an export or the CLI prints)."""
    return {
        "type": b.type,
        "version": str(b.version),
        "data_kind": b.data_kind,
        "unit": b.unit,
        "g_per_unit": str(b.g_per_unit),
        "daily_cap_points": "" if b.daily_cap_points is None else str(b.daily_cap_points),
        "yearly_cap_points": "" if b.yearly_cap_points is None else str(b.yearly_cap_points),
        "identity_group": b.identity_group,
        "identity_fields": " ".join(b.identity_fields),
        "time_bucket_s": str(b.time_bucket_s),
        "valid_from": datetime.fromtimestamp(b.valid_from, SHANGHAI).isoformat(),
        "source": b.source,
        "source_url": b.source_url,
        "illustrative": "true" if b.illustrative else "false",
        "caps_illustrative": "true" if b.caps_illustrative else "false",
        "note": b.note,
    }
