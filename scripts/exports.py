"""`ledger export request|confirm|abort`: moving units to another registry in two steps."""

from __future__ import annotations

from typing import Annotated

import typer

from chain.client import b32
from scripts import args, preflight
from scripts.console import operator_errors
from scripts.context import registry_client
from scripts.output import DryRunOption, JsonOption, OpIdOption, YesOption, confirm, run_write

app = typer.Typer(
    help="Export units to another registry (e.g. Chongqing 碳惠通): freeze, then confirm or abort.",
    no_args_is_help=True,
)
ExportId = Annotated[str, typer.Argument(help="the export id (the request's operation id)")]


@app.command("request")
@operator_errors
def request(
    holder: Annotated[str, typer.Option()],
    batch: Annotated[int, typer.Option()],
    amount: Annotated[int, typer.Option(help="kgCO2e")],
    destination: Annotated[str, typer.Option(help="destination registry, e.g. CQ-TANHUITONG")],
    destination_account: Annotated[str, typer.Option(help="account there, as 0x + 64 hex")] = "0x" + "00" * 32,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Freeze units pending export; prints the export id."""
    c, i = registry_client(), args.op_id(op)
    holder = args.account("holder", holder)
    preflight.existing_batch(c, batch, amount=amount)
    run_write(
        lambda w: w.request_export(
            i, holder, batch, amount, destination, b32("destination account", destination_account)
        ),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


@app.command("confirm")
@operator_errors
def confirm_(
    export_id: ExportId,
    reference: Annotated[str, typer.Option(help="the destination's reference (0x + 64 hex)")],
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """The destination confirmed: cancel the frozen units (asks first)."""
    c, i, export = registry_client(), args.op_id(op), args.op_id(export_id, "export id")
    if not dry_run:
        confirm(f"cancel the units of export {export_id} as exported", yes)
    run_write(
        lambda w: w.confirm_export(i, export, b32("reference", reference)),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


@app.command("abort")
@operator_errors
def abort(
    export_id: ExportId, op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False
) -> None:
    """The export did not happen: free the units."""
    c, i, export = registry_client(), args.op_id(op), args.op_id(export_id, "export id")
    run_write(lambda w: w.abort_export(i, export), c, dry_run=dry_run, as_json=as_json, op_id=i)
