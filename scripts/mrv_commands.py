"""`ledger mrv compute|reversal|methodologies`: what a monitoring report issues under a methodology
version, what a later report's loss takes from a batch's reserve, and the shipped methodology
bundles with their hashes and which of their values are illustrative. Also the part of
`ledger issue --monitoring-report` that computes and stores the report (`issue_from_report`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

import mrv
from certificates.db import create_schema
from chain.client import RegistryClient
from chain.errors import InvalidInputError
from chain.opids import op_id_for
from chain.types import CancellationReason
from indexer.db import make_engine
from mrv import issuance
from mrv import store as mrv_store
from scripts import args, bulk_issue, preflight
from scripts.console import console, err_console, fail, operator_errors
from scripts.context import deployment, registry_client
from scripts.listing import list_events
from scripts.output import JsonOption, run_write
from scripts.projects import unix_date

app = typer.Typer(
    help="Measurement (计量监测): recompute a monitoring report, list methodologies.", no_args_is_help=True
)


def kg(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def percent(bps: int | None) -> str:
    return "—" if bps is None else f"{bps / 100:.2f} %"


def warn_illustrative(names: list[str] | tuple[str, ...], what: str) -> None:
    """Said on stderr whatever the output format, so a --json pipe still shows it."""
    if names:
        err_console.print(
            f"warning: {what} illustrative values with no public source cited: {', '.join(names)}",
            style="yellow",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@app.command("compute")
@operator_errors
def compute(
    report: Annotated[Path, typer.Argument(help="the monitoring report, JSON or sectioned CSV (docs/mrv.md)")],
    methodology: Annotated[
        str | None,
        typer.Option(help="ID or ID@VERSION, e.g. SCFM-001-V01@1 (default: the one the report names)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The breakdown of a report: stocks, change, baseline, leakage, emissions, uncertainty
    deduction, reserve and issuable kgCO2e, per stratum and pool."""
    try:
        loaded = mrv.load_report(report)
        named = methodology or loaded.methodology
        if named is None:
            fail(
                f"{report.name} names no methodology; pass --methodology ID[@VERSION] (see `ledger mrv methodologies`)"
            )
        bundle = mrv.reference(named)
        result = mrv.compute(loaded, bundle)
    except (mrv.ReportErrors, mrv.MethodologyError) as exc:
        fail(str(exc))
    warn_illustrative(result.illustrative, f"{bundle.ref} used")
    if as_json:
        console.print_json(json.dumps({**result.document(), "result_sha256": result.sha256}, ensure_ascii=False))
        return
    for table in breakdown(result):
        console.print(table)
    console.print(totals(result))
    console.print(
        f"result sha256 {result.sha256} (report {result.report_sha256[:16]}…, {bundle.ref} {bundle.sha256[:16]}…)"
    )


def breakdown(result: mrv.Result) -> list[Table]:
    """Two tables narrow enough for an 80-column terminal: stocks by pool, then each stratum's net."""
    stocks = Table(title=f"{result.project} {result.monitoring_start}..{result.monitoring_end}: stocks, kgCO2e")
    for column in ("stratum", "pool", "stock t1", "stock t2", "change"):
        stocks.add_column(column, justify="left" if column in ("stratum", "pool") else "right", no_wrap=True)
    for s in result.strata:
        for p in s.pools:
            stocks.add_row(s.id, p.pool, kg(p.stock_t1_kg), kg(p.stock_t2_kg), kg(p.change_kg))
    groups = ", ".join(f"{s.id} {s.species_group} ({s.plots} plots)" for s in result.strata)
    net = Table(title=f"net by stratum, kgCO2e: {groups}")
    for column in ("stratum", "change", "baseline", "leakage", "emissions", "net"):
        net.add_column(column, justify="left" if column == "stratum" else "right", no_wrap=True)
    for s in result.strata:
        net.add_row(s.id, kg(s.change_kg), kg(s.baseline_kg), kg(s.leakage_kg), kg(s.emissions_kg), kg(s.net_kg))
    return [stocks, net]


def totals(result: mrv.Result) -> Table:
    table = Table(title="issuance, kgCO2e (rounded down; reserve as the contract mints it)")
    table.add_column("")
    table.add_column("", justify="right")
    rows = [
        ("net reduction", kg(result.net_kg)),
        ("90 % half-width", f"{percent(result.halfwidth_bps)} (threshold {percent(result.threshold_bps)})"),
        (f"uncertainty deduction {percent(result.deduction_bps)}", kg(result.deduction_kg)),
        ("issued (quantity)", kg(result.quantity_kg)),
        (f"reserve {percent(result.reserve_bps)}", kg(result.reserve_kg)),
        ("issuable to the owner", f"[bold]{kg(result.issuable_kg)}[/]"),
    ]
    if result.reversal_kg:
        rows.append(("reversal: cancel from the reserve (reason Reversal)", f"[bold red]{kg(result.reversal_kg)}[/]"))
    for row in rows:
        table.add_row(*row)
    return table


