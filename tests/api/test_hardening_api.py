"""The API and the main job under load and faults (issue 12, items 4, 5, 9 and 10): a route that
cannot get a connection answers 503 with Retry-After, POST /verify never blocks the event loop,
/health says "node unreachable" while a killed anvil is down and the indexer resumes when it is
back, a dead worker stops the supervised process, every response carries the security headers
(and the pages still work under their CSP, in Chromium), and the API answers CORS preflights."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from certificates.context import ServiceContext
from certificates.db import create_schema
from certificates.settings import ServiceSettings
from chain.node import LocalNode
from chain.rpc import JsonRpc
from chain.types import Scenario
from indexer.db import make_engine
from indexer.sync import Indexer
from scripts.supervisor import Supervisor, WorkerDiedError
from tests.api.browser import chromium_page
from tests.api.conftest import Certified
from tests.api.server import free_port, serve_thread
from tests.conftest import deploy_world

V1 = "/api/v1"


def context_on(certified: Certified, engine: Any = None, **settings: Any) -> ServiceContext:
    ctx = certified.service.context
    return ServiceContext(
        engine or ctx.engine, ctx.deployment, ServiceSettings(public_url="http://testserver", **settings), ctx.rpc
    )


def tiny_pool(certified: Certified, timeout: float) -> Any:
    return make_engine(str(certified.service.engine.url), pool_size=1, max_overflow=0, pool_timeout=timeout)


# ------------------------------------------------------------------ concurrency


def test_a_route_that_cannot_get_a_connection_answers_503_with_retry_after(certified: Certified) -> None:
    engine = tiny_pool(certified, 0.5)
    with TestClient(create_app(context_on(certified, engine))) as client:
        with engine.connect():  # the pool's only connection, held elsewhere
            t0 = time.monotonic()
            r = client.get(f"{V1}/methodologies")
            waited = time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "2" and r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "Busy" and "retry" in r.json()["detail"]
        assert waited < 3  # the pool timeout, not a client's 30 s
        assert client.get(f"{V1}/methodologies").status_code == 200  # and it serves again once one is free


def test_a_verification_waiting_for_the_database_does_not_stall_other_requests(certified: Certified) -> None:
    """POST /verify reads the mirror through the synchronous engine: on the event loop, a verification
    waiting for a connection stalled every other request, the static pages included."""
    engine = tiny_pool(certified, 3.0)
    doc = json.dumps(certified.public(certified.ids[Scenario.VOLUNTARY])).encode()
    with serve_thread(create_app(context_on(certified, engine)), access_log=False) as base:
        with engine.connect():
            verdict: dict[str, Any] = {}

            def post() -> None:
                request = urllib.request.Request(
                    f"{base}{V1}/verify", data=doc, headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as r:
                        verdict["status"] = r.status
                except urllib.error.HTTPError as exc:
                    verdict["status"] = exc.code

            poster = threading.Thread(target=post)
            poster.start()
            time.sleep(0.5)  # the verification is now waiting for the pool
            t0 = time.monotonic()
            with urllib.request.urlopen(f"{base}/verify", timeout=30) as r:
                assert r.status == 200
            page_took = time.monotonic() - t0
            poster.join(timeout=30)
        assert page_took < 1.0, f"the verify page took {page_took:.2f} s while a verification waited for the pool"
        assert verdict["status"] == 503


def test_requests_beyond_the_admitted_wait_without_a_thread_then_get_503(certified: Certified) -> None:
    """One request admitted at a time: while it waits for the database, the next waits its turn on
    the event loop and, its queue timeout passed, is told to come back (Retry-After); a page that
    needs no database is served meanwhile."""
    engine = tiny_pool(certified, 3.0)
    context = context_on(certified, engine, api_concurrency=1, api_queue_timeout=0.5)
    with serve_thread(create_app(context), access_log=False) as base, engine.connect():
        slow = threading.Thread(target=lambda: _status(f"{base}{V1}/log/roots"))
        slow.start()
        time.sleep(0.3)  # admitted, and waiting for the pool
        t0 = time.monotonic()
        status, headers = _status(f"{base}{V1}/methodologies")
        assert status == 503 and headers["Retry-After"] == "2" and time.monotonic() - t0 < 2
        # the public registry's pages and downloads read the database too: admitted the same way
        # (ungated they waited for the pool, 3 s, before their 503)
        for path in ("/registry/projects", "/registry/export/projects.csv", "/registry"):
            t0 = time.monotonic()
            assert _status(f"{base}{path}")[0] == 503 and time.monotonic() - t0 < 2, path
        assert _status(f"{base}/verify")[0] == 200
        slow.join(timeout=30)


def _status(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


# ------------------------------------------------------------------ headers and CORS


def _hashes(csp: str, directive: str) -> set[str]:
    part = next(p for p in csp.split(";") if p.strip().startswith(directive + " "))
    return set(part.split()[1:])


def _sha(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def assert_security_headers(r: Any) -> str:
    h = r.headers
    assert h["x-content-type-options"] == "nosniff", r.url
    assert h["x-frame-options"] == "DENY", r.url
    assert h["referrer-policy"] == "no-referrer", r.url
    csp = h["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    return str(csp)


def test_every_kind_of_response_carries_the_security_headers(api: TestClient, certified: Certified) -> None:
    cert = certified.ids[Scenario.VOLUNTARY]
    for path in (
        f"{V1}/certificates",
        f"{V1}/certificates/{cert}",
        f"{V1}/health",
        f"{V1}/nothing-here",
        "/openapi.json",
        f"/certificates/{cert}.pdf",
        f"/verify/{cert}",
        "/explorer",
        "/explorer/search?q=zz",
    ):
        assert_security_headers(api.get(path))
    assert_security_headers(api.post(f"{V1}/verify", json=certified.public(cert)))
    # the CSP allows exactly the inline blocks our pages have, by hash
    page = api.get(f"/verify/{cert}")
    csp = assert_security_headers(page)
    for script in re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL):
        assert _sha(script) in _hashes(csp, "script-src")
    explorer = api.get("/explorer")
    for block in re.findall(r"<style>(.*?)</style>", page.text + explorer.text, re.DOTALL):
        assert _sha(block) in _hashes(csp, "style-src")
    assert "connect-src 'self'" in csp and "form-action 'self'" in csp


def test_the_pages_still_work_under_their_csp_in_chromium(certified: Certified) -> None:
    cert = certified.ids[Scenario.VOLUNTARY]
    port = free_port()
    ctx = certified.service.context
    context = ServiceContext(
        ctx.engine, ctx.deployment, ServiceSettings(public_url=f"http://127.0.0.1:{port}"), ctx.rpc
    )
    blocked: list[str] = []
    with serve_thread(create_app(context), port, access_log=False) as base, chromium_page() as page:
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{base}/verify/{cert}")
        page.wait_for_selector("#verdict[data-verdict]")
        assert page.locator("#verdict").get_attribute("data-verdict") == "valid"  # the script ran and fetched
        assert page.locator("#verdict").evaluate("e => getComputedStyle(e).display") == "block"  # the style applied
        page.goto(f"{base}/explorer")
        assert page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 95, 58)"
    assert blocked == []


def test_the_public_api_answers_cors_preflights_from_any_origin(api: TestClient, certified: Certified) -> None:
    origin = {"Origin": "https://auditor.example"}
    pre = api.options(
        f"{V1}/verify",
        headers={**origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in pre.headers
    read = api.options(f"{V1}/certificates", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert read.status_code == 204 and "GET" in read.headers["access-control-allow-methods"]
    assert "POST" not in read.headers["access-control-allow-methods"]
    # the answers themselves may be read by any origin, without credentials
    got = api.get(f"{V1}/certificates", headers=origin)
    assert got.status_code == 200 and got.headers["access-control-allow-origin"] == "*"
    posted = api.post(f"{V1}/verify", headers=origin, json=certified.public(certified.ids[Scenario.PERSONAL]))
    assert posted.status_code == 200 and posted.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in got.headers
    # the pages are not part of the cross-origin API
    assert "access-control-allow-origin" not in api.get("/verify", headers=origin).headers


# ------------------------------------------------------------------ a dead node, a dead worker


@pytest.fixture
def stateful_node(tmp_path: Path) -> Iterator[LocalNode]:
    node = LocalNode(block_time=None, state_file=tmp_path / "anvil-state.json")
    with node:
        yield node


def _wait(what: str, check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_health_says_node_unreachable_and_the_indexer_resumes_when_the_node_is_back(
    stateful_node: LocalNode, build: Any, cast: Any, tmp_path: Path
) -> None:
    world = deploy_world(stateful_node.url, tmp_path / "deployments", build, cast)
    c = world.client
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    create_schema(engine)
    indexer = Indexer(
        JsonRpc(stateful_node.url, timeout=2),
        engine,
        c.abi,
        chain_id=c.chain_id,
        address=c.address,
        start_block=world.registry.deployment.block_number,
    )
    ctx = ServiceContext(
        engine,
        world.registry.deployment,
        ServiceSettings(),
        JsonRpc(stateful_node.url, timeout=2),
        indexer_status=indexer.status,
    )
    stop = threading.Event()
    follower = threading.Thread(
        target=indexer.follow, args=(stop,), kwargs={"poll": 0.1, "max_backoff": 1.0}, daemon=True
    )
    follower.start()
    try:
        with TestClient(create_app(ctx)) as api:
            _wait("the indexer to follow", lambda: indexer.status.state == "following")
            _wait("a healthy answer", lambda: api.get(f"{V1}/health").status_code == 200)

            stateful_node.stop()  # SIGTERM: anvil writes its state and exits
            _wait("/health to see the node gone", lambda: api.get(f"{V1}/health").status_code == 503)
            down = api.get(f"{V1}/health")
            assert down.json()["status"] == "node unreachable" and down.headers["retry-after"]
            assert "node unreachable" in down.json()["detail"] and stateful_node.url not in down.text
            _wait("the indexer to notice", lambda: indexer.status.state == "node unreachable")
            time.sleep(1.5)  # a few back-off rounds
            assert follower.is_alive()

            # our keep-alive connections to the dead node would hold its port (FIN-WAIT-2 on its side)
            for rpc in (c.rpc, indexer.rpc, ctx.rpc):
                rpc._session.close()
            time.sleep(0.5)
            back = LocalNode(port=stateful_node.port, block_time=None, state_file=stateful_node.state_file).start()
            try:
                before = indexer.status.since
                c.transfer(cast.owner.address, cast.holder.address, world.batch_id, 7, sender=cast.owner)
                head = int(c.rpc.call("eth_blockNumber"), 16)
                _wait(
                    "the indexer to resume",
                    lambda: indexer.status.state == "following" and indexer.status.since > before,
                )
                _wait("the mirror to reach the new head", lambda: _cursor(engine) >= head)
                _wait("a healthy answer again", lambda: api.get(f"{V1}/health").status_code == 200)
                assert follower.is_alive()
            finally:
                stop.set()
                follower.join(timeout=10)
                back.stop()
    finally:
        stop.set()


def _cursor(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT max(block_number) FROM sync_cursor")).scalar() or -1)


def test_a_dead_worker_stops_the_supervised_server_with_an_error(certified: Certified, tmp_path: Path) -> None:
    """The indexer thread dies on a database it cannot write (not a node fault, which it retries):
    the server it runs beside stops, and `ledger up` exits 1 with one line naming the worker."""
    engine = make_engine(f"sqlite:///{tmp_path / 'broken.sqlite'}")
    create_schema(engine)
    c = certified.world.client
    indexer = Indexer(
        c.rpc,
        engine,
        c.abi,
        chain_id=c.chain_id,
        address=c.address,
        start_block=certified.world.registry.deployment.block_number,
    )
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE sync_cursor"))
    supervisor = Supervisor()
    port = free_port()
    supervisor.start("indexer", indexer.follow, supervisor.stop)
    t0 = time.monotonic()
    with pytest.raises(WorkerDiedError) as died:
        supervisor.serve(create_app(context_on(certified)), "127.0.0.1", port)
    assert time.monotonic() - t0 < 30
    message = str(died.value)
    assert "indexer" in message and "\n" not in message and "Traceback" not in message
    assert supervisor.stop.is_set()


def test_ledger_up_exits_non_zero_with_one_line_when_its_indexer_thread_dies(tmp_path: Path) -> None:
    """The real main job in a child process: once it serves, the mirror's cursor table is dropped
    under it; the indexer thread dies of it and `ledger up` stops serving and exits 1."""
    import os
    import sqlite3
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    api_port = free_port()
    database = tmp_path / "var" / "ledger.sqlite"
    env = {
        **os.environ,
        "LEDGER_VAR_DIR": str(tmp_path / "var"),
        "LEDGER_NODE_PORT": str(free_port()),
        "LEDGER_API_PORT": str(api_port),
        "DATABASE_URL": f"sqlite:///{database}",
        "LEDGER_CONFIG": str(tmp_path / "no.toml"),
        "LEDGER_DATA_KEY_FILE": str(tmp_path / "data.key"),
        "COLUMNS": "400",
    }  # the console wraps at 80 columns in a pipe
    env.pop("LEDGER_RPC_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "up", "--no-demo"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (_up(api_port) and _status(f"http://127.0.0.1:{api_port}/api/v1/methodologies")[0] == 200):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "ledger up did not serve in 120 s"
            time.sleep(0.3)
        db = sqlite3.connect(database, timeout=30)
        db.execute("DROP TABLE sync_cursor")
        db.commit()
        db.close()
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, output
    assert "the indexer thread stopped (OperationalError)" in output, output
    assert "Traceback" not in output
    died = [line for line in output.splitlines() if "thread stopped" in line]
    assert len(died) == 1 and "--verbose" in died[0], output
    assert not _up(api_port)


def _up(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
