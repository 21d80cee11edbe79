"""`ledger audit`: recompute the registry from the chain alone and compare it with the mirror,
the certificates, the transparency log and the API, and recompute every batch issued from a
stored monitoring report. Exit code 1 on any difference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import requests
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from audit.bridge_peer import audit_peer
from audit.chain_state import read_chain
from audit.points_log import audit_points_log
from audit.reconcile import reconcile
from chain.errors import InvalidInputError
from scripts import web
from scripts.certificate_commands import open_service
from scripts.console import console, operator_errors


def http_api(base: str) -> Callable[[str], tuple[int, Any]]:
    session = requests.Session()

    def get(path: str) -> tuple[int, Any]:
        try:
            reply = session.get(base.rstrip("/") + path, timeout=30)
        except requests.RequestException as exc:
            raise InvalidInputError(f"the API at {base} does not answer ({type(exc).__name__}); check --api") from None
        return reply.status_code, reply.json() if reply.headers.get("content-type", "").startswith(
            "application/"
        ) else None

    return get


def in_process_api(app: Any = None) -> Callable[[str], tuple[int, Any]]:
    """Ask the API in this process: `app`, or the one `ledger serve` would start."""
    from fastapi.testclient import TestClient

    client = TestClient(app if app is not None else web.build_app(), raise_server_exceptions=False)

    def get(path: str) -> tuple[int, Any]:
        reply = client.get(path)
        return reply.status_code, reply.json()

    return get


@operator_errors
def audit(
    api: Annotated[
        str | None, typer.Option(help="the API to check (default: this code's API on the same database)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    api_sample: Annotated[
        int,
        typer.Option(
            min=2,
            help="batches, retirements and certificates to ask the API about (evenly "
            "spread; all of them are compared in the mirror)",
        ),
    ] = 200,
    peer: Annotated[
        str | None,
        typer.Option(help="another registry's node: reconcile the exports to it (its registry: LEDGER_BRIDGE_*)"),
    ] = None,
) -> None:
    """Recompute supply, balances, retirements and anchors from eth_getLogs and eth_call alone; compare
    them with the mirror, every certificate, the log's own roots (with consistency proofs between
    successive anchors) and the API; recompute every batch issued from a stored monitoring report
    (batches without one are listed as unverifiable) and list reversals still to cancel. Every
    difference is reported with its transaction and block."""
    service = open_service(signer_required=False)
    client, context, engine = service.client, service.context, service.engine
    columns = (
        TextColumn("reading the chain"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("chain", total=1)
        chain = read_chain(
            client,
            context.deployment.block_number,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    with engine.connect() as conn:
        report = reconcile(chain, conn, context.log, http_api(api) if api else in_process_api(), api_sample=api_sample)
        from audit.land import audit_land, chain_holders  # here: shapely loads for `ledger audit` only

        report.checked.update(audit_land(conn, chain_holders(client), report.add))  # parcels: hashes, overlaps
    report.checked.update(audit_points_log(engine, client, context.deployment, report.add))  # ledger vs log vs chain
    if peer:
        report.checked.update(audit_peer(client, context.deployment.block_number, peer, report.add))
    if as_json:
        console.print_json(data=report.as_json())
    else:
        checked = ", ".join(f"{n:,} {what}" for what, n in report.checked.items())
        console.print(f"audited {report.events:,} events up to block {report.head:,}: {checked}")
        print_monitoring(report.monitoring)
        if report.clean:
            console.print(
                "[bold green]no difference[/]: the mirror, the certificates, the log and the API agree with the chain"
            )
        else:
            table = Table(
                "check", "subject", "difference", "tx", "block", title=f"{len(report.differences)} difference(s)"
            )
            for d in report.differences:
                table.add_row(d.check, d.subject, d.detail, d.tx_hash or "", str(d.block_number or ""))
            console.print(table)
    if not report.clean:
        raise typer.Exit(code=1)


def print_monitoring(monitoring: dict[str, Any]) -> None:
    """Batches recomputed from their monitoring reports, those without one, and reversals still to cancel."""
    if not monitoring:
        return
    unverifiable = monitoring["unverifiable"]
    ids = ", ".join(map(str, unverifiable["batches"][:20])) + (" …" if unverifiable["count"] > 20 else "")
    console.print(
        f"monitoring: {monitoring['recomputed']:,} batch(es) recomputed from their reports; "
        f"{unverifiable['count']:,} unverifiable (no stored report{': ' + ids if ids else ''})",
        highlight=False,
    )
    outstanding = monitoring["outstanding_reversals"]
    if outstanding:
        table = Table("batch", "reversal kg", "cancelled kg", "outstanding kg", title="reversals still to cancel")
        for o in outstanding:
            table.add_row(
                str(o["batch_id"]), f"{o['reversal_kg']:,}", f"{o['cancelled_kg']:,}", f"{o['outstanding_kg']:,}"
            )
        console.print(table)
        console.print("cancel them from the reserve: `ledger cancel --reason reversal` (see `ledger mrv reversal`)")
