"""`ledger methodology add|list|supersede|withdraw`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chain.types import Ecosystem, MethodologyStatus, from_short_id
from scripts import args
from scripts.console import operator_errors
from scripts.context import registry_client
from scripts.listing import list_events, print_rows
from scripts.output import DryRunOption, JsonOption, OpIdOption, run_write

app = typer.Typer(help="File and retire methodologies (方法学).", no_args_is_help=True)


@app.command("add")
@operator_errors
def add(
    methodology_id: Annotated[str, typer.Argument(help="e.g. SCFM-001-V01")],
    ecosystem: Annotated[str, typer.Option(help="forest, grassland or wetland")],
    version: Annotated[int, typer.Option(help="version number")] = 1,
    document: Annotated[Path | None, typer.Option(help="the methodology document; its sha256 goes on chain")] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """File a methodology."""
    c, i = registry_client(), args.op_id(op)
    args.uint("--version", version, bits=16, low=1)
    run_write(
        lambda **kw: c.file_methodology(
            i, methodology_id, args.member(Ecosystem, ecosystem), version, args.document_hash(document), **kw
        ),
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


@app.command("supersede")
@operator_errors
def supersede(
    methodology_id: str,
    by: Annotated[str, typer.Option(help="the filed methodology that replaces it")],
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Mark a methodology superseded by a newer filed one."""
    c, i = registry_client(), args.op_id(op)
    run_write(
        lambda **kw: c.set_methodology_status(i, methodology_id, MethodologyStatus.SUPERSEDED, by, **kw),
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


@app.command("withdraw")
@operator_errors
def withdraw(
    methodology_id: str, op: OpIdOption = None, dry_run: DryRunOption = False, as_json: JsonOption = False
) -> None:
    """Withdraw a methodology: its projects can no longer issue."""
    c, i = registry_client(), args.op_id(op)
    run_write(
        lambda **kw: c.set_methodology_status(i, methodology_id, MethodologyStatus.WITHDRAWN, **kw),
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


@app.command("list")
@operator_errors
def list_(as_json: JsonOption = False) -> None:
    """Every filed methodology and its status now."""
    c = registry_client(signer_required=False)
    ids = [e.args["methodologyId"] for e in list_events(c, "MethodologyFiled")]
    rows = [
        {
            "id": from_short_id(i),
            "ecosystem": Ecosystem(m["ecosystem"]).name.lower(),
            "version": m["version"],
            "status": MethodologyStatus(m["status"]).name.lower(),
            "document sha256": "0x" + m["documentHash"].hex(),
        }
        for i, m in zip(ids, c.view_many("methodology", [(i,) for i in ids]), strict=True)
    ]
    print_rows(rows, as_json=as_json, title="methodologies")
