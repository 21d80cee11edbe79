"""Every public route under 50 concurrent clients (issue 12, item 4): one uvicorn worker on SQLite,
then four workers on PostgreSQL, each the production entry point `uvicorn --factory api.asgi:app`.

    .venv/bin/python bench/api_load.py [--seconds 60] [--clients 50] [--baseline-seconds 15] \
        [--postgres postgresql://ledger:ledger@127.0.0.1:5432/postgres] [--skip-postgres]

A fresh anvil gets a registry with certificates (tests/api/conftest.py's `open_certified`, plus
more voluntary ones up to --certificates), mirrored into SQLite, and for the second part into a
PostgreSQL database of its own (created from --postgres's server as `ledger_bench_load_<random>`,
dropped at the end). The load comes from a child process: --clients threads, each with its own
keep-alive connection (a 30 s timeout), in a closed loop over a mix of every public route, 20 %
POST /api/v1/verify with real certificate documents, the rest the certificate list, one
certificate, its proof, the verify page, the PDF, provenance of a retirement and of a serial, the
catalog, the log's roots and a consistency proof, /health and the explorer's pages. Every answer
must be 200 (and a verification "valid"); a 5xx, another status or a timeout is counted as such.

Naive baseline, same run: one client, sequentially, the same mix for --baseline-seconds.

Only 127.0.0.1 is loaded; every part stops after its seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
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

VERIFY_SHARE = 0.2
LOCAL = "127.0.0.1"


# ------------------------------------------------------------------ the load generator (child process)


def run_load(url: str, requests_file: Path, seconds: float, clients: int, warmup: float) -> dict[str, Any]:
    """Closed loop: each client sends its next request as soon as the previous answer is read."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    if host != LOCAL:
        raise SystemExit(f"load only 127.0.0.1, not {host}")
    requests = json.loads(requests_file.read_text())
    prepared = [
        (
            r["route"],
            r["method"],
            r["path"],
            r["body"].encode() if r.get("body") is not None else None,
            r.get("expect", "").encode(),
        )
        for r in requests
    ]
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {}
    outcomes: dict[str, dict[str, int]] = {}

    def record(route: str, outcome: str, took: float | None) -> None:
        with lock:
            counts = outcomes.setdefault(route, {})
            counts[outcome] = counts.get(outcome, 0) + 1
            if took is not None:
                latencies.setdefault(route, []).append(took)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        i = k * 7  # each client starts elsewhere in the mix
        while True:
            route, method, path, body, expect = prepared[i % len(prepared)]
            i += 1
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            try:
                conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
                response = conn.getresponse()
                data = response.read()
            except TimeoutError:
                record(route, "timeout", None)
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            except (OSError, http.client.HTTPException) as exc:
                record(route, f"connection error {type(exc).__name__}", None)
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            took = time.perf_counter() - t0
            status = response.status
            outcome = (
                "ok" if status == 200 and expect in data else (f"5xx {status}" if status >= 500 else f"status {status}")
            )
            if status == 200 and expect not in data:
                outcome = "unexpected body"
            record(route, outcome, took if t0 >= measure_from else None)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    routes = {}
    total = 0
    for route, counts in sorted(outcomes.items()):
        every = sorted(latencies.get(route, []))
        n = len(every)
        total += n
        routes[route] = {
            "requests": n,
            "outcomes": counts,
            "p50_ms": 1000 * every[n // 2] if n else None,
            "p99_ms": 1000 * every[min(n - 1, int(n * 0.99))] if n else None,
        }
    every = sorted(x for part in latencies.values() for x in part)
    n = len(every)
    return {
        "seconds": seconds,
        "clients": clients,
        "requests": total,
        "per_second": total / seconds,
        "routes": routes,
        "p99_ms": 1000 * every[min(n - 1, int(n * 0.99))] if n else None,
        "failures": {o: c for counts in outcomes.values() for o, c in counts.items() if o != "ok"},
    }


def load(
    url: str, requests: list[dict[str, Any]], *, seconds: float, clients: int, warmup: float = 2.0
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(requests, f)
    try:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "load",
                url,
                f.name,
                "--seconds",
                str(seconds),
                "--clients",
                str(clients),
                "--warmup",
                str(warmup),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + warmup + 120,
        )
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def report(label: str, r: dict[str, Any], baseline: dict[str, Any]) -> None:
    failures = sum(r["failures"].values())
    print(
        f"\n{label}: {r['clients']} clients, {r['seconds']:.0f} s: {r['requests']:,} requests, "
        f"{r['per_second']:,.0f}/s, p99 {_ms(r['p99_ms'])} ms; failures: {r['failures'] or 'none'}"
    )
    print(
        f"  naive baseline (1 client, sequential, {baseline['seconds']:.0f} s): {baseline['per_second']:,.0f}/s, "
        f"p99 {_ms(baseline['p99_ms'])} ms; failures: {baseline['failures'] or 'none'}"
    )
    print(f"  {'route':<34} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}   {'1 client p99':>12}")
    for route, x in r["routes"].items():
        b = baseline["routes"].get(route, {})
        b99 = f"{b['p99_ms']:.1f}" if b.get("p99_ms") is not None else "-"
        p50 = f"{x['p50_ms']:.1f}" if x["p50_ms"] is not None else "-"
        p99 = f"{x['p99_ms']:.1f}" if x["p99_ms"] is not None else "-"
        failed = {o: c for o, c in x["outcomes"].items() if o != "ok"}
        print(f"  {route:<34} {x['requests']:>9,} {p50:>8} {p99:>8}   {b99:>12}" + (f"   {failed}" if failed else ""))
    fives = sum(c for o, c in r["failures"].items() if o.startswith("5xx"))
    timeouts = sum(c for o, c in r["failures"].items() if o == "timeout")
    print(
        f"  5xx: {fives}, timeouts: {timeouts}, other failures: {failures - fives - timeouts} "
        f"-> {'met' if failures == 0 else 'NOT met'} (target: zero 5xx, zero timeouts)"
    )


# ------------------------------------------------------------------ the registry and the mix (not measured)


def build_registry(tmp: Path, certificates: int, database_url: str | None = None) -> tuple[Any, Any]:
    from chain.artifacts import load
    from chain.keys import dev_accounts
    from chain.node import LocalNode
    from chain.types import Scenario
    from tests.api.conftest import open_certified
    from tests.conftest import Cast

    os.environ.setdefault("LEDGER_DATA_KEY_FILE", str(tmp / "data.key"))
    node = LocalNode(block_time=None).__enter__()
    try:
        certified = open_certified(tmp, load(), Cast(*dev_accounts()[:12]), node, database_url)
        for i in range(len(certified.ids), certificates):
            certified.certify_new(Scenario.VOLUNTARY, 3 + i, f"买家{i}", fields={"message": f"第 {i} 份"})
    except BaseException:
        node.__exit__(None, None, None)
        raise
    return node, certified


def the_mix(certified: Any) -> list[dict[str, Any]]:
    """Every public route; POST /verify is VERIFY_SHARE of the requests, the rest in equal parts."""
    from sqlalchemy import text

    from tests.conftest import PROJECT

    with certified.service.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM certificates ORDER BY number"))]
        retirements = [r[0] for r in conn.execute(text("SELECT id FROM retirements ORDER BY id LIMIT 8"))]
        serials = [r[0] for r in conn.execute(text("SELECT first_serial FROM lots ORDER BY first_serial LIMIT 8"))]
        sizes = [r[0] for r in conn.execute(text("SELECT tree_size FROM anchored_roots ORDER BY tree_size"))]
        tx = conn.execute(text("SELECT tx_hash, block_number FROM retirements LIMIT 1")).first()
    batch = certified.world.batch_id
    holder = certified.world.cast.holder.address
    some = ids[: max(1, len(ids) // 2)]
    others: list[tuple[str, str]] = [
        ("GET /api/v1/certificates", "/api/v1/certificates?limit=20"),
        ("GET /api/v1/certificates/{id}", "/api/v1/certificates/{cert}"),
        ("GET /api/v1/certificates/{id}/proof", "/api/v1/certificates/{cert}/proof"),
        ("GET /api/v1/provenance/retirements", "/api/v1/provenance/retirements/{retirement}"),
        ("GET /api/v1/provenance/serials", "/api/v1/provenance/serials/{serial}"),
        ("GET /api/v1/batches/{id}", f"/api/v1/batches/{batch}"),
        ("GET /api/v1/projects/{id}", f"/api/v1/projects/{PROJECT}"),
        ("GET /api/v1/methodologies", "/api/v1/methodologies"),
        ("GET /api/v1/log/roots", "/api/v1/log/roots"),
        ("GET /api/v1/log/consistency", f"/api/v1/log/consistency?first={sizes[0]}&second={sizes[-1]}"),
        ("GET /api/v1/health", "/api/v1/health"),
        ("GET /verify/{id} (page)", "/verify/{cert}"),
        ("GET /certificates/{id}.pdf", "/certificates/{cert}.pdf"),
        ("GET /explorer", "/explorer"),
        ("GET /explorer/tx", f"/explorer/tx/{tx.tx_hash}"),
        ("GET /explorer/block", f"/explorer/block/{tx.block_number}"),
        ("GET /explorer/address", f"/explorer/address/{holder}"),
        ("GET /explorer/batch", f"/explorer/batch/{batch}"),
        # the routes added since: the public registry, land, footprints, monitoring, fonts
        ("GET /api/v1/projects", "/api/v1/projects?limit=20"),
        ("GET /api/v1/batches", "/api/v1/batches?limit=20"),
        ("GET /api/v1/retirements", "/api/v1/retirements?limit=20"),
        ("GET /api/v1/participants", "/api/v1/participants?limit=20"),
        ("GET /api/v1/sanctions", "/api/v1/sanctions"),
        ("GET /api/v1/statistics", "/api/v1/statistics"),
        ("GET /api/v1/projects/{id}/parcels", f"/api/v1/projects/{PROJECT}/parcels"),
        ("GET /api/v1/emission-factors", "/api/v1/emission-factors?limit=50"),
        ("GET /registry/retirements (page)", "/registry/retirements"),
        ("GET /registry/statistics (page)", "/registry/statistics"),
        ("GET /registry/export/projects.csv", "/registry/export/projects.csv"),
        ("GET /footprint (page)", "/footprint"),
    ]
    mix: list[dict[str, Any]] = []
    verifies = round(len(others) * VERIFY_SHARE / (1 - VERIFY_SHARE) * 2)  # per two rounds of the others
    for k in range(2):
        for j, (route, path) in enumerate(others):
            n = k * len(others) + j
            mix.append(
                {
                    "route": route,
                    "method": "GET",
                    "path": path.format(
                        cert=some[n % len(some)],
                        retirement=retirements[n % len(retirements)],
                        serial=serials[n % len(serials)],
                    ),
                }
            )
    documents = [json.dumps(certified.public(i), ensure_ascii=False) for i in ids]
    for v in range(verifies):  # spread through the mix
        mix.insert(
            v * len(mix) // verifies,
            {
                "route": "POST /api/v1/verify",
                "method": "POST",
                "path": "/api/v1/verify",
                "body": documents[v % len(documents)],
                "expect": '"verdict":"valid"',
            },
        )
    return mix


# ------------------------------------------------------------------ the server (the production entry point)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


class Server:
    """`uvicorn --factory api.asgi:app --workers N` in a child process, configured by environment."""

    def __init__(self, tmp: Path, certified: Any, node: Any, database_url: str, workers: int) -> None:
        deployments = tmp / f"deployments-{workers}"
        deployments.mkdir(exist_ok=True)
        d = certified.service.context.deployment
        (deployments / f"{d.chain_id}.json").write_text(d.to_json())
        self.port = free_port()
        self.base = f"http://{LOCAL}:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LEDGER_RPC_URL": node.url,
            "LEDGER_DEPLOYMENTS_DIR": str(deployments),
            "LEDGER_VAR_DIR": str(tmp / "var"),
            "LEDGER_CONFIG": str(tmp / "no-config.toml"),
            "LEDGER_PUBLIC_URL": self.base,
        }
        self.cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.asgi:app",
            "--host",
            LOCAL,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.log = tmp / f"uvicorn-{workers}.log"

    def __enter__(self) -> str:
        from tests.api.server import wait_until_up

        self.out = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.out, stderr=subprocess.STDOUT)
        try:
            wait_until_up(self.base, timeout=120, proc=self.proc)
        except BaseException:
            self.__exit__()
            raise
        return self.base

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def part(
    label: str, tmp: Path, certified: Any, node: Any, database_url: str, workers: int, args: argparse.Namespace
) -> bool:
    mix = the_mix(certified)
    with Server(tmp, certified, node, database_url, workers) as base:
        loaded = load(base, mix, seconds=args.seconds, clients=args.clients)
        baseline = load(base, mix, seconds=args.baseline_seconds, clients=1)
    report(label, loaded, baseline)
    errors = (tmp / f"uvicorn-{workers}.log").read_text(errors="replace").strip()
    if errors:
        print("  server log (last lines):\n    " + "\n    ".join(errors.splitlines()[-8:]))
    return not loaded["failures"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--certificates", type=int, default=24)
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES", "postgresql://ledger:ledger@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    if urlsplit(args.postgres).hostname != LOCAL and not args.skip_postgres:
        raise SystemExit("--postgres must be on 127.0.0.1")
    met = True
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        t0 = time.perf_counter()
        (tmp / "sqlite").mkdir()
        node, certified = build_registry(tmp / "sqlite", args.certificates)
        try:
            print(f"registry on SQLite: {args.certificates} certificates, set up in {time.perf_counter() - t0:.0f} s")
            met &= part(
                "one worker, SQLite", tmp / "sqlite", certified, node, str(certified.service.engine.url), 1, args
            )
        finally:
            node.__exit__(None, None, None)
        if not args.skip_postgres:
            met &= postgres_part(tmp, args)
    print(f"\nmachine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"target (zero 5xx, zero timeouts at {args.clients} clients): {'met' if met else 'NOT met'}")


def postgres_part(tmp: Path, args: argparse.Namespace) -> bool:
    from tests.pgdb import scratch_database

    with scratch_database(args.postgres, "ledger_bench_load") as url:
        (tmp / "pg").mkdir()
        t0 = time.perf_counter()
        node, certified = build_registry(tmp / "pg", args.certificates, url)
        try:
            print(f"\nregistry on PostgreSQL: set up in {time.perf_counter() - t0:.0f} s")
            met = part("four workers, PostgreSQL", tmp / "pg", certified, node, url, 4, args)
        finally:
            certified.service.engine.dispose()
            node.__exit__(None, None, None)
    return met


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        p = argparse.ArgumentParser()
        p.add_argument("cmd")
        p.add_argument("url")
        p.add_argument("requests", type=Path)
        p.add_argument("--seconds", type=float, default=60)
        p.add_argument("--clients", type=int, default=50)
        p.add_argument("--warmup", type=float, default=2)
        a = p.parse_args()
        print(json.dumps(run_load(a.url, a.requests, a.seconds, a.clients, a.warmup)))
    else:
        main()
