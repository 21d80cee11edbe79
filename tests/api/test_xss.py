"""No page runs what the chain, the database or the request puts into it. Script-bearing text goes
into every field the HTML pages show: on chain (a methodology id, its successor's id, a project id,
an export's destination registry, the arguments of a reverted call, all registered through the
registry client), in the explorer's search box, page paths and query parameters, and in the verify
page's address, its "open by number" box and a pasted document. Headless Chromium loads each page:
nothing ran (window.__xss stays undefined, no element carries an on* handler or a javascript: link,
no script but the page's own) and each payload is on the page as text, neither run nor dropped.

The templates escape by themselves (api/templates, autoescape on): with autoescaping switched off
these tests fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from api.app import create_app
from api.routes.pages import PAGE as VERIFY_PAGE
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings
from chain.errors import RegistryRevertError
from chain.opids import random_op_id
from chain.types import Ecosystem, MethodologyStatus, Scenario
from tests.api.browser import chromium_page
from tests.api.conftest import Certified
from tests.api.server import free_port, serve_thread
from tests.conftest import CREDITING, HASH, MONITORING

# on-chain ids hold at most 31 printable ASCII characters; an inline handler's `__xss=1` sets window.__xss
SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror=__xss=1>'
SVG = "'><svg onload=__xss=1>"
JS_URL = "javascript:window.__xss=1"
LONG_IMG = '"><img src=x onerror=window.__xss=1>'
ALL = [SCRIPT, IMG, SVG, JS_URL, LONG_IMG]
PATH_SAFE = [IMG, SVG, JS_URL, LONG_IMG]  # no "/": each stays one path segment
CALL_ARGS = "#events ~ table.args"  # a transaction page's call arguments

INERT = """() => ({
    xss: typeof window.__xss,
    handlers: [...document.querySelectorAll("*")].flatMap(
        e => [...e.attributes].filter(a => a.name.startsWith("on")).map(a => e.tagName + " " + a.name)),
    jsLinks: [...document.querySelectorAll("a[href], form[action]")]
        .map(e => e.getAttribute("href") ?? e.getAttribute("action"))
        .filter(h => h.trim().toLowerCase().startsWith("javascript:")),
    scripts: document.scripts.length,
    images: document.images.length,
})"""


@dataclass(frozen=True)
class Hostile:
    """Registry records whose ids are payloads, and the transactions that wrote them."""

    batch_id: int
    filed: str  # fileMethodology(SCRIPT)
    registered: str  # registerProject(IMG, methodology SCRIPT)
    issued: str  # issue(IMG)
    superseded: str  # setMethodologyStatus(SCRIPT, Superseded, successor JS_URL)
    exported: str  # requestExport(destination registry SVG)
    reverted: str  # issue(unknown project SVG): mined, reverted
    holder: str


@pytest.fixture(scope="module")
def hostile(certified: Certified) -> Hostile:
    w = certified.world
    c, cast, op = w.client, w.cast, random_op_id
    filed = c.file_methodology(op(), SCRIPT, Ecosystem.FOREST, 1, HASH)
    registered = c.register_project(
        op(),
        project_id=IMG,
        methodology_id=SCRIPT,
        owner=cast.owner.address,
        county_code=511802,
        area_square_metres=1_000,
        crediting_start=CREDITING[0],
        crediting_end=CREDITING[1],
        documents_hash=HASH,
        parcels=[b"\x0b" * 32],
    )
    c.review_project(op(), IMG, True, HASH, sender=cast.reviewer)
    issue = dict(
        vintage=2024,
        monitoring_start=MONITORING[0],
        monitoring_end=MONITORING[1],
        quantity=1_000,
        reserve_bps=1_000,
        verification_report_hash=HASH,
    )
    issued = c.issue(op(), project_id=IMG, **issue)
    c.file_methodology(op(), JS_URL, Ecosystem.FOREST, 2, HASH)
    superseded = c.set_methodology_status(op(), SCRIPT, MethodologyStatus.SUPERSEDED, JS_URL)
    exported = c.request_export(op(), cast.holder.address, w.batch_id, 5, SVG, HASH)
    with pytest.raises(RegistryRevertError) as info:  # explicit gas: mined without a simulation, then reverts
        c.issue(op(), project_id=SVG, gas=300_000, **issue)
    assert info.value.name == "RegistryUnknownProject"
    reverted = c.rpc.call("eth_getBlockByNumber", "latest", False)["transactions"][-1]
    return Hostile(
        int(issued.event("BatchIssued").args["batchId"]),
        filed.tx_hash,
        registered.tx_hash,
        issued.tx_hash,
        superseded.tx_hash,
        exported.tx_hash,
        reverted,
        cast.holder.address,
    )


@pytest.fixture(scope="module")
def live(certified: Certified) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ctx = certified.service.context
    context = ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(public_url=base), ctx.rpc)
    with serve_thread(create_app(context), port, access_log=False) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_page() as page:
        yield page


# the verify page's own scripts (the in-browser verifier, the page's script, the footprint breakdown)
# and its own image (the breakdown chart, empty until a report is shown)
VERIFY_SCRIPTS, VERIFY_IMAGES = VERIFY_PAGE.count("<script>"), VERIFY_PAGE.count("<img ")


def assert_inert(page: Any, *, scripts: int = 0, images: int = 0) -> None:
    """Nothing the payloads carry became markup: no handler ran or exists, no javascript: link,
    no script or image but the page's own."""
    found = page.evaluate(INERT)
    assert found == {"xss": "undefined", "handlers": [], "jsLinks": [], "scripts": scripts, "images": images}, (
        page.url,
        found,
    )


