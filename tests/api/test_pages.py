"""The pages for people, in headless Chromium (Debian's) against the app served by uvicorn: the
verify page opened by id shows a valid certificate with every check ticked; a tampered document
pasted in is invalid and its failed check's row says so. The printable PDF, fetched from the
server: its QR code decodes to the live verify page, its text is Chinese and English, and only a
carbon-neutral certificate says "carbon neutral"."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings
from certificates.verify import CHECKS
from chain.types import Scenario
from tests.api.browser import chromium_page, decode_qr, is_blank, pdf_text, pdf_to_png
from tests.api.conftest import Certified
from tests.api.server import free_port, serve_thread


@pytest.fixture(scope="module")
def live(certified: Certified) -> Iterator[str]:
    """The app under uvicorn; its public URL is its own address, so the QR codes point at it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ctx = certified.service.context
    context = ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(public_url=base), ctx.rpc)
    with serve_thread(create_app(context), port, access_log=False) as url:
        assert url == base
        yield base


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        assert r.status == 200
        return r.read()


def check_rows(page: Any) -> dict[str, tuple[str, str]]:
    rows = page.locator("#checks tr")
    return {
        rows.nth(i).get_attribute("data-check"): (
            rows.nth(i).get_attribute("data-ok"),
            rows.nth(i).locator("td.mark").inner_text(),
        )
        for i in range(rows.count())
    }


def test_the_verify_page_shows_a_good_and_a_tampered_certificate(live: str, certified: Certified) -> None:
    cert_id = certified.ids[Scenario.LARGE_EVENT]
    with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{live}/verify/{cert_id}")
        page.wait_for_selector("#verdict[data-verdict]")
        assert page.locator("#verdict").get_attribute("data-verdict") == "valid"
        assert "证书有效" in page.locator("#verdict").inner_text()
        rows = check_rows(page)
        assert list(rows) == list(CHECKS)
        assert all(v == ("true", "✓") for v in rows.values()), rows
        assert cert_id in page.locator("#summary").inner_text()
        loaded = json.loads(page.locator("#doc").input_value())
        assert loaded["certificate"]["id"] == cert_id

        tampered = certified.public(cert_id)
        tampered["disclosed"]["event_name"]["value"] = "另一个活动"
        page.evaluate("() => { const v = document.getElementById('verdict'); delete v.dataset.verdict; }")
        page.fill("#doc", json.dumps(tampered, ensure_ascii=False))
        page.click("#verify")
        page.wait_for_selector("#verdict[data-verdict]")
        assert page.locator("#verdict").get_attribute("data-verdict") == "invalid"
        assert "证书无效" in page.locator("#verdict").inner_text()
        rows = check_rows(page)
        assert rows["fields"] == ("false", "×")
        assert all(v == ("true", "✓") for k, v in rows.items() if k != "fields"), rows
        assert not errors, errors


def test_the_verify_page_reports_an_unknown_certificate(live: str) -> None:
    with chromium_page() as page:
        page.goto(f"{live}/verify/SCCW-31337-999999")
        page.wait_for_selector("#verdict[data-verdict]")
        assert page.locator("#verdict").get_attribute("data-verdict") == "error"
        assert "SCCW-31337-999999" in page.locator("#verdict").inner_text()


NEUTRAL = re.compile(r"carbon[\s\-]*neutral", re.IGNORECASE)


def test_the_pdf_qr_text_and_carbon_neutral_wording(live: str, certified: Certified) -> None:
    for scenario, cert_id in certified.ids.items():
        pdf = fetch(f"{live}/certificates/{cert_id}.pdf")
        assert pdf.startswith(b"%PDF")
        image = pdf_to_png(pdf, 0)
        assert not is_blank(image)
        assert decode_qr(image) == [f"{live}/verify/{cert_id}"], scenario
        text = pdf_text(pdf)
        flat = re.sub(r"\s+", "", text)
        assert cert_id in flat and "证书" in text, scenario
        claim = certified.public(cert_id)["certificate"]["claim"]
        if claim.get("carbon_neutral") is True:
            assert "碳中和见证" in flat and NEUTRAL.search(text), (scenario, text[:400])
        else:
            assert "碳中和" not in flat and not NEUTRAL.search(text), (scenario, text[:600])
    event = pdf_text(fetch(f"{live}/certificates/{certified.ids[Scenario.LARGE_EVENT]}.pdf"))
    assert "碳中和见证" in re.sub(r"\s+", "", event)
    assert "成都大运会论坛" in re.sub(r"\s+", "", event)  # a disclosed field, in Chinese
