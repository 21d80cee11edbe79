"""`ledger offsets purchase | retire | certify | run`: people's kilograms, retired together in one
`retireFor` by the platform, one personal certificate each (docs/offsets.md). The signing key is
the platform participant's, which the custodial holder approved as its operator."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from chain.errors import InvalidInputError
from offsets.allocation import AllocationError
from offsets.batcher import Batcher, BatchError, refuse_bad_max
from offsets.certify import certify_retired
from offsets.purchases import PurchaseError, purchase
from offsets.runner import Runner, Step, Trigger, refuse_bad_wait, tune_gc_for_bulk
from scripts.certificate_commands import open_service
from scripts.console import console, fail, operator_errors

app = typer.Typer(
    help="Offsets for people: purchases, aggregated retirements, one personal certificate each.",
    no_args_is_help=True,
)


@app.command("purchase")
@operator_errors
def purchase_command(
    account_commitment: Annotated[
        str,
        typer.Option("--account-commitment", help="the salted commitment of the account (64 hex), never the account"),
    ],
    kg: Annotated[int, typer.Option("--kg", help="whole kilograms bought")],
    key: Annotated[str, typer.Option("--key", help="the idempotency key: a retry with it is the same purchase")],
) -> None:
    """Take one purchase; a repeated key answers with the first purchase."""
    service = open_service(signer_required=False)
    try:
        taken = purchase(service.engine, account_commitment, kg, key)
    except PurchaseError as exc:
        fail(str(exc))
    state = "taken" if taken.created else "already taken"
    console.print(f"purchase {taken.purchase.id}: {taken.purchase.kg} kg, {state}", soft_wrap=True)


@app.command("retire")
@operator_errors
def retire_command(
    holder: Annotated[str, typer.Option("--holder", help="the custodial holder whose units are retired")],
    batch: Annotated[int, typer.Option("--batch", help="the batch retired from")],
    max_purchases: Annotated[int, typer.Option("--max", min=1, help="purchases in one retirement at most")] = 1000,
) -> None:
    """Settle what a crash left open, then retire the pending purchases in batches of --max."""
    try:
        refuse_bad_max(max_purchases)
    except ValueError as exc:
        fail(str(exc))
    service = open_service()
    deployment = service.context.deployment
    batcher = Batcher(
        service.engine,
        service.client,
        holder=holder,
        batch_id=batch,
        catch_up=service.catch_up,
        max_purchases=max_purchases,
        from_block=deployment.block_number,
    )
    try:
        while settled := batcher.run_once():
            for s in settled:
                how = "sent" if s.sent else "found on chain after a restart"
                console.print(
                    f"retired {s.amount} kg for {s.purchases} purchase(s) in {s.tx_hash} ({how})", soft_wrap=True
                )
    except (BatchError, AllocationError, InvalidInputError) as exc:
        fail(str(exc))


@app.command("certify")
@operator_errors
def certify_command() -> None:
    """Issue the personal certificate of every retired purchase that has none, then anchor per policy."""
    service = open_service()
    tune_gc_for_bulk()
    refused: list[str] = []
    issued = certify_retired(service, refused=refused)
    for cert_id in issued:
        console.print(cert_id)
    if issued and service.can_anchor():
        service.anchor()
    console.print(f"{len(issued)} personal certificate(s) issued")
    if refused:
        fail("; ".join(refused))


@app.command("run")
@operator_errors
def run_command(
    holder: Annotated[str, typer.Option("--holder", help="the custodial holder whose units are retired")],
    batch: Annotated[int, typer.Option("--batch", help="the batch retired from")],
    every: Annotated[
        float, typer.Option("--every", help="T: retire once the oldest purchase has waited this long (s)")
    ],
    max_purchases: Annotated[int, typer.Option("--max", min=1, help="M: retire at once when this many wait")] = 1000,
    poll: Annotated[float, typer.Option("--poll", min=0.01, help="seconds between looks at the purchases")] = 1.0,
) -> None:
    """Retire every T seconds or M purchases, then certify; SIGTERM stops it between steps."""
    try:
        trigger = Trigger(every, max_purchases)
        refuse_bad_wait("--poll", poll)
    except ValueError as exc:
        fail(str(exc))
    service = open_service()
    tune_gc_for_bulk()
    batcher = Batcher(
        service.engine,
        service.client,
        holder=holder,
        batch_id=batch,
        catch_up=service.catch_up,
        max_purchases=max_purchases,
        from_block=service.context.deployment.block_number,
    )
    runner = Runner(service, batcher, trigger, poll=poll)
    signal.signal(signal.SIGTERM, lambda *_: runner.stop.set())
    signal.signal(signal.SIGINT, lambda *_: runner.stop.set())

    def report(step: Step) -> None:
        for s in step.retired:
            how = "sent" if s.sent else "found on chain after a restart"
            console.print(f"retired {s.amount} kg for {s.purchases} purchase(s) in {s.tx_hash} ({how})", soft_wrap=True)
        if step.certified:
            console.print(f"{len(step.certified)} personal certificate(s) issued", soft_wrap=True)
        if step.problem:
            console.print(f"waiting: {step.problem}", soft_wrap=True)

    console.print(f"retiring every {every:g} s or {max_purchases} purchases; SIGTERM stops", soft_wrap=True)
    runner.run(report)
    console.print(f"stopped; {runner.pending()[0]} purchase(s) pending", soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="offsets")
