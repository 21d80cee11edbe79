"""`ledger participant add|suspend|restrict|reinstate|revoke|show|list`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chain.errors import InvalidInputError
from chain.types import ParticipantKind, ParticipantStatus, enum_name
from scripts import args
from scripts.console import operator_errors
from scripts.context import registry_client
from scripts.listing import list_events, print_rows
from scripts.output import DryRunOption, JsonOption, OpIdOption, run_write
from scripts.status_commands import add_status_command

app = typer.Typer(help="Register participants and change their status (暂停、限制或取消资格).", no_args_is_help=True)


@app.command("add")
@operator_errors
def add(
    account: Annotated[str, typer.Argument(help="the participant's address")],
    kind: Annotated[str, typer.Option(help="project-owner, enterprise, individual, platform, pledgee or registry")],
    reference: Annotated[Path | None, typer.Option(help="the registration file; only its sha256 goes on chain")] = None,
    op: OpIdOption = None,
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Register an account as an active participant (no personal data goes on chain)."""
    c, i = registry_client(), args.op_id(op)
    account = args.account("participant", account)
    run_write(
        lambda w: w.register_participant(i, account, args.member(ParticipantKind, kind), args.document_hash(reference)),
        c,
        dry_run=dry_run,
        as_json=as_json,
        op_id=i,
    )


def _status(name: str, status: ParticipantStatus, summary: str, destructive: bool = False) -> None:
    add_status_command(
        app,
        name,
        summary,
        what="participant",
        target_help="the participant's address",
        destructive=destructive,
        setter=lambda w, i, account, reason: w.set_participant_status(i, account, status, reason),
        check=lambda account: args.account("participant", account),
    )


_status("suspend", ParticipantStatus.SUSPENDED, "Suspend: the participant can do nothing until reinstated.")
_status("restrict", ParticipantStatus.RESTRICTED, "Restrict: may hold and retire, not acquire or send.")
_status("reinstate", ParticipantStatus.ACTIVE, "Reinstate a suspended or restricted participant.")
_status("revoke", ParticipantStatus.REVOKED, "Revoke for good (asks for confirmation).", destructive=True)


@app.command("show")
@operator_errors
def show(account: str, as_json: JsonOption = False) -> None:
    """A participant's kind, status and reference hash."""
    account = args.account("participant", account)
    p = registry_client(signer_required=False).participant(account)
    if p.status == ParticipantStatus.NONE:
        raise InvalidInputError(
            f"no participant {account}; check the address (`ledger participant list`) or "
            "register it with `ledger participant add`"
        )
    print_rows(
        [
            {
                "account": account,
                "kind": enum_name(ParticipantKind, p.kind),
                "status": enum_name(ParticipantStatus, p.status),
                "reference sha256": "0x" + p.reference_hash.hex(),
            }
        ],
        as_json=as_json,
        title="participant",
    )


@app.command("list")
@operator_errors
def list_(as_json: JsonOption = False) -> None:
    """Every participant and its status now."""
    c = registry_client(signer_required=False)
    accounts = [e.args["account"] for e in list_events(c, "ParticipantRegistered")]
    rows = [
        {
            "account": a,
            "kind": enum_name(ParticipantKind, p["kind"]),
            "status": enum_name(ParticipantStatus, p["status"]),
        }
        for a, p in zip(accounts, c.view_many("participant", [(a,) for a in accounts]), strict=True)
    ]
    print_rows(rows, as_json=as_json, title="participants")
