"""The factor library: emission factors as versioned, immutable rows shipped in footprint/factors/.

A row is `id@version`. Its values never change once shipped: a correction is a new version (or a new
id) and the old row gains `superseded_by`. Each row's hash covers every value but `superseded_by`
and `valid_to` (the two annotations a later row adds), and reports pin `id@version` with that hash,
so a report recomputes from exactly the factors it used, and notices if one was edited in place.

Every row cites a source. A row without a public source says `illustrative=true`, and every report
that uses it says so too. The columns are described in docs/footprint.md."""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from chain.canonical import canonical_json, sha256_hex
from footprint.errors import FootprintError
from footprint.units import UNITS

FACTORS_DIR = Path(__file__).resolve().parent / "factors"
COLUMNS = (
    "id",
    "version",
    "activity",
    "region",
    "year",
    "unit",
    "kgco2e_per_unit",
    "gases",
    "gwp_set",
    "source",
    "source_url",
    "uncertainty_pct",
    "valid_from",
    "valid_to",
    "superseded_by",
    "illustrative",
    "note",
)
ANNOTATIONS = ("superseded_by", "valid_to")  # what a later row may add to an earlier one
REGION_RULES = ("province", "national", "exact")


@dataclass(frozen=True)
class Activity:
    id: str
    unit: str
    kind: str  # which calculator category takes it (footprint/methods.py)
    region_rule: str  # province: the region, then its province; national: then CN too; exact: only as named
    aviation: bool
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class Region:
    code: str
    kind: str  # national | grid | province
    name_zh: str


