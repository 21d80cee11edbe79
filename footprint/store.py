"""Emission factors imported into the registry's database (`ledger factors import`), next to the
library shipped in footprint/factors/; the table is migrated by footprint/migrations/, which
certificates/db.py runs by path.

An imported file is checked row by row as the shipped library is (every row cites a source, or is
marked illustrative; a row that is not illustrative gives a public address), then against what is
known already: an `id@version` shipped or imported before must come again with the same values
(its hash), since versions are immutable: a changed value is the next version. Only the two
annotations a later row adds (`superseded_by`, `valid_to`) may differ, and a re-import records
them, for an imported row or for a shipped one that a newer imported row replaces. The import is
checked whole against the combined library (superseded_by names a row, one current row per
activity, region and year) before anything is written.

The shipped rows are copied into the same table (`origin` shipped) by `sync_shipped`, which every
reader runs first (`synced`, `page`: a no-op once they are there), so the database holds the whole library and a listing filters
and pages it in SQL (`page`). The copy is checked, never overwritten: a shipped row whose values
differ from the ones the database recorded was edited in place, and is refused; a shipped row's
annotations are added when the database has none."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Index, Integer, Text, func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel, col

from chain.canonical import canonical_json
from footprint.compute import MAX_TOTAL_KG, PLAIN_NUMBER
from footprint.errors import FootprintError
from footprint.library import (
    ANNOTATIONS,
    COLUMNS,
    Activity,
    Factor,
    Library,
    _one_current_per_key,
    parse_factor,
    shipped,
)

T = TypeVar("T")
MAX_BYTES = 10 << 20  # a few hundred thousand rows; a bigger file is not a factor table
TABLE = "footprint_factors"
# an id as the shipped ones are written: no "@" (a pin is id@version), no brackets or spaces to print
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class StoredFactor(SQLModel, table=True):
    __tablename__ = TABLE
    id: str = Field(primary_key=True)
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sha256: str  # the row's hash without its annotations: what a report pins
    source_file: str  # the imported file's name, without its directory
    body: str = Field(sa_type=Text)  # every column as canonical JSON, annotations included
    # copies of the body's values a listing filters by (the body stays what is read)
    origin: str = "imported"  # shipped | imported
    activity: str = ""
    region: str = ""
    year: int | None = None
    superseded_by: str = ""
    illustrative: bool = False

    __table_args__ = (Index("ix_footprint_factors_activity_region_year", "activity", "region", "year"),)


TABLES = [StoredFactor.__table__]  # type: ignore[attr-defined]  # SQLModel sets __table__ at class creation


@dataclass(frozen=True)
class Imported:
    """What an import did, by `id@version`."""

    added: list[str] = field(default_factory=list)
    annotated: list[str] = field(default_factory=list)  # superseded_by or valid_to recorded
    unchanged: list[str] = field(default_factory=list)

    def document(self) -> dict[str, list[str]]:
        return {"added": self.added, "annotated": self.annotated, "unchanged": self.unchanged}


def _rows(data: bytes, name: str) -> list[tuple[int, dict[str, str]]]:
    if len(data) > MAX_BYTES:
        raise FootprintError(f"{name} is over {MAX_BYTES >> 20} MiB; split it into smaller factor tables")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FootprintError(f"{name} is not UTF-8 text; save the factor table as UTF-8 CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise FootprintError(f"{name} lacks column {', '.join(missing)}; use the header of footprint/factors/*.csv")
    try:
        rows = [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k in COLUMNS}) for row in reader]
    except csv.Error as exc:
        raise FootprintError(f"{name}:{reader.line_num}: not CSV ({exc}); fix the row") from None
    if not rows:
        raise FootprintError(f"{name} holds no rows; give at least one factor")
    return rows


def _stored(conn: Connection, library: Library) -> dict[str, Factor]:
    if not inspect(conn).has_table(TABLE):  # a database that never had the footprint migrations run
        return {}
    out: dict[str, Factor] = {}
    activities = frozenset(library.activities.items())
    for source_file, body in conn.execute(select(col(StoredFactor.source_file), col(StoredFactor.body))):
        factor = _parsed(source_file, body, activities)
        out[factor.ref] = factor
    return out


@functools.lru_cache(maxsize=8192)
def _parsed(source_file: str, body: str, activities: frozenset[tuple[str, Activity]]) -> Factor:
    """A stored row parsed once per process: a body never changes but by a new annotation, which is a new body."""
    return parse_factor(json.loads(body), source_file, 0, dict(activities))


def _values(factor: Factor, raw: dict[str, str], origin: str, source_file: str) -> dict[str, object]:
    return {
        "id": factor.id,
        "version": factor.version,
        "sha256": factor.sha256,
        "source_file": source_file,
        "body": canonical_json({c: raw[c] for c in COLUMNS}).decode(),
        "origin": origin,
        "activity": factor.activity,
        "region": factor.region,
        "year": factor.year,
        "superseded_by": factor.superseded_by,
        "illustrative": factor.illustrative,
    }


def _raw(factor: Factor) -> dict[str, str]:
    """A parsed row's columns as written (its hash is of this text: 0.20 is not 0.2)."""
    return dict(factor.raw)


