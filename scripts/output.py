"""How a write is shown: what happened on chain, or what a dry run would do."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from chain.abi import DecodedEvent
from chain.client import RegistryClient, Simulation, TxResult, Writes
from scripts.console import console, fail

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Simulate with eth_call; send nothing.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
OpIdOption = Annotated[
    str | None,
    typer.Option("--op-id", help="Operation id (decimal or 0x-hex) for exactly-once; random if omitted."),
]


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def event_json(e: DecodedEvent) -> dict[str, Any]:
    return {"event": e.name, "logIndex": e.log_index, "args": jsonable(e.args)}


def confirm(action: str, yes: bool) -> None:
    if not yes and not typer.confirm(f"{action}?", default=False):
        fail("not confirmed; nothing was sent (pass --yes to skip the question)")


def report(outcome: TxResult | Simulation, *, as_json: bool, op_id: int | None = None) -> None:
    if isinstance(outcome, Simulation):
        report_simulation(outcome, as_json=as_json, op_id=op_id)
        return
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "status": "applied",
                    "opId": op_id,
                    "txHash": outcome.tx_hash,
                    "block": outcome.block_number,
                    "gasUsed": outcome.gas_used,
                    "events": [event_json(e) for e in outcome.events],
                }
            )
        )
        return
    table = Table(show_header=False, box=None)
    if op_id is not None:
        table.add_row("operation id", str(op_id))
    table.add_row("tx", outcome.tx_hash)
    table.add_row("block", str(outcome.block_number))
    table.add_row("gas", f"{outcome.gas_used:,}")
    for e in outcome.events:
        args = ", ".join(f"{k}={_short(v)}" for k, v in e.args.items())
        table.add_row(e.name, args)
    console.print(table)


def report_simulation(sim: Simulation, *, as_json: bool, op_id: int | None) -> None:
    if as_json:
        body: dict[str, Any] = {
            "status": "would-apply" if sim.ok else "would-fail",
            "opId": op_id,
            "gasEstimate": sim.gas,
        }
        if sim.error is not None:
            body["error"] = {
                "name": sim.error.name,
                "args": jsonable(sim.error.args_by_name),
                "message": str(sim.error),
            }
        console.print_json(json.dumps(body))
    elif sim.ok:
        console.print(f"dry run: would succeed, gas estimate {sim.gas:,}; nothing was sent")
    else:
        console.print(f"dry run: would fail with {sim.error}; nothing was sent")
    if not sim.ok:
        raise typer.Exit(code=1)


def run_write(
    call: Callable[[Writes[Any]], TxResult | Simulation],
    client: RegistryClient,
    *,
    dry_run: bool,
    as_json: bool,
    op_id: int | None = None,
) -> None:
    """Make the write `call` names with the client, or with --dry-run only simulate it, and report it."""
    report(call(client.dry_run if dry_run else client), as_json=as_json, op_id=op_id)


def _short(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.rstrip(b"\0")
        if text and text.isascii() and text.decode().isprintable():
            return text.decode()
        return "0x" + value.hex()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_short(v)}" for k, v in value.items()) + "}"
    return str(value)
