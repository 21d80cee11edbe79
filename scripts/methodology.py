"""`ledger methodology add|file|list|supersede|withdraw`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import mrv
from chain.errors import InvalidInputError
from chain.types import Ecosystem, MethodologyStatus, enum_name, from_short_id
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
    bundle: Annotated[
        str | None,
        typer.Option(help="or a shipped bundle, ID@VERSION: its sha256 (`ledger mrv methodologies`) goes on chain"),
    ] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """File a methodology (also `ledger methodology file`): its document's hash, or its bundle's, goes on chain."""
    c, i = registry_client(), args.op_id(op)
    args.uint("--version", version, bits=16, low=1)
    kind = args.member(Ecosystem, ecosystem)
    document_hash = (
        bundle_hash(bundle, methodology_id, kind, version, document) if bundle else args.document_hash(document)
    )
    run_write(
        lambda w: w.file_methodology(i, methodology_id, kind, version, document_hash),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


app.command("file", help="File a methodology (the same as `add`).")(add)


def bundle_hash(ref: str, methodology_id: str, ecosystem: Ecosystem, version: int, document: Path | None) -> bytes:
    """The bundle's sha256 over its canonical bytes, once it is seen to be this methodology's version."""
    if document is not None:
        raise InvalidInputError("give --document or --bundle, not both: one hash goes on chain")
    try:
        found = mrv.reference(ref if "@" in ref else f"{ref}@{version}")
    except mrv.MethodologyError as exc:
        raise InvalidInputError(str(exc)) from None
    if found.id != methodology_id or found.version != version:
        raise InvalidInputError(
            f"--bundle {found.ref} is not {methodology_id} version {version}; "
            f"file it as `{found.id} --version {found.version}`"
        )
    if found.ecosystem != ecosystem.name.lower():
        raise InvalidInputError(f"{found.ref} is a {found.ecosystem} methodology; give --ecosystem {found.ecosystem}")
    return bytes.fromhex(found.sha256)


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
        lambda w: w.set_methodology_status(i, methodology_id, MethodologyStatus.SUPERSEDED, by),
        c,
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
        lambda w: w.set_methodology_status(i, methodology_id, MethodologyStatus.WITHDRAWN),
        c,
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
            "ecosystem": enum_name(Ecosystem, m["ecosystem"]),
            "version": m["version"],
            "status": enum_name(MethodologyStatus, m["status"]),
            "document sha256": "0x" + m["documentHash"].hex(),
        }
        for i, m in zip(ids, c.view_many("methodology", [(i,) for i in ids]), strict=True)
    ]
    print_rows(rows, as_json=as_json, title="methodologies")