@dataclass(frozen=True)
class Factor:
    id: str
    version: int
    activity: str
    region: str
    year: int | None  # None: not tied to a data year (a definition, a placeholder)
    unit: str
    kgco2e_per_unit: Decimal
    gases: str
    gwp_set: str
    source: str
    source_url: str
    uncertainty_pct: Decimal | None
    valid_from: date | None
    valid_to: date | None
    superseded_by: str
    illustrative: bool
    note: str
    file: str
    line: int
    sha256: str = field(compare=False)
    raw: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)  # the columns as written

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def current(self) -> bool:
        return not self.superseded_by

    def document(self) -> dict[str, object]:
        """The row as JSON (decimals as strings), with its ref and hash."""
        return {
            "ref": self.ref,
            "id": self.id,
            "version": self.version,
            "activity": self.activity,
            "region": self.region,
            "year": self.year,
            "unit": self.unit,
            "kgco2e_per_unit": decimal_text(self.kgco2e_per_unit),
            "gases": self.gases,
            "gwp_set": self.gwp_set,
            "source": self.source,
            "source_url": self.source_url or None,
            "uncertainty_pct": None if self.uncertainty_pct is None else decimal_text(self.uncertainty_pct),
            "valid_from": None if self.valid_from is None else self.valid_from.isoformat(),
            "valid_to": None if self.valid_to is None else self.valid_to.isoformat(),
            "superseded_by": self.superseded_by or None,
            "illustrative": self.illustrative,
            "note": self.note,
            "sha256": self.sha256,
        }


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits, without exponent or trailing zeros: 2E+4 → "20000", 0.1500 → "0.15"."""
    text = format(value.normalize(), "f")
    return text


def row_hash(raw: dict[str, str]) -> str:
    return sha256_hex(canonical_json({k: raw[k] for k in COLUMNS if k not in ANNOTATIONS}))


@dataclass(frozen=True)
class Library:
    activities: dict[str, Activity]
    regions: dict[str, Region]
    factors: dict[str, Factor]  # by ref

    def activity(self, name: str) -> Activity:
        found = self.activities.get(name)
        if found is None:
            raise FootprintError(
                f"unknown activity {name!r}; use one of {', '.join(sorted(self.activities))} (`ledger factors list`)"
            )
        return found

    def factor(self, ref: str) -> Factor:
        """A row by `id@version`, or by `id` alone for its newest version."""
        if "@" not in ref:
            versions = [f for f in self.factors.values() if f.id == ref]
            if versions:
                return max(versions, key=lambda f: f.version)
        elif ref in self.factors:
            return self.factors[ref]
        raise FootprintError(f"no factor {ref!r} in the library; `ledger factors list` shows every id@version")

    def of(self, activity: str) -> list[Factor]:
        return [f for f in self.factors.values() if f.activity == activity]


def _read(path: Path) -> list[tuple[int, dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}) for row in reader]


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FootprintError(f"{what} {text!r} is not a decimal; write digits such as 0.1404") from None
    if not value.is_finite() or value < 0:
        raise FootprintError(f"{what} {text!r} must be a finite number of 0 or more; fix the row")
    return value


def _date(text: str, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FootprintError(f"{what} {text!r} is not a date; write YYYY-MM-DD") from None


def parse_factor(raw: dict[str, str], file: str, line: int, activities: dict[str, Activity]) -> Factor:
    where = f"{file}:{line}"
    missing = [c for c in COLUMNS if c not in raw]
    if missing:
        raise FootprintError(f"{where}: the factor table lacks column {', '.join(missing)}; add it (docs/footprint.md)")
    if not raw["source"]:
        raise FootprintError(
            f"{where}: factor {raw['id']} cites no source; name the publication, or mark it illustrative and say so"
        )
    illustrative = raw["illustrative"].lower()
    if illustrative not in ("true", "false"):
        raise FootprintError(f"{where}: illustrative must be true or false, not {raw['illustrative']!r}; write one")
    activity = activities.get(raw["activity"])
    if activity is None:
        raise FootprintError(f"{where}: activity {raw['activity']!r} is not in activities.csv; add it there first")
    if illustrative == "false" and not raw["source_url"] and activity.kind != "declared":
        raise FootprintError(
            f"{where}: factor {raw['id']} has no source_url; give the public address of its source, "
            "or mark it illustrative=true"
        )
    if raw["unit"] != activity.unit:
        raise FootprintError(f"{where}: unit {raw['unit']!r} is not {activity.id}'s {activity.unit!r}; fix the row")
    try:
        version = int(raw["version"])
        year = int(raw["year"]) if raw["year"] else None
    except ValueError:
        raise FootprintError(f"{where}: version and year must be whole numbers; fix the row") from None
    return Factor(
        id=raw["id"],
        version=version,
        activity=raw["activity"],
        region=raw["region"],
        year=year,
        unit=raw["unit"],
        kgco2e_per_unit=_decimal(raw["kgco2e_per_unit"], f"{where}: kgco2e_per_unit"),
        gases=raw["gases"],
        gwp_set=raw["gwp_set"],
        source=raw["source"],
        source_url=raw["source_url"],
        uncertainty_pct=_decimal(raw["uncertainty_pct"], f"{where}: uncertainty_pct")
        if raw["uncertainty_pct"]
        else None,
        valid_from=_date(raw["valid_from"], f"{where}: valid_from"),
        valid_to=_date(raw["valid_to"], f"{where}: valid_to"),
        superseded_by=raw["superseded_by"],
        illustrative=illustrative == "true",
        note=raw["note"],
        file=file,
        line=line,
        sha256=row_hash(raw),
        raw=tuple((c, raw[c]) for c in COLUMNS),
    )


def load(directory: Path = FACTORS_DIR) -> Library:
    """Every row of every factor table in `directory` (activities.csv and regions.csv describe them);
    FootprintError on the first row that breaks a rule, so a broken library is never half used."""
    try:
        activities: dict[str, Activity] = {}
        for line, a in _read(directory / "activities.csv"):
            if a["region_rule"] not in REGION_RULES or a["unit"] not in UNITS:
                raise FootprintError(
                    f"activities.csv:{line}: region_rule or unit of {a['activity']} is unknown; fix the row"
                )
            activities[a["activity"]] = Activity(
                a["activity"],
                a["unit"],
                a["kind"],
                a["region_rule"],
                a["aviation"] == "true",
                a["label_zh"],
                a["label_en"],
            )
        regions = {
            r["region"]: Region(r["region"], r["kind"], r["name_zh"]) for _, r in _read(directory / "regions.csv")
        }
        factors: dict[str, Factor] = {}
        for path in sorted(directory.glob("*.csv")):
            if path.name in ("activities.csv", "regions.csv"):
                continue
            for line, raw in _read(path):
                f = parse_factor(raw, path.name, line, activities)
                if f.ref in factors:
                    raise FootprintError(
                        f"{path.name}:{line}: {f.ref} appears twice; give the new row the next version"
                    )
                if f.region not in regions:
                    raise FootprintError(f"{path.name}:{line}: region {f.region!r} is not in regions.csv; add it")
                factors[f.ref] = f
    except OSError as exc:
        raise FootprintError(f"cannot read the factor library in {directory} ({exc.strerror}); reinstall") from None
    for f in factors.values():
        if f.superseded_by and f.superseded_by not in factors:
            raise FootprintError(
                f"{f.file}:{f.line}: {f.ref} is superseded by {f.superseded_by}, which is not a row; add that row or clear superseded_by"
            )
    _one_current_per_key(factors)
    return Library(activities, regions, factors)


def _one_current_per_key(factors: dict[str, Factor]) -> None:
    """Two current rows for the same activity, region and year would make the choice arbitrary."""
    seen: dict[tuple[str, str, int | None], Factor] = {}
    for f in factors.values():
        if not f.current:
            continue
        key = (f.activity, f.region, f.year)
        if key in seen:
            raise FootprintError(
                f"{f.file}:{f.line}: {f.ref} and {seen[key].ref} are both current for {f.activity} {f.region} "
                f"{f.year}; set superseded_by on the older one"
            )
        seen[key] = f


@functools.cache
def shipped() -> Library:
    """The library shipped with the project, read once."""
    return load(FACTORS_DIR)
