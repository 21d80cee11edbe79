"""`ledger bridge run|once|audit`: the relay between two registries (区域联建), configured by
LEDGER_BRIDGE_* (docs/bridge.md); keys only from the environment."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from bridge.provenance import trace
from bridge.recognition import RecognitionContract, deploy_recognitions, grant_gate_roles
from bridge.reconcile import reconcile
from bridge.relay import Relay
from bridge.settings import BridgeSettings, open_endpoint
from chain.errors import InvalidInputError
from scripts.console import console, operator_errors

app = typer.Typer(
    help="Relay exports from one registry to another (e.g. Sichuan to Chongqing 碳惠通) and reconcile the two.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="print the result as JSON")]


def open_relay(settings: BridgeSettings) -> Relay:
    destination = open_endpoint(settings, "destination")
    return Relay(open_endpoint(settings, "source"), destination, settings.recognition(destination))


def recognitions(settings: BridgeSettings) -> RecognitionContract:
    if not settings.destination_recognitions:
        raise InvalidInputError(
            "no recognitions contract configured; deploy one with `ledger bridge deploy-recognitions` and set "
            "LEDGER_BRIDGE_DESTINATION_RECOGNITIONS"
        )
    destination = open_endpoint(settings, "destination")
    recognition = settings.recognition(destination)
    assert isinstance(recognition, RecognitionContract)
    return recognition


@app.command("deploy-recognitions")
@operator_errors
def deploy_recognitions_(as_json: JsonOption = False) -> None:
    """Deploy the destination's methodology-recognition record beside its registry (prints its address)."""
    d = open_endpoint(BridgeSettings(), "destination").client
    assert d.signer is not None
    contract = deploy_recognitions(d.rpc, chain_id=d.chain_id, deployer=d.signer, registry=d.address)
    if as_json:
        console.print_json(json.dumps({"recognitions": contract}))
    else:
        console.print(
            f"deployed the recognitions contract (the import gate) at {contract}; set "
            "LEDGER_BRIDGE_DESTINATION_RECOGNITIONS and LEDGER_IMPORT_GATE to it, then have the registry's admin run "
            "`ledger bridge grant-gate RELAY_ADDRESS...`"
        )


Relayers = Annotated[list[str], typer.Argument(help="the relays' destination addresses (0x...)")]


@app.command("grant-gate")
@operator_errors
def grant_gate(relayers: Relayers) -> None:
    """As the destination registry's admin (LEDGER_BRIDGE_DESTINATION_KEY): let the gate import and
    the relays use the gate (REGISTRAR_ROLE to the gate, BRIDGE_RELAYER_ROLE to each relay)."""
    settings = BridgeSettings()
    gate = recognitions(settings)
    d = open_endpoint(settings, "destination").client
    assert d.signer is not None
    grant_gate_roles(d, gate.client.address, relayers, admin=d.signer)
    console.print(f"the gate {gate.client.address} imports; {len(relayers)} relay(s) may use it")


Methodology = Annotated[str, typer.Argument(help="the source's methodology id, e.g. SCFM-001-V01")]
Origin = Annotated[str, typer.Option(help="the source registry's short id (default: LEDGER_BRIDGE_SOURCE_NAME)")]
Evidence = Annotated[str, typer.Option(help="hash of the published decision (0x + 64 hex)")]


@app.command("recognise")
@operator_errors
def recognise(methodology: Methodology, evidence: Evidence, origin: Origin = "") -> None:
    """Record on the destination that it recognises a methodology of the source (方法学互认)."""
    settings = BridgeSettings()
    done = recognitions(settings).recognise(origin or settings.source_name, methodology, evidence)
    console.print(f"recognised {methodology} of {origin or settings.source_name} (transaction {done.tx_hash})")


@app.command("withdraw-recognition")
@operator_errors
def withdraw(methodology: Methodology, reason: Evidence, origin: Origin = "") -> None:
    """Withdraw a recognition: exports under it not yet imported will be aborted."""
    settings = BridgeSettings()
    done = recognitions(settings).withdraw(origin or settings.source_name, methodology, reason)
    console.print(f"withdrew {methodology} of {origin or settings.source_name} (transaction {done.tx_hash})")


@app.command("once")
@operator_errors
def once(as_json: JsonOption = False) -> None:
    """One pass: import every pending export, confirm or abort it on the source."""
    report = open_relay(BridgeSettings()).step()
    fields = {
        "seen": report.seen,
        "imported": report.imported,
        "confirmed": report.confirmed,
        "aborted": report.aborted,
        "waiting": report.waiting,
    }
    if as_json:
        refusals = {str(k): v for k, v in report.refusals.items()}
        held = {str(k): v for k, v in report.held.items()}
        console.print_json(json.dumps({**fields, "refusals": refusals, "held": held}))
        return
    console.print(", ".join(f"{k} {v}" for k, v in fields.items()))
    for export_id, why in report.refusals.items():
        console.print(f"aborted export {export_id}: {why}", highlight=False, markup=False, soft_wrap=True)
    for export_id, why in report.held.items():
        console.print(f"held export {export_id}: {why}", highlight=False, markup=False, soft_wrap=True)


@app.command("run")
@operator_errors
def run(poll: Annotated[float, typer.Option(min=0.1, help="seconds between passes")] = 2.0) -> None:
    """Relay until Ctrl-C; safe to kill at any moment and start again."""
    relay = open_relay(BridgeSettings())
    console.print(f"relaying {relay.source.name} -> {relay.destination.name}; Ctrl-C stops")
    relay.run(poll=poll)


@app.command("audit")
@operator_errors
def audit(as_json: JsonOption = False) -> None:
    """Reconcile the two registries: supply on each, every export with exactly one import. Exit 1 on a difference."""
    settings = BridgeSettings()
    found = reconcile(
        open_endpoint(settings, "source", sign=False),
        open_endpoint(settings, "destination", sign=False),
    )
    if as_json:
        console.print_json(json.dumps(found.as_dict()))
    else:
        for line in found.lines():
            console.print(line, highlight=False, markup=False, soft_wrap=True)
    if not found.ok:
        raise typer.Exit(code=1)


@app.command("trace")
@operator_errors
def trace_(
    batch: Annotated[int, typer.Argument(help="an imported batch of the destination")], as_json: JsonOption = False
) -> None:
    """Where an imported batch came from: origin registry, export, source batch and serial range."""
    settings = BridgeSettings()
    origin = trace(
        open_endpoint(settings, "source", sign=False), open_endpoint(settings, "destination", sign=False), batch
    )
    if as_json:
        console.print_json(json.dumps(dataclasses.asdict(origin)))
        return
    console.print(
        f"batch {batch}: {origin.quantity} kg from {origin.origin_registry} export {origin.export_id}, source batch "
        f"{origin.source_batch} ({origin.source_project}, vintage {origin.vintage}, serials {origin.first_serial}-"
        f"{origin.last_serial}); imported in {origin.import_tx}; evidence "
        + ("matches" if origin.evidence_matches else "DOES NOT MATCH"),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
