"""Run the real app under uvicorn on a free port: in a thread of this process (tests: its logs go
through `logging`, so caplog sees them) or in a child process (benchmarks: the load comes from
another process than the one serving).

    python -m tests.api.server --database sqlite:///x.sqlite --deployment 31337.json --port 8123 \
        [--rpc http://127.0.0.1:8545] [--public-url http://127.0.0.1:8123] \
        [--evidence node] [--plugin module:function]

`--evidence node` makes POST /verify read the node per request (ChainEvidence: the benchmarks'
naive baseline); `--plugin` calls function(app) before serving (a benchmark's baseline routes).

The child reads the data key as the service does (LEDGER_DATA_KEY / LEDGER_DATA_KEY_FILE).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(base: str, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the API server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/openapi.json", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API at {base} did not come up in {timeout:.0f} s")
        time.sleep(0.05)


@contextmanager
def serve_thread(app: Any, port: int | None = None, *, access_log: bool = True) -> Iterator[str]:
    """Serve `app` with uvicorn in a daemon thread; yields the base URL. uvicorn does not configure
    logging (log_config=None), so its records, access log included, propagate to the root logger."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, log_level="debug", access_log=access_log, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {port}")
            time.sleep(0.02)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class ServedUrl(str):
    """The base URL of a server in a child process, with the child's pid (benchmarks read its CPU time)."""

    pid: int

    def __new__(cls, url: str, pid: int) -> ServedUrl:
        served = super().__new__(cls, url)
        served.pid = pid
        return served


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve_process(
    database_url: str,
    deployment_file: Path,
    *,
    rpc_url: str | None = None,
    port: int | None = None,
    public_url: str | None = None,
    log_path: Path | None = None,
    evidence: str = "mirror",
    plugin: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[ServedUrl]:
    """Serve the app from a child process (one uvicorn worker); yields the base URL (and pid)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "tests.api.server",
        "--database",
        database_url,
        "--deployment",
        str(deployment_file),
        "--port",
        str(port),
        "--public-url",
        public_url or base,
    ]
    if rpc_url:
        cmd += ["--rpc", rpc_url]
    cmd += ["--evidence", evidence] + (["--plugin", plugin] if plugin else [])
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(base, proc=proc)
        yield ServedUrl(base, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            out.close()  # type: ignore[union-attr]


def build_app(
    database_url: str,
    deployment_file: Path,
    rpc_url: str | None,
    public_url: str,
    evidence: str = "mirror",
    plugin: str | None = None,
) -> Any:
    import importlib

    from api.app import create_app
    from certificates.context import ServiceContext
    from certificates.evidence import ChainEvidence
    from certificates.settings import ServiceSettings
    from chain.deploy import Deployment
    from chain.rpc import JsonRpc
    from indexer.db import make_engine

    deployment = Deployment(**json.loads(Path(deployment_file).read_text()))
    context = ServiceContext(
        make_engine(database_url),
        deployment,
        ServiceSettings(public_url=public_url),
        JsonRpc(rpc_url) if rpc_url else None,
    )
    if evidence == "node":
        if not rpc_url:
            raise SystemExit("--evidence node needs --rpc")
        context.evidence = ChainEvidence(
            JsonRpc(rpc_url),
            chain_id=deployment.chain_id,  # type: ignore[misc]
            registry=deployment.address,
            revocations=deployment.revocations,
        )
    app = create_app(context)
    if plugin:
        module, function = plugin.split(":")
        getattr(importlib.import_module(module), function)(app)
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--deployment", required=True, type=Path)
    parser.add_argument("--rpc")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--public-url")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--evidence", choices=["mirror", "node"], default="mirror")
    parser.add_argument("--plugin")
    args = parser.parse_args()
    app = build_app(
        args.database,
        args.deployment,
        args.rpc,
        args.public_url or f"http://{args.host}:{args.port}",
        args.evidence,
        args.plugin,
    )
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="info", access_log=args.access_log)


if __name__ == "__main__":
    main()
