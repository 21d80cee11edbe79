"""A certificate's footprint breakdown, shown only when the report is disclosed: the verify page
draws it (SVG made on the server by POST /api/v1/footprints/breakdown, the numbers beside it in a
table), in headless Chromium under the page's Content-Security-Policy; the PDF draws it with
reportlab, as text pypdf reads back. A claim's conversion rule is printed as `id@version` with its
sha256 prefix on both. The certificate is the Chengdu conference's (67,808 kg; tests/footprint/
test_certificates.py issues it on a real anvil node)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import footprint
from api.app import create_app
from api.schemas.footprint import BreakdownPublic
from certificates import footprint_report
from certificates.context import ServiceContext
from certificates.document import hide
from certificates.issuer import CertificationError
from certificates.printable import certificate_view
from certificates.render.breakdown import breakdown_of, svg
from certificates.render.pdf import certificate_pdf
from certificates.settings import ServiceSettings
from chain.types import Scenario
from tests.api.browser import chromium_page, pdf_text
from tests.api.conftest import Certified
from tests.api.server import free_port, serve_thread
from tests.footprint.test_calculators import CHAIRS
from tests.footprint.test_certificates import (  # noqa: F401  # the module's fixtures: one registry, one certificate
    FIELD,
    MEMBER,
    all_valid,
    api,
    certified,
    conference,
    neutral,
    place,
    report_file,
    verdicts,
)

# the conference's categories (docs/footprint.md): electricity 2,808; travel 46,500 + 3,600 + 2,400 = 52,500;
# lodging 9,000; catering 2,500; materials 1,000 declared; total 67,808. Shares: 52,500 ÷ 67,808 = 77.4%,
# 9,000 ÷ 67,808 = 13.3%, 2,808 ÷ 67,808 = 4.1%, 2,500 ÷ 67,808 = 3.7%, 1,000 ÷ 67,808 = 1.5%
EXPECTED = [
    ("electricity-heat", "2,808 kg", "4.1%"),
    ("travel", "52,500 kg", "77.4%"),
    ("lodging", "9,000 kg", "13.3%"),
    ("catering", "2,500 kg", "3.7%"),
    ("materials", "1,000 kg", "1.5%"),
]
RULE = {"id": "cn-tree-duty", "version": 1, "sha256": "ab12cd34ef56" + "0" * 52}


@pytest.fixture(scope="module")
def live(certified: Certified) -> Iterator[str]:  # noqa: F811  # the imported fixture, by name
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ctx = certified.service.context
    context = ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(public_url=base), ctx.rpc)
    with serve_thread(create_app(context), port, access_log=False) as url:
        yield url


def test_the_svg_is_the_reports_own_numbers(api: TestClient, certified: Certified, neutral: str) -> None:  # noqa: F811
    doc = certified.public(neutral)
    drawn = api.post("/api/v1/footprints/breakdown", json=doc)
    assert drawn.status_code == 200, drawn.text
    answer = BreakdownPublic.model_validate_json(drawn.content, strict=True)
    assert [(b.category, f"{b.kgco2e:,} kg", b.share) for b in answer.bars] == EXPECTED
    assert answer.total_kgco2e == 67_808 and answer.method == "event-mee-2019@1" and answer.illustrative
    image = answer.svg
    assert image.startswith("<svg") and "http" not in image.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    for category, kg, share in EXPECTED:
        assert f'data-category="{category}"' in image and f"{kg} · {share}" in image
    assert "合计 Total 67,808 kg" in image
    # a hidden report is not drawn; nor is a document without one, nor one that is not JSON
    hidden = hide(doc, [FIELD])
    assert MEMBER not in hidden
    assert api.post("/api/v1/footprints/breakdown", json=hidden).status_code == 404
    assert api.post("/api/v1/footprints/breakdown", json=[1, 2]).status_code == 404
    bad = api.post("/api/v1/footprints/breakdown", content=b"{no", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")


def test_labels_are_escaped_in_the_svg(conference: Any) -> None:  # noqa: F811
    report = copy.deepcopy(conference.document)
    report["categories"][0]["zh"] = '<script>alert(1)</script>"&'
    found = breakdown_of(report)
    assert found is not None
    image = svg(found)
    assert "<script>" not in image and "&lt;script&gt;alert(1)&lt;/script&gt;" in image


def test_the_pdf_draws_the_breakdown_only_when_disclosed(certified: Certified, neutral: str) -> None:  # noqa: F811
    doc = certified.public(neutral)
    text = pdf_text(certificate_pdf(certificate_view(doc, "http://testserver/verify/x")))
    flat = text.replace("\n", " ")
    assert "碳足迹构成" in flat and "Footprint breakdown" in flat
    for _, kg, share in EXPECTED:
        assert f"{kg} · {share}" in flat
    assert "合计 Total 67,808 kg" in flat and "event-mee-2019@1" in flat
    hidden = pdf_text(certificate_pdf(certificate_view(hide(doc, [FIELD]), "http://testserver/verify/x")))
    assert "Footprint breakdown" not in hidden and "52,500 kg" not in hidden


def test_the_pdf_prints_a_claims_conversion_rule(certified: Certified, neutral: str) -> None:  # noqa: F811
    doc = certified.public(neutral)
    assert "换算规则" not in pdf_text(certificate_pdf(certificate_view(doc, "http://testserver/verify/x")))
    doc["certificate"]["claim"]["rule"] = RULE
    flat = pdf_text(certificate_pdf(certificate_view(doc, "http://testserver/verify/x"))).replace("\n", " ")
    assert "换算规则" in flat and "Conversion rule" in flat and "cn-tree-duty@1 · sha256 ab12cd34ef560000…" in flat


def test_the_verify_page_shows_the_breakdown_beside_its_numbers(live: str, certified: Certified, neutral: str) -> None:  # noqa: F811
    with chromium_page() as page:
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        # what this page's own blocks could be refused: a script, the style block, the data: image, the fetch
        page.on("console", lambda m: problems.append(m.text) if m.text.startswith("Refused to") else None)
        page.goto(f"{live}/verify/{neutral}")
        page.wait_for_selector("#verdict[data-verdict]", state="attached")
        assert page.locator("#verdict").get_attribute("data-verdict") == "valid"
        page.wait_for_selector("#footprint-breakdown:not([hidden])")
        chart = page.locator("#footprint-chart svg")
        assert chart.count() == 1 and chart.bounding_box()["width"] > 300  # type: ignore[index]  # it is laid out
        drawn = chart.text_content() or ""
        assert "52,500 kg · 77.4%" in drawn and "合计 Total 67,808 kg" in drawn and "交通" in drawn
        rows = page.locator("#footprint-numbers tr")
        shown = [
            (rows.nth(i).get_attribute("data-category"), rows.nth(i).locator("td.num").nth(0).inner_text())
            for i in range(rows.count())
        ]
        assert shown == [(c, kg) for c, kg, _ in EXPECTED] + [("total", "67,808 kg")]
        assert rows.nth(1).locator("td.num").nth(1).inner_text() == "77.4%"
        assert "event-mee-2019@1" in page.locator("#footprint-method").inner_text()
        assert page.locator("#conversion-rule").is_hidden()
        assert page.locator("#footprint-unverified").is_hidden()  # a valid certificate's numbers need no caveat

        # the same certificate with its report hidden: no chart, no numbers
        hidden = hide(certified.public(neutral), [FIELD])
        page.evaluate("() => { delete document.getElementById('verdict').dataset.verdict; }")
        page.fill("#doc", json.dumps(hidden, ensure_ascii=False))
        page.click("#verify")
        page.wait_for_selector("#verdict[data-verdict]", state="attached")
        page.wait_for_selector("#footprint-breakdown", state="hidden")
        assert page.locator("#footprint-numbers tr").count() == 0 and page.locator("#footprint-chart svg").count() == 0

        # a claim carrying a conversion rule shows it (the changed claim makes the verdict invalid: it is shown anyway)
        ruled = certified.public(neutral)
        ruled["certificate"]["claim"]["rule"] = RULE
        page.evaluate("() => { delete document.getElementById('verdict').dataset.verdict; }")
        page.fill("#doc", json.dumps(ruled, ensure_ascii=False))
        page.click("#verify")
        page.wait_for_selector("#conversion-rule:not([hidden])")
        page.wait_for_selector("#footprint-breakdown:not([hidden])")
        assert page.locator("#verdict").get_attribute("data-verdict") == "invalid"
        assert page.locator("#footprint-unverified").is_visible()  # the changed claim: its numbers are not vouched for
        assert (
            page.locator("#conversion-rule").inner_text()
            == "换算规则 / Conversion rule: cn-tree-duty@1 · sha256 ab12cd34ef560000…"
        )
        assert not problems, problems


def test_product_and_building_certificates_rest_on_their_reports(
    certified: Certified,  # noqa: F811
    api: TestClient,  # noqa: F811
    tmp_path: Any,
) -> None:
    # 1,000 chairs: 6,461 kg (test_calculators.py); a 120 m² shop's year: 12,000 kWh × 0.1404 = 1,684.8 → 1,685 kg,
    # 14.04 kg/m² (1,684.8 ÷ 120)
    shop = {
        "subject": "building",
        "region": "510104",
        "year": 2026,
        "floor_area_m2": 120,
        "lines": [{"activity": "grid-electricity", "quantity": 12000, "unit": "kWh"}],
    }
    for scenario, data, retire, total in (
        (Scenario.PRODUCT, CHAIRS, 6_500, 6_461),
        (Scenario.BUILDING, shop, 1_700, 1_685),
    ):
        report = footprint.compute(data)
        assert report.total_kg == total
        path = tmp_path / f"{scenario.name}.json"
        path.write_text(json.dumps(report.output(), ensure_ascii=False), "utf-8")
        cert_id = certified.certify_new(
            scenario, retire, "成都某公司", fields={"subject": "test"}, footprint_report=footprint_report.read(path)
        )
        doc = certified.public(cert_id)
        assert doc["certificate"]["claim"] == {"quantity_kg": retire, "footprint_kg": total, "carbon_neutral": True}
        assert doc[MEMBER] == report.document
        assert all_valid(verdicts(certified, api, doc, tmp_path))
        drawn = BreakdownPublic.model_validate_json(api.post("/api/v1/footprints/breakdown", json=doc).content)
        assert drawn.method == f"{scenario.name.lower()}-simplified@1" and drawn.total_kgco2e == total
        pdf = pdf_text(certificate_pdf(certificate_view(doc, "http://testserver/verify/x"))).replace("\n", " ")
        assert f"合计 Total {total:,} kg" in pdf
    # a product's report does not back a building's certificate
    with pytest.raises(CertificationError, match="report is of a product, not of the building"):
        certified.certify_new(
            Scenario.BUILDING,
            6_500,
            "成都某公司",
            fields={"subject": "test"},
            footprint_report=footprint.compute(CHAIRS).document,
        )
