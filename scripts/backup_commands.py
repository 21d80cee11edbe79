"""`ledger backup create --out FILE`, `ledger backup restore FILE`: the registry's own data, which
the chain cannot give back (certificates, claims, sealed beneficiaries, footprint reports, the
transparency log, monitoring reports and results, imported emission factors). The logic is in
backup/archive.py; docs/deployment.md says when to use it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from backup import archive as backup
from indexer.db import WriterLock, make_engine
from scripts.console import console, fail, operator_errors
from scripts.context import deployment
from scripts.index_commands import database_url_shown, make_indexer

app = typer.Typer(
    help="Back up and restore the registry's own data: certificates, log, sealed data, MRV results, factors.",
    no_args_is_help=True,
)


def _rows(summary: backup.Summary) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in summary.rows.items())


@app.command("create")
@operator_errors
def create(out: Annotated[Path, typer.Option("--out", help="the backup file to write (gzip'd JSON Lines)")]) -> None:
    """Write a consistent snapshot of the registry's own tables, every domain's (one read
    transaction); the data key is not in it."""
    engine = make_engine()
    summary = backup.create(engine, out, deployment())
    h = summary.header
    schema = ", ".join(f"{domain} {rev}" for domain, rev in h["schema_revisions"].items())
    console.print(
        f"backed up {_rows(summary)} from {database_url_shown()} to {out} "
        f"({out.stat().st_size:,} bytes, schema {schema}, sha256 {h['sha256'][:16]}…)"
    )
    console.print("the data key is not in the backup: keep LEDGER_DATA_KEY (or its file) safe separately")


@app.command("restore")
@operator_errors
def restore(
    file: Annotated[Path, typer.Argument(help="a file written by `ledger backup create`")],
    index: Annotated[bool, typer.Option(help="then index the chain into the mirror (--no-index: restore only)")] = True,
) -> None:
    """Load a backup into an empty database (DATABASE_URL), after checking its hash, row counts,
    registry and that the data key in use opens its sealed rows; then rebuild the mirror from the chain."""
    d = deployment()
    indexer = make_indexer() if index else None  # connects to the node first: refuse before writing if it is down
    engine = indexer.engine if indexer is not None else make_engine()
    with WriterLock(engine):  # no `ledger up` or `ledger index` may write here meanwhile
        summary = backup.restore(engine, file, d)
        console.print(f"restored {_rows(summary)} into {database_url_shown()}")
        if indexer is None:
            console.print("next: `ledger index --once`, then `ledger audit`")
            return
        events = indexer.sync_once()
        console.print(f"mirror: {events:,} events indexed from the chain")
        behind = backup.log_behind_chain(engine)
    if behind is not None:
        size, anchored = behind
        fail(
            f"the chain anchors a log of {anchored:,} entries but the backup holds {size:,}: certificates issued after "
            "this backup are missing; restore a later backup and issue nothing until then"
        )
    console.print("next: `ledger audit` (it must report no difference)")
