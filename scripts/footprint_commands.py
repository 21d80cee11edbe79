"""`ledger factors list|show|import` (the emission-factor library, shipped and imported), `ledger footprint compute|recompute`
(a footprint report from activity data, and an old report checked against its pinned factors) and
`ledger footprint rules|convert` (tree-duty and damages conversions as published, versioned rules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

import footprint
from certificates.db import create_schema
from footprint import conversion, csvin
from footprint import store as factor_store
from footprint.compute import read_at_most
from footprint.jsonin import loads
from indexer.db import database_url, make_engine
from scripts.console import console, err_console, fail, operator_errors
from scripts.output import JsonOption

factors_app = typer.Typer(
    help="The emission-factor library (排放因子): every row with its source and version.", no_args_is_help=True
)
footprint_app = typer.Typer(
    help="Footprint accounting (碳核算): an event's, organisation's or person's report from activity data.",
    no_args_is_help=True,
)

convert_app = typer.Typer(
    help="Conversions by a published rule: tree-planting duty (义务植树) and ecological-justice damages (生态司法).",
    no_args_is_help=True,
)
footprint_app.add_typer(convert_app, name="convert")


# a report of 1,000 lines, each with its factor's source and notes, comes to about 2 MB
MAX_REPORT_BYTES = 16 << 20


def register(app: typer.Typer) -> None:
    app.add_typer(factors_app, name="factors")
    app.add_typer(footprint_app, name="footprint")


def warn(lines: list[str]) -> None:
    """On stderr whatever the output format, so a --json pipe still shows it."""
    for line in lines:
        err_console.print(f"warning: {line}", style="yellow", highlight=False, markup=False, soft_wrap=True)


def library() -> footprint.Library:
    """The shipped library with the rows imported into the database (`ledger factors import`), when
    there is one: DATABASE_URL, or the local SQLite file once something created it."""
    try:
        shipped = footprint.shipped()
        url = database_url()
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            return shipped
        engine = make_engine(url)
        try:
            return factor_store.synced(engine, shipped)
        finally:
            engine.dispose()
    except footprint.FootprintError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"cannot read the imported factors ({type(exc).__name__}); check DATABASE_URL and that the database is up")


def plain(*cells: str) -> list[str]:
    """Table cells shown as written: an imported row's source such as "[/b] study" is Rich markup
    otherwise, and a closing tag that opens nothing made `ledger factors list` fail for everyone."""
    return [escape(c) for c in cells]


def origin(factor: footprint.Factor) -> str:
    return "shipped" if factor.ref in footprint.shipped().factors else "imported"


@factors_app.command("list")
@operator_errors
def list_factors(
    activity: Annotated[str | None, typer.Option(help="only this activity, e.g. grid-electricity")] = None,
    region: Annotated[str | None, typer.Option(help="only this region: CN, 西南, or a GB/T 2260 code")] = None,
    year: Annotated[int | None, typer.Option(help="only rows of this data year, e.g. 2022")] = None,
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
        and (year is None or f.year == year)
        and (include_superseded or f.current)
    ]
    if activity is not None and activity not in lib.activities:
        fail(f"unknown activity {activity!r}; use one of {', '.join(sorted(lib.activities))}")
    if as_json:
        console.print_json(json.dumps([f.document() for f in rows], ensure_ascii=False))
        return
    table = Table(title=f"emission factors ({len(rows)}; * illustrative: no public source cited; + imported)")
    for column in ("id@version", "activity", "region", "year", "kgCO2e", "per", "source"):
        table.add_column(column, justify="right" if column == "kgCO2e" else "left", overflow="fold")
    for f in rows:
        marker = ("*" if f.illustrative else "") + ("+" if origin(f) == "imported" else "")
        table.add_row(
            *plain(
                f.ref + marker,
                f.activity,
                f.region,
                "—" if f.year is None else str(f.year),
                footprint.library.decimal_text(f.kgco2e_per_unit),
                f.unit,
                f.source[:60] + ("…" if len(f.source) > 60 else ""),
            )
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
        table = Table(title=escape(factor.ref), show_header=False)
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for key, value in doc.items():
            table.add_row(*plain(key, "—" if value is None else str(value)))
        console.print(table)
    if factor.illustrative:
        warn([f"{factor.ref} is illustrative: no public source is cited for its value"])


@factors_app.command("import")
@operator_errors
def import_factors(
    file: Annotated[Path, typer.Argument(help="a factor table: CSV with the columns of footprint/factors/*.csv")],
    as_json: JsonOption = False,
) -> None:
    """Check a factor table (every row cites a source or is marked illustrative; an id@version known
    already must keep its values) and store it in the database, all rows or none."""
    try:
        data = read_at_most(file, factor_store.MAX_BYTES, "split it into smaller factor tables")
    except footprint.FootprintError as exc:
        fail(str(exc))
    engine = make_engine()
    try:
        create_schema(engine)
        with engine.begin() as conn:
            factor_store.sync_shipped(conn, footprint.shipped())
            done = factor_store.import_factors(conn, data, file.name, footprint.shipped())
    except footprint.FootprintError as exc:
        fail(str(exc))
    except IntegrityError:
        fail("another import stored some of these rows meanwhile; run the import again to compare with them")
    finally:
        engine.dispose()
    if as_json:
        console.print_json(json.dumps(done.document()))
        return
    for what, refs in done.document().items():
        console.print(f"{what}: {len(refs)}" + (f" ({', '.join(refs)})" if refs else ""), highlight=False, markup=False)


@footprint_app.command("compute")
@operator_errors
def compute(
    file: Annotated[Path, typer.Argument(help="activity data as JSON, or CSV when named *.csv (docs/footprint.md)")],
    as_json: JsonOption = False,
) -> None:
    """A footprint report: one line per source (quantity, factor id@version, kgCO2e), the total,
    the method version, whether an aviation multiplier is applied, and the report's sha256."""
    try:
        if file.suffix.lower() == ".csv":
            parsed = csvin.load(file)
            report = footprint.compute(parsed.data, library(), parsed.where)
        else:
            report = footprint.compute(footprint.load_input(file), library())
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
        raw = read_at_most(file, MAX_REPORT_BYTES, "give the output of `ledger footprint compute --json`")
    except footprint.FootprintError as exc:
        fail(str(exc))
    try:
        output = loads(raw, file.name, "give the output of `ledger footprint compute --json`")
        again = footprint.check(output, library())
    except footprint.FootprintError as exc:
        fail(str(exc))
    console.print(f"recomputes: sha256 {again.sha256}, total {again.total_kg:,} kgCO2e", highlight=False)


