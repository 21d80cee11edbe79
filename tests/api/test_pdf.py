"""The printable certificate: real embedded Chinese text, a QR code that decodes to the verify URL,
the revoked mark, and retirements that flow onto more pages without losing a row."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from certificates.render import pdf as pdf_module
from certificates.render.pdf import CertificateFontMissing, certificate_pdf
from certificates.render.view import CertificateView, PrintedField, PrintedRetirement
from certificates.settings import ServiceSettings
from chain.paths import HARDHAT_DIR
from tests.api.browser import decode_qr, is_blank, pdf_page_count, pdf_text, pdf_to_png

CHAIN_ID = 31337
VERIFY_URL = "http://127.0.0.1:8000/verify/SCCW-31337-000001?h=9f86d081884c7d659a2feaa0c55ad015"


def tx_hash(i: int) -> str:
    return "0x" + f"{i:08x}" + "5e" * 28


def retirement(i: int) -> PrintedRetirement:
    first = i * 250 + 1
    return PrintedRetirement(
        retirement_id=f"{CHAIN_ID}-{tx_hash(i)}-{i % 7}",
        batch="SC-LC-511802-2024-0001",
        serials=f"SC-LC-511802-2024-0001-{first:06d}–{first + 249:06d}",
        amount_kg=250,
        tx_hash=tx_hash(i),
        block_number=100 + i,
    )


def make_view(retirements: int = 2, **changes) -> CertificateView:
    rets = [retirement(i) for i in range(retirements)]
    total_t = sum(r.amount_kg for r in rets) / 1000
    view = CertificateView(
        certificate_id="SCCW-31337-000001",
        scenario_zh="大型活动",
        scenario_en="Large event",
        title_zh="碳中和见证证书",
        title_en="Carbon-neutrality witness certificate",
        statement_zh=f"2026 成都国际马拉松已注销 {total_t:.3f} 吨二氧化碳当量，实现碳中和。",
        statement_en=f"The 2026 Chengdu Marathon has retired {total_t:.3f} tCO2e and is carbon neutral.",
        quantity_t=f"{total_t:.3f} tCO2e",
        fields=[
            PrintedField("活动名称", "Event name", "2026 成都国际马拉松"),
            PrintedField("举办地点", "Venue", "四川省成都市"),
            PrintedField("主办单位", "Organiser", "（未公开）/ (not disclosed)"),
        ],
        retirements=rets,
        issued_at="2026-11-24T02:30:00+00:00",
        issuer="四川林草碳普惠登记簿 Sichuan Forestry & Grassland Carbon Registry",
        chain="chain 31337, contract 0x5FbDB2315678afecb367f032d93F642f64180aa3",
        log="leaf 12 of tree 16, root 0x" + "ab" * 32 + ", anchored in tx 0x" + "cd" * 32 + " (block 123)",
        verify_url=VERIFY_URL,
    )
    return dataclasses.replace(view, **changes)


def squeeze(text: str) -> str:
    """Text without whitespace: long hashes wrap inside their table cells."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def plain_pdf() -> bytes:
    return certificate_pdf(make_view())


def test_is_a_one_page_pdf(plain_pdf: bytes) -> None:
    assert plain_pdf.startswith(b"%PDF-")
    assert plain_pdf.rstrip().endswith(b"%%EOF")
    assert pdf_page_count(plain_pdf) == 1


def test_chinese_and_english_are_real_text(plain_pdf: bytes) -> None:
    text = pdf_text(plain_pdf)
    for expected in (
        "碳中和见证证书",
        "Carbon-neutrality witness certificate",
        "SCCW-31337-000001",
        "大型活动",
        "Large event",
        "四川省成都市",
        "（未公开）",
        "0.500 tCO2e",
        "实现碳中和",
    ):
        assert expected in text, expected
    assert retirement(1).retirement_id in squeeze(text)
    assert "已撤销" not in text and "REVOKED" not in text


def test_the_cjk_font_is_embedded_as_a_subset(plain_pdf: bytes) -> None:
    assert b"/FontFile2" in plain_pdf  # TrueType outlines inside the file
    assert b"/ToUnicode" in plain_pdf


def test_page_renders_and_the_qr_code_decodes_to_the_verify_url(plain_pdf: bytes) -> None:
    image = pdf_to_png(plain_pdf, page=0, scale=2)
    assert image.size[0] > 1000 and not is_blank(image)
    assert decode_qr(image) == [VERIFY_URL]
    assert VERIFY_URL in squeeze(pdf_text(plain_pdf))


def test_revoked_certificate_is_marked() -> None:
    pdf = certificate_pdf(make_view(revoked=True))
    text = pdf_text(pdf)
    assert "已撤销" in text and "REVOKED" in text
    assert decode_qr(pdf_to_png(pdf)) == [VERIFY_URL]


def test_long_retirement_lists_flow_onto_more_pages_without_losing_rows() -> None:
    count = 60
    pdf = certificate_pdf(make_view(retirements=count, revoked=True))
    pages = pdf_page_count(pdf)
    assert pages >= 2
    text = pdf_text(pdf)
    flat = squeeze(text)
    for i in range(count):
        assert retirement(i).retirement_id in flat, i
    assert f"Page{pages}of{pages}" in flat
    assert squeeze(text.split("\f")[-1]).count("已撤销") == 1  # the mark is on every page, the last included
    assert "15,000" in text  # the total, in kg
    last = pdf_to_png(pdf, page=pages - 1, scale=1)
    assert not is_blank(last)


def test_the_font_setting_defaults_to_where_make_deps_installs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_PDF_FONT", raising=False)
    assert ServiceSettings().pdf_font == HARDHAT_DIR / "node_modules" / "@expo-google-fonts" / "noto-sans-sc"


def test_a_missing_font_is_one_line_naming_the_file_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nowhere = tmp_path / "no-font-here"
    monkeypatch.setenv("LEDGER_PDF_FONT", str(nowhere))
    with pytest.raises(CertificateFontMissing) as refused:
        certificate_pdf(make_view())
    message = str(refused.value)
    assert "\n" not in message
    assert str(nowhere / "400Regular" / "NotoSansSC_400Regular.ttf") in message
    assert "LEDGER_PDF_FONT" in message and "make deps" in message
    with pytest.raises(CertificateFontMissing, match="LEDGER_PDF_FONT"):  # given by the caller, the same
        certificate_pdf(make_view(), font_dir=nowhere)


def test_the_font_is_read_from_where_the_setting_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "fonts"
    elsewhere.symlink_to(ServiceSettings().pdf_font, target_is_directory=True)
    monkeypatch.setenv("LEDGER_PDF_FONT", str(elsewhere))
    pdf = certificate_pdf(make_view())
    assert pdf_module._fonts_from == elsewhere
    assert "碳中和见证证书" in pdf_text(pdf)