@app.command("methodologies")
@operator_errors
def methodologies(as_json: JsonOption = False) -> None:
    """The shipped methodology bundles: hash (the document hash to file on chain) and illustrative values."""
    try:
        bundles = [mrv.bundle(i, v) for i, v in mrv.available()]
    except mrv.MethodologyError as exc:
        fail(str(exc))
    if as_json:
        rows = [
            {
                "id": b.id,
                "version": b.version,
                "ecosystem": b.ecosystem,
                "sha256": b.sha256,
                "species_groups": sorted(b.groups),
                "illustrative": sorted(b.illustrative),
            }
            for b in bundles
        ]
        console.print_json(json.dumps(rows, ensure_ascii=False))
    else:
        table = Table(title=f"methodology bundles ({len(bundles)})")
        for column in ("methodology", "ecosystem", "sha256 (the document hash to file)", "illustrative values"):
            table.add_column(column, overflow="fold")
        for b in bundles:
            table.add_row(b.ref, b.ecosystem, b.sha256, illustrative_summary(b))
        console.print(table)
        console.print("illustrative: no public source is cited for the value; `--json` lists every one")


def illustrative_summary(b: mrv.Bundle) -> str:
    """ "D, R of every species group; rules: reserve": the names, once, when every group shares them."""
    per_group = {g: sorted(n.split(".")[1] for n in b.illustrative if n.split(".")[0] == g) for g in b.groups}
    params = {tuple(v) for v in per_group.values()}
    if len(params) == 1:
        shared = next(iter(params))
        said = f"{', '.join(shared)} of every species group" if shared else "no parameter"
    else:
        said = "; ".join(f"{g}: {', '.join(v)}" for g, v in per_group.items() if v) or "no parameter"
    rules = sorted(n.removeprefix("rules.") for n in b.illustrative if n.startswith("rules."))
    return f"{said}; rules: {', '.join(rules) or 'none'}"


def load(path: Path) -> tuple[bytes, mrv.MonitoringReport]:
    """The report's bytes (what is stored) and the report checked from those same bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the report {path} ({exc.strerror}); check the path")
    try:
        return data, mrv.parse_report(data, path.name)
    except mrv.ReportErrors as exc:
        fail(str(exc))


def store_engine() -> Any:
    """The registry's database (DATABASE_URL), its schema brought up as the API and indexer do."""
    engine = make_engine()
    create_schema(engine)
    return engine