def _edited(factor: Factor, recorded: str) -> FootprintError:
    return FootprintError(
        f"{factor.file}:{factor.line}: {factor.ref} differs from the row the database recorded (its hash "
        f"{recorded[:12]}…); shipped rows are never edited: restore it from version control and publish the "
        "change as the next version"
    )


def sync_shipped(conn: Connection, library: Library | None = None) -> list[str]:
    """Copy the shipped rows the table lacks into it, and a shipped row's annotations the table lacks;
    FootprintError (nothing written) when a shipped row differs from the one recorded. The refs added."""
    base = library or shipped()
    held = {
        f"{i}@{v}": sha
        for i, v, sha in conn.execute(select(col(StoredFactor.id), col(StoredFactor.version), col(StoredFactor.sha256)))
    }
    new: list[dict[str, object]] = []
    notes: list[tuple[Factor, dict[str, str]]] = []
    for factor in base.factors.values():
        raw = _raw(factor)
        if factor.ref not in held:
            new.append(_values(factor, raw, "shipped", factor.file))
            continue
        sha = held[factor.ref]
        if sha != factor.sha256:
            raise _edited(factor, sha)
        if not (factor.superseded_by or factor.valid_to):
            continue  # nothing the file could add to the record
        body = conn.execute(
            select(col(StoredFactor.body)).where(
                col(StoredFactor.id) == factor.id, col(StoredFactor.version) == factor.version
            )
        ).scalar_one()
        recorded = json.loads(body)
        if (factor.superseded_by and not recorded["superseded_by"]) or (factor.valid_to and not recorded["valid_to"]):
            notes.append((factor, recorded | {a: raw[a] or recorded[a] for a in ANNOTATIONS}))
    if new:
        conn.execute(StoredFactor.__table__.insert(), new)  # type: ignore[attr-defined]  # SQLModel's table
    for factor, raw in notes:
        conn.execute(
            update(StoredFactor)
            .where(col(StoredFactor.id) == factor.id, col(StoredFactor.version) == factor.version)
            .values(body=canonical_json({c: raw[c] for c in COLUMNS}).decode(), superseded_by=raw["superseded_by"])
        )
    return [str(v["id"]) + "@" + str(v["version"]) for v in new]


def combined(conn: Connection, library: Library | None = None) -> Library:
    """The whole library: the shipped rows with every row the database holds (imports, and the
    annotations recorded for shipped rows); FootprintError when a shipped row differs from its record."""
    base = library or shipped()
    stored = _stored(conn, base)
    for ref, factor in base.factors.items():
        if ref in stored and stored[ref].sha256 != factor.sha256:
            raise _edited(factor, stored[ref].sha256)
    return _checked(base, {**base.factors, **stored})


def _after_sync(engine: Engine, library: Library, read: Callable[[Connection], T]) -> T | None:
    """`read` once the shipped rows are copied in; None when the footprint tables were never created.
    Two readers copying the same rows at once: one insert fails on the key, and reads the other's copy."""
    for attempt in (1, 2):
        try:
            with engine.begin() as conn:
                if not inspect(conn).has_table(TABLE):
                    return None
                sync_shipped(conn, library)
                return read(conn)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def synced(engine: Engine, library: Library | None = None) -> Library:
    """The whole library as the database holds it, the shipped rows copied in first; the shipped
    library alone when the footprint tables were never created."""
    base = library or shipped()
    found = _after_sync(engine, base, lambda conn: combined(conn, base))
    return base if found is None else found


