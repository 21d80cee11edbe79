"""Commands that move a participant or a project to another status: one shape for both.

No `from __future__ import annotations` here: Typer reads the annotations of the inner command,
which refer to this factory's arguments, so they must be evaluated where they are written."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from scripts import args
from scripts.console import operator_errors
from scripts.context import registry_client
from scripts.output import DryRunOption, JsonOption, OpIdOption, YesOption, confirm, run_write

Setter = Callable[..., Any]  # (writes, op_id, target, reason_hash) -> TxResult | Simulation
Check = Callable[[str], str]  # the target as typed -> as sent, or InvalidInputError


def add_status_command(
    app: typer.Typer,
    name: str,
    summary: str,
    *,
    what: str,
    target_help: str,
    setter: Setter,
    destructive: bool,
    check: Check = str,
) -> None:
    @app.command(name, help=summary)
    @operator_errors
    def command(
        target: Annotated[str, typer.Argument(help=target_help)],
        reason: Annotated[Path | None, typer.Option(help="the published decision; its sha256 goes on chain")] = None,
        op: OpIdOption = None,
        dry_run: DryRunOption = False,
        as_json: JsonOption = False,
        yes: YesOption = False,
    ) -> None:
        c, i = registry_client(), args.op_id(op)
        target = check(target)
        if destructive and not dry_run:
            confirm(f"{name} {what} {target} (this is final)", yes)
        run_write(
            lambda w: setter(w, i, target, args.document_hash(reason)),
            c,
            dry_run=dry_run,
            as_json=as_json,
            op_id=i,
        )
