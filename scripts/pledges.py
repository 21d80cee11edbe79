"""`ledger pledge create|release|enforce` (质押)."""

from __future__ import annotations

from typing import Annotated

import typer

from chain.client import b32
from scripts import args, preflight
from scripts.console import operator_errors
from scripts.context import registry_client
from scripts.output import DryRunOption, JsonOption, OpIdOption, YesOption, confirm, run_write

app = typer.Typer(help="Pledge units to a bank, release or enforce pledges.", no_args_is_help=True)
PledgeId = Annotated[str, typer.Argument(help="the pledge id (the pledge's operation id)")]


@app.command("create")
@operator_errors
def create(
    batch: Annotated[int, typer.Option()],
    amount: Annotated[int, typer.Option(help="kgCO2e")],
    pledgee: Annotated[str, typer.Option(help="the pledgee's address")],
    registration: Annotated[str, typer.Option(help="the pledge registration's reference (0x + 64 hex)")],
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Pledge the signing key's units; prints the pledge id."""
    c, i = registry_client(), args.op_id(op)
    pledgee = args.account("pledgee", pledgee)
    preflight.existing_batch(c, batch, amount=amount)
    run_write(
        lambda w: w.pledge(i, batch, amount, pledgee, b32("registration", registration)),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


@app.command("release")
@operator_errors
def release(
    pledge_id: PledgeId, op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False
) -> None:
    """Release a pledge (the pledgee's key)."""
    c, i, pledge = registry_client(), args.op_id(op), args.op_id(pledge_id, "pledge id")
    run_write(lambda w: w.release_pledge(i, pledge), c, dry_run=dry_run, as_json=as_json, op_id=i)


@app.command("enforce")
@operator_errors
def enforce(
    pledge_id: PledgeId,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
    yes: YesOption = False,
) -> None:
    """Enforce a pledge: the units move to the pledgee (asks first)."""
    c, i, pledge = registry_client(), args.op_id(op), args.op_id(pledge_id, "pledge id")
    if not dry_run:
        confirm(f"enforce pledge {pledge_id}", yes)
    run_write(lambda w: w.enforce_pledge(i, pledge), c, dry_run=dry_run, as_json=as_json, op_id=i)
