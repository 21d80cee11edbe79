"""A hostile user against the public registry (issue 17): each test is one finding, failing
before its fix (the docstring says how), on a registry indexed from a real anvil chain
(tests/public/conftest.py) and served by the real app."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import http.client
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.app import create_app
from api.routes import registry_pages
from certificates.db import api_engine
from chain.canonical import canonical_json
from public import snapshot
from public.errors import PublicQueryError
from tests.api.server import serve_thread
from tests.conftest import HASH
from tests.public.conftest import (  # noqa: F401  # the fixtures, for this module
    Public,
    monkeypatch_module,
    public_registry,
)

FONT = "/static/fonts/noto-sans-sc@0.4.3/400Regular.ttf"


@pytest.fixture(scope="module")
def web(public_registry: Public) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(public_registry.certified.service.context), raise_server_exceptions=False) as client:
        yield client


def forged(*value: Any) -> str:
    """A cursor as public/cursor.py spells one, holding what a forger chose."""
    return base64.urlsafe_b64encode(json.dumps(list(value)).encode()).decode().rstrip("=")


def test_a_page_limit_in_other_digits_is_422_not_500(web: TestClient) -> None:
    """Before: /registry/projects?limit=² answered 500: "²".isdigit() is true but int("²") raises;
    so did a limit of 5,000 nines (int() refuses more than 4,300 digits)."""
    for limit in ("²", "9" * 5000, "-1", "0", str(10**9)):
        r = web.get("/registry/projects", params={"limit": limit})
        assert r.status_code == 422, (limit[:10], r.status_code)
        assert "limit" in r.text


def test_a_forged_cursor_outside_the_databases_range_is_422_not_500(web: TestClient) -> None:
    """Before: a cursor holding 10**30 for a batch id (SQLite: "Python int too large to convert
    to SQLite INTEGER") or a lone surrogate for a project id (not encodable as UTF-8) passed the
    cursor's type check and failed in the driver: 500."""
    for path, cursor in (
        ("/api/v1/batches", forged("batches", 10**30)),
        ("/api/v1/retirements", forged("retirements", -(2**70), 0)),
        ("/api/v1/projects", forged("projects", "\ud800")),
        ("/api/v1/projects", forged("projects", "P\u0000")),
        ("/registry/batches", forged("batches", 10**30)),
    ):
        r = web.get(path, params={"after": cursor})
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
        assert "cursor" in r.text
    # what the lists give is still taken back
    first = web.get("/api/v1/batches", params={"limit": 1}).json()
    assert web.get("/api/v1/batches", params={"limit": 1, "after": first["next"]}).status_code == 200
    own = base64.urlsafe_b64encode(canonical_json(["projects", "P-511802-0001"])).decode().rstrip("=")
    assert web.get("/api/v1/projects", params={"after": own}).status_code == 200


def test_a_csv_export_does_not_hand_a_spreadsheet_a_formula(public_registry: Public, web: TestClient) -> None:  # noqa: F811
    """Before: an export's destination registry is free text from the chain; one spelt
    =HYPERLINK(...) went into exports.csv as is, and a spreadsheet opening the file runs it (CSV
    injection, OWASP). Now a text cell starting with = + - @ (or tab / CR) is prefixed with ' so it
    is read as text; the JSON Lines keep the chain's exact value."""
    world = public_registry.certified.world
    c, cast = world.client, world.cast
    payload = "=cmd|'/C calc'!A0"  # the chain takes 1-31 printable ASCII characters
    c.request_export(world.op(), cast.holder.address, world.batch_id, 1, payload, HASH)
    public_registry.sync()
    r = web.get("/registry/export/exports.csv")
    assert r.status_code == 200
    cells = [cell for row in csv.reader(io.StringIO(r.text)) for cell in row]
    assert payload not in cells
    assert "'" + payload in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")]
    lines = [json.loads(line) for line in web.get("/registry/export/exports.jsonl").text.splitlines()]
    assert payload in [line["destination_registry"] for line in lines]


def test_an_export_that_finds_no_connection_answers_503_not_a_broken_200(public_registry: Public) -> None:  # noqa: F811
    """Before: /registry/export took its connection inside the streamed body, after the 200 and
    its headers were sent; with every pooled connection busy (20 concurrent full exports) the body
    failed after db_pool_timeout and the client got a 200 with a cut-off file. The /registry paths
    are not under admission control (api/admission.py), so nothing else stopped it. Now the
    connection is taken before the answer starts: 503 with Retry-After."""
    fixture = public_registry.certified.service.context
    # the engine the service runs with: its pool and pool timeout (certificates/db.py)
    engine = api_engine(fixture.settings, fixture.engine.url.render_as_string(hide_password=False))
    context = dataclasses.replace(fixture, engine=engine)
    held = []
    try:
        for _ in range(engine.pool.size()):  # type: ignore[attr-defined]  # QueuePool's size; no overflow
            held.append(engine.connect())
        with serve_thread(create_app(context), access_log=False) as base:
            try:
                with urllib.request.urlopen(f"{base}/registry/export/projects.csv", timeout=60) as r:
                    status, retry, body = r.status, r.headers.get("Retry-After"), r.read()
            except urllib.error.HTTPError as e:
                status, retry, body = e.code, e.headers.get("Retry-After"), e.read()
            except (OSError, ValueError, http.client.HTTPException) as e:  # a cut-off chunked body
                status, retry, body = -1, None, repr(e).encode()
    finally:
        for conn in held:
            conn.close()
        engine.dispose()
    assert (status, retry) == (503, "2"), (status, body[:200])


def test_a_symlink_among_published_documents_does_not_publish_a_file_outside(
    public_registry: Public,  # noqa: F811
    web: TestClient,
    tmp_path: Path,
) -> None:
    """Before: a file in LEDGER_PUBLIC_DOCUMENTS named by a sha256 was served if its bytes hashed
    to its name, even when it was a symlink to a file elsewhere (an operator's link to the
    unpublished case file was enough to publish it). Now only regular files inside the directory."""
    outside = tmp_path / "case-file.txt"
    outside.write_bytes("处理决定（内部，不公示）".encode())
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    link = public_registry.documents / digest
    link.symlink_to(outside)
    try:
        r = web.get(f"/registry/documents/{digest}")
        assert r.status_code == 404, r.status_code
        published = web.get(f"/registry/documents/{public_registry.reason_hash.removeprefix('0x')}")
        assert published.status_code == 200  # the real published document still is
    finally:
        link.unlink()


def test_the_font_is_not_gzipped_for_a_client_that_refuses_gzip(web: TestClient) -> None:
    """Before: any Accept-Encoding containing "gzip" got the gzipped font, even "gzip;q=0", which
    says gzip is not acceptable (RFC 9110 §12.5.3); the gzipped and plain bodies had one ETag; and
    If-None-Match: * (any current representation, §13.1.2) got the whole 10 MB again."""
    refused = web.get(FONT, headers={"accept-encoding": "gzip;q=0, identity"})
    if refused.status_code == 503:
        pytest.skip(refused.json()["detail"])  # the font package is not installed here
    assert refused.status_code == 200
    assert "content-encoding" not in refused.headers
    gzipped = web.get(FONT, headers={"accept-encoding": "br, gzip;q=0.8"})
    assert gzipped.headers.get("content-encoding") == "gzip"
    assert gzipped.headers["etag"] != refused.headers["etag"]
    again = web.get(FONT, headers={"accept-encoding": "identity", "if-none-match": refused.headers["etag"]})
    assert again.status_code == 304
    other = web.get(FONT, headers={"accept-encoding": "identity", "if-none-match": gzipped.headers["etag"]})
    assert other.status_code == 200  # the gzipped body's tag does not stand for the plain one
    assert web.get(FONT, headers={"if-none-match": "*"}).status_code == 304


def test_two_snapshot_writers_for_one_day_log_one_snapshot(public_registry: Public, tmp_path: Path) -> None:  # noqa: F811
    """Before: `write` checked "is this day logged?" before writing the file and appended after,
    so two writers at once (two `ledger public snapshot` runs, cron and a hand) both passed the
    check and both appended (four threads: two entries for 2031-01-02), so the log vouched for two
    files of one day; and as they shared one registry-<day>.jsonl.part, the others' rename failed
    with a FileNotFoundError traceback. Now each writes its own part file, the check is made again
    under the log's write lock, and one wins; the others are told the day is logged."""
    service = public_registry.certified.service
    day = "2031-01-02"
    outcomes: list[Any] = []

    def run() -> None:
        try:
            outcomes.append(snapshot.write(service.engine, service.context.log, tmp_path, day))
        except Exception as exc:  # the test reports what each writer met
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with service.engine.connect() as conn:
        logged = snapshot.proofs(conn, service.context.log, day)
    assert len(logged) == 1, [p.sha256 for p in logged]
    assert sum(isinstance(o, snapshot.Snapshot) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, snapshot.Snapshot | PublicQueryError) for o in outcomes), outcomes
    assert snapshot.file_sha256(tmp_path / f"registry-{day}.jsonl") == logged[0].sha256


