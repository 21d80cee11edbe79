"""A monitoring report loaded and checked: every mistake is collected with its file, line and fix
(up to LIMIT of them), and a report with any mistake is refused whole, never half-loaded.

Checks here need no methodology (units, references, dates, counts); the ones that do (species
group, variables, their plausible ranges) run when it is computed against a bundle (mrv/check.py)."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mrv.errors import ReportError, ReportErrors
from mrv.readers import REPORT_FORMAT, Section, read

LIMIT = 1000  # mistakes collected before stopping: a wholly wrong file needs no million lines
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

COLUMNS = {
    "report": ({"project", "monitoring_start", "monitoring_end"}, {"methodology", "format"}),
    "strata": ({"id", "area_ha", "species_group", "crediting_start", "crediting_end"}, {"baseline_kgco2e"}),
    "plots": ({"id", "stratum"}, {"area_m2"}),
    "visits": ({"plot", "date"}, set()),  # any other column is a measured variable
    "trees": ({"plot", "date", "dbh_cm", "height_m"}, set()),
    "emissions": ({"id", "stratum", "kind", "date", "kgco2e"}, {"area_ha"}),
}
EMISSION_KINDS = ("fire", "logging", "pest", "methane", "fuel", "other")
# beyond these a measurement is in another unit: no tree has a 3 m trunk or stands 120 m tall
MAX_DBH_CM, MAX_HEIGHT_M, MIN_PLOT_M2, MAX_STRATUM_HA = 300.0, 120.0, 10.0, 1_000_000.0
# no stock on earth changes by 10,000 tCO2e a hectare (peat 2 m deep holds about 4,000): a baseline or
# an emission beyond it is in grams or a total of something else, and unbounded it overflowed the
# integers a result is hashed with
MAX_KG_PER_HA = 10_000_000.0
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# a line break in an id split a mistake's one line in two (the second could pose as another
# "error:"), and direction marks reorder what a terminal or page shows of it
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Stratum:
    id: str
    area_ha: float
    species_group: str
    crediting_start: date
    crediting_end: date
    baseline_kg: float
    line: int


@dataclass(frozen=True)
class Emission:
    id: str
    stratum: str
    kind: str
    day: date
    kgco2e: float
    line: int


@dataclass(frozen=True)
class MonitoringReport:
    """Strata and emissions as records; plots, visits and trees as columns (numpy arrays), the
    rows of each referring to the previous by index."""

    file: str
    sha256: str  # of the file's bytes: what is stored content-addressed and bound into a result
    project: str
    methodology: str | None
    monitoring_start: date
    monitoring_end: date
    line: int
    strata: tuple[Stratum, ...]  # sorted by id
    plot_ids: tuple[str, ...]
    plot_stratum: Ints  # index into strata
    plot_area_m2: Floats  # nan when not given
    plot_line: Ints
    visit_plot: Ints  # index into plot_ids
    visit_day: Ints  # proleptic ordinal
    visit_line: Ints
    visit_values: dict[str, Floats]  # measured variable → value per visit, nan when not given
    visit_value_line: dict[str, int]  # where each variable's column is named
    tree_visit: Ints  # index into the visits
    tree_dbh_cm: Floats
    tree_height_m: Floats
    tree_line: Ints
    emissions: tuple[Emission, ...]  # sorted by stratum, id

    @property
    def species_groups(self) -> set[str]:
        return {s.species_group for s in self.strata}


class Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ReportError] = []

    def add(self, line: int, message: str) -> None:
        if len(self.errors) < LIMIT:
            self.errors.append(ReportError(self.file, line, message))

    def raise_any(self) -> None:
        if self.errors:
            raise ReportErrors(self.errors)


def load_report(path: str | Path) -> MonitoringReport:
    """Read and check a report file (JSON or sectioned CSV, docs/mrv.md); ReportErrors lists every
    mistake (up to LIMIT) by line, and nothing of a report with a mistake is returned."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportErrors(
            [ReportError(str(path), 0, f"cannot read the report ({exc.strerror}); check the path")]
        ) from None
    return parse_report(data, path.name)


def parse_report(data: bytes, file: str) -> MonitoringReport:
    sections = read(data, file)
    c = Collector(file)
    for name, (required, optional) in COLUMNS.items():
        section = sections.get(name)
        if section is None:
            if name not in ("trees", "emissions", "visits"):
                c.add(1, f"the report has no {name} section; add it (docs/mrv.md)")
            continue
        if name == "report" and len(section) != 1:
            c.add(section.header_line, "the report section needs exactly one record; keep one")
        missing = required - section.columns.keys()
        if missing and len(section):
            c.add(section.header_line, f"{name} lacks column {', '.join(sorted(missing))}; add it")
        if name != "visits":
            for extra in sorted(section.columns.keys() - required - optional):
                c.add(
                    section.header_line,
                    f"{name} has unknown column {extra!r}; use {', '.join(sorted(required | optional))}",
                )
    c.raise_any()
    return Builder(c, sections).build(data)