def synced_page(engine: Engine, library: Library | None = None, **query: Any) -> Page | None:
    """`page` of the whole library (the shipped rows copied in first); None without footprint tables."""
    base = library or shipped()
    return _after_sync(engine, base, lambda conn: page(conn, library=base, **query))


@dataclass(frozen=True)
class Page:
    total: int  # the rows that match, on every page
    illustrative: int  # of them, those marked illustrative
    rows: list[tuple[Factor, str]]  # this page's rows with their origin, shipped or imported


def page(
    conn: Connection,
    *,
    activity: str | None = None,
    region: str | None = None,
    year: int | None = None,
    include_superseded: bool = False,
    limit: int = 100,
    offset: int = 0,
    library: Library | None = None,
) -> Page:
    """The rows that match, ordered by id and version (byte order, the same on SQLite and
    PostgreSQL), `limit` of them from `offset`. `year`: rows of that data year."""
    base = library or shipped()
    where: list[ColumnElement[bool]] = []
    if activity is not None:
        where.append(col(StoredFactor.activity) == activity)
    if region is not None:
        where.append(col(StoredFactor.region) == region)
    if year is not None:
        where.append(col(StoredFactor.year) == year)
    if not include_superseded:
        where.append(col(StoredFactor.superseded_by) == "")
    counted = conn.execute(
        select(func.count(), func.coalesce(func.sum(func.cast(col(StoredFactor.illustrative), Integer)), 0)).where(
            *where
        )
    ).one()
    key = col(StoredFactor.id).collate("C") if conn.dialect.name == "postgresql" else col(StoredFactor.id)
    found = conn.execute(
        select(col(StoredFactor.source_file), col(StoredFactor.body), col(StoredFactor.origin))
        .where(*where)
        .order_by(key, col(StoredFactor.version))
        .limit(limit)
        .offset(offset)
    )
    activities = frozenset(base.activities.items())
    rows = [(_parsed(name, body, activities), origin) for name, body, origin in found]
    return Page(int(counted[0]), int(counted[1]), rows)


def _checked(base: Library, factors: dict[str, Factor]) -> Library:
    for f in factors.values():
        if f.region not in base.regions:
            raise FootprintError(f"{f.file}:{f.line}: region {f.region!r} is not in regions.csv; use one it lists")
        if f.superseded_by and f.superseded_by not in factors:
            raise FootprintError(
                f"{f.file}:{f.line}: {f.ref} is superseded by {f.superseded_by}, which is not a row; "
                "import that row too or clear superseded_by"
            )
    _chains_end_current(factors)
    _one_current_per_key(factors)
    return Library(base.activities, base.regions, factors)


def _chains_end_current(factors: dict[str, Factor]) -> None:
    """Every superseded row leads, through rows of its own activity, to a current one: a loop (A → B → A)
    or a hop to another activity would leave its activity, region and year with no row to choose."""
    ends: set[str] = set()  # refs known to lead to a current row
    for f in factors.values():
        path: dict[str, None] = {}  # in order, and looked up in constant time (a chain may be 50,000 rows)
        row = f
        while row.superseded_by and row.ref not in ends:
            if row.ref in path:
                loop = [*list(path)[list(path).index(row.ref) :], row.ref]
                shown = " → ".join(loop if len(loop) <= 6 else [*loop[:3], "…", *loop[-2:]])
                raise FootprintError(
                    f"{f.file}:{f.line}: {f.ref} is superseded in a loop ({shown}), so no row of it is current; "
                    "clear superseded_by on the newest row"
                )
            path[row.ref] = None
            after = factors[row.superseded_by]  # a row: checked before
            if after.activity != row.activity:
                raise FootprintError(
                    f"{f.file}:{f.line}: {row.ref} ({row.activity}) is superseded by {after.ref}, a {after.activity} "
                    f"row; name a newer {row.activity} row"
                )
            row = after
        ends.update(path)


