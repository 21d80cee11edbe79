"""`ledger issue | transfer | retire | cancel | import`: what happens to credits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from chain.client import Writes, b32
from chain.errors import InvalidInputError, RegistryRevertError
from chain.opids import op_id_for
from chain.types import CancellationReason, Scenario, enum_name
from scripts import args, bulk_issue, mrv_commands, outfile, preflight, retire_certify
from scripts import certificate_commands as certificates
from scripts.beneficiary_input import BeneficiaryFileOption, BeneficiaryOption, read_beneficiary
from scripts.console import console, operator_errors
from scripts.context import deployment, registry_client
from scripts.output import DryRunOption, JsonOption, OpIdOption, YesOption, confirm, run_write
from scripts.projects import unix_date

Batch = Annotated[int, typer.Option("--batch", help="batch (token) id")]
Amount = Annotated[int, typer.Option("--amount", help="kgCO2e, a whole number above zero")]


def issue(
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="issue one batch per row of this CSV (see docs/operator.md)")
    ] = None,
    project: Annotated[str | None, typer.Option(help="a registered project id")] = None,
    vintage: Annotated[int | None, typer.Option(help="the monitoring period's year")] = None,
    monitoring_start: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    monitoring_end: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    quantity: Annotated[int | None, typer.Option(help="kgCO2e verified for the period")] = None,
    verification_report: Annotated[
        Path | None, typer.Option(help="the third-party verification report (核查报告)")
    ] = None,
    reserve_bps: Annotated[int, typer.Option(help="reserve share in basis points (1000 = 10 %)")] = 1000,
    review_report: Annotated[Path | None, typer.Option(help="the expert review of the quantity")] = None,
    monitoring_report: Annotated[
        Path | None, typer.Option(help="compute the quantity from this monitoring report (docs/mrv.md)")
    ] = None,
    methodology: Annotated[
        str | None, typer.Option(help="with --monitoring-report: ID@VERSION to compute with")
    ] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Issue one batch for a registered project's monitoring period, or one per row of --csv."""
    c = registry_client()
    since = deployment().block_number  # where to look for the project's earlier batches
    if monitoring_report is not None:
        return mrv_commands.issue_from_report(
            c,
            since,
            monitoring_report,
            csv_file=csv_file,
            project=project,
            methodology=methodology,
            vintage=vintage,
            monitoring_start=monitoring_start,
            monitoring_end=monitoring_end,
            quantity=quantity,
            reserve_bps=reserve_bps,
            verification_report=verification_report,
            review_report=review_report,
            op=op,
            dry_run=dry_run,
            as_json=as_json,
        )
    if csv_file is not None:
        rows = bulk_issue.read_rows(csv_file, c, from_block=since)
        if dry_run:
            if as_json:
                console.print_json(json.dumps({"status": "valid", "rows": len(rows), "file": str(csv_file)}))
            else:
                console.print(f"dry run: all {len(rows)} rows of {csv_file} are valid; nothing was sent")
            return
        report = bulk_issue.send_rows(c, rows, show_progress=not as_json)
        bulk_issue.print_report(report, as_json=as_json)
        if report.failed or report.unconfirmed:
            raise typer.Exit(code=1)
        return
    if (
        project is None
        or vintage is None
        or monitoring_start is None
        or monitoring_end is None
        or quantity is None
        or verification_report is None
    ):
        needed = {
            "--project": project,
            "--vintage": vintage,
            "--monitoring-start": monitoring_start,
            "--monitoring-end": monitoring_end,
            "--quantity": quantity,
            "--verification-report": verification_report,
        }
        missing = [name for name, value in needed.items() if value is None]
        raise InvalidInputError(f"missing {', '.join(missing)} (or give --csv FILE for many batches)")
    i = args.op_id(op)
    request: dict[str, Any] = {
        "project_id": project,
        "vintage": args.vintage(vintage),
        "monitoring_start": unix_date(monitoring_start),
        "monitoring_end": unix_date(monitoring_end),
        "quantity": quantity,
        "reserve_bps": reserve_bps,
        "verification_report_hash": args.document_hash(verification_report),
        "review_hash": args.document_hash(review_report),
    }
    bulk_issue.check_one(c, c.issuance_request(**request), i, from_block=since)
    run_write(lambda w: w.issue(i, **request), c, dry_run=dry_run, as_json=as_json, op_id=i)