class Builder:
    """Typed columns from a report's sections, every mistake collected on the way."""

    def __init__(self, c: Collector, sections: dict[str, Section]) -> None:
        self.c = c
        self.s = sections
        self.empty = Section("", 0)  # an absent optional section
        self.dates: dict[Any, int | None] = {}

    # ------------------------------------------------------------------ cells

    @staticmethod
    def column(sec: Section, name: str) -> list[Any]:
        found = sec.columns.get(name)
        if found is None:
            found = sec.columns[name] = [None] * len(sec)  # absent: every cell empty
        return found

    def text(self, sec: Section, name: str, i: int) -> str | None:
        v = self.column(sec, name)[i]
        if v is None or (isinstance(v, str) and not v.strip()):
            self.c.add(sec.lines[i], f"{sec.name} record has no {name}; fill it in")
            return None
        if not isinstance(v, str | int) or isinstance(v, bool):
            self.c.add(sec.lines[i], f"{name} must be text; quote it")
            return None
        text = str(v).strip()
        if _CONTROL.search(text):
            self.c.add(
                sec.lines[i],
                f"{name} {text!r} holds a control character (a line break, tab or escape) or a direction mark; remove it",
            )
            return None
        return text

    def day(self, sec: Section, name: str, i: int) -> date | None:
        v = self.column(sec, name)[i]
        ordinal = self.ordinal(v)
        if ordinal is None:
            self.c.add(sec.lines[i], f"{name} {v!r} is not a date; write YYYY-MM-DD")
            return None
        return date.fromordinal(ordinal)

    def ordinal(self, v: Any) -> int | None:
        if v not in self.dates:
            ok = isinstance(v, str) and _DATE.match(v.strip()) is not None
            try:
                self.dates[v] = date.fromisoformat(v.strip()).toordinal() if ok else None
            except ValueError:
                self.dates[v] = None
        return self.dates[v]

    def numbers(self, sec: Section, name: str, *, required: bool, rows: list[int] | None = None) -> Floats:
        """A column as float64, nan where empty; a missing required value or a non-number is a mistake."""
        column = self.column(sec, name)
        values = column if rows is None else [column[i] for i in rows]
        lines = sec.lines if rows is None else [sec.lines[i] for i in rows]
        wrong: set[int] = set()
        try:
            cleaned = [np.nan if v is None or v == "" else v for v in values]
            if bool in set(map(type, cleaned)):  # numpy would take true for 1
                raise TypeError
            out = np.array(cleaned, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            out = np.full(len(values), np.nan)
            for k, v in enumerate(values):
                if v is None or v == "":
                    continue
                try:
                    if isinstance(v, bool):
                        raise TypeError
                    out[k] = float(v)
                except (ValueError, TypeError, OverflowError):
                    wrong.add(k)
                    self.c.add(lines[k], f"{name} {v!r} is not a number; write a decimal such as 23.4")
        for k in np.flatnonzero(np.isnan(out))[:LIMIT]:
            v = values[k]
            if v is None or v == "" or k in wrong:
                if required and k not in wrong:
                    self.c.add(lines[k], f"{sec.name} record has no {name}; fill it in")
                continue
            # NaN written in the file (JSON's NaN, a CSV "nan") is no measurement, nor an empty cell
            self.c.add(lines[k], f"{name} {v!r} is not a number; write a decimal such as 23.4")
        bad = np.flatnonzero(np.isinf(out))
        for k in bad[:LIMIT]:
            self.c.add(lines[k], f"{name} is infinite; write a finite number")
        return out

    def unique(self, sec: Section, ids: list[str | None], what: str) -> dict[str, int]:
        seen: dict[str, int] = {}
        for i, key in enumerate(ids):
            if key is None:
                continue
            if key in seen:
                self.c.add(sec.lines[i], f"{what} {key!r} appears twice (also line {sec.lines[seen[key]]}); keep one")
            else:
                seen[key] = i
        return seen

    # ------------------------------------------------------------------ sections

    def build(self, data: bytes) -> MonitoringReport:
        head = self.s["report"]
        project = self.text(head, "project", 0)
        start, end = self.day(head, "monitoring_start", 0), self.day(head, "monitoring_end", 0)
        methodology = head.columns.get("methodology", [None])[0]
        form = head.columns.get("format", [None])[0]
        if form is not None and form != REPORT_FORMAT:
            self.c.add(head.lines[0], f"format {form!r} is not {REPORT_FORMAT!r}; write that")
        if start and end and start >= end:
            self.c.add(head.lines[0], f"monitoring_start {start} is not before monitoring_end {end}; swap or fix them")
        strata = self.strata()
        stratum_index = {s.id: k for k, s in enumerate(strata)}
        plots = self.plots(stratum_index)
        tree_visit, visits = self.visits(plots, strata)
        trees = self.trees(tree_visit, plots)
        emissions = self.emissions(stratum_index, strata, start, end)
        if not self.c.errors:  # counts of what a mistaken reference dropped would only point away from it
            self.counts(strata, plots, visits, trees)
        self.c.raise_any()
        assert project is not None and start is not None and end is not None
        v_plot, v_day, v_line, values, value_lines = visits
        return MonitoringReport(
            file=self.c.file,
            sha256=hashlib.sha256(data).hexdigest(),
            project=project,
            methodology=methodology if isinstance(methodology, str) else None,
            monitoring_start=start,
            monitoring_end=end,
            line=head.lines[0],
            strata=tuple(strata),
            plot_ids=tuple(plots[0]),
            plot_stratum=plots[1],
            plot_area_m2=plots[2],
            plot_line=plots[3],
            visit_plot=v_plot,
            visit_day=v_day,
            visit_line=v_line,
            visit_values=values,
            visit_value_line=value_lines,
            tree_visit=trees[0],
            tree_dbh_cm=trees[1],
            tree_height_m=trees[2],
            tree_line=trees[3],
            emissions=tuple(emissions),
        )

    def strata(self) -> list[Stratum]:
        sec = self.s["strata"]
        ids = [self.text(sec, "id", i) for i in range(len(sec))]
        self.unique(sec, ids, "stratum id")
        area = self.numbers(sec, "area_ha", required=True)
        baseline = self.numbers(sec, "baseline_kgco2e", required=False)
        out = []
        for i in range(len(sec)):
            line = sec.lines[i]
            group = self.text(sec, "species_group", i)
            begin, finish = self.day(sec, "crediting_start", i), self.day(sec, "crediting_end", i)
            if begin and finish and begin >= finish:
                self.c.add(line, f"crediting_start {begin} is not before crediting_end {finish}; fix the period")
            a = float(area[i])
            if a <= 0:
                self.c.add(line, f"area_ha {a:g} must be above 0; give the stratum's area in hectares")
            elif a > MAX_STRATUM_HA:
                self.c.add(line, f"area_ha {a:g} looks like square metres; give hectares (divide m² by 10,000)")
            b = float(baseline[i])
            if 0 < a <= MAX_STRATUM_HA and math.isfinite(b) and abs(b) > a * MAX_KG_PER_HA:
                self.c.add(
                    line,
                    f"baseline_kgco2e {b:g} is over 10,000 t per hectare of the stratum; give kgCO2e (not grams)",
                )
            if ids[i] and group and begin and finish and a == a:
                out.append(Stratum(ids[i] or "", a, group, begin, finish, 0.0 if b != b else b, line))
        return sorted(out, key=lambda s: s.id)

    def plots(self, strata: dict[str, int]) -> tuple[list[str], Ints, Floats, Ints]:
        sec = self.s["plots"]
        ids = [self.text(sec, "id", i) for i in range(len(sec))]
        self.unique(sec, ids, "plot id")
        area = self.numbers(sec, "area_m2", required=False)
        stratum = np.full(len(sec), -1, dtype=np.int64)
        for i in range(len(sec)):
            name = self.text(sec, "stratum", i)
            if name is not None:
                if name in strata:
                    stratum[i] = strata[name]
                else:
                    self.c.add(
                        sec.lines[i],
                        f"plot {ids[i]} is in stratum {name!r}, which is not in strata; add the stratum or fix the plot's",
                    )
        for k in np.flatnonzero(area <= 0):
            self.c.add(sec.lines[k], f"area_m2 {area[k]:g} must be above 0; give the plot's area in square metres")
        return [i or "" for i in ids], stratum, area, np.array(sec.lines, dtype=np.int64)

    def in_crediting(self, line: int, day: int, stratum: Stratum, what: str) -> None:
        if not stratum.crediting_start.toordinal() <= day <= stratum.crediting_end.toordinal():
            self.c.add(
                line,
                f"{what} date {date.fromordinal(day)} is outside stratum {stratum.id}'s crediting period "
                f"{stratum.crediting_start}..{stratum.crediting_end}; fix the date or the stratum's period",
            )

    def visits(
        self, plots: tuple[list[str], Ints, Floats, Ints], strata: list[Stratum]
    ) -> tuple[Ints, tuple[Ints, Ints, Ints, dict[str, Floats], dict[str, int]]]:
        """Each (plot, date) measured, from the visits section and from the trees' own (plot, date);
        and each tree's visit (-1 where its plot or date is wrong: trees() says why)."""
        sec = self.s.get("visits", self.empty)
        plot_index = {p: k for k, p in enumerate(plots[0])}
        keys: dict[tuple[int, int], int] = {}
        lines: list[int] = []
        rows: list[int] = []
        dates = self.column(sec, "date")
        for i in range(len(sec)):
            plot, day = self.text(sec, "plot", i), self.ordinal(dates[i])
            if day is None:
                self.c.add(sec.lines[i], f"date {dates[i]!r} is not a date; write YYYY-MM-DD")
            if plot is not None and plot not in plot_index:
                self.c.add(sec.lines[i], f"visit of plot {plot!r}, which is not in plots; add the plot or fix the id")
            if plot is None or day is None or plot not in plot_index:
                continue
            p = plot_index[plot]
            if (p, day) in keys:
                self.c.add(sec.lines[i], f"plot {plot} is visited twice on {date.fromordinal(day)}; keep one visit")
                continue
            if plots[1][p] >= 0:
                self.in_crediting(sec.lines[i], day, strata[plots[1][p]], "visit")
            keys[(p, day)] = len(lines)
            lines.append(sec.lines[i])
            rows.append(i)
        names = [n for n in sec.columns if n not in ("plot", "date")]
        values = {n: self.numbers(sec, n, required=False, rows=rows) for n in names}
        for n, column in values.items():
            for k in np.flatnonzero(column < 0)[:LIMIT]:
                self.c.add(lines[k], f"{n} {column[k]:g} is negative; a stock is measured as 0 or more")
        trees = self.s.get("trees", self.empty)
        tree_visit = np.full(len(trees), -1, dtype=np.int64)
        stratum_of = plots[1].tolist()
        # one pass over what may be millions of rows: plain dict lookups, a date parsed once per text
        for i, (raw_plot, raw_date) in enumerate(zip(self.column(trees, "plot"), self.column(trees, "date"))):
            p2 = plot_index.get(raw_plot)
            if p2 is None and raw_plot is not None:
                p2 = plot_index.get(str(raw_plot).strip())
            d2 = self.dates[raw_date] if raw_date in self.dates else self.ordinal(raw_date)
            if p2 is None or d2 is None:
                continue
            visit = keys.get((p2, d2))
            if visit is None:
                visit = keys[(p2, d2)] = len(lines)
                lines.append(trees.lines[i])
                if stratum_of[p2] >= 0:
                    self.in_crediting(trees.lines[i], d2, strata[stratum_of[p2]], "tree")
            tree_visit[i] = visit
        extra = len(lines) - len(rows)
        values = {n: np.concatenate([v, np.full(extra, np.nan)]) for n, v in values.items()}
        v_plot = np.fromiter((k[0] for k in keys), dtype=np.int64, count=len(keys))
        v_day = np.fromiter((k[1] for k in keys), dtype=np.int64, count=len(keys))
        return tree_visit, (
            v_plot,
            v_day,
            np.array(lines, dtype=np.int64),
            values,
            dict.fromkeys(names, sec.header_line),
        )

    def trees(self, visit: Ints, plots: tuple[list[str], Ints, Floats, Ints]) -> tuple[Ints, Floats, Floats, Ints]:
        sec = self.s.get("trees", self.empty)
        plot_index = {p: k for k, p in enumerate(plots[0])}
        t_plot, t_date = self.column(sec, "plot"), self.column(sec, "date")
        for i in np.flatnonzero(visit < 0)[:LIMIT]:
            raw = t_plot[i]
            if raw is None or str(raw).strip() not in plot_index:
                self.c.add(sec.lines[i], f"tree in plot {raw!r}, which is not in plots; add the plot or fix the id")
            if self.ordinal(t_date[i]) is None:
                self.c.add(sec.lines[i], f"date {t_date[i]!r} is not a date; write YYYY-MM-DD")
        dbh = self.numbers(sec, "dbh_cm", required=True)
        height = self.numbers(sec, "height_m", required=True)
        lines = np.array(sec.lines, dtype=np.int64)
        for k in np.flatnonzero(dbh < 0)[:LIMIT]:
            self.c.add(
                int(lines[k]), f"dbh_cm {dbh[k]:g} is a negative diameter; give the diameter at breast height in cm"
            )
        for k in np.flatnonzero(dbh > MAX_DBH_CM)[:LIMIT]:
            self.c.add(int(lines[k]), f"dbh_cm {dbh[k]:g} looks like millimetres; give centimetres (divide by 10)")
        for k in np.flatnonzero(height < 0)[:LIMIT]:
            self.c.add(int(lines[k]), f"height_m {height[k]:g} is negative; give the tree's height in metres")
        for k in np.flatnonzero(height > MAX_HEIGHT_M)[:LIMIT]:
            self.c.add(int(lines[k]), f"height_m {height[k]:g} looks like decimetres or centimetres; give metres")
        return visit, dbh, height, lines

    def emissions(
        self, strata: dict[str, int], records: list[Stratum], start: date | None, end: date | None
    ) -> list[Emission]:
        sec = self.s.get("emissions", self.empty)
        ids = [self.text(sec, "id", i) for i in range(len(sec))]
        self.unique(sec, ids, "emission id")
        amount = self.numbers(sec, "kgco2e", required=True)
        self.numbers(sec, "area_ha", required=False)
        out = []
        for i in range(len(sec)):
            line = sec.lines[i]
            stratum, kind, day = self.text(sec, "stratum", i), self.text(sec, "kind", i), self.day(sec, "date", i)
            if stratum is not None and stratum not in strata:
                self.c.add(line, f"emission in stratum {stratum!r}, which is not in strata; fix the stratum")
            if kind is not None and kind not in EMISSION_KINDS:
                self.c.add(line, f"emission kind {kind!r} is unknown; use one of {', '.join(EMISSION_KINDS)}")
            if amount[i] < 0:
                self.c.add(
                    line,
                    f"kgco2e {amount[i]:g} is negative; an emission is 0 or more (a removal is measured by the plots)",
                )
            if day is not None and start is not None and end is not None and not start <= day <= end:
                self.c.add(line, f"emission date {day} is outside the monitoring period {start}..{end}; fix the date")
            elif day is not None and stratum in strata:
                self.in_crediting(line, day.toordinal(), records[strata[stratum]], "emission")
            if (
                stratum in strata
                and np.isfinite(amount[i])
                and amount[i] > records[strata[stratum]].area_ha * MAX_KG_PER_HA
            ):
                self.c.add(
                    line,
                    f"kgco2e {amount[i]:g} is over 10,000 t per hectare of stratum {stratum}; give kgCO2e (not grams)",
                )
            if ids[i] and stratum and kind and day and amount[i] == amount[i]:
                out.append(Emission(ids[i] or "", stratum, kind, day, float(amount[i]), line))
        return sorted(out, key=lambda e: (e.stratum, e.id))

    def counts(
        self,
        strata: list[Stratum],
        plots: tuple[list[str], Ints, Floats, Ints],
        visits: tuple[Ints, Ints, Ints, dict[str, Floats], dict[str, int]],
        trees: tuple[Ints, Floats, Floats, Ints],
    ) -> None:
        """Two visits per plot, two plots per stratum (the uncertainty needs a spread), and an area
        for every plot whose trees are counted."""
        per_plot = np.bincount(visits[0], minlength=len(plots[0]))
        for p in np.flatnonzero(per_plot != 2)[:LIMIT]:
            self.c.add(
                int(plots[3][p]),
                f"plot {plots[0][p]} is measured on {per_plot[p]} date(s); measure each plot at exactly two "
                "(the start and the end of the monitoring period)",
            )
        valid = plots[1][plots[1] >= 0]
        per_stratum = np.bincount(valid, minlength=len(strata))
        for k, s in enumerate(strata):
            if per_stratum[k] < 2:
                self.c.add(
                    s.line,
                    f"stratum {s.id} has {per_stratum[k]} plot(s); the uncertainty needs at least 2: add plots or merge it",
                )
        with_trees = np.unique(visits[0][trees[0][trees[0] >= 0]]) if len(trees[0]) else np.array([], np.int64)
        for p in with_trees[np.isnan(plots[2][with_trees])][:LIMIT]:
            self.c.add(int(plots[3][p]), f"plot {plots[0][p]} has trees but no area_m2; give its area in square metres")
        # a tree plot is tens to thousands of m²; a quadrat of 1 m² is fine where nothing is counted in it
        for p in with_trees[plots[2][with_trees] < MIN_PLOT_M2][:LIMIT]:
            self.c.add(int(plots[3][p]), f"area_m2 {plots[2][p]:g} looks like hectares; give square metres (× 10,000)")
