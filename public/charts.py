"""Charts as SVG text, drawn on the server: pure functions of the numbers, nothing fetched from
anywhere (no CDN, no script). Every label is escaped; colours are presentation attributes, not
styles, so the pages' Content-Security-Policy (api/headers.py) has nothing to allow."""

from __future__ import annotations

from html import escape

# (name, colour): issued green, retired blue, cancelled red, reserve ochre
SERIES = {
    "issued_kg": ("签发 issued", "#2e7d4f"),
    "retired_kg": ("注销 retired", "#1b5e9b"),
    "cancelled_kg": ("作废 cancelled", "#b3261e"),
    "reserve_kg": ("储备 reserve", "#b8860b"),
}
ROW = 18  # px per bar
GAP = 10  # px between categories
LABEL = 150  # px for category labels
WIDTH = 640


def _kg(value: int) -> str:
    """A short label: 1,234 kg, 12.3 t, 4.56 kt (1 t = 1,000 kg)."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:,.2f} kt"
    if value >= 10_000:
        return f"{value / 1_000:,.1f} t"
    return f"{value:,} kg"


def bar_chart(title: str, labels: list[str], series: dict[str, list[int | None]]) -> str:
    """Horizontal grouped bars: one group per label, one bar per series (None: not applicable,
    left out). The scale is shared by all bars, starting at zero."""
    shown = {name: values for name, values in series.items() if any(v is not None for v in values)}
    per_group = max(1, len(shown))
    top = max([v for values in shown.values() for v in values if v is not None] + [1])
    plot = WIDTH - LABEL - 90
    legend_y = 22
    height = 40 + len(labels) * (per_group * ROW + GAP) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    x = LABEL
    for name in shown:
        text, colour = SERIES[name]
        out.append(f'<rect x="{x}" y="{legend_y - 10}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{legend_y}">{escape(text)}</text>')
        x += 110
    y = 40
    for i, label in enumerate(labels):
        out.append(f'<text x="{LABEL - 6}" y="{y + ROW - 5}" text-anchor="end">{escape(label)}</text>')
        for name, values in shown.items():
            value = values[i]
            if value is not None:
                w = round(plot * value / top)
                out.append(f'<rect x="{LABEL}" y="{y}" width="{w}" height="{ROW - 3}" fill="{SERIES[name][1]}"/>')
                out.append(f'<text x="{LABEL + w + 4}" y="{y + ROW - 6}">{escape(_kg(value))}</text>')
            y += ROW
        y += GAP
    out.append(f'<line x1="{LABEL}" y1="34" x2="{LABEL}" y2="{height - 10}" stroke="#6b776f"/>')
    out.append("</svg>")
    return "".join(out)
