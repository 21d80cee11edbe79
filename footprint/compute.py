"""A footprint report from activity data: one line per source (quantity × a pinned factor), a
total, the method version, and whether an aviation multiplier is applied.

Arithmetic is exact (decimals, never floats). Rounding, the one rule: each line's exact product is
rounded UP to a whole kilogram (never understating what is to be offset), and the total is the sum
of the lines' kilograms, so anyone can add the lines up to the total.

The report is canonical JSON with a sha256. Each line pins its factor's `id@version` and the row's
hash, and `recompute(report)` works from those pins alone: a factor published later never changes
an old report, and a row edited in place is noticed. The input format is in docs/footprint.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_CEILING,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from pathlib import Path
from typing import Any

from chain.canonical import canonical_json, sha256_hex
from footprint.errors import FootprintError
from footprint.jsonin import loads
from footprint.library import Factor, Library, decimal_text, shipped
from footprint.methods import METHODS, OPERATIONAL, Method
from footprint.units import UNITS, convert, normal, same_dimension

INPUT_FORMAT = "ledger-footprint-input/1"
REPORT_FORMAT = "ledger-footprint-report/1"
ROUNDING = "each line's exact kgCO2e rounded up to a whole kg (ROUND_CEILING); the total is the sum of the lines"
TOP_KEYS = ("format", "subject", "title", "region", "year", "aviation_multiplier", "units", "floor_area_m2", "lines")
LINE_KEYS = ("activity", "quantity", "unit", "passengers", "category", "label", "region", "year", "factor")
MAX_LINES = 1000
MAX_INPUT_BYTES = 2 << 20  # activity data in a file, as the API takes it in a body (1,000 lines at their longest)
MAX_QUANTITY = Decimal(10) ** 12  # in the factor's unit: a terawatt-hour, a trillion passenger-km
MAX_TEXT = 200
MAX_PASSENGERS = 10_000_000
MAX_TOTAL_KG = 10**15  # a billion tonnes: more than any one subject emits; beyond it the units are wrong
YEARS = range(1990, 2101)
MAX_MULTIPLIER = Decimal(5)
MAX_UNITS = 10**9  # a product's units in one report
MAX_AREA = Decimal(10) ** 8  # m2: a hundred square kilometres of floor
MIN_AREA = Decimal(1)  # m2: below it the area is in the wrong unit, and the per-m2 figures explode
# every quantity is at most 40 characters, a factor as long as its row: 1,000 digits hold any product
# of them exactly (the default context's 28 rounded a long quantity down before the ceiling)
EXACT = Context(prec=1000, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
# a quantity as people write it in ASCII: Decimal also takes "1_000" and full-width or Arabic-Indic digits
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


class Where:
    """How an error names the place of a problem. For JSON: `lines[0].quantity` (a field) or
    `lines[0]` (the line, the message naming the field); the CSV reader names a row and a column
    (footprint/csvin.py)."""

    def top(self, name: str) -> str:
        return name

    def line(self, n: int) -> str:
        return f"lines[{n - 1}]"

    def cell(self, n: int, name: str) -> str:
        return f"lines[{n - 1}].{name}"

    def about(self, n: int, name: str) -> str:
        """The line, for a message that names the field `name` in its own words."""
        return self.line(n)


@dataclass(frozen=True)
class FootprintReport:
    document: dict[str, Any]
    sha256: str

    @property
    def total_kg(self) -> int:
        total: int = self.document["total_kgco2e"]
        return total

    @property
    def illustrative(self) -> list[str]:
        """The refs of the illustrative factors used, once each."""
        return sorted({ln["factor"]["ref"] for ln in self.document["lines"] if ln["factor"]["illustrative"]})

    def output(self) -> dict[str, Any]:
        """What the CLI prints and the API answers: the report and its hash."""
        return {"report": self.document, "sha256": self.sha256}


def load_input(path: str | Path) -> dict[str, Any]:
    """Activity data from a JSON file (docs/footprint.md; a CSV file: footprint.csvin.load); decimals
    are read as written."""
    path = Path(path)
    raw = read_at_most(path, MAX_INPUT_BYTES, f"split it (at most {MAX_LINES} lines)")
    data = loads(raw, path.name, "write the activity data as in docs/footprint.md")
    if not isinstance(data, dict):
        raise FootprintError(f"{path.name} holds a JSON {type(data).__name__}; give an object with subject and lines")
    return data


def read_at_most(path: Path, limit: int, fix: str) -> bytes:
    """The file's bytes, refused once past `limit` without reading the rest: read whole first, a 10 GB
    export (or /dev/zero) would take all the memory before its size was compared."""
    try:
        with path.open("rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise FootprintError(f"cannot read {path} ({exc.strerror}); check the path") from None
    if len(raw) > limit:
        raise FootprintError(f"{path.name} is over {limit >> 20} MiB; {fix}")
    return raw


def compute(data: Any, library: Library | None = None, where: Where | None = None) -> FootprintReport:
    """The report of activity data (a dict as docs/footprint.md describes); FootprintError names the
    first problem and its fix, at the place `where` names (JSON paths by default)."""
    return _exactly(lambda: _Computation(library or shipped(), where or Where()).run(data, pins_from_report=None))


def _exactly(run: Callable[[], FootprintReport]) -> FootprintReport:
    """`run` with decimal arithmetic that never rounds: a product too long to hold is refused, not rounded."""
    try:
        with localcontext(EXACT):
            return run()
    except Inexact:
        raise FootprintError(
            f"a line's product has more than {EXACT.prec} significant digits; round its quantity or factor"
        ) from None


def recompute(document: Any, library: Library | None = None) -> FootprintReport:
    """A report computed again from its own lines and pinned factors: the same bytes, or
    FootprintError when a pinned factor is gone or was edited in place."""
    if not isinstance(document, dict) or document.get("format") != REPORT_FORMAT:
        raise FootprintError(f"not a footprint report; give the `report` object of a {REPORT_FORMAT} output")
    lines = document.get("lines")
    if not isinstance(lines, list):
        raise FootprintError("the report has no lines; give the whole `report` object")
    data: dict[str, Any] = {
        "subject": document.get("subject"),
        "region": document.get("region"),
        "year": document.get("year"),
        "lines": [],
    }
    if document.get("title") is not None:
        data["title"] = document["title"]
    multiplier = (document.get("aviation_multiplier") or {}).get("value")
    if multiplier is not None:
        data["aviation_multiplier"] = multiplier
    if isinstance(document.get("product"), dict):
        data["units"] = document["product"].get("units")
    if isinstance(document.get("building"), dict):
        data["floor_area_m2"] = document["building"].get("floor_area_m2")
    pins: dict[int, str] = {}
    for i, ln in enumerate(lines):
        if not isinstance(ln, dict) or not isinstance(ln.get("factor"), dict):
            raise FootprintError(f"report line {i + 1} is not a report line; give the report as it was output")
        data["lines"].append(
            {k: ln[k] for k in LINE_KEYS if k in ln and ln[k] is not None and k != "factor"}
            | {"factor": ln["factor"].get("ref")}
        )
        pins[i] = str(ln["factor"].get("sha256"))
    return _exactly(lambda: _Computation(library or shipped(), Where()).run(data, pins_from_report=pins))


def check(output: Any, library: Library | None = None) -> FootprintReport:
    """An output ({"report", "sha256"}) verified: its hash is of the report as given, and the report
    recomputes to the same bytes from its own lines and pinned factors; FootprintError otherwise."""
    if not isinstance(output, dict) or not isinstance(output.get("report"), dict):
        raise FootprintError("no report object; give the output of `ledger footprint compute --json`")
    try:
        given = sha256_hex(canonical_json(output["report"]))
    except ValueError as exc:
        raise FootprintError(f"the report is not canonical JSON ({exc}); give it as it was output") from None
    if given != output.get("sha256"):
        raise FootprintError(f"the report's sha256 is not {output.get('sha256')!r}; it was changed after it was made")
    again = recompute(output["report"], library)
    if again.sha256 != given:
        differs = next((a["n"] for a, b in zip(again.document["lines"], output["report"]["lines"]) if a != b), None)
        where = f"line {differs}" if differs is not None else "its summary"
        raise FootprintError(
            f"the report does not recompute from its own lines and pinned factors ({where} differs); it was made "
            "by other rules or changed, and its hash re-taken"
        )
    return again


class _Computation:
    def __init__(self, library: Library, where: Where) -> None:
        self.lib = library
        self.where = where

    # ------------------------------------------------------------------ input

    def run(self, data: Any, pins_from_report: dict[int, str] | None) -> FootprintReport:
        if not isinstance(data, dict):
            raise FootprintError(
                f"the activity data is a JSON {type(data).__name__}; give an object with subject, region, year and lines"
            )
        unknown = sorted(set(data) - set(TOP_KEYS))
        if unknown:
            raise FootprintError(f"unknown field {unknown[0]!r}; use {', '.join(TOP_KEYS)} (docs/footprint.md)")
        top = self.where.top
        form = data.get("format", INPUT_FORMAT)
        if form != INPUT_FORMAT:
            raise FootprintError(f"{top('format')} {form!r} is not {INPUT_FORMAT!r}; write that or leave it out")
        subject = data.get("subject")
        method = METHODS.get(subject) if isinstance(subject, str) else None
        if method is None:
            raise FootprintError(
                f"{top('subject')} {subject!r} is not one of {', '.join(METHODS)}; say what is accounted"
            )
        region = self.region(data.get("region"), top("region"))
        year = self.year(data.get("year"), top("year"))
        title = self.text(data.get("title"), top("title"))
        multiplier = self.multiplier(data.get("aviation_multiplier"))
        units = self.units(method, data.get("units"))
        area = self.area(method, data.get("floor_area_m2"))
        lines = data.get("lines")
        if not isinstance(lines, list) or not lines:
            raise FootprintError("lines must be a non-empty list of activities; add one line per emission source")
        if len(lines) > MAX_LINES:
            raise FootprintError(f"{len(lines)} lines is more than {MAX_LINES}; sum similar activities into one line")
        out = [
            self.line(
                n,
                raw,
                method,
                region,
                year,
                multiplier,
                units,
                None if pins_from_report is None else pins_from_report[n - 1],
            )
            for n, raw in enumerate(lines, start=1)
        ]
        return self.report(method, title, region, year, multiplier, out, units, area)

    def units(self, method: Method, value: Any) -> int | None:
        """A product's lines describe one unit; the report covers `units` of them (1 when absent)."""
        where = self.where.top("units")
        if method.subject != "product":
            if value is not None:
                raise FootprintError(f"{where} applies to a product only; drop it for a {method.subject}")
            return None
        if value is None:
            return 1
        if isinstance(value, str) and value.isascii() and value.isdigit():  # "²" is a digit to isdigit, not to int
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_UNITS:
            raise FootprintError(
                f"{where} {value!r} is not a whole number from 1 to {MAX_UNITS:,}; count the units the report covers"
            )
        return value

    def area(self, method: Method, value: Any) -> Decimal | None:
        where = self.where.top("floor_area_m2")
        if method.subject != "building":
            if value is not None:
                raise FootprintError(f"{where} applies to a building only; drop it for a {method.subject}")
            return None
        if value is None:
            raise FootprintError(f"{where} is missing; give the building's floor area in square metres, e.g. 12000")
        area = self.decimal(value, where)
        if not Decimal(0) < area <= MAX_AREA:
            raise FootprintError(f"{where} {decimal_text(area)} must be above 0 and at most {MAX_AREA:,} m2; fix it")
        if area < MIN_AREA:
            raise FootprintError(
                f"{where} {decimal_text(area)} must be at least {MIN_AREA} m2; give the floor area in m2"
            )
        return area

    def text(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise FootprintError(f"{where} must be text of at most {MAX_TEXT} characters; shorten it")
        return value

    def region(self, value: Any, where: str) -> str:
        """A region the library knows: CN, a grid region (西南), a province's GB/T 2260 code, or a
        code below a province (510100, 成都) whose province the library knows."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise FootprintError(
                f"{where} is missing; give the GB/T 2260 code of where it happens (510100 for 成都), or CN"
            )
        if value in self.lib.regions or (len(value) == 6 and value.isdigit() and province(value) in self.lib.regions):
            return value
        raise FootprintError(
            f"{where} {value!r} is not a GB/T 2260 code (510100 for 成都, 510000 for 四川), a grid region (西南) or CN; fix it"
        )

    def year(self, value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value not in YEARS:
            raise FootprintError(f"{where} {value!r} is not a year; give the year the activity took place, e.g. 2026")
        return value

    def multiplier(self, value: Any) -> Decimal | None:
        if value is None:
            return None
        where = self.where.top("aviation_multiplier")
        m = self.decimal(value, where)
        if not Decimal(1) <= m <= MAX_MULTIPLIER:
            raise FootprintError(
                f"{where} {decimal_text(m)} is outside 1..{MAX_MULTIPLIER}; give e.g. 2, or leave it out "
                "to count CO2 only"
            )
        return m

    @staticmethod
    def decimal(value: Any, where: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise FootprintError(f"{where} must be a number; write digits such as 1200 or 0.5")
        if isinstance(value, str) and len(value) > 40:
            raise FootprintError(f"{where} has too many digits; round it to at most 40 characters")
        try:
            d = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            raise FootprintError(f"{where} {value!r} is not a number; write digits such as 1200 or 0.5") from None
        if not d.is_finite():
            raise FootprintError(f"{where} is not a finite number; write digits such as 1200 or 0.5")
        if isinstance(value, str) and not PLAIN_NUMBER.fullmatch(value.strip()):
            raise FootprintError(
                f"{where} {value!r} is not plain digits; write ASCII digits (半角) without separators, such as 1200 or 0.5"
            )
        # exponents beyond these would overflow the decimal context long before any sane quantity
        if d and not -20 <= d.adjusted() <= 15:
            raise FootprintError(f"{where} {value!r} is out of range (1e-20 to 1e15); check the unit")
        # -0 is 0: printed "-0" it is no plain decimal, and the certificate check refuses the line
        return d if d else Decimal(0)

    # ------------------------------------------------------------------ one line

    def line(
        self,
        n: int,
        raw: Any,
        method: Method,
        region: str,
        year: int,
        multiplier: Decimal | None,
        units: int | None,
        pinned_hash: str | None,
    ) -> dict[str, Any]:
        w = self.where
        at = w.line(n)
        if not isinstance(raw, dict):
            raise FootprintError(f"{at} is not an object; give activity, quantity and unit")
        unknown = sorted(set(raw) - set(LINE_KEYS))
        if unknown:
            raise FootprintError(f"{at}: unknown field {unknown[0]!r}; use {', '.join(LINE_KEYS)}")
        name = raw.get("activity")
        if not isinstance(name, str):
            raise FootprintError(
                f"{w.about(n, 'activity')}: activity is missing; name one (`ledger factors list` shows them)"
            )
        try:
            activity = self.lib.activity(name)
        except FootprintError as exc:
            raise FootprintError(f"{w.about(n, 'activity')}: {exc}") from None
        category = self.category(w.about(n, "category"), raw.get("category"), activity.kind, activity.id, method)
        quantity = self.decimal(raw.get("quantity"), w.cell(n, "quantity"))
        if quantity < 0:
            raise FootprintError(
                f"{w.about(n, 'quantity')}: quantity {decimal_text(quantity)} is negative; give what was consumed (0 or more); "
                "a reduction is not a line of a footprint"
            )
        unit_given = raw.get("unit")
        unit = normal(unit_given) if isinstance(unit_given, str) else None
        if unit is None:
            raise FootprintError(
                f"{w.about(n, 'unit')}: unit {unit_given!r} is unknown; give {activity.id} in {' or '.join(same_dimension(activity.unit))}"
            )
        passengers = raw.get("passengers")
        if passengers is not None:
            if not isinstance(passengers, int) or isinstance(passengers, bool) or not 1 <= passengers <= MAX_PASSENGERS:
                raise FootprintError(
                    f"{w.about(n, 'passengers')}: passengers is not a whole number from 1 to {MAX_PASSENGERS:,}; count the travellers"
                )
            if unit != "km" or activity.unit != "pkm":
                raise FootprintError(
                    f"{w.about(n, 'passengers')}: passengers goes with a distance in km of a passenger-km activity; drop it or give unit km"
                )
        converted = convert(quantity, unit, activity.unit, passengers)
        if converted is None:
            hint = " with passengers (how many travelled)" if unit == "km" else ""
            raise FootprintError(
                f"{w.about(n, 'unit')}: unit {unit} does not convert to {activity.unit}, the unit of {activity.id}'s factors; give the "
                f"quantity in {' or '.join(same_dimension(activity.unit))}{hint}"
            )
        if units is not None:  # a product's line is of one unit: the report covers `units` of them
            converted *= units
        if converted > MAX_QUANTITY:
            raise FootprintError(
                f"{w.about(n, 'quantity')}: the quantity is beyond {MAX_QUANTITY:,} {activity.unit} once converted; "
                "check the unit"
            )
        line_region = self.region(raw["region"], w.cell(n, "region")) if raw.get("region") is not None else region
        line_year = self.year(raw["year"], w.cell(n, "year")) if raw.get("year") is not None else year
        factor, notes = self.factor(
            w.about(n, "factor"),
            w.about(n, "region"),
            activity.id,
            line_region,
            line_year,
            raw.get("factor"),
            pinned_hash,
        )
        applied = multiplier if (activity.aviation and multiplier is not None) else Decimal(1)
        exact = converted * factor.kgco2e_per_unit * applied
        if exact >= MAX_TOTAL_KG:  # before its kilograms are made an int (a factor of 1e999999: a million digits)
            raise FootprintError(
                f"{at}: the line comes to more than {MAX_TOTAL_KG:,} kgCO2e; check the quantity's unit and the factor"
            )
        kg = int(exact.to_integral_value(rounding=ROUND_CEILING))
        label = self.text(raw.get("label"), w.cell(n, "label"))
        if activity.aviation and multiplier is not None:
            notes.append(f"aviation multiplier {decimal_text(multiplier)} applied (non-CO2 effects of flying)")
        if units is not None and units != 1:
            notes.append(f"per unit × {units:,} units")
        return {
            "n": n,
            "category": category,
            "activity": activity.id,
            "label": label,
            "quantity": decimal_text(quantity),
            "unit": unit,
            "passengers": passengers,
            "region": line_region,
            "year": line_year,
            "factor_quantity": decimal_text(converted),
            "factor": {
                "ref": factor.ref,
                "sha256": factor.sha256,
                "kgco2e_per_unit": decimal_text(factor.kgco2e_per_unit),
                "unit": factor.unit,
                "region": factor.region,
                "year": factor.year,
                "gases": factor.gases,
                "source": factor.source,
                "source_url": factor.source_url or None,
                "illustrative": factor.illustrative,
            },
            "multiplier": decimal_text(applied),
            "declared": activity.kind == "declared",
            "exact_kgco2e": decimal_text(exact),
            "kgco2e": kg,
            "notes": notes,
        }

    def category(self, at: str, given: Any, kind: str, activity: str, method: Method) -> str:
        if kind == "reference":
            raise FootprintError(
                f"{at}: {activity} is a reference factor: market-based accounting needs cancelled green-power "
                "certificates named, which this method version does not take; use grid-electricity (location-based)"
            )
        names = ", ".join(c.id for c in method.categories)
        if given is None:
            found = method.default.get(kind)
            if found is None and not any(kind in c.kinds for c in method.categories):
                raise FootprintError(
                    f"{at}: {activity} is not a source a {method.subject}'s report counts ({names}); leave it out, "
                    "or give its figure as declared-kgco2e under one of them"
                )
            if found is None:
                raise FootprintError(f"{at}: say which category {activity} belongs to; give category, one of {names}")
            return found
        category = method.category(given) if isinstance(given, str) else None
        if category is None:
            raise FootprintError(f"{at}: category {given!r} is not one of an {method.subject}'s; use one of {names}")
        if kind not in category.kinds:
            fits = [c.id for c in method.categories if kind in c.kinds]
            raise FootprintError(
                f"{at}: {activity} does not belong in {category.id}; put it under {' or '.join(fits) or 'another subject'}"
            )
        return category.id

    def factor(
        self, pin_at: str, at: str, activity: str, region: str, year: int, pin: Any, pinned_hash: str | None
    ) -> tuple[Factor, list[str]]:
        if pin is not None:
            at = pin_at
            if not isinstance(pin, str):
                raise FootprintError(f"{at}: factor is not text; give an id@version such as cn-grid-2022-510000@1")
            try:
                factor = self.lib.factor(pin)
            except FootprintError as exc:
                raise FootprintError(f"{at}: {exc}") from None
            if factor.activity != activity:
                raise FootprintError(f"{at}: factor {factor.ref} is for {factor.activity}, not {activity}; fix one")
            if pinned_hash is not None and factor.sha256 != pinned_hash:
                raise FootprintError(
                    f"{at}: factor {factor.ref} has changed since the report was made (its row hash differs); restore "
                    "the row from version control: a shipped row is never edited, a correction is a new version"
                )
            # no word here of a later supersession: the line must read the same when recomputed years on
            return factor, self.notes(activity, factor, region, year)
        rule = self.lib.activity(activity).region_rule
        chain = [region]
        if rule in ("province", "national") and province(region) not in chain and province(region) in self.lib.regions:
            chain.append(province(region))
        if rule == "national" and "CN" not in chain:
            chain.append("CN")
        current = [f for f in self.lib.of(activity) if f.current]
        for place in chain:
            here = [f for f in current if f.region == place]
            if not here:
                continue
            usable = [f for f in here if f.year is None or f.year <= year]
            if not usable:
                first = min(f.year or 0 for f in here)
                raise FootprintError(
                    f"{at}: {activity} factors for {place} start in {first}, after {year}; give a year of "
                    f"{first} or later (the newest published year is used for later years)"
                )
            factor = max(usable, key=lambda f: f.year or 0)
            return factor, self.notes(activity, factor, region, year)
        widest = {
            "province": "its province",
            "national": "its province or nationally",
            "exact": "exactly as named",
        }[rule]
        raise FootprintError(
            f"{at}: no {activity} factor for {region} ({self.name(region)}), {widest}, and {activity} has no wider "
            f"fallback; give the line a region that has one (e.g. CN or a grid region such as 西南) and say why"
        )

    def notes(self, activity: str, factor: Factor, region: str, year: int) -> list[str]:
        """How the factor relates to the line's region and year: the same whether chosen or pinned."""
        notes = []
        if factor.region != region:
            rule = self.lib.activity(activity).region_rule
            notes.append(f"no {activity} factor for {region}; {factor.region} used ({rule} rule)")
        if factor.year is not None and factor.year != year:
            notes.append(f"{year} uses the newest published year not after it, {factor.year}")
        return notes

    def name(self, region: str) -> str:
        found = self.lib.regions.get(region) or self.lib.regions.get(province(region))
        return found.name_zh if found else "unknown"

    # ------------------------------------------------------------------ the report

    def report(
        self,
        method: Method,
        title: str | None,
        region: str,
        year: int,
        multiplier: Decimal | None,
        lines: list[dict[str, Any]],
        units: int | None = None,
        area: Decimal | None = None,
    ) -> FootprintReport:
        total = sum(ln["kgco2e"] for ln in lines)
        if total >= MAX_TOTAL_KG:
            raise FootprintError(f"the total {total:,} kgCO2e is beyond {MAX_TOTAL_KG:,}; check the quantities' units")
        by_category = [
            {
                "category": c.id,
                "zh": c.zh,
                "en": c.en,
                "kgco2e": sum(ln["kgco2e"] for ln in lines if ln["category"] == c.id),
            }
            for c in method.categories
            if any(ln["category"] == c.id for ln in lines)
        ]
        aviation = any(ln["multiplier"] != "1" for ln in lines)
        warnings = [
            f"line {ln['n']}: {ln['factor']['ref']} is illustrative (no public source cited); replace it with a sourced "
            "value before a claim rests on this report"
            for ln in lines
            if ln["factor"]["illustrative"]
        ]
        document = {
            "format": REPORT_FORMAT,
            "subject": method.subject,
            "method": {"id": method.id, "version": method.version, "title": method.title},
            "title": title,
            "region": region,
            "year": year,
            "lines": lines,
            "categories": by_category,
            "total_kgco2e": total,
            "aviation_multiplier": {
                "applied": aviation,
                "value": None if multiplier is None else decimal_text(multiplier),
            },
            "rounding": ROUNDING,
            "illustrative": bool(warnings),
            "warnings": warnings,
        }
        if units is not None:
            document["product"] = {
                "units": units,
                "kgco2e_per_unit": _per(lines, units),
                "rounding": "the sum of the lines' exact kgCO2e divided by the units, rounded up to a gram",
            }
        if area is not None:
            operational = [ln for ln in lines if ln["category"] in OPERATIONAL]
            embodied = [ln for ln in lines if ln["category"] not in OPERATIONAL]
            document["building"] = {
                "floor_area_m2": decimal_text(area),
                "operational_kgco2e_per_year": sum(ln["kgco2e"] for ln in operational),
                "operational_kgco2e_per_m2_year": _per(operational, area),
                "embodied_kgco2e": sum(ln["kgco2e"] for ln in embodied),
                "embodied_kgco2e_per_m2": _per(embodied, area),
                "rounding": "the lines' exact kgCO2e summed and divided by the floor area, rounded up to a gram",
            }
        return FootprintReport(document, sha256_hex(canonical_json(document)))


def _per(lines: list[dict[str, Any]], by: int | Decimal) -> str:
    """The lines' exact kgCO2e over `by`, rounded up to a gram: exact fractions, so no division rounds first."""
    exact = sum((Fraction(Decimal(ln["exact_kgco2e"])) for ln in lines), Fraction(0)) / Fraction(by)
    grams = -((-exact * 1000).numerator // (exact * 1000).denominator)  # ceiling
    return decimal_text(Decimal(grams) / 1000) if grams else "0"


def province(code: str) -> str:
    """The GB/T 2260 province of a code (510104 → 510000); anything else as it is."""
    return code[:2] + "0000" if len(code) == 6 and code.isdigit() else code


__all__ = [
    "INPUT_FORMAT",
    "REPORT_FORMAT",
    "ROUNDING",
    "UNITS",
    "FootprintReport",
    "Where",
    "check",
    "compute",
    "load_input",
    "recompute",
]
