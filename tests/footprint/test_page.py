"""The footprint page (碳核算, /footprint) in headless Chromium against the app under uvicorn: a
form filled in as a person would computes, through POST /api/v1/footprints, the same total the
library computes, with a bar per category and the way on to offsetting; bad activity data shows
the problem's line; script-bearing text typed into the form comes back as text, and nothing runs
(the page's own script runs under the Content-Security-Policy, by its hash)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import footprint
from api.app import create_app
from tests.api.browser import chromium_page
from tests.api.server import serve_thread
from tests.api.test_xss import ALL, INERT
from tests.footprint.conftest import example


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    # the page and the footprint route read no registry: the app without a service context serves them
    with serve_thread(create_app(None), access_log=False) as url:  # type: ignore[arg-type]  # no context needed
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_page() as page:
        yield page


@pytest.fixture
def page(live: str, browser: Any) -> Iterator[Any]:
    """The page freshly loaded, collecting script errors and CSP refusals; none may happen (a 422's
    "Failed to load resource" in the console is the answer the error tests ask for)."""
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    browser.on("pageerror", lambda e: problems.append(str(e)))
    browser.on("console", on_console)
    response = browser.goto(f"{live}/footprint")
    assert response is not None and response.status == 200
    assert browser.locator("#lines tbody tr").count() == 1  # the script ran: it adds the first line
    yield browser
    browser.remove_listener("console", on_console)
    assert not problems, problems


def api_total(live: str, data: dict[str, Any]) -> int:
    request = urllib.request.Request(
        f"{live}/api/v1/footprints", json.dumps(data).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        total: int = json.loads(r.read())["report"]["total_kgco2e"]
        return total


def compute(page: Any) -> str:
    page.evaluate("() => { delete document.getElementById('result').dataset.state; }")
    page.click("#compute")
    page.wait_for_selector("#result[data-state]", state="attached")
    return str(page.locator("#result").get_attribute("data-state"))


def fill_line(page: Any, n: int, **values: str) -> None:
    row = page.locator("#lines tbody tr").nth(n)
    if "activity" in values:
        row.locator("select.activity").select_option(values.pop("activity"))
    if "category" in values:
        row.locator("select.category").select_option(values.pop("category"))
    for name, value in values.items():
        row.locator(f"input.{name}").fill(value)


def test_a_household_typed_in_gets_the_total_the_api_computes(page: Any, live: str) -> None:
    # 1,200 kWh × 0.1404 (四川 2022) = 168.48 → 169; 200 m³ × 2.16* = 432; 8,000 pkm × 0.20* = 1,600: 2,201 kg
    page.select_option("#subject", "person")
    page.fill("#region", "510104")
    page.fill("#year", "2025")
    fill_line(page, 0, activity="grid-electricity", quantity="1200", label="home electricity")
    page.click("#add")
    fill_line(page, 1, activity="natural-gas", quantity="200", label="cooking and hot water")
    page.click("#add")
    fill_line(page, 2, activity="car-passenger", quantity="8000", label="the family car")
    assert page.locator("#lines tbody tr").nth(2).locator("input.unit").input_value() == "pkm"
    assert compute(page) == "done"
    expected = footprint.compute(example("chengdu_household.json")).total_kg
    assert expected == api_total(live, example("chengdu_household.json")) == 2_201
    assert page.locator("#total").get_attribute("data-kg") == "2201"
    assert page.locator("#total").inner_text() == "2,201" and page.locator("#tonnes").inner_text() == "2.201"
    bars = page.locator("#chart rect.bar")
    assert [(bars.nth(i).get_attribute("data-category"), bars.nth(i).get_attribute("data-kg")) for i in range(2)] == [
        ("housing", "601"),
        ("travel", "1600"),
    ]
    widths = [float(bars.nth(i).get_attribute("width")) for i in range(2)]
    assert widths[1] == 700 and widths[0] == round(601 / 1600 * 700)  # bars to scale, the largest full width
    assert page.locator("#report-lines tr[data-activity]").count() == 3
    assert page.locator("#warnings li").count() == 2  # gas and car rest on illustrative factors
    assert page.locator("#retire-kg").inner_text() == "2,201"
    offset = page.locator("#offset").inner_text()
    assert "继续抵消" in offset and "Continue to offsetting" in offset and "--certify" in offset
    assert page.locator("#offset a[href='/verify']").count() == 1
    shown = json.loads(page.locator("#report-json").input_value())
    assert (
        shown
        == footprint.compute(
            {
                "subject": "person",
                "region": "510104",
                "year": 2025,
                "lines": [
                    {"activity": "grid-electricity", "quantity": "1200", "unit": "kWh", "label": "home electricity"},
                    {"activity": "natural-gas", "quantity": "200", "unit": "m3", "label": "cooking and hot water"},
                    {"activity": "car-passenger", "quantity": "8000", "unit": "pkm", "label": "the family car"},
                ],
            }
        ).output()
    )


def test_an_event_with_flights_per_passenger_and_a_declared_figure(page: Any, live: str) -> None:
    # 100 × 3,100 km = 310,000 pkm × 0.15* × 2 (aviation multiplier) = 93,000; 1,000 kg declared materials
    page.select_option("#subject", "event")
    page.fill("#title", "2-day conference")
    page.fill("#region", "510100")
    page.fill("#year", "2026")
    page.fill("#multiplier", "2")
    fill_line(page, 0, activity="flight-economy", quantity="3100", unit="km", passengers="100")
    page.click("#add")
    fill_line(page, 1, activity="declared-kgco2e", category="materials", quantity="1000", label="badges")
    assert compute(page) == "done"
    data = {
        "subject": "event",
        "title": "2-day conference",
        "region": "510100",
        "year": 2026,
        "aviation_multiplier": "2",
        "lines": [
            {"activity": "flight-economy", "quantity": "3100", "unit": "km", "passengers": 100},
            {"activity": "declared-kgco2e", "quantity": "1000", "unit": "kgCO2e", "category": "materials"},
        ],
    }
    assert api_total(live, data) == 94_000
    assert page.locator("#total").get_attribute("data-kg") == "94000"
    assert page.locator("#result-title").inner_text() == "2-day conference"
    assert "aviation multiplier applied" in page.locator("#method").inner_text()


def test_a_building_and_a_product_typed_in_get_their_per_m2_and_per_unit_figures(page: Any, live: str) -> None:
    # a year of 100,000 kWh in Chengdu over 2,000 m²: 100,000 × 0.1404 (四川 2022) = 14,040 kg, 7.02 kg/m²
    assert page.locator("#for-building").is_hidden() and page.locator("#for-product").is_hidden()
    page.select_option("#subject", "building")
    assert page.locator("#for-building").is_visible() and page.locator("#for-product").is_hidden()
    page.fill("#region", "510100")
    page.fill("#year", "2025")
    page.fill("#floor-area", "2000")
    fill_line(page, 0, activity="grid-electricity", quantity="100000")
    assert compute(page) == "done"
    data = {
        "subject": "building",
        "region": "510100",
        "year": 2025,
        "floor_area_m2": "2000",
        "lines": [{"activity": "grid-electricity", "quantity": "100000", "unit": "kWh"}],
    }
    report = footprint.compute(data).output()["report"]
    assert report["total_kgco2e"] == api_total(live, data) == 14_040
    assert page.locator("#total").get_attribute("data-kg") == "14040"
    per = page.locator("#per").inner_text()
    assert f"运行 {report['building']['operational_kgco2e_per_m2_year']} kg/m²" in per
    assert report["building"]["operational_kgco2e_per_m2_year"] in ("7.02", "7.020")
    # the same line as one product's, × 50 units: the per-unit figure is the lines' sum
    page.select_option("#subject", "product")
    assert page.locator("#for-product").is_visible() and page.locator("#for-building").is_hidden()
    page.fill("#units", "50")
    assert compute(page) == "done"
    assert page.locator("#total").get_attribute("data-kg") == str(14_040 * 50)
    assert "per unit, × 50 units" in page.locator("#per").inner_text()


def test_the_example_button_fills_the_household(page: Any) -> None:
    page.click("#example-person")
    assert compute(page) == "done"
    assert page.locator("#total").get_attribute("data-kg") == "2201"


def test_bad_activity_data_shows_the_problem_line(page: Any) -> None:
    page.fill("#region", "540000")  # 西藏: no grid factor published, and grid electricity never falls back
    fill_line(page, 0, activity="grid-electricity", quantity="100")
    assert compute(page) == "error"
    shown = page.locator("#error").inner_text()
    assert "Invalid activity data" in shown and "no grid-electricity factor for 540000" in shown
    assert page.locator("#result").is_hidden()
    fill_line(page, 0, quantity="-1")
    page.fill("#region", "510100")
    assert compute(page) == "error"
    assert "negative" in page.locator("#error").inner_text()


@pytest.mark.parametrize("payload", ALL)
def test_payloads_typed_into_the_form_are_text(page: Any, payload: str) -> None:
    page.fill("#title", payload)
    fill_line(page, 0, activity="meal", quantity="2", label=payload)
    assert compute(page) == "done"
    found = page.evaluate(INERT)
    assert found == {"xss": "undefined", "handlers": [], "jsLinks": [], "scripts": 2, "images": 0}, found
    assert page.locator("#result-title").inner_text() == payload
    assert page.locator("#report-lines td.label").inner_text() == payload
    assert json.loads(page.locator("#report-json").input_value())["report"]["title"] == payload

    fill_line(page, 0, unit=payload)  # a unit that is not one: the problem names it, as text
    assert compute(page) == "error"
    assert page.evaluate(INERT)["xss"] == "undefined"
    assert payload in page.locator("#error").inner_text()


def test_the_page_runs_and_is_styled_under_its_csp(page: Any, live: str) -> None:
    with urllib.request.urlopen(f"{live}/footprint", timeout=30) as r:
        csp, html = r.headers["Content-Security-Policy"], r.read().decode()
    blocks = {tag: re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL) for tag in ("script", "style")}
    # the page's own, and the web font's (api/templates/fonts.css, api/templates/fontfix.js)
    assert len(blocks["script"]) == len(blocks["style"]) == 2
    for tag, found in blocks.items():
        for block in found:
            digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp.split(f"{tag}-src", 1)[1].split(";", 1)[0]
    assert "unsafe-inline" not in csp and "connect-src 'self'" in csp
    assert page.locator("#error").evaluate("e => getComputedStyle(e).display") == "none"  # the style applied
    page.fill("#region", "nowhere")
    fill_line(page, 0, activity="meal", quantity="1")
    assert compute(page) == "error"
    assert page.locator("#error").evaluate("e => getComputedStyle(e).display") == "block"
