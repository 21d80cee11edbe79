"""The verify page's in-browser verifier (api/templates/verify/inbrowser.js), in headless Chromium,
with the server's POST /api/v1/verify switched off (every call to it answered 404, and counted):
the page reads the node the person names and nothing else. A good certificate is valid, a tampered
one invalid naming the check, a revoked one revoked, a node that does not answer says so, a node
the page's Content-Security-Policy does not list is refused and says so. Then the verifier is held
to the Python one (certificates/verify.py with ChainEvidence) on every demo certificate and on every
tampered and malformed copy of tests/api/test_independent_verifier.py: same verdict, same failed
checks. With the server's verification on, the two verdicts are shown side by side and agree."""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse

from api.app import create_app
from api.headers import node_origins
from certificates.context import ServiceContext
from certificates.document import hide
from certificates.evidence import ChainEvidence
from certificates.settings import ServiceSettings
from certificates.verify import CHECKS, verify_document
from chain.node import LocalNode
from chain.rpc import JsonRpc
from chain.types import Scenario
from footprint.conversion import shipped_rules
from tests.api.browser import chromium_page
from tests.api.conftest import Certified
from tests.api.server import free_port, serve_thread
from tests.api.test_independent_verifier import INFORMATIVE, MALFORMED, TAMPERS

VERIFY = "/api/v1/verify"


class SwitchedOff:
    """The app with POST /api/v1/verify answering 404: the server cannot verify anything."""

    def __init__(self, app: Any) -> None:
        self.app, self.calls = app, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == VERIFY:
            self.calls += 1
            body = {"type": "about:blank", "title": "Not found", "status": 404, "detail": "switched off for this test"}
            await JSONResponse(body, status_code=404, media_type="application/problem+json")(scope, receive, send)
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def dead_node() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


def _app(certified: Certified, nodes: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LEDGER_VERIFY_NODES", " ".join(nodes))
    ctx = certified.service.context
    return create_app(ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(), ctx.rpc))


