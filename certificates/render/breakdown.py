"""A footprint report's breakdown by category, as the certificate shows it: bars with the numbers
beside them, drawn as SVG for the verify page (api/routes/footprint.py answers it) and as a
reportlab drawing for the PDF (certificates/render/pdf.py). Nothing is fetched from anywhere: the
SVG is text written here, with every label escaped.

A report is shown only when the certificate discloses it (its document then carries the report);
the numbers are the report's own (categories, total), never recomputed here: the verifier checks
them (certificates/footprint_report.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from certificates.document import REPORT_FIELD, REPORT_MEMBER
from certificates.footprint_report import hash_problem

MAX_BARS = 32  # more categories than any method has: a longer list is not a report


@dataclass(frozen=True)
class Bar:
    category: str
    label_zh: str
    label_en: str
    kg: int

    def share(self, total: int) -> str:
        """The bar's share of the total, one decimal, as printed beside it."""
        return f"{self.kg * 100 / total:.1f}%" if total else "—"


@dataclass(frozen=True)
class Breakdown:
    subject: str
    method: str  # id@version
    total_kg: int
    bars: tuple[Bar, ...]
    illustrative: bool


@dataclass(frozen=True)
class PrintedRule:
    """A claim's conversion rule, as printed: `id@version` and the first 16 hex of its sha256."""

    ref: str
    sha256_prefix: str


def _whole(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


# what XML 1.0 does not allow in text (the SVG would not parse), and the bidi controls that turn a
# drawn line's text around: a label is shown without them
_UNDRAWABLE = dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    + [0x200E, 0x200F, 0x061C, 0xFFFE, 0xFFFF]
)


def _text(x: Any, limit: int = 80) -> str:
    if not isinstance(x, str):
        return ""
    # a lone surrogate cannot be written as UTF-8 either
    return x.translate(_UNDRAWABLE).encode("utf-8", "replace").decode("utf-8")[:limit]


def _version(x: Any) -> str:
    return str(x) if _whole(x) else "?"


def breakdown_of(report: Any) -> Breakdown | None:
    """The breakdown of a footprint report (the document's `footprint_report` member), or None when
    there is none or it is not shaped like a report."""
    if not isinstance(report, dict) or not _whole(report.get("total_kgco2e")):
        return None
    categories, method = report.get("categories"), report.get("method")
    if not isinstance(categories, list) or not 0 < len(categories) <= MAX_BARS:
        return None
    bars = []
    for c in categories:
        if not isinstance(c, dict) or not _whole(c.get("kgco2e")) or not isinstance(c.get("category"), str):
            return None
        bars.append(Bar(_text(c["category"]), _text(c.get("zh")), _text(c.get("en")), c["kgco2e"]))
    ref = f"{_text(method.get('id'))}@{_version(method.get('version'))}" if isinstance(method, dict) else "?"
    return Breakdown(
        _text(report.get("subject")), ref, report["total_kgco2e"], tuple(bars), report.get("illustrative") is True
    )


def rule_of(claim: Any) -> PrintedRule | None:
    """The claim's conversion rule ({"rule": {"id", "version", "sha256"}}), when it carries one."""
    rule = claim.get("rule") if isinstance(claim, dict) else None
    if not isinstance(rule, dict) or not isinstance(rule.get("sha256"), str):
        return None
    return PrintedRule(f"{_text(rule.get('id'))}@{_version(rule.get('version'))}", _text(rule["sha256"], 16))


def disclosed_breakdown(doc: dict[str, Any]) -> Breakdown | None:
    """The breakdown of a certificate document's report, only when the document discloses it (the
    report's hash field opened, and the report carried with it) and the report is the one that field
    commits to: a report changed after the fact is not drawn as if it were vouched for."""
    if REPORT_FIELD not in doc.get("disclosed", {}) or hash_problem(doc) is not None:
        return None
    return breakdown_of(doc.get(REPORT_MEMBER))


def kg(n: int) -> str:
    return f"{n:,} kg"


# ------------------------------------------------------------------ SVG

WIDTH, ROW, LABEL_W, NUMBERS_W = 640, 34, 230, 150
BAR_W = WIDTH - LABEL_W - NUMBERS_W - 20
GREEN, GREY, INK = "#2f7d4a", "#55655a", "#1d2b21"


def svg(b: Breakdown) -> str:
    """The breakdown as a standalone SVG document: one bar per category, its kilograms and share
    written beside it, and the total below."""
    top = 30
    height = top + ROW * len(b.bars) + 34
    largest = max((bar.kg for bar in b.bars), default=0) or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        'font-family="Noto Sans SC, Microsoft YaHei, sans-serif" role="img">',
        f"<title>{escape(f'碳足迹构成 Footprint breakdown: {kg(b.total_kg)}')}</title>",
        f'<text x="0" y="18" font-size="14" font-weight="600" fill="{INK}">'
        f"{escape(f'碳足迹构成 Footprint breakdown ({b.subject}, {b.method})')}</text>",
    ]
    for i, bar in enumerate(b.bars):
        y = top + i * ROW
        width = round(BAR_W * bar.kg / largest, 1)
        out += [
            f'<g data-category="{escape(bar.category, {chr(34): "&quot;"})}">',
            f'<text x="0" y="{y + 13}" font-size="12" fill="{INK}">{escape(bar.label_zh or bar.category)}</text>',
            f'<text x="0" y="{y + 27}" font-size="10" fill="{GREY}">{escape(bar.label_en)}</text>',
            f'<rect x="{LABEL_W}" y="{y + 6}" width="{width}" height="18" fill="{GREEN}" rx="2"/>',
            f'<text x="{LABEL_W + BAR_W + 10}" y="{y + 20}" font-size="12" fill="{INK}">'
            f"{escape(kg(bar.kg))} · {escape(bar.share(b.total_kg))}</text>",
            "</g>",
        ]
    y = top + ROW * len(b.bars) + 22
    total = f"合计 Total {kg(b.total_kg)}"
    if b.illustrative:
        total += " · * 含示意因子 rests on illustrative factors"
    out += [f'<text x="0" y="{y}" font-size="13" font-weight="600" fill="{INK}">{escape(total)}</text>', "</svg>"]
    return "\n".join(out)