def show_report(report: footprint.FootprintReport, as_json: bool) -> None:
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
                *plain(
                    str(ln["n"]),
                    ln["category"],
                    ln["activity"],
                    f"{ln['factor_quantity']} {ln['factor']['unit']}",
                    f"{ln['factor']['ref']}{star} × {ln['factor']['kgco2e_per_unit']}",
                    f"{ln['kgco2e']:,}",
                )
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


def rules() -> conversion.Rules:
    try:
        return conversion.shipped_rules()
    except footprint.FootprintError as exc:
        fail(str(exc))


@footprint_app.command("rules")
@operator_errors
def list_rules(as_json: JsonOption = False) -> None:
    """The conversion rules: tree-planting duty (kgCO2e and yuan per tree) and damages (yuan per
    tonne), each id@version with its sources."""
    shipped = rules()
    if as_json:
        doc = {
            "tree_duty": [conversion.trees(r.trees_min, r).document for r in shipped.tree_duty.values()],
            "damages": [conversion.damages(r.price_yuan, r).document for r in shipped.damages.values()],
        }
        console.print_json(json.dumps(doc, ensure_ascii=False))
        return
    table = Table(title="conversion rules (* illustrative: no public source cited)")
    for column in ("rule", "kind", "region", "rate", "sources"):
        table.add_column(column, overflow="fold")
    for t in shipped.tree_duty.values():
        rate = (
            f"{footprint.library.decimal_text(t.kgco2e_per_tree)} kgCO2e and "
            f"{footprint.library.decimal_text(t.yuan_per_tree)} 元 per tree; duty {t.trees_min}-{t.trees_max} trees"
        )
        table.add_row(t.ref + ("*" if t.illustrative else ""), "tree-duty", t.region, rate, _sources(t.sources))
    for d in shipped.damages.values():
        rate = (
            f"{footprint.library.decimal_text(d.price_yuan)} 元 for {footprint.library.decimal_text(d.price_tonnes)} t"
        )
        table.add_row(d.ref + ("*" if d.illustrative else ""), "damages", d.region, rate, _sources(d.sources))
    console.print(table)