def transfer(
    to: Annotated[str, typer.Option(help="recipient address (an active participant)")],
    batch: Batch,
    amount: Amount,
    from_: Annotated[str | None, typer.Option("--from", help="holder, if not the signing key")] = None,
    trade_ref: Annotated[str | None, typer.Option(help="the trading platform's reference (0x + 64 hex)")] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Transfer units (with an operation id and the trade reference, if any)."""
    c, i = registry_client(), args.op_id(op)
    holder = args.account("sender", from_) if from_ else args.signer_address(c)
    to = args.account("recipient", to)
    reference = b32("trade reference", trade_ref) if trade_ref else b"\0" * 32
    preflight.existing_batch(c, batch, amount=amount)
    run_write(
        lambda w: w.transfer_with_reference(i, holder, to, batch, amount, reference),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


def retire(
    batch: Batch,
    amount: Amount,
    scenario: Annotated[
        str,
        typer.Option(
            help="large-event, organisation, product, building, region, "
            "tree-planting-duty, ecological-justice, personal, voluntary"
        ),
    ],
    beneficiary: BeneficiaryOption = None,
    beneficiary_file: BeneficiaryFileOption = None,
    beneficiary_commitment: Annotated[
        str | None, typer.Option(help="or a commitment made elsewhere (0x + 64 hex)")
    ] = None,
    claim: Annotated[Path | None, typer.Option(help="the claim document; its sha256 goes on chain")] = None,
    holder: Annotated[str | None, typer.Option(help="retire for this custodial holder (platform key)")] = None,
    certify: Annotated[bool, typer.Option(help="issue the certificate at once (needs the beneficiary's name)")] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="with --certify: wait for the confirmations LEDGER_CONFIRMATIONS asks before certifying"
        ),
    ] = False,
    field: certificates.Fields = None,
    disclose: certificates.Disclose = None,
    footprint: certificates.Footprint = None,
    footprint_report: certificates.FootprintReport = None,
    trees: certificates.Trees = None,
    out: certificates.Out = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Retire (注销) units for a claim; with --certify, also issue its certificate. With the beneficiary's
    name, the operation id is derived from the request unless --op-id: the same retirement is made once."""
    name = read_beneficiary(beneficiary, beneficiary_file, beneficiary_commitment)
    if certify and (name is None or dry_run):
        raise InvalidInputError(
            "--certify needs the beneficiary's name (not --beneficiary-commitment) and cannot be a dry run"
        )
    if certify and out is not None:
        outfile.check_writable(out)  # a retirement mined for a copy that cannot be written is half done
    why = args.member(Scenario, scenario)
    holder = args.account("holder", holder) if holder else None
    options = (
        certificates.certify_options(scenario, field, disclose, footprint, trees, footprint_report) if certify else {}
    )
    c = registry_client()
    preflight.existing_batch(c, batch, amount=amount)  # before anything is sealed or signed
    claim_hash = args.document_hash(claim)
    if certify and name is not None:  # --certify without a name was refused above
        retire_certify.check_request(options, beneficiary=name, quantity=amount)
    words = (
        retire_certify.certify_args(scenario, field, disclose, footprint, trees, out, footprint_report)
        if certify
        else None
    )
    sealed = None
    if name is None or dry_run:
        i = args.op_id(op)
        if name is not None:
            commitment = b"\1" * 32
        else:
            assert beneficiary_commitment is not None  # read_beneficiary gives no name only for a commitment
            commitment = b32("beneficiary commitment", beneficiary_commitment)
    else:
        service = certificates.open_service()
        if certify:
            _ = service.required_confirmations  # a bad LEDGER_CONFIRMATIONS is refused before anything is sent
        i = (
            args.op_id(op)
            if op is not None
            else service.retirement_op_id(holder or args.signer_address(c), batch, amount, why.name, name, claim_hash)
        )
        sealed = service.prepare_beneficiary(name)
        commitment = b32("beneficiary commitment", sealed.commitment)
        call = {
            "batch_id": batch,
            "quantity": amount,
            "scenario": why,
            "beneficiary_commitment": commitment,
            "claim_hash": claim_hash,
            "holder": holder,
        }
        retire_certify.simulate_first(c, service, i, call, certify_args=words)
        service.store_beneficiary(sealed)  # only now: a retirement that would fail leaves no sealed name behind
    results: list[Any] = []

    def send(w: Writes[Any]) -> Any:
        results.append(w.retire(i, batch, amount, why, commitment, claim_hash, holder=holder))
        return results[-1]

    try:
        if certify and as_json:
            send(c)  # --json prints one JSON object: the certificate's, below
        else:
            run_write(send, c, dry_run=dry_run, as_json=as_json, op_id=i)
    except RegistryRevertError:
        if sealed is not None:  # reverted on chain: nothing names this commitment
            service.forget_beneficiary(sealed.commitment)
        raise
    if certify:
        cert_id = retire_certify.certify_retired(service, results[-1], options, words or [], wait=wait)
        certificates.report_certificate(service, cert_id, out, as_json)


def cancel(
    holder: Annotated[str, typer.Option(help="whose units")],
    batch: Batch,
    amount: Amount,
    reason: Annotated[str, typer.Option(help="invalidation, fraud, reversal, correction or other")],
    evidence: Annotated[Path | None, typer.Option(help="the evidence; its sha256 goes on chain")] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """Cancel units (not a claim; export has its own commands). Asks first."""
    c, i = registry_client(), args.op_id(op)
    why = args.member(CancellationReason, reason)
    holder = args.account("holder", holder)
    preflight.existing_batch(c, batch, amount=amount)
    if not dry_run:
        confirm(f"cancel {amount} kg of batch {batch} held by {holder} ({enum_name(CancellationReason, why)})", yes)
    run_write(
        lambda w: w.cancel(i, holder, batch, amount, why, args.document_hash(evidence)),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


def import_(
    origin_registry: Annotated[str, typer.Option(help="e.g. CQ-TANHUITONG")],
    origin: Annotated[
        str, typer.Option(help="the origin's serial range or transaction, as the other registry writes it")
    ],
    project: Annotated[str, typer.Option(help="the (mutually recognised) project registered here")],
    to: Annotated[str, typer.Option(help="recipient address")],
    vintage: Annotated[int, typer.Option()],
    quantity: Annotated[int, typer.Option(help="kgCO2e")],
    evidence: Annotated[Path | None, typer.Option(help="the other registry's cancellation proof")] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Import credits from another registry; an origin can be imported once."""
    c, i = registry_client(), args.op_id(op)
    to, vintage = args.account("recipient", to), args.vintage(vintage)
    origin_key = op_id_for(origin_registry, origin).to_bytes(32, "big")
    run_write(
        lambda w: w.import_credits(
            i,
            origin_key=origin_key,
            origin_registry=origin_registry,
            project_id=project,
            to=to,
            vintage=vintage,
            quantity=quantity,
            evidence_hash=args.document_hash(evidence),
        ),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


def register(app: typer.Typer) -> None:
    app.command("issue")(operator_errors(issue))
    app.command("transfer")(operator_errors(transfer))
    app.command("retire")(operator_errors(retire))
    app.command("cancel")(operator_errors(cancel))
    app.command("import")(operator_errors(import_))
