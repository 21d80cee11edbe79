"""`ledger issue | transfer | retire | cancel | import`: what happens to credits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from chain.client import b32
from chain.types import CancellationReason, Scenario
from chain.errors import InvalidInputError
from chain.opids import op_id_for
from scripts import args, bulk_issue
from scripts import certificate_commands as certificates
from scripts.console import console, operator_errors
from scripts.context import registry_client
from scripts.output import DryRunOption, JsonOption, OpIdOption, YesOption, confirm, run_write
from scripts.projects import unix_date

Batch = Annotated[int, typer.Option("--batch", help="batch (token) id")]
Amount = Annotated[int, typer.Option("--amount", help="kgCO2e, a whole number above zero")]


def issue(
    csv_file: Annotated[Path | None, typer.Option("--csv", help="issue one batch per row of this CSV (see docs/operator.md)")] = None,
    project: Annotated[str | None, typer.Option(help="a registered project id")] = None,
    vintage: Annotated[int | None, typer.Option(help="the monitoring period's year")] = None,
    monitoring_start: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    monitoring_end: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    quantity: Annotated[int | None, typer.Option(help="kgCO2e verified for the period")] = None,
    verification_report: Annotated[Path | None, typer.Option(help="the third-party verification report (核查报告)")] = None,
    reserve_bps: Annotated[int, typer.Option(help="reserve share in basis points (1000 = 10 %)")] = 1000,
    review_report: Annotated[Path | None, typer.Option(help="the expert review of the quantity")] = None,
    op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False,
) -> None:
    """Issue one batch for a registered project's monitoring period, or one per row of --csv."""
    c = registry_client()
    if csv_file is not None:
        rows = bulk_issue.read_rows(csv_file, c)
        if dry_run:
            console.print(f"dry run: all {len(rows)} rows of {csv_file} are valid; nothing was sent")
            return
        report = bulk_issue.send_rows(c, rows, show_progress=not as_json)
        bulk_issue.print_report(report, as_json=as_json)
        if report.failed or report.unconfirmed:
            raise typer.Exit(code=1)
        return
    needed = {"--project": project, "--vintage": vintage, "--monitoring-start": monitoring_start,
              "--monitoring-end": monitoring_end, "--quantity": quantity, "--verification-report": verification_report}
    missing = [name for name, value in needed.items() if value is None]
    if missing:
        raise InvalidInputError(f"missing {', '.join(missing)} (or give --csv FILE for many batches)")
    i = args.op_id(op)
    run_write(lambda **kw: c.issue(
        i, project_id=project, vintage=vintage, monitoring_start=unix_date(monitoring_start),  # type: ignore[arg-type]
        monitoring_end=unix_date(monitoring_end), quantity=quantity, reserve_bps=reserve_bps,  # type: ignore[arg-type]
        verification_report_hash=args.document_hash(verification_report),
        review_hash=args.document_hash(review_report), **kw), dry_run=dry_run, as_json=as_json, op_id=i)


def transfer(
    to: Annotated[str, typer.Option(help="recipient address (an active participant)")],
    batch: Batch, amount: Amount,
    from_: Annotated[str | None, typer.Option("--from", help="holder, if not the signing key")] = None,
    trade_ref: Annotated[str | None, typer.Option(help="the trading platform's reference (0x + 64 hex)")] = None,
    op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False,
) -> None:
    """Transfer units (with an operation id and the trade reference, if any)."""
    c, i = registry_client(), args.op_id(op)
    holder = from_ or c.signer.address  # type: ignore[union-attr]
    reference = b32("trade reference", trade_ref) if trade_ref else b"\0" * 32
    run_write(lambda **kw: c.transfer_with_reference(i, holder, to, batch, amount, reference, **kw),
              dry_run=dry_run, as_json=as_json, op_id=i)