def _sources(pairs: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(f"{s} <{u}>" if u else s for s, u in pairs)


RuleOption = Annotated[str | None, typer.Option("--rule", help="the rule as ID@VERSION (`ledger footprint rules`)")]


@convert_app.command("trees")
@operator_errors
def convert_trees(
    count: Annotated[int, typer.Argument(help="trees of duty, e.g. 3")],
    rule: RuleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trees of the tree-planting duty in kgCO2e to retire (and the money rate), by a published rule."""
    try:
        done = conversion.trees(count, rules().tree(rule))
    except footprint.FootprintError as exc:
        fail(str(exc))
    doc = done.document
    if as_json:
        console.print_json(json.dumps(doc, ensure_ascii=False))
    else:
        low, high = doc["duty_trees"]
        console.print(
            f"{doc['trees']} trees = {doc['kgco2e']:,} kgCO2e ({doc['kgco2e'] / 1000:,.3f} tCO2e) to retire, "
            f"or {doc['yuan']} 元 at {doc['yuan_per_tree']} 元 per tree; "
            + (
                f"meets the year's duty ({low}-{high} trees)" if doc["meets_duty"] else f"below the duty of {low} trees"
            ),
            highlight=False,
        )
        _print_rule(doc["rule"])
    _warn_rule(doc["rule"])


@convert_app.command("damages")
@operator_errors
def convert_damages(
    yuan: Annotated[str, typer.Argument(help="the damages in yuan, e.g. 173900 or 1234.56")],
    rule: Annotated[str, typer.Option("--rule", help="the price rule as ID@VERSION (`ledger footprint rules`)")],
    as_json: JsonOption = False,
) -> None:
    """Ecological-justice damages in yuan at a rule's unit price: the kgCO2e to buy and retire (rounded up)."""
    try:
        done = conversion.damages(yuan, rules().damage(rule))
    except footprint.FootprintError as exc:
        fail(str(exc))
    doc = done.document
    if as_json:
        console.print_json(json.dumps(doc, ensure_ascii=False))
    else:
        price = doc["price"]
        console.print(
            f"{doc['yuan']} 元 at {price['yuan']} 元 for {price['tonnes']} t (≈ {price['yuan_per_tonne']} 元/t) = "
            f"{doc['kgco2e']:,} kgCO2e ({doc['tonnes']} tCO2e) to buy and retire",
            highlight=False,
        )
        console.print(f"rounding: {doc['rounding']}", highlight=False)
        _print_rule(doc["rule"])
    _warn_rule(doc["rule"])


def _print_rule(rule: dict[str, Any]) -> None:
    console.print(f"rule {rule['ref']} (sha256 {rule['sha256']})", highlight=False)
    for s in rule["sources"]:
        console.print(
            f"  source: {s['source']}" + (f" <{s['source_url']}>" if s["source_url"] else ""),
            highlight=False,
            markup=False,
        )


def _warn_rule(rule: dict[str, Any]) -> None:
    notes = []
    if rule["illustrative"]:
        notes.append(f"{rule['ref']} is illustrative: no public source gives its rate")
    if rule["superseded_by"]:
        notes.append(f"{rule['ref']} is superseded by {rule['superseded_by']}")
    warn(notes)