def visit(page: Any, url: str, *, status: int) -> str:
    """Load `url`, check it answered `status` and nothing ran; the text of its body."""
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    assert_inert(page)
    return str(page.locator("body").inner_text())


# ------------------------------------------------------------------ the explorer: what the chain holds


def test_ids_registered_on_chain_are_text_on_every_explorer_page(live: str, hostile: Hostile, browser: Any) -> None:
    page = browser
    visit(page, f"{live}/explorer/tx/{hostile.filed}", status=200)
    assert page.locator('[data-event="MethodologyFiled"] [data-arg="methodologyId"]').inner_text().startswith(SCRIPT)

    visit(page, f"{live}/explorer/tx/{hostile.registered}", status=200)
    submitted = page.locator('[data-event="ProjectSubmitted"]').inner_text()
    assert IMG in submitted and SCRIPT in submitted  # projectId (topic) and the struct's methodologyId
    call = page.locator(CALL_ARGS).inner_text()  # the registration struct, decoded from the call data
    assert IMG in call and SCRIPT in call

    visit(page, f"{live}/explorer/tx/{hostile.issued}", status=200)
    assert page.locator('[data-event="BatchIssued"] [data-arg="projectId"]').inner_text().startswith(IMG)

    visit(page, f"{live}/explorer/tx/{hostile.superseded}", status=200)
    changed = page.locator('[data-event="MethodologyStatusChanged"]')
    assert changed.locator('[data-arg="methodologyId"]').inner_text().startswith(SCRIPT)
    assert changed.locator('[data-arg="successorId"]').inner_text().startswith(JS_URL)

    visit(page, f"{live}/explorer/tx/{hostile.exported}", status=200)
    assert page.locator('[data-event="ExportRequested"] [data-arg="destinationRegistry"]').inner_text().startswith(SVG)

    visit(page, f"{live}/explorer/tx/{hostile.reverted}", status=200)
    revert = page.locator("#revert").inner_text()
    assert "RegistryUnknownProject" in revert and SVG in revert

    batch = visit(page, f"{live}/explorer/batch/{hostile.batch_id}", status=200)
    assert page.locator("#batch").inner_text().count(IMG) == 1, batch

    visit(page, f"{live}/explorer/address/{hostile.holder}", status=200)
    assert SVG in page.locator("#history").inner_text()  # the export, in the holder's history

    visit(page, f"{live}/explorer", status=200)


# ------------------------------------------------------------------ the explorer: what the request holds