def retire(
    batch: Batch, amount: Amount,
    scenario: Annotated[str, typer.Option(help="large-event, organisation, product, building, region, "
                                                "tree-planting-duty, ecological-justice, personal, voluntary")],
    beneficiary: Annotated[str | None, typer.Option(help="the beneficiary; only a salted commitment goes on chain, "
                                                         "the name is kept encrypted for the certificate")] = None,
    beneficiary_commitment: Annotated[str | None, typer.Option(help="or a commitment made elsewhere (0x + 64 hex)")] = None,
    claim: Annotated[Path | None, typer.Option(help="the claim document; its sha256 goes on chain")] = None,
    holder: Annotated[str | None, typer.Option(help="retire for this custodial holder (platform key)")] = None,
    certify: Annotated[bool, typer.Option(help="issue the certificate at once (with --beneficiary)")] = False,
    field: certificates.Fields = None, disclose: certificates.Disclose = None,
    footprint: certificates.Footprint = None, trees: certificates.Trees = None, out: certificates.Out = None,
    op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False,
) -> None:
    """Retire (注销) units for a claim; with --certify, also issue its certificate."""
    if (beneficiary is None) == (beneficiary_commitment is None):
        raise InvalidInputError("give either --beneficiary NAME or --beneficiary-commitment 0x…")
    if certify and (beneficiary is None or dry_run):
        raise InvalidInputError("--certify needs --beneficiary and cannot be a dry run")
    why = args.member(Scenario, scenario)
    options = certificates.certify_options(scenario, field, disclose, footprint, trees) if certify else {}
    c, i = registry_client(), args.op_id(op)
    if beneficiary_commitment is not None:
        commitment = b32("beneficiary commitment", beneficiary_commitment)
    elif dry_run:
        commitment = b"\1" * 32
    else:
        service = certificates.open_service()
        commitment = b32("beneficiary commitment", service.seal_beneficiary(beneficiary))  # type: ignore[arg-type]
    results: list[Any] = []

    def send(**kw: Any) -> Any:
        results.append(c.retire(i, batch, amount, why, commitment, args.document_hash(claim), holder=holder, **kw))
        return results[-1]

    run_write(send, dry_run=dry_run, as_json=as_json and not certify, op_id=i)
    if certify:
        event = results[-1].event("CreditsRetired")
        service.catch_up(results[-1].block_number)
        issued = service.certify([f"{c.chain_id}-{event.tx_hash}-{event.log_index}"], **options)
        certificates.report_certificate(service, issued.certificate_id, out, as_json)


def cancel(
    holder: Annotated[str, typer.Option(help="whose units")], batch: Batch, amount: Amount,
    reason: Annotated[str, typer.Option(help="invalidation, fraud, reversal, correction or other")],
    evidence: Annotated[Path | None, typer.Option(help="the evidence; its sha256 goes on chain")] = None,
    op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False, yes: YesOption = False,
) -> None:
    """Cancel units (not a claim; export has its own commands). Asks first."""
    c, i = registry_client(), args.op_id(op)
    why = args.member(CancellationReason, reason)
    if not dry_run:
        confirm(f"cancel {amount} kg of batch {batch} held by {holder} ({why.name.lower()})", yes)
    run_write(lambda **kw: c.cancel(i, holder, batch, amount, why, args.document_hash(evidence), **kw),
              dry_run=dry_run, as_json=as_json, op_id=i)


def import_(
    origin_registry: Annotated[str, typer.Option(help="e.g. CQ-TANHUITONG")],
    origin: Annotated[str, typer.Option(help="the origin's serial range or transaction, as the other registry writes it")],
    project: Annotated[str, typer.Option(help="the (mutually recognised) project registered here")],
    to: Annotated[str, typer.Option(help="recipient address")],
    vintage: Annotated[int, typer.Option()], quantity: Annotated[int, typer.Option(help="kgCO2e")],
    evidence: Annotated[Path | None, typer.Option(help="the other registry's cancellation proof")] = None,
    op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False,
) -> None:
    """Import credits from another registry; an origin can be imported once."""
    c, i = registry_client(), args.op_id(op)
    origin_key = op_id_for(origin_registry, origin).to_bytes(32, "big")
    run_write(lambda **kw: c.import_credits(
        i, origin_key=origin_key, origin_registry=origin_registry, project_id=project, to=to, vintage=vintage,
        quantity=quantity, evidence_hash=args.document_hash(evidence), **kw), dry_run=dry_run, as_json=as_json, op_id=i)


def register(app: typer.Typer) -> None:
    app.command("issue")(operator_errors(issue))
    app.command("transfer")(operator_errors(transfer))
    app.command("retire")(operator_errors(retire))
    app.command("cancel")(operator_errors(cancel))
    app.command("import")(operator_errors(import_))
