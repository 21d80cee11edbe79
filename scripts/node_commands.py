"""`ledger node start|stop|status`: the local node as a background service."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import typer

from chain.errors import shown_url
from chain.node import LocalNode, rpc_ready
from chain.settings import ChainSettings
from scripts.console import console, fail, operator_errors

app = typer.Typer(help="Start, stop and inspect the local EVM node (anvil by default).", no_args_is_help=True)


def pid_file(settings: ChainSettings) -> Path:
    return settings.var_dir / settings.node / "node.pid"


def state_file(settings: ChainSettings) -> Path | None:
    return settings.var_dir / "anvil" / "state.json" if settings.node == "anvil" else None


def local_node(settings: ChainSettings, *, background: bool) -> LocalNode:
    return LocalNode(
        kind=settings.node,
        port=settings.node_port,
        state_file=state_file(settings),
        block_time=settings.block_time if settings.node == "anvil" else None,
        log_file=settings.var_dir / settings.node / "node.log",
        die_with_parent=not background,
    )


@app.command()
@operator_errors
def start() -> None:
    """Start the local node in the background (state kept in var/anvil/state.json)."""
    settings = ChainSettings()
    url = settings.effective_rpc_url
    if rpc_ready(url):
        console.print(f"a node already answers on {shown_url(url)}")
        return
    settings.var_dir.joinpath(settings.node).mkdir(parents=True, exist_ok=True)
    node = local_node(settings, background=True).start()
    assert node.process is not None
    pid_file(settings).write_text(str(node.process.pid))
    console.print(f"{settings.node} started on {node.url} (pid {node.process.pid})")


@app.command()
@operator_errors
def stop() -> None:
    """Stop the background node; anvil writes its state file first."""
    settings = ChainSettings()
    path = pid_file(settings)
    if not path.exists():
        fail(f"no background node recorded in {path}; nothing to stop")
    pid = int(path.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        console.print(f"node (pid {pid}) was not running")
    path.unlink()
    console.print("node stopped")


@app.command()
@operator_errors
def status() -> None:
    """Say whether a node answers on the configured URL."""
    settings = ChainSettings()
    url = settings.effective_rpc_url
    console.print(f"{shown_url(url)}: {'answering' if rpc_ready(url) else 'not answering'}")
