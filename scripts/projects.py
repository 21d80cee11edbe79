"""`ledger project register|review|suspend|reinstate|revoke|close|show|list`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from chain.client import RegistryClient, sid
from chain.errors import InvalidInputError
from chain.types import ProjectStatus, enum_name, from_short_id
from scripts import args
from scripts.console import err_console, operator_errors
from scripts.context import registry_client
from scripts.listing import list_events, print_rows
from scripts.output import DryRunOption, JsonOption, OpIdOption, run_write
from scripts.parcels import check_land, land_lock, read_parcels, store_land
from scripts.status_commands import add_status_command

app = typer.Typer(help="Register projects, record reviews, change their status.", no_args_is_help=True)


def unix_date(text: str) -> int:
    try:
        value = int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date like 2024-01-31") from None
    if value < 0:  # the contract keeps dates as uint64 seconds since 1970
        raise InvalidInputError(f"{text!r} is before 1970-01-01; give the real date")
    return value


def documents_hash(paths: list[Path]) -> bytes:
    """sha256 over the sorted sha256 of each document, so the order given does not matter."""
    digests = sorted(args.document_hash(p) for p in paths)
    return hashlib.sha256(b"".join(digests)).digest() if digests else b"\0" * 32


@app.command("register")
@operator_errors
def register(
    project_id: Annotated[str, typer.Argument(help="e.g. P-511802-0001")],
    methodology: Annotated[str, typer.Option(help="a filed methodology id")],
    owner: Annotated[str, typer.Option(help="the owner's address (an active participant)")],
    county: Annotated[int, typer.Option(help="GB/T 2260 county code, e.g. 511802")],
    area_m2: Annotated[int, typer.Option("--area-m2", help="area in square metres")],
    crediting_start: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    crediting_end: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    parcels: Annotated[Path, typer.Option(help="GeoJSON parcels (properties.parcel_id + polygon; docs/land.md)")],
    document: Annotated[list[Path] | None, typer.Option(help="a project document; repeat for several")] = None,
    map_out: Annotated[
        Path | None, typer.Option("--map", help="write an SVG map of the parcels (refused overlaps in red)")
    ] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Submit a project for expert review, after checking its parcels against every live project's land."""
    c, i = registry_client(), args.op_id(op)
    owner = args.account("owner", owner)
    args.uint("--area-m2", area_m2, bits=64, low=1)
    start, end = unix_date(crediting_start), unix_date(crediting_end)
    parcel_file = read_parcels(parcels)
    with land_lock(parcel_file, dry_run=dry_run):  # check, send and store: one registration at a time
        land = check_land(project_id, area_m2, parcel_file, map_out)
        if land is not None and not dry_run and _holds_all(c, project_id, parcel_file.hashes):
            # an earlier run died after the chain accepted these very parcels and before their land was
            # stored: store it now, or the project would hold hashes on chain with no land to check against
            store_land(land, project_id, parcel_file)
            err_console.print(
                f"project {project_id} was already registered with these parcels; nothing sent, its land is stored",
                markup=False,
                highlight=False,
            )
            return
        run_write(
            lambda w: w.register_project(
                i,
                project_id=project_id,
                methodology_id=methodology,
                owner=owner,
                county_code=county,
                area_square_metres=area_m2,
                crediting_start=start,
                crediting_end=end,
                documents_hash=documents_hash(document or []),
                parcels=parcel_file.hashes,
            ),
            c,
            dry_run=dry_run,
            as_json=as_json,
            op_id=i,
        )
        if land is not None and not dry_run:  # the chain accepted it (a revert raised above): now the land is taken
            store_land(land, project_id, parcel_file)


@app.command("review")
@operator_errors
def review(
    project_id: str,
    approve: Annotated[bool, typer.Option("--approve/--reject", help="the expert committee's decision")],
    report_file: Annotated[Path, typer.Option("--report", help="the review report; its sha256 goes on chain")],
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record the expert committee's decision (needs the reviewer role)."""
    c, i = registry_client(), args.op_id(op)
    run_write(
        lambda w: w.review_project(i, project_id, approve, args.document_hash(report_file)),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


def _holds_all(c: RegistryClient, project_id: str, hashes: list[bytes]) -> bool:
    """Whether the chain has project `project_id` live and holding every one of `hashes`."""
    held = c.view_many("parcelProject", [(h,) for h in hashes])
    return bool(hashes) and all(from_short_id(h) == project_id for h in held)


def _status(name: str, status: ProjectStatus, summary: str, destructive: bool = False) -> None:
    add_status_command(
        app,
        name,
        summary,
        what="project",
        target_help="the project id",
        destructive=destructive,
        setter=lambda w, i, project_id, reason: w.set_project_status(i, project_id, status, reason),
    )


_status("suspend", ProjectStatus.SUSPENDED, "Suspend a registered project (no issuance until reinstated).")
_status("reinstate", ProjectStatus.REGISTERED, "Reinstate a suspended project.")
_status("revoke", ProjectStatus.REVOKED, "Revoke a project; its parcels are free again (asks first).", destructive=True)
_status(
    "close", ProjectStatus.CLOSED, "Close a project at the end of its crediting period (asks first).", destructive=True
)


def _row(project_id: str, p: dict[str, Any]) -> dict[str, object]:
    return {
        "id": project_id,
        "status": enum_name(ProjectStatus, p["status"]),
        "methodology": from_short_id(p["methodologyId"]),
        "owner": p["owner"],
        "county": p["countyCode"],
        "area m2": p["areaSquareMetres"],
        "batches": p["batchCount"],
    }


@app.command("show")
@operator_errors
def show(project_id: str, as_json: JsonOption = False) -> None:
    """A project's record on chain."""
    raw = registry_client(signer_required=False).view("project", sid("project id", project_id))
    if raw["status"] == ProjectStatus.NONE:
        raise InvalidInputError(f"no project {project_id!r}; check the id (`ledger project list`)")
    print_rows([_row(project_id, raw)], as_json=as_json, title="project")


@app.command("list")
@operator_errors
def list_(as_json: JsonOption = False) -> None:
    """Every project and its status now."""
    c = registry_client(signer_required=False)
    ids = [e.args["projectId"] for e in list_events(c, "ProjectSubmitted")]
    rows = [_row(from_short_id(i), p) for i, p in zip(ids, c.view_many("project", [(i,) for i in ids]), strict=True)]
    print_rows(rows, as_json=as_json, title="projects")
