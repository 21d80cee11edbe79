"""`ledger pause | unpause`, `ledger roles grant|revoke|list`."""

from __future__ import annotations

from typing import Annotated

import typer

from chain.roles import ROLES
from scripts import args
from scripts.console import operator_errors
from scripts.context import registry_client
from scripts.listing import print_rows
from scripts.output import DryRunOption, JsonOption, YesOption, confirm, run_write

roles_app = typer.Typer(help="Grant, revoke and list roles (admin).", no_args_is_help=True)
Role = Annotated[str, typer.Argument(help=", ".join(sorted(ROLES)))]


@operator_errors
def pause(dry_run: DryRunOption = False, as_json: JsonOption = False, yes: YesOption = False) -> None:
    """Pause every movement of units (pauser role). Asks first."""
    c = registry_client()
    if not dry_run:
        confirm("pause all movements of the registry", yes)
    run_write(lambda w: w.pause(), c, dry_run=dry_run, as_json=as_json)


@operator_errors
def unpause(dry_run: DryRunOption = False, as_json: JsonOption = False) -> None:
    """Resume movements (admin role)."""
    c = registry_client()
    run_write(lambda w: w.unpause(), c, dry_run=dry_run, as_json=as_json)


@roles_app.command("grant")
@operator_errors
def grant(role: Role, account: str, dry_run: DryRunOption = False, as_json: JsonOption = False) -> None:
    """Grant a role to an account."""
    c, account = registry_client(), args.account("account", account)
    run_write(lambda w: w.grant_role(role.upper(), account), c, dry_run=dry_run, as_json=as_json)


@roles_app.command("revoke")
@operator_errors
def revoke(
    role: Role, account: str, dry_run: DryRunOption = False, as_json: JsonOption = False, yes: YesOption = False
) -> None:
    """Revoke a role from an account (asks first)."""
    c, account = registry_client(), args.account("account", account)
    if not dry_run:
        confirm(f"revoke {role.upper()} from {account}", yes)
    run_write(lambda w: w.revoke_role(role.upper(), account), c, dry_run=dry_run, as_json=as_json)


@roles_app.command("list")
@operator_errors
def list_(
    account: Annotated[str | None, typer.Argument(help="default: the signing key")] = None, as_json: JsonOption = False
) -> None:
    """The roles an account holds."""
    c = registry_client(signer_required=account is None)
    who = args.account("account", account) if account else args.signer_address(c)
    print_rows([{"account": who, "roles": ", ".join(c.roles_of(who)) or "none"}], as_json=as_json, title="roles")


def register(app: typer.Typer) -> None:
    app.command("pause")(pause)
    app.command("unpause")(unpause)
    app.add_typer(roles_app, name="roles")
