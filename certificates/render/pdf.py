"""The printable certificate: one A4 page (more if the retirements need it), Chinese and English,
with a QR code of the verification URL.

All text, Latin included, is set in Noto Sans SC, embedded as a TrueType subset with a ToUnicode
map, so Chinese stays real, searchable, extractable text. The font is found through one setting,
LEDGER_PDF_FONT (`ServiceSettings.pdf_font`): the directory of the npm package
@expo-google-fonts/noto-sans-sc, by default where `make deps` installs it (hardhat-local/node_modules;
it is not kept in git). It is parsed once per process (about 0.2 s per weight) and then reused.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from certificates.render.breakdown import Breakdown, kg
from certificates.render.view import CertificateView, PrintedRetirement
from certificates.settings import PDF_FONT_PACKAGE, ServiceSettings

# each weight the certificate uses: its name in reportlab, and its file under the LEDGER_PDF_FONT directory
FONT_FILES = {
    "CertSans": Path("400Regular") / "NotoSansSC_400Regular.ttf",
    "CertSans-Bold": Path("700Bold") / "NotoSansSC_700Bold.ttf",
}
REGULAR, BOLD = "CertSans", "CertSans-Bold"

PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
FRAME_PADDING = 6  # SimpleDocTemplate's frame pads 6 pt on each side
CONTENT_W = PAGE_W - 2 * MARGIN - 2 * FRAME_PADDING
QR_SIZE = 34 * mm

GREEN = colors.HexColor("#1f5f3a")
LIGHT_GREEN = colors.HexColor("#eef5ef")
GREY = colors.HexColor("#5b6770")
RULE = colors.HexColor("#c9d3cc")
RED = colors.HexColor("#c0262d")


class CertificateFontMissing(RuntimeError):
    """The CJK font the certificate is set in is not installed."""


_font_lock = threading.Lock()
_fonts_from: Path | None = None  # the font directory registered with reportlab, once a PDF needed it
# reportlab keeps per-document subsetting state on the shared TTFont objects: render one PDF at a time.
_render_lock = threading.Lock()


def font_paths(font_dir: Path) -> list[Path]:
    """The font files the certificate needs under `font_dir` (the LEDGER_PDF_FONT directory)."""
    return [font_dir / f for f in FONT_FILES.values()]


def _ensure_fonts(font_dir: Path) -> None:
    global _fonts_from
    if _fonts_from == font_dir:
        return
    with _font_lock:
        if _fonts_from == font_dir:
            return
        missing = [p for p in font_paths(font_dir) if not p.is_file()]
        if missing:
            raise CertificateFontMissing(
                f"the certificate font is missing: {missing[0]}; run `make deps` to install {PDF_FONT_PACKAGE}, "
                "or set LEDGER_PDF_FONT to the directory of that package"
            )
        if _fonts_from is None:
            _teach_chinese_line_breaking()
        for name, path in zip(FONT_FILES, font_paths(font_dir), strict=True):
            pdfmetrics.registerFont(TTFont(name, str(path)))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
        _fonts_from = font_dir


def _teach_chinese_line_breaking() -> None:
    """reportlab's CJK wrapping keeps Japanese closing punctuation off the start of a line but not
    the full-width Chinese forms (，；：！？ …): add them to the set it consults."""
    from reportlab.platypus import paragraph

    extra = "".join(ch for ch in "，；：！？、。）》」』】〉”’" if ch not in paragraph.ALL_CANNOT_START)
    paragraph.ALL_CANNOT_START += extra


def _style(
    name: str,
    size: float,
    *,
    bold: bool = False,
    color: colors.Color = colors.black,
    leading: float | None = None,
    align: int = 0,
    space_after: float = 0,
) -> ParagraphStyle:
    return ParagraphStyle(
        name,
        fontName=BOLD if bold else REGULAR,
        fontSize=size,
        leading=leading if leading is not None else size * 1.3,
        textColor=color,
        alignment=align,
        spaceAfter=space_after,
        wordWrap="CJK",  # break anywhere: Chinese has no spaces and hashes are long unbroken strings
    )


def _styles() -> dict[str, ParagraphStyle]:
    return {
        "issuer": _style("issuer", 9, color=GREY),
        "title_zh": _style("title_zh", 24, bold=True, color=GREEN, leading=30),
        "title_en": _style("title_en", 13, color=GREEN, leading=17),
        "meta": _style("meta", 9.5, leading=13),
        "statement_zh": _style("statement_zh", 11.5, leading=17),
        "statement_en": _style("statement_en", 10, color=GREY, leading=14),
        "quantity": _style("quantity", 20, bold=True, color=GREEN, leading=24, align=TA_CENTER),
        "quantity_label": _style("quantity_label", 8.5, color=GREY, align=TA_CENTER),
        "section": _style("section", 10.5, bold=True, color=GREEN, leading=14),
        "label_zh": _style("label_zh", 9, leading=12),
        "label_en": _style("label_en", 7.5, color=GREY, leading=9.5),
        "value": _style("value", 9, leading=12),
        "value_small": _style("value_small", 8, leading=10.5),
        "th": _style("th", 7.5, bold=True, color=colors.white, leading=9.5),
        "cell": _style("cell", 7.5, leading=9.5),
        "cell_grey": _style("cell_grey", 6.5, color=GREY, leading=8.5),
        "cell_num": _style("cell_num", 7.5, leading=9.5, align=2),
        "qr_caption": _style("qr_caption", 7.5, bold=True, color=GREEN, align=TA_CENTER, leading=9.5),
        "qr_url": _style("qr_url", 6, color=GREY, align=TA_CENTER, leading=7.5),
        "revoked": _style("revoked", 12, bold=True, color=colors.white, leading=16, align=TA_CENTER),
        "note": _style("note", 7, color=GREY, leading=9),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _bilingual(zh: str, en: str, s: dict[str, ParagraphStyle]) -> Paragraph:
    grey = s["label_en"]
    return Paragraph(
        f'<b>{escape(zh)}</b> <font size="{grey.fontSize}" color="{grey.textColor.hexval()}">{escape(en)}</font>',
        s["label_zh"],
    )


def _qr(url: str) -> Drawing:
    # The widget scales its modules (and its 4-module quiet zone) to fill barWidth x barHeight.
    widget = QrCodeWidget(url, barLevel="M", barWidth=QR_SIZE, barHeight=QR_SIZE)
    drawing = Drawing(QR_SIZE, QR_SIZE)
    drawing.add(widget)
    return drawing


def _header(view: CertificateView, s: dict[str, ParagraphStyle]) -> Table:
    left = [
        _p(view.issuer, s["issuer"]),
        Spacer(0, 2 * mm),
        _p(view.title_zh, s["title_zh"]),
        _p(view.title_en, s["title_en"]),
        Spacer(0, 3 * mm),
        Paragraph(f"<b>证书编号</b> Certificate ID: <b>{escape(view.certificate_id)}</b>", s["meta"]),
        Paragraph(f"<b>场景</b> Scenario: <b>{escape(view.scenario_zh)}</b> / {escape(view.scenario_en)}", s["meta"]),
        Paragraph(f"<b>签发时间</b> Issued at: {escape(view.issued_at)}", s["meta"]),
    ]
    right = [
        _qr(view.verify_url),
        _p("扫码验证 / Scan to verify", s["qr_caption"]),
        _p(view.verify_url, s["qr_url"]),
    ]
    right_w = QR_SIZE + 8 * mm
    table = Table([[left, right]], colWidths=[CONTENT_W - right_w, right_w])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, 0), 1.2, GREEN),
                ("BOTTOMPADDING", (0, 0), (-1, 0), 3 * mm),
            ]
        )
    )
    return table


def _claim(view: CertificateView, s: dict[str, ParagraphStyle]) -> Table:
    statement = [
        _p(view.statement_zh, s["statement_zh"]),
        Spacer(0, 1.5 * mm),
        _p(view.statement_en, s["statement_en"]),
    ]
    quantity = [_p(view.quantity_t, s["quantity"]), _p("注销量 Quantity retired", s["quantity_label"])]
    qty_w = 48 * mm
    table = Table([[statement, quantity]], colWidths=[CONTENT_W - qty_w, qty_w])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (0, 0), "TOP"),
                ("VALIGN", (1, 0), (1, 0), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, -1), LIGHT_GREEN),
                ("LINEBEFORE", (1, 0), (1, 0), 0.6, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm),
                ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3 * mm),
            ]
        )
    )
    return table


def _labelled(rows: list[tuple[str, str, str]], s: dict[str, ParagraphStyle], value_style: str = "value") -> Table:
    label_w = 46 * mm
    data = [[_bilingual(zh, en, s), _p(value, s[value_style])] for zh, en, value in rows]
    table = Table(data, colWidths=[label_w, CONTENT_W - label_w], repeatRows=0)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _retirement_cells(r: PrintedRetirement, s: dict[str, ParagraphStyle]) -> list[Flowable | list[Flowable]]:
    return [
        [_p(r.retirement_id, s["cell"]), _p(f"tx {r.tx_hash}", s["cell_grey"])],
        [_p(r.batch, s["cell"]), _p(r.serials, s["cell_grey"])],
        _p(f"{r.amount_kg:,}", s["cell_num"]),
        _p(str(r.block_number), s["cell_num"]),
    ]


def _retirements(view: CertificateView, s: dict[str, ParagraphStyle]) -> Table:
    widths = [72 * mm, 0.0, 20 * mm, 17 * mm]
    widths[1] = CONTENT_W - sum(widths)
    header = [
        _p("注销记录 Retirement ID / 交易 Tx", s["th"]),
        _p("批次 Batch / 序列号 Serials", s["th"]),
        _p("数量 Amount (kgCO2e)", s["th"]),
        _p("区块 Block", s["th"]),
    ]
    data = [header] + [_retirement_cells(r, s) for r in view.retirements]
    total = sum(r.amount_kg for r in view.retirements)
    data.append([Paragraph("<b>合计</b> Total", s["label_zh"]), "", _p(f"{total:,}", s["cell_num"]), ""])
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), GREEN),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, LIGHT_GREEN]),
                ("LINEBELOW", (0, 1), (-1, -2), 0.3, RULE),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, GREEN),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _revoked_banner(s: dict[str, ParagraphStyle]) -> Table:
    table = Table(
        [[_p("已撤销 / REVOKED — 本证书已被撤销 / This certificate has been revoked", s["revoked"])]],
        colWidths=[CONTENT_W],
    )
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), RED),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2 * mm),
            ]
        )
    )
    return table


def _story(view: CertificateView) -> list[Flowable]:
    s = _styles()
    story: list[Flowable] = []
    if view.revoked:
        story += [_revoked_banner(s), Spacer(0, 3 * mm)]
    story += [_header(view, s), Spacer(0, 4 * mm), _claim(view, s), Spacer(0, 4 * mm)]
    if view.fields:
        story += [
            _p("证书内容 Certificate details", s["section"]),
            Spacer(0, 1.5 * mm),
            _labelled([(r.label_zh, r.label_en, r.value) for r in view.fields], s),
            Spacer(0, 4 * mm),
        ]
    if view.rule is not None:
        story += [
            _labelled(
                [("换算规则", "Conversion rule", f"{view.rule.ref} · sha256 {view.rule.sha256_prefix}…")],
                s,
                "value_small",
            ),
            Spacer(0, 4 * mm),
        ]
    if view.breakdown is not None:
        story.append(
            KeepTogether(
                [
                    _p("碳足迹构成 Footprint breakdown", s["section"]),
                    Spacer(0, 1.5 * mm),
                    _chart(view.breakdown),
                    Spacer(0, 1.5 * mm),
                    _p(
                        f"{view.breakdown.method} · 合计 Total {kg(view.breakdown.total_kg)}"
                        + (" · 含示意因子 rests on illustrative factors" if view.breakdown.illustrative else ""),
                        s["note"],
                    ),
                    Spacer(0, 4 * mm),
                ]
            )
        )
    story += [
        _p("注销记录 Retirements", s["section"]),
        Spacer(0, 1.5 * mm),
        _retirements(view, s),
        Spacer(0, 4 * mm),
    ]
    verification = _labelled(
        [
            ("签发机构", "Issuer", view.issuer),
            ("区块链", "Chain", view.chain),
            ("透明日志", "Transparency log", view.log),
        ],
        s,
        "value_small",
    )
    story.append(
        KeepTogether(
            [
                _p("验证信息 Verification", s["section"]),
                Spacer(0, 1.5 * mm),
                verification,
                Spacer(0, 2 * mm),
                _p(
                    "本证书内容可通过上方二维码或验证地址与链上记录核对。"
                    " The contents of this certificate can be checked against the on-chain record "
                    "through the QR code or the verification address.",
                    s["note"],
                ),
            ]
        )
    )
    return story


def _chart(b: Breakdown) -> Drawing:
    """One bar per category with its label on the left and its kilograms and share on the right,
    as text in the drawing (searchable, extractable), the same as the verify page's SVG."""
    row, label_w, numbers_w = 8.5 * mm, 58 * mm, 40 * mm
    bar_w = CONTENT_W - label_w - numbers_w
    largest = max((bar.kg for bar in b.bars), default=0) or 1
    drawing = Drawing(CONTENT_W, row * len(b.bars))
    for i, bar in enumerate(b.bars):
        y = row * (len(b.bars) - 1 - i)
        drawing.add(String(0, y + 4.2 * mm, bar.label_zh or bar.category, fontName=REGULAR, fontSize=8.5))
        drawing.add(String(0, y + 1.2 * mm, bar.label_en, fontName=REGULAR, fontSize=6.5, fillColor=GREY))
        width = max(bar_w * bar.kg / largest, 0.5)
        drawing.add(Rect(label_w, y + 1.5 * mm, width, 4.5 * mm, fillColor=GREEN, strokeColor=None))
        drawing.add(
            String(
                label_w + bar_w + 3 * mm,
                y + 2.6 * mm,
                f"{kg(bar.kg)} · {bar.share(b.total_kg)}",
                fontName=REGULAR,
                fontSize=8,
            )
        )
    return drawing