def test_exports_beyond_the_streaming_bound_answer_503(web: TestClient) -> None:
    """Before: any number of full exports streamed at once, each holding a pooled connection
    while its client read, outside admission control: 20 slow downloads held the pool the whole
    API answers from. Now at most EXPORTS_AT_ONCE stream; the next waits the queue timeout (as an
    admitted request does) and is then told 503 and Retry-After."""
    taken = 0
    try:
        while registry_pages.EXPORT_SLOTS.acquire(blocking=False):  # as many exports as may stream
            taken += 1
        assert taken == registry_pages.EXPORTS_AT_ONCE
        t0 = time.monotonic()
        r = web.get("/registry/export/retirements.csv")
        assert r.status_code == 503 and r.headers["retry-after"] == "2", r.status_code
        assert time.monotonic() - t0 >= 9.5  # api_queue_timeout (10 s): a burst waits, not refused at once
    finally:
        for _ in range(taken):
            registry_pages.EXPORT_SLOTS.release()
    ok = [web.get("/registry/export/ledger.jsonl") for _ in range(registry_pages.EXPORTS_AT_ONCE + 2)]
    assert {r.status_code for r in ok} == {200}  # each finished export gave its slot back


@contextmanager
def _many_retirements(engine: Engine, rows: int = 300_000) -> Iterator[None]:
    """About 60 MB of retirements CSV, straight into the mirror (what a busy year leaves): more than
    the sockets buffer, so an export's server is mid-stream while its client holds the socket."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
                "INSERT INTO retirements (id, batch_id, holder, operator, amount, scenario, beneficiary_commitment, "
                "claim_hash, op_id, block_number, log_index, tx_hash) SELECT 'bulk-' || i, 1, '0x0', '0x0', 1, "
                "'personal', '0x0', '0x0', 'bulk-' || i, 1000000 + i, 0, '0x0' FROM n"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM retirements WHERE id LIKE 'bulk-%'"))


def _all_given_back(engine: Engine, within: float) -> None:
    """No pooled connection out and every export slot free, within `within` seconds."""
    deadline = time.monotonic() + within
    while engine.pool.checkedout() and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.1)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    free = 0
    while registry_pages.EXPORT_SLOTS.acquire(blocking=False):
        free += 1
    for _ in range(free):
        registry_pages.EXPORT_SLOTS.release()
    assert free == registry_pages.EXPORTS_AT_ONCE


def _ask_export(host: str, port: int, small_buffer: bool = False) -> socket.socket:
    s = socket.create_connection((host, port))
    if small_buffer:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /registry/export/retirements.csv HTTP/1.1\r\nHost: registry\r\n\r\n")
    assert s.recv(1024).startswith(b"HTTP/1.1 200")
    return s


def test_a_client_that_hangs_up_mid_export_gives_its_connection_back(public_registry: Public) -> None:  # noqa: F811
    """Before: Starlette stops streaming when the client goes but leaves the export's generator
    to the garbage collector, so its pooled connection (an open read on the mirror) and its export
    slot stayed taken: six clients that hung up after the first kilobyte still held three
    connections ten seconds later. Now the answer closes its generator when it ends."""
    context = public_registry.certified.service.context
    with _many_retirements(context.engine), serve_thread(create_app(context), access_log=False) as base:
        host, port = base.removeprefix("http://").split(":")
        for _ in range(6):
            _ask_export(host, int(port)).close()
        _all_given_back(context.engine, within=10)


def test_clients_that_stop_reading_an_export_lose_their_slot(
    public_registry: Public,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: a client that asked for an export and then read nothing kept its export slot and
    its pooled connection for as long as it kept the socket open; four such sockets closed the
    downloads to everyone. Now an export whose client takes nothing for EXPORT_STALL_SECONDS is cut
    off (the connection closed, the file visibly unfinished) and both are given back."""
    monkeypatch.setattr(registry_pages, "EXPORT_STALL_SECONDS", 1.0)
    context = public_registry.certified.service.context
    with _many_retirements(context.engine), serve_thread(create_app(context), access_log=False) as base:
        host, port = base.removeprefix("http://").split(":")
        # every slot, held by a reader that stops: open, never read again
        held = [_ask_export(host, int(port), small_buffer=True) for _ in range(registry_pages.EXPORTS_AT_ONCE)]
        try:
            _all_given_back(context.engine, within=20)
            with urllib.request.urlopen(f"{base}/registry/export/methodologies.csv", timeout=30) as r:
                assert r.status == 200 and r.read()
        finally:
            for s in held:
                s.close()
    assert any("an export was cut off" in m for m in caplog.messages)


