"""The built-in explorer at /explorer, against a real anvil (the `certified` registry): every page's
content is compared with the chain's own views, search redirects, bad input gives an HTML 400/404,
and a headless Chromium searches a retirement id and clicks through to its batch."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import to_checksum_address
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.explorer.node import ExplorerNode
from api.explorer.routes import router
from certificates.context import ServiceContext
from chain.errors import RegistryRevertError
from chain.rpc import JsonRpc
from chain.types import ParticipantKind, ParticipantStatus, Scenario
from tests.api.browser import chromium_page
from tests.api.conftest import Certified
from tests.api.server import serve_thread

RETIRED_KG = 321
HOLDING = re.compile(
    r'<tr data-holding="([^"]+)">.*?class="num balance">(\d+)</td><td class="num free">(\d+)</td>'
    r'<td class="num pledged">(\d+)</td><td class="num frozen">(\d+)</td></tr>',
    re.DOTALL,
)


def explorer_app(context: ServiceContext) -> FastAPI:
    app = create_app(context)
    if not any(getattr(r, "path", None) == "/explorer" for r in app.routes):  # api/app.py may include it already
        app.include_router(router)
    return app


@pytest.fixture(scope="module")
def web(certified: Certified) -> Iterator[TestClient]:
    with TestClient(explorer_app(certified.service.context)) as client:
        yield client


@dataclasses.dataclass(frozen=True)
class Retirement:
    tx_hash: str
    log_index: int
    block_number: int
    rid: str


@pytest.fixture(scope="module")
def retirement(certified: Certified) -> Retirement:
    result = certified.retire(Scenario.VOLUNTARY, RETIRED_KG, b"\x07" * 32)
    event = result.event("CreditsRetired")
    chain_id = certified.service.context.deployment.chain_id
    return Retirement(
        result.tx_hash, event.log_index, result.block_number, f"{chain_id}-{result.tx_hash}-{event.log_index}"
    )


@dataclasses.dataclass(frozen=True)
class Failed:
    tx_hash: str
    error: str


@pytest.fixture(scope="module")
def failed(certified: Certified) -> Failed:
    """A transfer of more than the holder has, mined (explicit gas skips the simulation) and reverted."""
    w = certified.world
    c, holder = w.client, w.cast.holder
    too_much = c.balance_of(holder.address, w.batch_id) + 1
    with pytest.raises(RegistryRevertError) as info:
        c.transfer(holder.address, w.cast.buyer.address, w.batch_id, too_much, sender=holder, gas=200_000)
    block = c.rpc.call("eth_getBlockByNumber", "latest", False)
    tx_hash = block["transactions"][-1]
    assert int(c.rpc.call("eth_getTransactionReceipt", tx_hash)["status"], 16) == 0
    return Failed(tx_hash, info.value.name)


def html_of(response: Any, status: int = 200) -> str:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    return str(response.text)


def holdings(page: str) -> dict[str, tuple[int, int, int, int]]:
    return {key: (int(b), int(f), int(p), int(z)) for key, b, f, p, z in HOLDING.findall(page)}


# ------------------------------------------------------------------ pages


def test_home_lists_the_latest_blocks_with_their_registry_events(
    web: TestClient, certified: Certified, retirement: Retirement
) -> None:
    rpc = certified.world.client.rpc
    latest = int(rpc.call("eth_blockNumber"), 16)
    page = html_of(web.get("/explorer"))
    assert f'<a href="/explorer/block/{latest}">{latest}</a>' in page
    assert 'action="/explorer/search"' in page and "最新区块 Latest blocks" in page
    if latest - retirement.block_number < 20:
        block = rpc.call("eth_getBlockByNumber", hex(retirement.block_number), False)
        logs = rpc.call("eth_getTransactionReceipt", retirement.tx_hash)["logs"]
        ours = sum(1 for lg in logs if lg["address"].lower() == certified.world.client.address.lower())
        row = re.search(rf'<tr><td class="num"><a href="/explorer/block/{retirement.block_number}">.*?</tr>', page)
        assert row is not None
        cells = re.findall(r'<td class="num">(\d+)</td>', row.group(0))
        assert cells == [str(len(block["transactions"])), str(ours)]
    older = html_of(web.get(f"/explorer?upto={latest - 20}"))
    assert f'<a href="/explorer/block/{latest - 20}">{latest - 20}</a>' in older
    assert f'<a href="/explorer/block/{latest}">' not in older


def test_tx_page_decodes_the_retirement(web: TestClient, certified: Certified, retirement: Retirement) -> None:
    w = certified.world
    page = html_of(web.get(f"/explorer/tx/{retirement.tx_hash}?log={retirement.log_index}"))
    section = re.search(
        rf'<section class="event hl" id="log-{retirement.log_index}" data-event="CreditsRetired">'
        r".*?</section>",
        page,
        re.DOTALL,
    )
    assert section is not None, page
    event = section.group(0)
    assert f'<span class="amount">{RETIRED_KG}</span> kgCO2e' in event
    assert "VOLUNTARY (8)" in event
    assert f'href="/explorer/address/{w.cast.holder.address}"' in event
    assert f'<a class="batch" href="/explorer/batch/{w.batch_id}">{w.batch_id}</a>' in event
    assert retirement.rid in event
    assert '<span class="ok">success 成功</span>' in page
    assert "TransferSingle" in page  # the burn, decoded too
    assert "Method</th><td>retire</td>" in page.replace("方法 ", "")


def test_tx_page_decodes_a_revocation_list_event(web: TestClient, certified: Certified) -> None:
    cert_id = certified.certify_new(Scenario.VOLUNTARY, 3, "赵敏", fields={"message": "explorer"})
    tx_hash = certified.service.revoke(cert_id, "explorer test")
    page = html_of(web.get(f"/explorer/tx/{tx_hash}"))
    section = re.search(
        r'<section class="event" id="log-\d+" data-event="CertificateRevoked">.*?</section>', page, re.DOTALL
    )
    assert section is not None, page
    assert "证书撤销 revocations" in section.group(0)
    assert 'data-arg="leafHash"' in section.group(0) and 'data-arg="operator"' in section.group(0)
    assert "Method</th><td>revoke</td>" in page.replace("方法 ", "")


def test_failed_tx_shows_the_registry_error(web: TestClient, failed: Failed) -> None:
    page = html_of(web.get(f"/explorer/tx/{failed.tx_hash}"))
    assert '<span class="fail">failed 失败</span>' in page
    assert f'<code class="error-name">{failed.error}</code>' in page
    assert failed.error.startswith(("Registry", "ERC1155"))


def test_block_page_by_number_and_by_hash(web: TestClient, certified: Certified, retirement: Retirement) -> None:
    by_number = html_of(web.get(f"/explorer/block/{retirement.block_number}"))
    assert f"区块 Block {retirement.block_number}</h1>" in by_number
    assert f'href="/explorer/tx/{retirement.tx_hash}"' in by_number
    assert "<td>retire</td>" in by_number
    block_hash = certified.world.client.rpc.call("eth_getBlockByNumber", hex(retirement.block_number), False)["hash"]
    by_hash = html_of(web.get(f"/explorer/block/{block_hash}"))
    assert f'href="/explorer/tx/{retirement.tx_hash}"' in by_hash


def test_address_page_shows_the_chain_s_balances_and_status(
    web: TestClient, certified: Certified, retirement: Retirement
) -> None:
    w = certified.world
    c = w.client
    for account, kind in [(w.cast.holder, ParticipantKind.ENTERPRISE), (w.cast.owner, ParticipantKind.PROJECT_OWNER)]:
        page = html_of(web.get(f"/explorer/address/{account.address.lower()}"))
        assert f'<span id="participant-kind">{kind.name}</span>' in page
        assert f'<span id="participant-status">{c.participant(account.address).status.name}</span>' in page
        rows = holdings(page)
        assert rows, page
        for batch, (balance, free, pledged, frozen) in rows.items():
            assert balance == c.balance_of(account.address, int(batch))
            assert free == c.free_balance_of(account.address, int(batch))
            assert (pledged, frozen) == c.locked_of(account.address, int(batch))
        assert str(w.batch_id) in rows
    holder = html_of(web.get(f"/explorer/address/{w.cast.holder.address}"))
    assert f'href="/explorer/tx/{retirement.tx_hash}?log={retirement.log_index}#log-{retirement.log_index}"' in holder
    reserve = c.reserve_account()
    page = html_of(web.get(f"/explorer/address/{reserve}"))
    assert f'<span id="participant-kind">{ParticipantKind.REGISTRY.name}</span>' in page
    assert "reserve account" in page
    assert holdings(page)[str(w.batch_id)][0] == c.balance_of(reserve, w.batch_id)
    registrar = html_of(web.get(f"/explorer/address/{w.cast.registrar.address}"))
    assert "REGISTRAR_ROLE" in registrar and "not a registered participant" in registrar
    assert ParticipantStatus.ACTIVE.name in html_of(web.get(f"/explorer/address/{w.cast.buyer.address}"))


def test_address_history_pages_miss_nothing(certified: Certified, retirement: Retirement) -> None:
    ctx = certified.service.context
    assert ctx.rpc is not None
    holder = certified.world.cast.holder.address
    everything, more = ExplorerNode(ctx.rpc, ctx.deployment).history(holder, limit=10_000)
    assert more is None and len(everything) > 6
    node = ExplorerNode(ctx.rpc, ctx.deployment, chunk=7)  # small windows: many getLogs chunks
    pages, before = [], None
    while True:
        events, before = node.history(holder, before=before, limit=3)
        pages.append(events)
        if before is None:
            break
    seen = [(e.block_number, e.log_index) for page in pages for e in page]
    assert seen == [(e.block_number, e.log_index) for e in everything]
    assert len(pages) > 2


def test_batch_page_matches_the_supply_view_and_balances(
    web: TestClient, certified: Certified, retirement: Retirement
) -> None:
    w = certified.world
    c = w.client
    page = html_of(web.get(f"/explorer/batch/{w.batch_id}"))
    supply = c.supply(w.batch_id)
    for bucket in ("issued", "circulating", "retired", "cancelled"):
        assert f'id="supply-{bucket}">{getattr(supply, bucket)}</td>' in page
    record = c.batch(w.batch_id)
    assert f'<span id="serials">{record.first_serial} – {record.first_serial + record.issued - 1}</span>' in page
    rows = holdings(page)
    assert {to_checksum_address(a) for a in rows} >= {w.cast.holder.address, w.cast.owner.address, c.reserve_account()}
    for account, (balance, free, _pledged, _frozen) in rows.items():
        assert balance == c.balance_of(account, w.batch_id) > 0
        assert free == c.free_balance_of(account, w.batch_id)
    assert sum(b for b, *_ in rows.values()) == supply.circulating
    assert f'href="/explorer/tx/{retirement.tx_hash}?log={retirement.log_index}#log-{retirement.log_index}"' in page
    assert "P-511802-0001" in page


# ------------------------------------------------------------------ search


def test_search_redirects_to_the_right_page(web: TestClient, certified: Certified, retirement: Retirement) -> None:
    w = certified.world
    block_hash = w.client.rpc.call("eth_getBlockByNumber", hex(retirement.block_number), False)["hash"]
    cases = {
        retirement.tx_hash: f"/explorer/tx/{retirement.tx_hash}",
        retirement.tx_hash.upper().replace("0X", "0x"): f"/explorer/tx/{retirement.tx_hash}",
        w.cast.holder.address.lower(): f"/explorer/address/{w.cast.holder.address}",
        f"  {w.batch_id} ": f"/explorer/batch/{w.batch_id}",
        retirement.rid: f"/explorer/tx/{retirement.tx_hash}?log={retirement.log_index}#log-{retirement.log_index}",
        block_hash: f"/explorer/block/{block_hash}",
        "": "/explorer",
    }
    for q, where in cases.items():
        response = web.get("/explorer/search", params={"q": q}, follow_redirects=False)
        assert response.status_code == 303, (q, response.text[:500])
        assert response.headers["location"] == where, q
    landed = html_of(web.get("/explorer/search", params={"q": retirement.rid}))
    assert f'id="log-{retirement.log_index}" data-event="CreditsRetired"' in landed


def test_search_names_what_it_cannot_find(web: TestClient, certified: Certified, retirement: Retirement) -> None:
    chain_id = certified.service.context.deployment.chain_id
    bad = html_of(web.get("/explorer/search", params={"q": "<script>alert(1)</script>"}), 400)
    assert "<script>alert" not in bad and "&lt;script&gt;" in bad
    assert "retirement id" in bad
    unknown = html_of(web.get("/explorer/search", params={"q": "0x" + "ab" * 32}), 404)
    assert "no transaction and no block" in unknown
    other_chain = html_of(web.get("/explorer/search", params={"q": f"{chain_id + 1}-{retirement.tx_hash}-0"}), 404)
    assert f"on chain {chain_id + 1}" in other_chain
    not_a_retirement = html_of(web.get("/explorer/search", params={"q": f"{chain_id}-{retirement.tx_hash}-999"}), 404)
    assert "has no log 999" in not_a_retirement


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/explorer/tx/0x1234", 400, "is not a transaction hash"),
        ("/explorer/tx/0x" + "cd" * 32, 404, "knows no transaction"),
        ("/explorer/block/99999999", 404, "no block number 99999999"),
        ("/explorer/block/abc", 400, "neither a block number"),
        ("/explorer/block/0x" + "ef" * 32, 404, "no block with hash"),
        ("/explorer/address/0xnothex", 400, "is not an address"),
        ("/explorer/batch/999999", 404, "no batch 999999"),
        ("/explorer/batch/-1", 400, "is not a batch id"),
        ("/explorer/batch/1x", 400, "is not a batch id"),
        ("/explorer/address/0x" + "11" * 20 + "?before=abc", 400, "must be a whole number"),
        ("/explorer/nowhere/at/all", 404, "has no page"),
    ],
)
def test_bad_input_gives_an_html_error_page(web: TestClient, path: str, status: int, words: str) -> None:
    page = html_of(web.get(path), status)
    assert words in page
    assert 'id="error"' in page


def test_without_a_node_the_explorer_says_so(certified: Certified) -> None:
    ctx = dataclasses.replace(certified.service.context, rpc=None)
    with TestClient(explorer_app(ctx)) as client:
        page = html_of(client.get("/explorer"), 503)
        assert "No node configured" in page
    ctx = dataclasses.replace(certified.service.context, rpc=JsonRpc("http://127.0.0.1:9", timeout=2))
    with TestClient(explorer_app(ctx)) as client:
        page = html_of(client.get("/explorer/batch/1"), 502)
        assert "Node unreachable" in page


# ------------------------------------------------------------------ a real browser


def test_chromium_searches_a_retirement_and_clicks_through_to_its_batch(
    certified: Certified, retirement: Retirement
) -> None:
    w = certified.world
    with serve_thread(explorer_app(certified.service.context), access_log=False) as base, chromium_page() as page:
        response = page.goto(f"{base}/explorer")
        assert response is not None and response.ok
        assert "区块浏览器" in page.title()
        assert page.locator("#blocks tbody tr").count() > 0
        page.fill("#q", retirement.rid)
        page.click("#search")
        page.wait_for_url(f"**/explorer/tx/{retirement.tx_hash}?log={retirement.log_index}*")
        event = page.locator(f"#log-{retirement.log_index}")
        assert "hl" in (event.get_attribute("class") or "")
        assert event.locator(".event-name").inner_text() == "CreditsRetired"
        assert event.locator('[data-arg="amount"]').inner_text() == f"{RETIRED_KG} kgCO2e"
        assert retirement.rid in event.locator(".retirement-id").inner_text()
        event.locator('[data-arg="batchId"] a.batch').click()
        page.wait_for_url(f"**/explorer/batch/{w.batch_id}")
        assert page.locator("h1").inner_text() == f"批次 Batch {w.batch_id}"
        supply = w.client.supply(w.batch_id)
        assert page.locator("#supply-retired").inner_text() == str(supply.retired)
        assert page.locator("#supply-circulating").inner_text() == str(supply.circulating)