def _plain_cells(raw: dict[str, str], name: str, line: int) -> None:
    """An imported row's id as a pin can name it, and its numbers as a report can use them: int() and
    Decimal() also read full-width digits and "1_000", and a factor of 1e999999 would make every
    report that chose it a million digits long."""
    if not ID.fullmatch(raw.get("id", "")):
        raise FootprintError(
            f"{name}:{line}: id {raw.get('id', '')[:40]!r} is not letters, digits, '.', '_' and '-' (at most 100); "
            "name the row as footprint/factors/*.csv do, e.g. cn-grid-2023-510000"
        )
    for column in ("version", "year"):
        cell = raw.get(column, "")
        if column == "year" and not cell:
            continue
        if not (cell.isascii() and cell.isdigit() and len(cell) <= 9 and int(cell) >= 1):
            raise FootprintError(
                f"{name}:{line}: {column} {cell[:40]!r} is not a whole number from 1 in ASCII digits; fix the row"
            )
    for column in ("kgco2e_per_unit", "uncertainty_pct"):
        cell = raw.get(column, "")
        if column == "uncertainty_pct" and not cell:
            continue
        value = Decimal(cell) if len(cell) <= 40 and PLAIN_NUMBER.fullmatch(cell) else None
        # the range of a quantity (footprint/compute.py): 1e-999999 would print a million zeros in each line
        if value is None or not (value < MAX_TOTAL_KG and (not value or value.adjusted() >= -20)):
            raise FootprintError(
                f"{name}:{line}: {column} {cell[:40]!r} is not a decimal of at most 40 ASCII characters from "
                f"1e-20 to below {MAX_TOTAL_KG:,}; write digits such as 0.1404"
            )


def import_factors(conn: Connection, data: bytes, name: str, library: Library | None = None) -> Imported:
    """Check the factor table `data` (a CSV named `name`) and store its new rows and annotations;
    FootprintError on the first row that breaks a rule, before anything is written."""
    base = library or shipped()
    stored = _stored(conn, base)
    known = {**base.factors, **stored}
    incoming: dict[str, tuple[Factor, dict[str, str]]] = {}
    for line, raw in _rows(data, name):
        _plain_cells(raw, name, line)
        factor = parse_factor(raw, name, line, base.activities)
        if factor.ref in incoming:
            raise FootprintError(f"{name}:{line}: {factor.ref} appears twice; give the new row the next version")
        before = known.get(factor.ref)
        if before is not None and before.sha256 != factor.sha256:
            where = "shipped" if factor.ref in base.factors else "imported"
            raise FootprintError(
                f"{name}:{line}: {factor.ref} is already {where} with other values, and a version never changes; "
                f"give the changed row version {max(f.version for f in known.values() if f.id == factor.id) + 1}"
            )
        incoming[factor.ref] = (factor, raw)
    merged = {**known, **{ref: f for ref, (f, _) in incoming.items()}}
    try:
        _checked(base, merged)
    except FootprintError as exc:
        if "both current" not in str(exc):
            raise
        # the older row may be shipped: it is annotated by importing it again with superseded_by set
        raise FootprintError(f"{exc} (import it again, same values, with superseded_by set)") from None
    done = Imported()
    for ref, (factor, raw) in incoming.items():
        body = canonical_json({c: raw[c] for c in COLUMNS}).decode()
        before = known.get(ref)
        if before is None:
            conn.execute(
                StoredFactor.__table__.insert().values(  # type: ignore[attr-defined]  # SQLModel's table
                    **_values(factor, raw, "imported", name)
                )
            )
            done.added.append(ref)
        elif (before.superseded_by, before.valid_to) == (factor.superseded_by, factor.valid_to):
            done.unchanged.append(ref)
        elif ref in stored:  # imported, or a shipped row already copied in: only its annotations change
            conn.execute(
                update(StoredFactor)
                .where(col(StoredFactor.id) == factor.id, col(StoredFactor.version) == factor.version)
                .values(body=body, superseded_by=factor.superseded_by)
            )
            done.annotated.append(ref)
        else:  # a shipped row not yet copied in that a newer import supersedes: kept with its annotation
            conn.execute(
                StoredFactor.__table__.insert().values(  # type: ignore[attr-defined]  # SQLModel's table
                    **_values(factor, raw, "shipped", base.factors[ref].file)
                )
            )
            done.annotated.append(ref)
    return done


def imported_refs(conn: Connection) -> set[str]:
    """The `id@version` of every row held in the database (imported, or a shipped row's annotation)."""
    if not inspect(conn).has_table(TABLE):
        return set()
    rows: Any = conn.execute(select(col(StoredFactor.id), col(StoredFactor.version)))
    return {f"{i}@{v}" for i, v in rows}
