"""`ledger index [--once]`, `ledger index rebuild`: the SQL mirror."""

from __future__ import annotations

import threading
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn

from indexer.db import WriterLock, create_schema, database_url, make_engine, reset_mirror
from indexer.sync import Indexer
from scripts.console import console, operator_errors
from scripts.context import deployment, registry_client

app = typer.Typer(
    help="Mirror every registry event into SQL (SQLite by default, PostgreSQL via DATABASE_URL).",
    invoke_without_command=True,
)


def make_indexer() -> Indexer:
    client = registry_client(signer_required=False)
    d = deployment()
    engine = make_engine()
    create_schema(engine)
    return Indexer(
        client.rpc, engine, client.abi, chain_id=d.chain_id, address=client.address, start_block=d.block_number
    )


@app.callback()
@operator_errors
def index(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Catch up with the chain, then exit.")] = False,
) -> None:
    """Backfill, then follow the chain head (Ctrl-C stops)."""
    if ctx.invoked_subcommand is not None:
        return
    indexer = make_indexer()
    with WriterLock(indexer.engine):
        columns = (
            TextColumn("indexing"),
            BarColumn(),
            TextColumn("block {task.completed:,.0f}/{task.total:,.0f}"),
            TextColumn("{task.fields[events]:,} events, {task.fields[rate]} events/s, {task.fields[behind]} behind"),
        )
        with Progress(*columns, console=console, transient=once) as progress:
            task = progress.add_task("index", total=1, events=0, rate="-", behind="-")

            def update(block: int, target: int, events: int) -> None:
                speed = progress.tasks[0].speed
                progress.update(
                    task,
                    completed=block,
                    total=max(target, 1),
                    events=events,
                    rate=f"{speed:,.0f}" if speed else "-",
                    behind=max(0, target - block),
                )

            events = indexer.sync_once(update)
            if once:
                console.print(f"indexed {events:,} events into {database_url_shown()}; lag {indexer.lag()} blocks")
                return
            indexer.follow(threading.Event(), on_progress=update)


@app.command("rebuild")
@operator_errors
def rebuild(yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False) -> None:
    """Empty the mirror and index the chain again from the registry's deployment block (certificates stay)."""
    if not yes and not typer.confirm("drop and rebuild the SQL mirror?", default=False):
        raise typer.Exit(code=1)
    engine = make_engine()
    with WriterLock(engine):
        reset_mirror(engine)
    indexer = make_indexer()
    with WriterLock(indexer.engine):
        events = indexer.sync_once()
    console.print(f"rebuilt: {events:,} events indexed")


def database_url_shown() -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url()).render_as_string(hide_password=True)
