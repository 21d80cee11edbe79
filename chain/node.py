"""Start and stop the local EVM node: anvil (default; state kept in var/, interval mining so bulk
work never stalls) or Hardhat 2's node (keeps nothing across restarts)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import requests

from chain.errors import NodeStartError
from chain.paths import HARDHAT_DIR
from chain.keys import DEV_ACCOUNT_COUNT
from chain.settings import LOCAL_CHAIN_ID

log = logging.getLogger(__name__)

ANVIL_BINARY = HARDHAT_DIR / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
HARDHAT_BINARY = HARDHAT_DIR / "node_modules" / ".bin" / "hardhat"
GAS_LIMIT = 300_000_000
PR_SET_PDEATHSIG = 1

NodeKind = Literal["anvil", "hardhat"]


def _die_with_parent() -> None:
    """Linux: the node gets SIGTERM when the process that started it dies, even by kill -9."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_ready(url: str) -> bool:
    try:
        r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
        return r.ok and "result" in r.json()
    except (requests.RequestException, ValueError):
        return False


@dataclass
class LocalNode:
    """A node process on 127.0.0.1. `state_file` (anvil only) persists the chain across restarts."""

    kind: NodeKind = "anvil"
    port: int = field(default_factory=free_port)
    state_file: Path | None = None
    block_time: float | None = 1
    log_file: Path | None = None
    extra_args: tuple[str, ...] = ()
    die_with_parent: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "hardhat":
            return [str(HARDHAT_BINARY), "node", "--hostname", "127.0.0.1", "--port", str(self.port)]
        if not ANVIL_BINARY.exists():
            raise NodeStartError("anvil", f"{ANVIL_BINARY} is missing; run `npm ci` in hardhat-local/")
        cmd = [
            str(ANVIL_BINARY),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(LOCAL_CHAIN_ID),
            "--gas-limit", str(GAS_LIMIT),
            "--accounts", str(DEV_ACCOUNT_COUNT),
            "--silent",
        ]
        if self.block_time:
            # interval mining: automine (and anvil's --mixed-mining) leaves bursts of transactions pending
            cmd += ["--block-time", str(self.block_time)]
        cmd += list(self.extra_args)
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--state", str(self.state_file), "--state-interval", "1", "--preserve-historical-states"]
        return cmd

    def start(self, timeout: float = 30.0) -> LocalNode:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
        self.process = subprocess.Popen(
            self.command(),
            cwd=HARDHAT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if self.die_with_parent else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NodeStartError(self.kind, f"exited with code {self.process.returncode}")
            if rpc_ready(self.url):
                log.info("node started", extra={"node": self.kind, "url": self.url})
                return self
            time.sleep(0.05)
        self.stop()
        raise NodeStartError(self.kind, f"no answer on {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop gracefully (anvil writes its state file on SIGTERM)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> LocalNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
