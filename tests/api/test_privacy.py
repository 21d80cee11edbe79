"""Personal data (names, ID numbers, accounts: conftest's PERSONAL_DATA) never leaves the vault:
not in any public response of any route (served by uvicorn), not in the PDFs, not in any log
record of the whole flow (every logger at DEBUG from before the registry is built, the uvicorn
server and access log included), not in chain data (every block's transactions and every log
from block 0), and not in plaintext in the SQLite file (it is sealed with AES-GCM)."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts import sources
from api.app import create_app
from chain.node import LocalNode
from tests.api.browser import pdf_text
from tests.api.conftest import PERSONAL_DATA, Certified, open_certified
from tests.api.server import serve_thread


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!r} {record.args!r}"
        text = f"{record.name} {record.levelname} {message}"
        if record.exc_info:
            text += " " + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture(scope="module")
def records() -> Iterator[Records]:
    """Every logger at DEBUG, also those a library quietened (sqlalchemy sets itself to WARNING):
    SQL statements with their parameters and the rows they return are scanned too."""
    handler = Records()
    root = logging.getLogger()
    names = ["", "sqlalchemy", "uvicorn", "uvicorn.access", "uvicorn.error", *logging.root.manager.loggerDict]
    loggers = [logging.getLogger(n) for n in names]
    levels = [(lg, lg.level, lg.disabled, lg.propagate) for lg in loggers]
    root.addHandler(handler)
    for lg in loggers:  # also those another test's server configured not to propagate (uvicorn's)
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        lg.propagate = True
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for lg, level, disabled, propagate in levels:
            lg.setLevel(level)
            lg.disabled = disabled
            lg.propagate = propagate


@pytest.fixture(scope="module")
def certified(
    records: Records,
    build: Any,
    cast: Any,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch_module: pytest.MonkeyPatch,
) -> Iterator[Certified]:
    """conftest's registry, built while every logger records at DEBUG."""
    tmp = tmp_path_factory.mktemp("private")
    monkeypatch_module.setenv("LEDGER_DATA_KEY_FILE", str(tmp / "data.key"))
    with LocalNode(block_time=None) as node:
        yield open_certified(tmp, build, cast, node)


def forms(secret: str) -> list[str]:
    """How a string may show up in text: itself, JSON-escaped, hex of its UTF-8 bytes, as a number."""
    out = [secret, json.dumps(secret)[1:-1], secret.encode().hex()]
    if secret.isdigit():
        out.append(f"{int(secret):x}")
    return [f.lower() for f in out]


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [secret for secret in PERSONAL_DATA if any(f in low for f in forms(secret))]


