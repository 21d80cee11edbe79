"""`ledger factors list|show` (the emission-factor library) and `ledger footprint compute|recompute`
(a footprint report from activity data, and an old report checked against its pinned factors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

import footprint
from footprint.jsonin import loads
from scripts.console import console, err_console, fail, operator_errors
from scripts.output import JsonOption

factors_app = typer.Typer(
    help="The emission-factor library (排放因子): every row with its source and version.", no_args_is_help=True
)
footprint_app = typer.Typer(
    help="Footprint accounting (碳核算): an event's, organisation's or person's report from activity data.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(factors_app, name="factors")
    app.add_typer(footprint_app, name="footprint")


def warn(lines: list[str]) -> None:
    """On stderr whatever the output format, so a --json pipe still shows it."""
    for line in lines:
        err_console.print(f"warning: {line}", style="yellow", highlight=False, markup=False, soft_wrap=True)


def library() -> footprint.Library:
    try:
        return footprint.shipped()
    except footprint.FootprintError as exc:
        fail(str(exc))


@factors_app.command("list")
@operator_errors
def list_factors(
    activity: Annotated[str | None, typer.Option(help="only this activity, e.g. grid-electricity")] = None,
    region: Annotated[str | None, typer.Option(help="only this region: CN, 西南, or a GB/T 2260 code")] = None,
    include_superseded: Annotated[bool, typer.Option("--all", help="superseded versions too")] = False,
    as_json: JsonOption = False,
) -> None:
    """Every factor row: id@version, activity, region, year, kgCO2e per unit, source; illustrative
    rows (no public source) are marked."""
    lib = library()
    rows = [
        f
        for f in lib.factors.values()
        if (activity is None or f.activity == activity)
        and (region is None or f.region == region)
        and (include_superseded or f.current)
    ]
    if activity is not None and activity not in lib.activities:
        fail(f"unknown activity {activity!r}; use one of {', '.join(sorted(lib.activities))}")
    if as_json:
        console.print_json(json.dumps([f.document() for f in rows], ensure_ascii=False))
        return
    table = Table(title=f"emission factors ({len(rows)}; * illustrative: no public source cited)")
    for column in ("id@version", "activity", "region", "year", "kgCO2e", "per", "source"):
        table.add_column(column, justify="right" if column == "kgCO2e" else "left", overflow="fold")
    for f in rows:
        marker = "*" if f.illustrative else ""
        table.add_row(
            f.ref + marker,
            f.activity,
            f.region,
            "—" if f.year is None else str(f.year),
            footprint.library.decimal_text(f.kgco2e_per_unit),
            f.unit,
            f.source[:60] + ("…" if len(f.source) > 60 else ""),
        )
    console.print(table)


@factors_app.command("show")
@operator_errors
def show(
    ref: Annotated[str, typer.Argument(help="ID or ID@VERSION, e.g. cn-grid-2022-510000@1")],
    as_json: JsonOption = False,
) -> None:
    """One factor row, every column: source and address, gases, GWP set, validity, supersession."""
    try:
        factor = library().factor(ref)
    except footprint.FootprintError as exc:
        fail(str(exc))
    doc = factor.document()
    if as_json:
        console.print_json(json.dumps(doc, ensure_ascii=False))
    else:
        table = Table(title=factor.ref, show_header=False)
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for key, value in doc.items():
            table.add_row(key, "—" if value is None else str(value))
        console.print(table)
    if factor.illustrative:
        warn([f"{factor.ref} is illustrative: no public source is cited for its value"])


@footprint_app.command("compute")
@operator_errors
def compute(
    file: Annotated[Path, typer.Argument(help="activity data as JSON (docs/footprint.md)")],
    as_json: JsonOption = False,
) -> None:
    """A footprint report: one line per source (quantity, factor id@version, kgCO2e), the total,
    the method version, whether an aviation multiplier is applied, and the report's sha256."""
    try:
        report = footprint.compute(footprint.load_input(file))
    except footprint.FootprintError as exc:
        fail(str(exc))
    show_report(report, as_json)


@footprint_app.command("recompute")
@operator_errors
def recompute(
    file: Annotated[Path, typer.Argument(help="a report as `ledger footprint compute --json` wrote it")],
) -> None:
    """Compute a report again from its own lines and pinned factor versions, and compare the hash:
    a factor published since never changes it; an edited factor row or report line is named."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file} ({exc.strerror}); check the path")
    try:
        output = loads(raw, file.name, "give the output of `ledger footprint compute --json`")
        again = footprint.check(output)
    except footprint.FootprintError as exc:
        fail(str(exc))
    console.print(f"recomputes: sha256 {again.sha256}, total {again.total_kg:,} kgCO2e", highlight=False)


def show_report(report: footprint.Report, as_json: bool) -> None:
    doc: dict[str, Any] = report.document
    if as_json:
        console.print_json(json.dumps(report.output(), ensure_ascii=False))
    else:
        method = doc["method"]
        table = Table(
            title=f"{doc['subject']} footprint, {doc['region']} {doc['year']} ({method['id']}@{method['version']})"
        )
        for column in ("#", "category", "activity", "quantity", "factor", "kgCO2e"):
            table.add_column(column, justify="right" if column in ("#", "kgCO2e") else "left", overflow="fold")
        for ln in doc["lines"]:
            star = "*" if ln["factor"]["illustrative"] else ""
            table.add_row(
                str(ln["n"]),
                ln["category"],
                ln["activity"],
                f"{ln['factor_quantity']} {ln['factor']['unit']}",
                f"{ln['factor']['ref']}{star} × {ln['factor']['kgco2e_per_unit']}",
                f"{ln['kgco2e']:,}",
            )
        console.print(table)
        multiplier = doc["aviation_multiplier"]
        console.print(
            f"total {doc['total_kgco2e']:,} kgCO2e ({doc['total_kgco2e'] / 1000:,.3f} tCO2e); aviation multiplier "
            + (f"{multiplier['value']} applied" if multiplier["applied"] else "not applied (CO2 only)"),
            highlight=False,
        )
        console.print(f"rounding: {doc['rounding']}", highlight=False)
        console.print(f"report sha256 {report.sha256}", highlight=False)
    warn(doc["warnings"])
