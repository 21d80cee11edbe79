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
activity, region and year) before anything is written."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Text, inspect, select, update
from sqlmodel import Field, SQLModel, col

from chain.canonical import canonical_json
from footprint.errors import FootprintError
from footprint.library import COLUMNS, Factor, Library, _one_current_per_key, parse_factor, shipped

MAX_BYTES = 10 << 20  # a few hundred thousand rows; a bigger file is not a factor table
TABLE = "footprint_factors"


class StoredFactor(SQLModel, table=True):
    __tablename__ = TABLE
    id: str = Field(primary_key=True)
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sha256: str  # the row's hash without its annotations: what a report pins
    source_file: str  # the imported file's name, without its directory
    body: str = Field(sa_type=Text)  # every column as canonical JSON, annotations included


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
    for source_file, body in conn.execute(select(col(StoredFactor.source_file), col(StoredFactor.body))):
        factor = parse_factor(json.loads(body), source_file, 0, library.activities)
        out[factor.ref] = factor
    return out


def combined(conn: Connection, library: Library | None = None) -> Library:
    """The shipped library with every imported row (and the annotations imports recorded)."""
    base = library or shipped()
    return _checked(base, {**base.factors, **_stored(conn, base)})


def _checked(base: Library, factors: dict[str, Factor]) -> Library:
    for f in factors.values():
        if f.region not in base.regions:
            raise FootprintError(f"{f.file}:{f.line}: region {f.region!r} is not in regions.csv; use one it lists")
        if f.superseded_by and f.superseded_by not in factors:
            raise FootprintError(
                f"{f.file}:{f.line}: {f.ref} is superseded by {f.superseded_by}, which is not a row; "
                "import that row too or clear superseded_by"
            )
    _one_current_per_key(factors)
    return Library(base.activities, base.regions, factors)


def import_factors(conn: Connection, data: bytes, name: str, library: Library | None = None) -> Imported:
    """Check the factor table `data` (a CSV named `name`) and store its new rows and annotations;
    FootprintError on the first row that breaks a rule, before anything is written."""
    base = library or shipped()
    stored = _stored(conn, base)
    known = {**base.factors, **stored}
    incoming: dict[str, tuple[Factor, dict[str, str]]] = {}
    for line, raw in _rows(data, name):
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
                    id=factor.id, version=factor.version, sha256=factor.sha256, source_file=name, body=body
                )
            )
            done.added.append(ref)
        elif (before.superseded_by, before.valid_to) == (factor.superseded_by, factor.valid_to):
            done.unchanged.append(ref)
        elif ref in stored:
            conn.execute(
                update(StoredFactor)
                .where(col(StoredFactor.id) == factor.id, col(StoredFactor.version) == factor.version)
                .values(body=body)
            )
            done.annotated.append(ref)
        else:  # a shipped row a newer import supersedes: the annotation is kept here, the row as shipped
            conn.execute(
                StoredFactor.__table__.insert().values(  # type: ignore[attr-defined]  # SQLModel's table
                    id=factor.id, version=factor.version, sha256=factor.sha256, source_file=name, body=body
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