def get(
    base: str, path: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        base + path,
        data=body,
        method=method,
        headers=({"content-type": "application/json"} if body else {}) | (headers or {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def public_responses(base: str, certified: Certified) -> dict[str, str]:
    """Every public response of the flow, by request: all certificates, proofs, verdicts, PDFs
    (as text), provenance of every retirement and serial range end, the catalog, the log."""
    seen: dict[str, str] = {}

    def fetch(path: str, method: str = "GET", body: bytes | None = None) -> Any:
        status, raw = get(base, path, method, body)
        assert status < 500, (path, raw[:300])
        if path.endswith(".pdf"):
            assert status == 200
            seen[path] = pdf_text(raw)
            return None
        seen[f"{method} {path} {len(seen)}"] = raw.decode()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    fetch("/openapi.json")
    fetch("/verify")
    ids, after = [], 0
    while True:
        page = fetch(f"/api/v1/certificates?after={after}&limit=2")
        ids += [c["id"] for c in page["items"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert set(certified.ids.values()) <= set(ids)
    roots = fetch("/api/v1/log/roots")["roots"]
    for a, b in zip(roots, roots[1:]):
        fetch(f"/api/v1/log/consistency?first={a['tree_size']}&second={b['tree_size']}")
    batches, projects = set(), set()
    for cert_id in ids:
        doc = fetch(f"/api/v1/certificates/{cert_id}")
        fetch(f"/verify/{cert_id}")
        fetch(f"/certificates/{cert_id}.pdf")
        for r in roots:
            if r["tree_size"] > doc["proof"]["leaf_index"]:
                fetch(f"/api/v1/certificates/{cert_id}/proof?tree_size={r['tree_size']}")
        fetch("/api/v1/verify", "POST", json.dumps(doc).encode())
        # the holder posting their own copy gets a verdict that does not echo their data either
        fetch("/api/v1/verify", "POST", json.dumps(certified.holder_copy(cert_id)).encode())
        for ret in doc["certificate"]["retirements"]:
            p = fetch(f"/api/v1/provenance/retirements/{ret['id']}")
            batches.add(p["batch"]["id"])
            projects.add(p["project"]["id"])
            for first, last in ret["serial_ranges"]:
                fetch(f"/api/v1/provenance/serials/{first}")
                fetch(f"/api/v1/provenance/serials/{last}")
    for b in batches:
        fetch(f"/api/v1/batches/{b}")
    for p in projects:
        fetch(f"/api/v1/projects/{p}")
    fetch("/api/v1/methodologies")
    fetch("/api/v1/health")
    fetch("/api/v1/certificates/SCCW-31337-999999")  # a problem
    seen.update(account_responses(base, certified))
    return seen


def account_responses(base: str, certified: Certified) -> dict[str, str]:
    """The personal carbon accounts' flow (issue 18): an app opens an account with the person's
    name and ID number, sends a trip, reads the statement, hands out a link, the person opens the
    page, a merchant lists a right, the app redeems it; and bad bodies carrying the personal data."""
    engine = certified.service.engine
    now = int(time.time())
    sources.add_source(engine, "privacy-app", "Privacy app", "app", now)
    sources.add_source(engine, "privacy-shop", "Privacy shop", "merchant", now)
    app_key = sources.create_key(engine, "privacy-app", list(sources.SCOPES), now).bearer
    shop_key = sources.create_key(engine, "privacy-shop", ["rights:write"], now).bearer
    seen: dict[str, str] = {}

    def call(path: str, method: str = "GET", body: Any = None, key: str | None = app_key, **extra: str) -> Any:
        raw_body = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        auth = {} if key is None else {"authorization": f"Bearer {key}"}
        status, raw = get(base, path, method, raw_body, auth | extra)
        assert status < 500, (path, raw[:300])
        seen[f"{method} {path} {len(seen)}"] = raw.decode()
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    personal = {"name": "李四光", "id_number": "510104199001011234"}
    opened = call("/api/v1/accounts", "POST", {"personal": personal, "consents": ["transit"]})
    account = opened["account"]
    trip = {
        "id": "privacy-trip-1",
        "account": account,
        "type": "metro",
        "occurred_at": now - 3600,
        "quantity": "12.5",
        "identity": {"entry_station": "天府广场", "exit_station": "火车南站"},
    }
    assert call("/api/v1/accounts/records", "POST", {"records": [trip]})["outcomes"][0]["status"] == "credited"
    call(f"/api/v1/accounts/{account}/statement")
    url = call(f"/api/v1/accounts/{account}/statement-links", "POST", {})["url"]
    page = call("/accounts/statement" + url.split("/accounts/statement", 1)[1], key=None)  # the person's page
    assert "585" in page  # 12.5 km of metro at 46.8 g/km = 585 points: the page was the statement, not a refusal
    right = call(
        "/api/v1/accounts/rights", "POST", {"name": "茶券", "kind": "coupon", "stock": 3, "price": 100}, shop_key
    )
    call(f"/api/v1/accounts/{account}/redemptions", "POST", {"right": right["id"]}, **{"idempotency-key": "p-1"})
    # refusals of bodies that carry the personal data must not echo it
    call("/api/v1/accounts", "POST", {"personal": {"name": "李四光", "id_number": "510104199001011234x"}})
    call("/api/v1/accounts", "POST", {"personal": {"nickname": "李四光"}})
    call("/api/v1/accounts", "POST", rb'{"personal": {"name": "\u674e\u56db\u5149", "phone": 5')
    assert len(seen) >= 9
    return seen


@pytest.fixture(scope="module")
def flow(certified: Certified, records: Records) -> dict[str, str]:
    with serve_thread(create_app(certified.service.context)) as base:
        return public_responses(base, certified)


def test_the_holder_copy_does_hold_the_personal_data(certified: Certified) -> None:
    """The scans below look for the right strings: the holder's copies contain every one of them."""
    holder = json.dumps([certified.holder_copy(c) for c in certified.ids.values()], ensure_ascii=False)
    assert leaks(holder) == PERSONAL_DATA


def test_no_public_response_holds_personal_data(flow: dict[str, str]) -> None:
    assert len(flow) > 50
    leaked = {request: leaks(text) for request, text in flow.items() if leaks(text)}
    assert not leaked, leaked


def test_no_pdf_holds_personal_data(flow: dict[str, str], certified: Certified) -> None:
    pdfs = {path: text for path, text in flow.items() if path.endswith(".pdf")}
    assert len(pdfs) >= len(certified.ids) and all(pdfs.values())
    assert not {path: leaks(text) for path, text in pdfs.items() if leaks(text)}


def test_no_log_record_holds_personal_data(flow: dict[str, str], records: Records) -> None:
    lines = records.lines
    assert any(line.startswith("uvicorn.access") for line in lines), "the server's access log was not captured"
    assert any("/api/v1/certificates" in line for line in lines)
    assert any("/api/v1/accounts" in line for line in lines)  # the personal carbon accounts' requests too
    leaked = [line[:300] for line in lines if leaks(line)]
    assert not leaked, leaked


def test_no_chain_data_holds_personal_data(flow: dict[str, str], certified: Certified) -> None:
    rpc = certified.world.client.rpc
    head = int(rpc.call("eth_blockNumber"), 16)
    logs = rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    assert logs, "no logs: the scan would prove nothing"
    found = [log for log in logs if leaks(json.dumps(log))]
    assert not found, found[:3]
    transactions = 0
    for n in range(head + 1):
        block = rpc.call("eth_getBlockByNumber", hex(n), True)
        transactions += len(block["transactions"])
        for tx in block["transactions"]:
            assert not leaks(json.dumps(tx)), (n, tx["hash"], leaks(json.dumps(tx)))
        assert not leaks(json.dumps(block)), n
    assert transactions >= len(certified.ids) * 2  # a retirement and an anchoring each, at least


def test_the_database_file_holds_no_plaintext(flow: dict[str, str], certified: Certified) -> None:
    certified.service.engine.dispose()  # checkpoint nothing away: read what is on disk now, WAL included
    database = Path(certified.service.engine.url.database or "")
    files = [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-journal")) if p.exists()]
    assert database.stat().st_size > 0
    for path in files:
        data = path.read_bytes()
        for secret in PERSONAL_DATA:
            assert secret.encode() not in data, (path.name, secret)
            assert secret.encode().hex().encode() not in data.lower(), (path.name, secret)
            assert json.dumps(secret).encode()[1:-1] not in data, (path.name, secret)


def test_the_log_scan_saw_the_whole_flow(flow: dict[str, str], records: Records) -> None:
    names = {line.split(" ", 1)[0].split(".")[0] for line in records.lines}
    assert {"uvicorn", "sqlalchemy"} <= names, names  # SQL statements with their parameters included
