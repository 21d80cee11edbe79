"""The public registry's pages in headless Chromium: every list with its filter form and next
page, the sanctions notices with their documents, the statistics dashboard with its SVG charts,
numbers and CSV links; the pages' stylesheet passes the Content-Security-Policy (no violation)."""

from __future__ import annotations

import csv
import io
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes.registry_pages import PAGES
from public import lists, stats
from tests.api.browser import chromium_page
from tests.api.server import serve_thread
from tests.conftest import PROJECT
from tests.public.conftest import Public, public_registry  # noqa: F401  # the fixture, for this module

GREEN = "rgb(31, 95, 58)"  # the header's background in explorer/style.css: the stylesheet was applied


@pytest.fixture(scope="module")
def site(public_registry: Public) -> Iterator[str]:  # noqa: F811
    with serve_thread(create_app(public_registry.certified.service.context), access_log=False) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[tuple[Any, list[str]]]:
    with chromium_page() as page:
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        yield page, problems


def test_every_list_page_shows_its_rows_and_downloads(site: str, public_registry: Public, browser: Any) -> None:  # noqa: F811
    page, problems = browser
    for name in PAGES:
        response = page.goto(f"{site}/registry/{name}")
        assert response is not None and response.ok, name
        assert page.locator("#title").inner_text() == lists.SPECS[name].title
        with public_registry.certified.service.engine.connect() as conn:
            expected = lists.page(conn, name, {}).rows
        keys = ["|".join(str(r[k]) for k in lists.SPECS[name].keys) for r in expected]
        assert page.locator("#rows tbody tr").evaluate_all("rs => rs.map(r => r.dataset.key)") == keys, name
        assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == GREEN
        csv_url = page.locator("#csv").get_attribute("href")
        with urllib.request.urlopen(f"{site}{csv_url}") as r:
            rows = list(csv.DictReader(io.StringIO(r.read().decode())))
        assert len(rows) == len(expected) and {row["record_type"] for row in rows} == {lists.SPECS[name].record_type}
    assert not [p for p in problems if "Content Security Policy" in p], problems


def test_a_filter_form_narrows_the_list_and_next_pages_through(
    site: str,
    public_registry: Public,  # noqa: F811
    browser: Any,
) -> None:
    page, _ = browser
    page.goto(f"{site}/registry/retirements")
    page.fill("input[name=scenario]", "large_event")
    page.click("#filters button")
    page.wait_for_url("**/registry/retirements?scenario=large_event*")  # and the empty fields
    amounts = page.locator("#rows tbody tr td:nth-child(5)").all_inner_texts()
    assert sorted(amounts) == ["1,250", "150"]  # the demo's 1,250 kg and the activity's 150 kg
    assert "scenario=large_event" in (page.locator("#csv").get_attribute("href") or "")
    page.goto(f"{site}/registry/projects?methodology=scfm_001_v01")
    assert page.locator("#rows tbody tr").evaluate_all("rs => rs.map(r => r.dataset.key)") == [PROJECT]
    seen = []
    page.goto(f"{site}/registry/batches?limit=1")
    while True:
        seen += page.locator("#rows tbody tr").evaluate_all("rs => rs.map(r => r.dataset.key)")
        if page.locator("#next").count() == 0:
            break
        page.click("#next")
        page.wait_for_load_state()
    with public_registry.certified.service.engine.connect() as conn:
        batches = [str(b["id"]) for b in lists.page(conn, "batches", {}, None, lists.MAX_LIMIT).rows]
    assert seen == batches and len(batches) > 1  # one a page, in id order, none twice
    response = page.goto(f"{site}/registry/retirements?scenario=wedding")
    assert response is not None and response.status == 422
    assert "scenario 'wedding' is not one of" in page.locator("#error").inner_text()


def test_the_sanctions_page_notifies_with_date_reason_and_document(
    site: str,
    public_registry: Public,  # noqa: F811
    browser: Any,
) -> None:
    page, problems = browser
    page.goto(f"{site}/registry/sanctions")
    assert page.locator("#title").inner_text() == "处理通报 Sanctions notices"
    notices = page.locator(".event")
    assert notices.evaluate_all("ns => ns.map(n => n.dataset.status)") == ["revoked", "restricted", "suspended"]
    assert not [p for p in problems if "Content Security Policy" in p], problems
    restricted = page.locator('.event[data-status="restricted"]')
    assert restricted.locator(".reason").inner_text() == public_registry.reason_hash
    assert restricted.locator(".date").inner_text().endswith("UTC")
    with page.expect_download() as download:
        restricted.locator("a.document").click()
    saved = download.value.path()
    assert saved is not None and "林草局处理决定" in saved.read_text(encoding="utf-8")
    assert page.locator('.event[data-status="revoked"]').inner_text().count("未公开 not public") == 1


def test_the_dashboard_draws_each_chart_with_its_numbers_and_csv(
    site: str,
    public_registry: Public,  # noqa: F811
    browser: Any,
) -> None:
    page, problems = browser
    page.goto(f"{site}/registry/statistics")
    with public_registry.certified.service.engine.connect() as conn:
        s = stats.statistics(conn)
    assert page.locator("#total-retired").inner_text() == f"{s.totals.retired_kg:,} kg"
    for name in stats.BREAKDOWNS:
        section = page.locator(f"#chart-{name}")
        assert section.locator("svg").count() == 1
        box = section.locator("svg").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 40  # drawn, not blank
        keys = section.locator("table.numbers tbody tr").evaluate_all("rs => rs.map(r => r.dataset.key)")
        assert keys == [b.key for b in s.by[name]]
        href = section.locator("a.csv").get_attribute("href")
        with urllib.request.urlopen(f"{site}{href}") as r:
            table = list(csv.DictReader(io.StringIO(r.read().decode())))
        assert [row[name] for row in table] == keys
    # the retired bars of the scenario chart: one per scenario, labelled with its kilograms
    labels = page.locator("#chart-scenario svg text").all_text_contents()
    large = next(b.retired_kg for b in s.by["scenario"] if b.key == "large_event")
    assert f"{large:,} kg" in labels
    assert not [p for p in problems if "Content Security Policy" in p], problems


def test_the_home_page_links_every_list(public_registry: Public) -> None:  # noqa: F811
    with TestClient(create_app(public_registry.certified.service.context)) as web:
        home = web.get("/registry")
        assert home.status_code == 200
        for name in PAGES:
            assert f'href="/registry/{name}"' in home.text
        assert web.get("/registry/wallets").status_code == 404


def test_a_value_from_the_chain_reaches_a_page_as_text() -> None:
    """A project id is any printable ASCII the operator registered: `<script>` must stay text."""
    from api.routes.registry_pages import NAV, Cell, ListPage, Row
    from api.templates import render

    evil = "<script>alert(1)</script>"
    page = ListPage("项目 Projects", "/registry/projects", ["项目 Project"], [Row(evil, [Cell(evil)])], [], "/a", "/b")
    html = render("registry/list.html", page=page, nav=NAV)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