@pytest.fixture(scope="module")
def switched_off(
    certified: Certified, dead_node: str, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[tuple[str, SwitchedOff]]:
    app = SwitchedOff(_app(certified, [certified.node.url, dead_node], monkeypatch_module))
    with serve_thread(app, free_port(), access_log=False) as url:
        yield url, app


@pytest.fixture(scope="module")
def live(certified: Certified, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    with serve_thread(_app(certified, [certified.node.url], monkeypatch_module), free_port(), access_log=False) as url:
        yield url


def registry(certified: Certified) -> str:
    return certified.service.context.deployment.address


def rows(page: Any, table: str) -> dict[str, tuple[str, str]]:
    found = page.locator(f"#{table} tr")
    return {
        found.nth(i).get_attribute("data-check"): (
            found.nth(i).get_attribute("data-ok"),
            found.nth(i).locator("td.mark").inner_text(),
        )
        for i in range(found.count())
    }


def verify_on_page(page: Any, doc: dict[str, Any], node: str, trusted: str = "", *, server: bool = True) -> str:
    """Paste `doc`, name the node, press a button; the in-browser verdict."""
    page.evaluate("() => { delete document.getElementById('bverdict').dataset.verdict; }")
    page.fill("#node", node)
    page.fill("#registry", trusted)
    page.fill("#doc", json.dumps(doc, ensure_ascii=False))
    page.click("#verify" if server else "#verify-browser")
    page.wait_for_selector("#bverdict[data-verdict]", timeout=30_000)
    return str(page.locator("#bverdict").get_attribute("data-verdict"))


@pytest.fixture()
def page_off(switched_off: tuple[str, SwitchedOff]) -> Iterator[tuple[Any, list[str], list[str]]]:
    """The verify page of the switched-off server; the URLs it asks for; its script errors."""
    base, _ = switched_off
    with chromium_page() as page:
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/verify")
        yield page, requests, errors


def test_a_good_certificate_verifies_in_the_browser_alone(
    page_off: tuple[Any, list[str], list[str]], switched_off: tuple[str, SwitchedOff], certified: Certified
) -> None:
    page, requests, errors = page_off
    base, app = switched_off
    before = app.calls
    doc = certified.public(certified.ids[Scenario.LARGE_EVENT])
    assert verify_on_page(page, doc, certified.node.url, registry(certified)) == "valid"
    assert "证书有效" in page.locator("#bverdict").inner_text()
    found = rows(page, "bchecks")
    assert list(found) == list(CHECKS)
    assert all(v == ("true", "✓") for v in found.values()), found
    # the server could not verify: the page says so, and the browser's verdict stands alone
    assert app.calls == before + 1
    assert page.locator("#verdict").get_attribute("data-verdict") == "unavailable"
    assert "404" in page.locator("#verdict").inner_text()
    assert page.locator("#agreement").inner_text() == ""
    # what the page asked: the node, and of its own server only the page, the font and the refused verify
    node_calls = [r for r in requests if r.startswith(f"POST {certified.node.url}")]
    ours = [r for r in requests if r.split(" ", 1)[1].startswith(base)]
    assert len(node_calls) >= 5, requests
    assert {r.split(" ", 1)[0] + " " + r.split(base, 1)[1] for r in ours} <= {
        "GET /verify",
        "GET /static/fonts/noto-sans-sc@0.4.3/400Regular.ttf",
        "GET /favicon.ico",
        f"POST {VERIFY}",
    }, ours
    assert set(requests) <= set(node_calls) | set(ours), requests
    assert float(page.locator("#bverdict").get_attribute("data-ms") or "inf") <= 1000
    # the browser-only button does not ask the server at all
    assert verify_on_page(page, doc, certified.node.url, registry(certified), server=False) == "valid"
    assert app.calls == before + 1
    assert page.locator("#verdict").get_attribute("data-verdict") == "skipped"
    assert not errors, errors


def test_a_tampered_certificate_fails_naming_the_check(
    page_off: tuple[Any, list[str], list[str]], certified: Certified
) -> None:
    page, _, errors = page_off
    doc = certified.public(certified.ids[Scenario.LARGE_EVENT])
    doc["disclosed"]["event_name"]["value"] = "另一个活动"
    assert verify_on_page(page, doc, certified.node.url, registry(certified)) == "invalid"
    assert "证书无效" in page.locator("#bverdict").inner_text()
    found = rows(page, "bchecks")
    assert found["fields"] == ("false", "×")
    assert all(v == ("true", "✓") for k, v in found.items() if k != "fields"), found
    detail = page.locator("#bchecks tr[data-check=fields] td.detail").inner_text()
    assert detail == "field event_name does not match its commitment"
    assert not errors, errors


def test_a_revoked_certificate_shows_revoked(page_off: tuple[Any, list[str], list[str]], certified: Certified) -> None:
    page, _, errors = page_off
    cert_id = certified.certify_new(Scenario.VOLUNTARY, 7, "某人", fields={"message": "撤销测试"})
    doc = certified.public(cert_id)
    assert verify_on_page(page, doc, certified.node.url, registry(certified)) == "valid"
    certified.service.revoke(cert_id, "issued in error")
    # the copy taken before the revocation: only the chain can tell
    assert verify_on_page(page, doc, certified.node.url, registry(certified)) == "revoked"
    assert "证书已被撤销" in page.locator("#bverdict").inner_text()
    found = rows(page, "bchecks")
    assert found["revocation"] == ("false", "×")
    assert [k for k, v in found.items() if v[0] == "false"] == ["revocation"]
    assert not errors, errors


def test_a_node_that_does_not_answer_is_named(
    page_off: tuple[Any, list[str], list[str]], certified: Certified, dead_node: str
) -> None:
    page, _, errors = page_off
    doc = certified.public(certified.ids[Scenario.VOLUNTARY])
    assert verify_on_page(page, doc, dead_node, registry(certified)) == "invalid"
    v = page.locator("#bverdict")
    assert v.get_attribute("data-reason") == "unreachable"
    assert f"the node {dead_node} did not answer" in v.inner_text()
    assert "无法读取节点" in v.inner_text()
    found = rows(page, "bchecks")
    chain_checks = {"issuer", "anchor", "retirements", "revocation"}
    assert {k for k, v in found.items() if v == ("false", "?")} == chain_checks, found
    assert all(v == ("true", "✓") for k, v in found.items() if k not in chain_checks), found
    assert not errors, errors


def test_a_node_the_page_may_not_ask_is_refused_and_named(
    page_off: tuple[Any, list[str], list[str]], certified: Certified
) -> None:
    page, _, _ = page_off
    doc = certified.public(certified.ids[Scenario.VOLUNTARY])
    other = f"http://127.0.0.2:{free_port()}"  # not in LEDGER_VERIFY_NODES
    assert verify_on_page(page, doc, other) == "invalid"
    v = page.locator("#bverdict")
    assert v.get_attribute("data-reason") == "blocked"
    assert "LEDGER_VERIFY_NODES" in v.inner_text() and "ledger verify" in v.inner_text()


def test_not_json_is_one_line(page_off: tuple[Any, list[str], list[str]], certified: Certified) -> None:
    page, _, errors = page_off
    verdict = page.evaluate("(url) => LedgerVerifier.verify('{\"format\": ', url)", certified.node.url)
    assert verdict["error"].startswith("不是有效的 JSON · Not valid JSON: ")
    assert not errors, errors


# ---------------------------------------------------------------- the same verdicts as the Python verifier


def python_verdict(certified: Certified, doc: Any) -> dict[str, Any]:
    body = doc.get("certificate") if isinstance(doc, dict) else None
    issuer = body.get("issuer") if isinstance(body, dict) else None
    revocations = str(issuer.get("revocations", "")) if isinstance(issuer, dict) else ""
    evidence = ChainEvidence(JsonRpc(certified.node.url), registry=registry(certified), revocations=revocations)
    return verify_document(copy.deepcopy(doc), evidence).as_json()


def cases(certified: Certified) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for scenario, cert_id in certified.ids.items():
        found.append((f"{scenario.name} public", certified.public(cert_id)))
        found.append((f"{scenario.name} holder", copy.deepcopy(certified.holder_copy(cert_id))))
    personal = copy.deepcopy(certified.holder_copy(certified.ids[Scenario.PERSONAL]))
    edits: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        *((name, edit) for name, edit, _ in TAMPERS),
        *MALFORMED,
        *INFORMATIVE,
        ("proof null", lambda d: d.__setitem__("proof", None)),
        ("not an object", lambda d: d.clear()),
    ]
    for name, edit in edits:
        doc = copy.deepcopy(personal)
        edit(doc)
        found.append((name, doc))
    # a court order's claim (docs/certificate-format.md §5.2) over a retirement that committed to no case:
    # check `retirements` compares the claim hash, or says the hidden case could not be compared
    justice = certified.public(certified.ids[Scenario.ECOLOGICAL_JUSTICE])
    court_claim(justice)
    found.append(("EcologicalJustice court claim", justice))
    found.append(("EcologicalJustice court claim, case hidden", hide(justice, {"court", "case_number"})))
    return found


def court_claim(doc: dict[str, Any]) -> None:
    """¥173,900 at fj-jiangle-2021@1 (¥173,900 for 523 t): ⌈173,900 × 523 × 1000 ÷ 173,900⌉ = 523,000 kg."""
    rule = shipped_rules().damages["fj-jiangle-2021@1"]
    retired = doc["certificate"]["claim"]["quantity_kg"]
    doc["certificate"]["claim"] = {
        "quantity_kg": retired,
        "damages_yuan": "173900",
        "price_yuan": "173900",
        "price_tonnes": "523",
        "obligation_kg": 523_000,
        "obligation_fulfilled": retired >= 523_000,
        "rule": {"id": rule.id, "version": rule.version, "sha256": rule.sha256},
    }


def test_the_browser_and_python_verifiers_agree_on_every_document(
    page_off: tuple[Any, list[str], list[str]], certified: Certified
) -> None:
    page, _, errors = page_off
    disagree = []
    verdicts = set()
    for name, doc in cases(certified):
        text = json.dumps(doc, ensure_ascii=False)
        ours = page.evaluate(
            "([t, u, r]) => LedgerVerifier.verify(t, u, r)", [text, certified.node.url, registry(certified)]
        )
        theirs = python_verdict(certified, json.loads(text))
        verdicts.add(theirs["verdict"])
        if (ours["verdict"], ours["failed"]) != (theirs["verdict"], theirs["failed"]):
            disagree.append((name, ours["verdict"], ours["failed"], theirs["verdict"], theirs["failed"]))
        if name.startswith("EcologicalJustice court"):  # the case comparison: the same words too
            said = [next(c["detail"] for c in v["checks"] if c["name"] == "retirements") for v in (ours, theirs)]
            if said[0] != said[1]:
                disagree.append((name, *said))
    assert not disagree, disagree
    assert verdicts == {"valid", "invalid", "pending"}
    assert not errors, errors


# ---------------------------------------------------------------- side by side


def test_the_server_and_the_browser_verdicts_side_by_side(live: str, certified: Certified) -> None:
    cert_id = certified.ids[Scenario.ORGANISATION]
    with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{live}/verify/{cert_id}")
        page.wait_for_selector("#verdict[data-verdict]")
        page.wait_for_selector("#bverdict[data-verdict]")
        # opened by number with the default node (the local one, not this test's): then with this test's
        assert verify_on_page(page, certified.public(cert_id), certified.node.url, registry(certified)) == "valid"
        page.wait_for_selector("#agreement[data-agree]")
        assert page.locator("#verdict").get_attribute("data-verdict") == "valid"
        assert page.locator("#agreement").get_attribute("data-agree") == "true"
        assert rows(page, "checks").keys() == rows(page, "bchecks").keys()
        server_box = page.locator("#server-side").bounding_box()
        browser_box = page.locator("#browser-side").bounding_box()
        assert server_box and browser_box and abs(server_box["y"] - browser_box["y"]) < 2  # one beside the other
        assert browser_box["x"] > server_box["x"] + server_box["width"] - 1
        tampered = certified.public(cert_id)
        tampered["certificate"]["claim"]["quantity_kg"] += 1
        assert verify_on_page(page, tampered, certified.node.url, registry(certified)) == "invalid"
        assert page.locator("#verdict").get_attribute("data-verdict") == "invalid"
        assert page.locator("#agreement").get_attribute("data-agree") == "true"
        csp_errors = [e for e in errors if "Content Security Policy" in e and "8545" not in e]
        assert not csp_errors, csp_errors


# ---------------------------------------------------------------- what lets the page reach a node


def test_the_durable_nodes_front_answers_a_browsers_cors(tmp_path: Path) -> None:
    """`ledger up`'s node is anvil behind chain/front.py: a preflight and a call from another origin
    get the headers anvil itself gives, so the page can read it."""
    with LocalNode(state_file=tmp_path / "anvil" / "state.json", block_window=4) as node:
        assert node.front is not None
        origin = {"Origin": "http://127.0.0.1:8000"}
        preflight = urllib.request.Request(
            node.url,
            method="OPTIONS",
            headers={
                **origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        with urllib.request.urlopen(preflight, timeout=30) as r:
            assert r.status == 200
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert "POST" in r.headers["Access-Control-Allow-Methods"]
            assert r.headers["Access-Control-Allow-Headers"] == "content-type"
        call = urllib.request.Request(
            node.url,
            data=b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
            headers={**origin, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(call, timeout=30) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert json.loads(r.read())["result"] == hex(31337)


def test_only_the_verify_page_may_connect_to_the_listed_nodes(
    switched_off: tuple[str, SwitchedOff], dead_node: str, certified: Certified
) -> None:
    base, _ = switched_off

    def connect_src(path: str) -> str:
        with urllib.request.urlopen(base + path, timeout=30) as r:
            policy = r.headers["Content-Security-Policy"]
        return next(d for d in policy.split("; ") if d.startswith("connect-src"))

    assert connect_src("/verify") == f"connect-src 'self' {certified.node.url} {dead_node}"
    assert connect_src("/verify/SCCW-31337-000001") == connect_src("/verify")
    assert connect_src("/footprint") == "connect-src 'self'"


@pytest.mark.parametrize(
    "setting",
    ["http://127.0.0.1:8545/rpc", "https://user:key@rpc.example.org", "*", "ftp://node", "http://a:99999", "'self'"],
)
def test_a_node_origin_that_is_not_one_is_refused_in_one_line(setting: str) -> None:
    with pytest.raises(
        ValueError, match=r"^LEDGER_VERIFY_NODES: .* is not a node origin; give http\(s\)://host\[:port\]"
    ):
        node_origins(setting)


def test_node_origins_worked_example() -> None:
    # spaces or commas between; a trailing slash dropped; the default port of the scheme kept as written
    assert node_origins(" http://127.0.0.1:8545/, https://rpc.example.org  http://localhost:8545") == [
        "http://127.0.0.1:8545",
        "https://rpc.example.org",
        "http://localhost:8545",
    ]
