"""POST /api/v1/verify on one uvicorn worker, load from a second process.

    .venv/bin/python bench/api_verify.py [--seconds 10] [--connections 8] [--runs 3] [--certificates 24]

A fresh anvil gets a registry with certificates (tests/api/conftest.py's `open_certified`: one
per scenario, plus more voluntary ones up to --certificates), mirrored into SQLite. The API is
served by one uvicorn worker in a child process (tests/api/server.py); the load comes from another
child process (`api_verify.py load`): --connections threads, each with its own keep-alive
http.client connection, POSTing the certificates' public documents round robin for --seconds
(after a 1 s warm-up that is not counted). Every answer must be 200 with verdict "valid".

Naive baseline, same run: the same server with ChainEvidence (the node is read per request:
eth_call for the anchored root and the revocation, the retirement's receipt).

Target (issue 5): >= 1,000 verifications/s with p99 <= 25 ms on one worker.

uvicorn parses HTTP with httptools (pinned in the lock) when it is importable, else with h11.

The server's CPU time per request is printed too: on a shared machine it says what one worker on
a core of its own would sustain better than the wall-clock rate does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------------ the load generator (child process)


def run_load(
    url: str, requests_file: Path, seconds: float, connections: int, warmup: float, expect: str
) -> dict[str, Any]:
    """Closed loop: each thread sends its next request as soon as the previous answer is read."""
    requests = json.loads(requests_file.read_text())
    prepared = [(r["method"], r["path"], r["body"].encode() if r.get("body") is not None else None) for r in requests]
    host, port = urlsplit(url).hostname, urlsplit(url).port
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors: list[str] = []
    sent = [0] * connections
    expected = expect.encode()

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine, i = latencies[k], k
        while True:
            method, path, body = prepared[i % len(prepared)]
            i += 1
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            t1 = time.perf_counter()
            sent[k] += 1
            if response.status != 200 or expected not in data:
                errors.append(f"{response.status} {data[:200]!r}")
                if len(errors) > 20:
                    break
            if t0 >= measure_from:
                mine.append(t1 - t0)
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = sorted(x for part in latencies for x in part)
    n = len(every)
    return {
        "requests": n,
        "sent": sum(sent),
        "seconds": seconds,
        "per_second": n / seconds,
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_ms": 1000 * every[n // 2] if n else None,
        "p99_ms": 1000 * every[min(n - 1, int(n * 0.99))] if n else None,
        "mean_ms": 1000 * statistics.fmean(every) if n else None,
    }


def load_from_another_process(
    url: str, requests: list[dict[str, Any]], *, seconds: float, connections: int, warmup: float = 1.0, expect: str = ""
) -> dict[str, Any]:
    """Run the load generator in a child process; with a served URL that has a pid, also the
    server's CPU time per request (every request sent, warm-up included): what one worker on a
    core of its own would sustain, whatever else the machine runs."""
    from tests.api.server import cpu_seconds

    pid = getattr(url, "pid", None)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(requests, f)
    try:
        cpu0 = cpu_seconds(pid) if pid else 0.0
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "load",
                url,
                f.name,
                "--seconds",
                str(seconds),
                "--connections",
                str(connections),
                "--warmup",
                str(warmup),
                "--expect",
                expect,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        cpu = cpu_seconds(pid) - cpu0 if pid else None
    finally:
        os.unlink(f.name)
    result = json.loads(out.stdout)
    result["server_cpu_ms"] = 1000 * cpu / result["sent"] if cpu is not None and result["sent"] else None
    return result


def summary(label: str, r: dict[str, Any]) -> str:
    cpu = f"   server CPU {r['server_cpu_ms']:.3f} ms/request" if r.get("server_cpu_ms") else ""
    return (
        f"{label:<34} {r['per_second']:>8,.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms"
        f"{cpu}   ({r['requests']:,} requests, {r['errors']} errors)"
    )


# ------------------------------------------------------------------ the registry (not measured)


def build_registry(tmp: Path, certificates: int) -> tuple[Any, Any, Path, str]:
    """A LocalNode (entered; the caller exits it) with a certified registry; the deployment file."""
    from chain.artifacts import load
    from chain.keys import dev_accounts
    from chain.node import LocalNode
    from chain.types import Scenario
    from tests.api.conftest import open_certified
    from tests.conftest import Cast

    os.environ.setdefault("LEDGER_DATA_KEY_FILE", str(tmp / "data.key"))
    node = LocalNode(block_time=None).__enter__()
    certified = open_certified(tmp, load(), Cast(*dev_accounts()[:12]), node)
    for i in range(len(certified.ids), certificates):
        certified.certify_new(Scenario.VOLUNTARY, 3 + i, f"买家{i}", fields={"message": f"第 {i} 份"})
    deployment = tmp / "deployment.json"
    deployment.write_text(certified.service.context.deployment.to_json())
    return node, certified, deployment, str(certified.service.engine.url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--certificates", type=int, default=24)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    args = parser.parse_args()

    from tests.api.server import serve_process

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        node, certified, deployment, url = build_registry(Path(tmp), args.certificates)
        try:
            ids = sorted(certified.ids.values())
            from sqlalchemy import text

            with certified.service.engine.connect() as conn:
                all_ids = [r[0] for r in conn.execute(text("SELECT id FROM certificates ORDER BY number"))]
            documents = [json.dumps(certified.public(i), ensure_ascii=False) for i in all_ids]
            requests = [{"method": "POST", "path": "/api/v1/verify", "body": d} for d in documents]
            print(
                f"registry: {len(documents)} certificates ({len(ids)} scenarios), "
                f"{sum(len(d) for d in documents) // len(documents):,} bytes a document on average; "
                f"set up in {time.perf_counter() - t0:.0f} s"
            )
            import importlib.util

            parser_name = "httptools" if importlib.util.find_spec("httptools") else "h11"
            print(
                f"load: {args.connections} keep-alive connections from a second process, {args.seconds:.0f} s a run; "
                f"one uvicorn worker, HTTP parsed by {parser_name}"
            )
            results = []
            with serve_process(url, deployment, rpc_url=node.url, log_path=Path(tmp) / "mirror.log") as base:
                for run in range(args.runs):
                    r = load_from_another_process(
                        base, requests, seconds=args.seconds, connections=args.connections, expect='"verdict":"valid"'
                    )
                    results.append(r)
                    print(summary(f"mirror (the API), run {run + 1}", r))
            with serve_process(
                url, deployment, rpc_url=node.url, evidence="node", log_path=Path(tmp) / "node.log"
            ) as base:
                naive = load_from_another_process(
                    base,
                    requests,
                    seconds=args.baseline_seconds,
                    connections=args.connections,
                    expect='"verdict":"valid"',
                )
                print(summary("naive: ChainEvidence (node/request)", naive))
        finally:
            node.__exit__(None, None, None)
    rps = statistics.median(r["per_second"] for r in results)
    p50 = statistics.median(r["p50_ms"] for r in results)
    p99 = statistics.median(r["p99_ms"] for r in results)
    errors = sum(r["errors"] for r in results)
    cpu = statistics.median(r["server_cpu_ms"] for r in results)
    print(
        f"server CPU per verification: median {cpu:.3f} ms = {1000 / cpu:,.0f} verifications/s for one worker "
        f"on a core of its own (naive: {naive['server_cpu_ms']:.3f} ms, plus the node's own work)"
    )
    print(f"machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    met = rps >= 1000 and p99 <= 25 and errors == 0
    print(
        f"median of {len(results)} runs: {rps:,.0f} verifications/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(naive baseline {naive['per_second']:,.0f}/s, p99 {naive['p99_ms']:.1f} ms)"
    )
    print(f"target >= 1,000/s with p99 <= 25 ms: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        p = argparse.ArgumentParser()
        p.add_argument("cmd")
        p.add_argument("url")
        p.add_argument("requests", type=Path)
        p.add_argument("--seconds", type=float, default=10)
        p.add_argument("--connections", type=int, default=8)
        p.add_argument("--warmup", type=float, default=1)
        p.add_argument("--expect", default="")
        a = p.parse_args()
        print(json.dumps(run_load(a.url, a.requests, a.seconds, a.connections, a.warmup, a.expect)))
    else:
        main()