def test_a_search_typed_full_width_finds_what_ascii_finds(web: TestClient) -> None:
    """Before: a county typed in full-width digits (５１１８０２) found the project, since int() reads
    them, but its project id or methodology typed the same way (a Chinese input method's
    Ｐ－５１１８０２－０００１, or a Unicode hyphen ‐) found nothing. Now ids are read through NFKC
    and one hyphen; an SQL or LIKE metacharacter is still only a character."""
    ascii_batches = web.get("/api/v1/batches", params={"project": "P-511802-0001"}).json()["items"]
    assert len(ascii_batches) >= 2  # the demo's batch and the activity's second, at least
    for typed in ("Ｐ－５１１８０２－０００１", "P‐511802‐0001", " P-511802-0001 "):
        assert web.get("/api/v1/batches", params={"project": typed}).json()["items"] == ascii_batches, typed
    ascii_projects = web.get("/api/v1/projects", params={"methodology": "SCFM-001-V01"}).json()["items"]
    assert ascii_projects
    assert (
        web.get("/api/v1/projects", params={"methodology": "ｓｃｆｍ　００１　ｖ０１"}).json()["items"]
        == ascii_projects
    )
    for wildcard in ("P%", "P_511802_0001", "' OR 1=1 --"):
        assert web.get("/api/v1/batches", params={"project": wildcard}).json()["items"] == [], wildcard


