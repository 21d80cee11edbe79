"""`ledger node start|stop|status`: the local node as a background service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from chain.errors import shown_url
from chain.journal import MARKER_NAME
from chain.node import LocalNode, rpc_ready
from chain.paths import PROJECT_ROOT
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
    """Start the local node in the background (anvil: state snapshotted to var/anvil/state.json)."""
    settings = ChainSettings()
    url = settings.effective_rpc_url
    if rpc_ready(url):
        console.print(f"a node already answers on {shown_url(url)}")
        return
    settings.var_dir.joinpath(settings.node).mkdir(parents=True, exist_ok=True)
    if settings.node == "anvil":
        pid = start_supervised(settings)
        console.print(f"anvil started on {url} (supervisor pid {pid}; state {state_file(settings)})")
        return
    node = local_node(settings, background=True).start()
    assert node.process is not None
    pid_file(settings).write_text(str(node.process.pid))
    console.print(f"{settings.node} started on {node.url} (pid {node.process.pid})")


def start_supervised(settings: ChainSettings, timeout: float = 120.0) -> int:
    """anvil with its keeper lives in a supervisor process (scripts/node_supervisor.py), so the
    chain is mined and snapshotted after this command returns."""
    directory = settings.var_dir / "anvil"
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / MARKER_NAME
    marker.unlink(missing_ok=True)
    out_path = directory / "supervisor.log"
    with open(out_path, "ab") as out:
        offset = out.tell()
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.node_supervisor"],
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(out_path, "rb") as f:
                f.seek(offset)
                said = [line for line in f.read().decode(errors="replace").splitlines() if line.strip()]
            fail(said[-1] if said else f"the node supervisor exited with code {process.returncode}; see {out_path}")
        if marker.exists():  # written once the journal is replayed and the first snapshot taken
            pid_file(settings).write_text(str(process.pid))
            return process.pid
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGTERM)
    fail(f"the node did not come up within {timeout:.0f} s; see {settings.var_dir / 'anvil' / 'node.log'}")


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
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and alive(pid):  # the supervisor takes a last snapshot first
        time.sleep(0.1)
    path.unlink()
    console.print("node stopped")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a child of ours that exited stays a zombie until reaped; it is not running
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


@app.command()
@operator_errors
def status() -> None:
    """Say whether a node answers on the configured URL."""
    settings = ChainSettings()
    url = settings.effective_rpc_url
    console.print(f"{shown_url(url)}: {'answering' if rpc_ready(url) else 'not answering'}")
