"""The SVG map is a pure function of the shapes: holes are cut (even-odd), labels are text, a scale
bar gives metres, and a square parcel at 30°N is drawn square (longitude scaled by cos 30°)."""

from __future__ import annotations

import re

from land.svg import Layer, render
from tests.land.shapes import parcel, rect, ring


def test_a_holed_parcel_an_overlap_and_a_hostile_label() -> None:
    holed = parcel(
        "<script>x</script>", {"type": "Polygon", "coordinates": [ring(0, 0, 300, 300), ring(100, 100, 100, 100)]}
    )
    square = parcel("SQ", rect(400, 0, 100, 100))
    svg = render([Layer(holed.parcel_id, holed.shape, "project"), Layer("SQ", square.shape, "overlap")], title="P-<1>")
    assert "<script>" not in svg and "&lt;script&gt;x&lt;/script&gt;" in svg and 'aria-label="P-&lt;1&gt;"' in svg
    paths = re.findall(r'<path d="([^"]+)" fill-rule="evenodd" [^>]*data-kind="(\w+)"', svg)
    assert [kind for _, kind in paths] == ["project", "overlap"]
    assert paths[0][0].count("M") == 2  # the exterior and the hole, one subpath each
    assert 'fill="#d50000"' in svg  # the overlap in red
    # 500 m across 672 px: 0.74 m a pixel; the bar is the largest 1-2-5 length within 150 px (111 m): 100 m
    assert ">100 m</text>" in svg
    # the 100 m square is as wide as it is high, to a pixel
    xs = [float(v) for v in re.findall(r"([\d.]+),[\d.]+", paths[1][0])]
    ys = [float(v) for v in re.findall(r"[\d.]+,([\d.]+)", paths[1][0])]
    assert abs((max(xs) - min(xs)) - (max(ys) - min(ys))) < 1.5


def test_nothing_to_draw_is_still_a_document() -> None:
    assert "no parcels" in render([], title="empty")