def test_head_is_answered_like_get_without_the_body(web: TestClient) -> None:
    """Before: HEAD on every registry page, download and API list answered 405 (Allow: GET),
    though RFC 9110 §9.1 has a server support HEAD wherever it supports GET and the API's CORS
    answer (api/headers.py) names HEAD. Now HEAD has GET's status and headers, no body; a HEAD
    of an export does not stream the file, and gives its slot back."""
    for path in (
        "/registry",
        "/registry/projects?county=511802",
        "/registry/sanctions",
        "/registry/statistics/county.csv",
        "/registry/export/ledger.csv",
        "/api/v1/projects",
        "/api/v1/statistics",
    ):
        got, head = web.get(path), web.head(path)
        assert (head.status_code, head.content) == (200, b""), (path, head.status_code)
        assert head.headers["content-type"] == got.headers["content-type"], path
    assert web.head("/registry/projects?limit=²").status_code == 422
    assert web.head("/registry/nothing").status_code == 404
    for _ in range(registry_pages.EXPORTS_AT_ONCE + 1):
        assert web.head("/registry/export/retirements.jsonl").status_code == 200
    paths = web.get("/openapi.json").json()["paths"]
    assert not [p for p, operations in paths.items() if "head" in operations]  # the document is GET's alone


def test_a_published_document_edited_after_it_was_checked_is_no_longer_served(tmp_path: Path) -> None:
    """Documents are hashed once per (file, size, mtime), not on every sanctions page: an edit
    after a first check must still withdraw the file."""
    from public.sanctions import PublicDocuments

    body = b"decision of 2026-11-30"
    path = tmp_path / hashlib.sha256(body).hexdigest()
    path.write_bytes(body)
    docs = PublicDocuments(tmp_path)
    assert docs.find(path.name) == path and docs.find("0x" + path.name) == path  # the second from the cache
    path.write_bytes(body + b" (amended)")
    assert docs.find(path.name) is None
