"""`ledger public snapshot`, `ledger public check-snapshot FILE`: the public registry's daily
snapshot file, its sha256 appended to the transparency log; and checking a downloaded snapshot
against the log root anchored on chain (public/snapshot.py, docs/public-registry.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import requests
import typer

from certificates.db import create_schema
from certificates.translog.log import TransparencyLog
from chain.errors import InvalidInputError
from indexer.db import make_engine
from public import snapshot
from public.errors import PublicQueryError
from scripts.console import console, fail, operator_errors
from scripts.context import registry_client

app = typer.Typer(help="The public registry (公示): daily snapshots and their check.", no_args_is_help=True)


@app.command("snapshot")
@operator_errors
def write_snapshot(
    out: Annotated[Path, typer.Option("--out", help="the directory to write registry-<date>.jsonl into")],
    date: Annotated[str | None, typer.Option(help="the snapshot's day, YYYY-MM-DD (default: today, UTC)")] = None,
) -> None:
    """Write every public list into one JSON Lines file and append its sha256 to the log; the
    next anchoring (`ledger log anchor`, or `ledger up`'s own) puts it under a root on chain."""
    engine = make_engine()
    create_schema(engine)
    day = date or datetime.now(UTC).date().isoformat()
    try:
        made = snapshot.write(engine, TransparencyLog(engine), out, day)
    except PublicQueryError as exc:
        fail(str(exc))
    console.print(
        f"snapshot {made.date}: {made.path} ({made.records:,} records, {made.size:,} bytes), "
        f"sha256 {made.sha256}, log entry {made.leaf_index}; it is anchored with the next root (`ledger log anchor`)",
        highlight=False,
        soft_wrap=True,
    )


@app.command("check-snapshot")
@operator_errors
def check_snapshot(
    file: Annotated[Path, typer.Argument(help="the downloaded snapshot file")],
    api: Annotated[
        str | None, typer.Option(help="read the log entry and proof from this registry's API, e.g. https://…")
    ] = None,
) -> None:
    """Check a snapshot file: its sha256 is the one in the log, the log entry is in a root, and
    that root is the one anchored on chain (read from the configured node, not from the API)."""
    if not file.is_file():
        raise InvalidInputError(f"{file} is not a file; give the downloaded registry-<date>.jsonl")
    with file.open("rb") as f:
        first = f.readline(1 << 16)
    try:
        day = str(json.loads(first)["date"])
    except (ValueError, KeyError, TypeError):
        fail(f"{file} does not start with a snapshot header line; is it a registry-<date>.jsonl?")
    try:
        if api:
            answer = requests.get(f"{api.rstrip('/')}/api/v1/snapshots", params={"date": day}, timeout=30)
            answer.raise_for_status()
            found = [snapshot.SnapshotProof(**p) for p in answer.json()["snapshots"]]
        else:
            engine = make_engine()
            with engine.connect() as conn:
                found = snapshot.proofs(conn, TransparencyLog(engine), day)
    except PublicQueryError as exc:
        fail(str(exc))
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        fail(f"the API at {api} did not give the snapshot of {day}: {type(exc).__name__}")
    if not found:
        fail(f"no snapshot of {day} is in the log")
    proof = found[0]
    root = registry_client(signer_required=False).anchored_root(proof.tree_size) if proof.tree_size else None
    problems = snapshot.check(snapshot.file_sha256(file), proof, root)
    if problems:
        for p in problems:
            console.print(f"✗ {p}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(
        f"✓ {file.name}: sha256 {proof.sha256} is log entry {proof.leaf_index}, included in the root of size "
        f"{proof.tree_size} anchored on chain (tx {proof.anchor_tx})",
        highlight=False,
        soft_wrap=True,
    )