def _canvas_class(view: CertificateView) -> type[rl_canvas.Canvas]:
    """A canvas that draws the frame, the page footer ("page N of M") and, if revoked, the watermark."""

    class CertificateCanvas(rl_canvas.Canvas):  # type: ignore[misc]  # reportlab has no type hints: Canvas is Any
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []  # each finished page's canvas state, drawn on at save()

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _decorate(self, number: int, total: int) -> None:
            self.saveState()
            self.setStrokeColor(GREEN)
            self.setLineWidth(1.6)
            self.rect(8 * mm, 8 * mm, PAGE_W - 16 * mm, PAGE_H - 16 * mm)
            self.setLineWidth(0.5)
            self.rect(10 * mm, 10 * mm, PAGE_W - 20 * mm, PAGE_H - 20 * mm)
            self.setFont(REGULAR, 7)
            self.setFillColor(GREY)
            self.drawString(MARGIN, 12.5 * mm, f"{view.certificate_id} · {view.issuer}")
            self.drawRightString(PAGE_W - MARGIN, 12.5 * mm, f"第 {number} / {total} 页 · Page {number} of {total}")
            if view.revoked:
                self.setFillColor(RED)
                self.setFillAlpha(0.16)
                self.translate(PAGE_W / 2, PAGE_H / 2)
                self.rotate(40)
                self.setFont(BOLD, 84)
                self.drawCentredString(0, 10, "已撤销")
                self.setFont(BOLD, 60)
                self.drawCentredString(0, -62, "REVOKED")
            self.restoreState()

    return CertificateCanvas


def certificate_pdf(view: CertificateView, font_dir: Path | None = None) -> bytes:
    """Render the certificate as PDF bytes (A4; flows onto more pages if the retirements need it).
    `font_dir`: the LEDGER_PDF_FONT directory; by default the setting as the environment gives it."""
    _ensure_fonts(font_dir if font_dir is not None else ServiceSettings().pdf_font)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN - 2 * mm,
        bottomMargin=MARGIN + 1 * mm,
        title=f"{view.title_zh} {view.title_en} {view.certificate_id}",
        author=view.issuer,
        subject=f"{view.scenario_zh} / {view.scenario_en}",
        creator=view.issuer,
        lang="zh-CN",
    )
    with _render_lock:
        doc.build(_story(view), canvasmaker=_canvas_class(view))
    return out.getvalue()