def issue_from_report(
    c: RegistryClient,
    since: int,
    report_path: Path,
    *,
    csv_file: Path | None,
    project: str | None,
    methodology: str | None,
    vintage: int | None,
    monitoring_start: str | None,
    monitoring_end: str | None,
    quantity: int | None,
    reserve_bps: int,
    verification_report: Path | None,
    review_report: Path | None,
    op: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """`ledger issue --monitoring-report`: the quantity computed, never typed; the result's sha256 is
    the batch's verification-report hash, and report and result are stored before anything is sent."""
    if csv_file is not None:
        raise InvalidInputError("--monitoring-report issues one batch; give it without --csv")
    if verification_report is not None:
        raise InvalidInputError(
            "--verification-report and --monitoring-report both set the batch's verification hash; give one"
        )
    data, report = load(report_path)
    pid = project or report.project
    registered = c.project(pid)
    if not registered.methodology_id:
        raise InvalidInputError(f"project {pid} is not registered; register it first (`ledger project register`)")
    try:
        plan = issuance.prepare(
            report,
            pid,
            registered,
            c.methodology(registered.methodology_id),
            methodology=methodology,
            quantity=quantity,
            vintage=args.vintage(vintage) if vintage is not None else None,
            monitoring_start=unix_date(monitoring_start) if monitoring_start else None,
            monitoring_end=unix_date(monitoring_end) if monitoring_end else None,
            reserve_bps=reserve_bps,
        )
    except (mrv.ReportErrors, mrv.MethodologyError) as exc:
        fail(str(exc))
    warn_illustrative(plan.result.illustrative, f"{plan.bundle.ref} used")
    request: dict[str, Any] = {**plan.request(pid), "review_hash": args.document_hash(review_report)}
    fields = c.issuance_request(**request)
    # one result, one batch: a run killed after sending, then re-run while its transaction was still
    # pending, sent a second batch under a fresh random id. The id is now the result's (it binds the
    # report, the methodology version and the figures), which the chain applies once, whatever
    # --vintage or --review-report the re-run gives
    i = args.op_id(op) if op is not None else op_id_for("issue-monitoring", f"{pid}|{plan.result.sha256}")
    bulk_issue.check_one(c, fields, i, from_block=since)
    said = (
        f"{report_path.name} under {plan.bundle.ref}: {plan.result.quantity_kg:,} kg to issue "
        f"({plan.result.reserve_kg:,} to the reserve); verification hash 0x{plan.result.sha256}"
    )
    (err_console if as_json else console).print(said, highlight=False, markup=False, soft_wrap=True)
    if not dry_run:
        engine = store_engine()
        with engine.begin() as conn:  # stored first: a batch on chain always finds its report
            mrv_store.put(conn, data, plan.result)
    run_write(lambda w: w.issue(i, **request), c, dry_run=dry_run, as_json=as_json, op_id=i)


@app.command("reversal")
@operator_errors
def reversal(
    report: Annotated[Path, typer.Argument(help="the later monitoring report showing the loss (docs/mrv.md)")],
    batch: Annotated[int, typer.Option("--batch", help="the batch whose reserve carries the loss")],
    methodology: Annotated[str | None, typer.Option(help="ID@VERSION (default: the one filed for the project)")] = None,
    as_json: JsonOption = False,
) -> None:
    """A later report's loss (fire, logging): how many reserve units of the batch to cancel, with
    reason Reversal, and the command to do it. The loss is recorded so that `ledger audit` shows it
    until it is cancelled."""
    c = registry_client(signer_required=False)
    data, loaded = load(report)
    pid = c.batch(preflight.existing_batch(c, batch)).project_id
    project = c.project(pid)
    try:
        if loaded.project != pid:
            raise InvalidInputError(
                f"the report is for project {loaded.project}, batch {batch} is of {pid}; give its own"
            )
        chosen = issuance.filed_bundle(
            pid, project, c.methodology(project.methodology_id), methodology or loaded.methodology
        )
        result = mrv.compute(loaded, chosen)
    except (mrv.ReportErrors, mrv.MethodologyError) as exc:
        fail(str(exc))
    warn_illustrative(result.illustrative, f"{chosen.ref} used")
    reserve = c.reserve_account()
    held = c.balance_of(reserve, batch)
    charge = elsewhere = cancelled = cancel = 0
    if result.reversal_kg:
        # what is still to cancel, not the loss again: a re-run after the cancellation said to cancel
        # it a second time, and a loss spread over two batches' reserves was charged whole to each
        with store_engine().begin() as conn:
            others = {b: kg for b, kg in mrv_store.charged(conn, result.sha256).items() if b != batch}
            elsewhere = sum(others.values())
            charge = mrv_store.record_reversal(
                conn, batch, data, result, max(0, min(result.reversal_kg - elsewhere, held))
            )
            on_batch = mrv_store.reversals(conn).get(batch, 0)
        cancelled = reversal_cancelled(c, batch)
        cancel = max(0, min(on_batch - cancelled, held))
    uncovered = result.reversal_kg - elsewhere - charge
    command = (
        f"ledger cancel --holder {reserve} --batch {batch} --amount {cancel} "
        f"--reason {CancellationReason.REVERSAL.name.lower()} --evidence {report}"
    )
    if as_json:
        console.print_json(
            data={
                "batch_id": batch,
                "project": pid,
                "net_kg": result.net_kg,
                "reversal_kg": result.reversal_kg,
                "reserve_held_kg": held,
                "charged_elsewhere_kg": elsewhere,
                "charged_kg": charge,
                "reversal_cancelled_kg": cancelled,
                "cancel_kg": cancel,
                "uncovered_kg": uncovered,
                "result_sha256": result.sha256,
                "command": command if cancel else None,
            }
        )
        return
    if not result.reversal_kg:
        console.print(
            f"no reversal: {report.name} shows a net gain of {result.net_kg:,} kg under {chosen.ref}; "
            "nothing to cancel (issue it with `ledger issue --monitoring-report`)",
            highlight=False,
        )
        return
    console.print(
        f"reversal of {result.reversal_kg:,} kg on project {pid}: {charge:,} kg charged to batch {batch}'s reserve"
        + (f" ({elsewhere:,} kg to other batches')" if elsewhere else "")
        + f"; cancel {cancel:,} kg now (the reserve holds {held:,} kg, {cancelled:,} kg of this batch were "
        f"cancelled with reason Reversal already); result sha256 {result.sha256}",
        highlight=False,
    )
    if uncovered:
        console.print(
            f"[bold red]{uncovered:,} kg are not covered by this batch's reserve[/]: "
            "run this command with the project's other batches to charge them",
            highlight=False,
        )
    if cancel:
        console.print(command, highlight=False, markup=False, soft_wrap=True)


def reversal_cancelled(c: RegistryClient, batch: int) -> int:
    """Kilograms of the batch cancelled with reason Reversal, from its CreditsCancelled events."""
    topic = "0x" + batch.to_bytes(32, "big").hex()
    events = list_events(c, "CreditsCancelled", indexed=[topic], from_block=deployment().block_number)
    return sum(int(e.args["amount"]) for e in events if e.args["reason"] == CancellationReason.REVERSAL)