@pytest.mark.parametrize("payload", ALL)
def test_a_search_for_a_payload_shows_it_as_text(live: str, browser: Any, payload: str) -> None:
    page = browser
    body = visit(page, f"{live}/explorer/search?q={quote(payload)}", status=400)
    assert payload in page.locator("#error").inner_text(), body
    assert page.locator("#q").input_value() == payload
    # typed into the search box on the front page, as a person would
    visit(page, f"{live}/explorer", status=200)
    page.fill("#q", payload)
    with page.expect_navigation():
        page.click("#search")
    assert page.url.startswith(f"{live}/explorer/search?q=")
    assert_inert(page)
    assert page.locator("#q").input_value() == payload
    assert payload in page.locator("#error").inner_text()


@pytest.mark.parametrize("payload", PATH_SAFE)
def test_payloads_in_explorer_paths_and_parameters_are_text(
    live: str, hostile: Hostile, browser: Any, payload: str
) -> None:
    page = browser
    for path, status in [
        (f"/explorer/block/{payload}", 400),
        (f"/explorer/tx/{payload}", 400),
        (f"/explorer/address/{payload}", 400),
        (f"/explorer/batch/{payload}", 400),
        (f"/explorer/{payload}", 404),
        (f"/explorer?upto={quote(payload)}", 400),
        (f"/explorer/tx/{hostile.issued}?log={quote(payload)}", 400),
        (f"/explorer/address/{hostile.holder}?before={quote(payload)}", 400),
    ]:
        visit(page, live + path, status=status)
        shown = page.locator("#error").inner_text()
        assert payload[:40] in shown, (path, shown)


# ------------------------------------------------------------------ the verify page


@pytest.mark.parametrize("payload", PATH_SAFE)
def test_a_payload_as_certificate_id_in_the_verify_address_is_text(live: str, browser: Any, payload: str) -> None:
    page = browser
    page.goto(f"{live}/verify/{quote(payload, safe='')}")
    page.wait_for_selector("#verdict[data-verdict]")
    assert_inert(page, scripts=VERIFY_SCRIPTS, images=VERIFY_IMAGES)
    assert page.locator("#certid").input_value() == payload
    assert payload in page.locator("#verdict").inner_text()


@pytest.mark.parametrize("payload", ALL)
def test_payloads_typed_or_pasted_into_the_verify_form_are_text(
    live: str, browser: Any, certified: Certified, payload: str
) -> None:
    page = browser
    page.goto(f"{live}/verify")
    page.fill("#certid", payload)
    page.click("#open")
    page.wait_for_selector("#verdict[data-verdict]")
    assert_inert(page, scripts=VERIFY_SCRIPTS, images=VERIFY_IMAGES)
    assert page.locator("#certid").input_value() == payload
    verdict = page.locator("#verdict").inner_text()
    assert "未找到证书" in verdict
    if "/" not in payload:  # a "/" splits the API's path: its plain 404 then names no id
        assert payload in verdict

    doc = certified.public(certified.ids[Scenario.VOLUNTARY])
    doc["certificate"]["id"] = payload
    doc["disclosed"]["message"]["value"] = payload
    page.evaluate("() => { delete document.getElementById('verdict').dataset.verdict; }")
    page.fill("#doc", json.dumps(doc, ensure_ascii=False))
    page.click("#verify")
    page.wait_for_selector("#verdict[data-verdict]")
    assert_inert(page, scripts=VERIFY_SCRIPTS, images=VERIFY_IMAGES)
    assert page.locator("#verdict").get_attribute("data-verdict") in ("invalid", "error")
    shown = page.locator("#verdict").inner_text() + page.locator("#summary").inner_text()
    assert payload in shown, shown

    page.evaluate("() => { delete document.getElementById('verdict').dataset.verdict; }")
    page.fill("#doc", payload)  # not JSON at all
    page.click("#verify")
    page.wait_for_selector("#verdict[data-verdict]")
    assert_inert(page, scripts=VERIFY_SCRIPTS, images=VERIFY_IMAGES)
    assert "Not valid JSON" in page.locator("#verdict").inner_text()
