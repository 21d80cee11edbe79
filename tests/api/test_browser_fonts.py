"""Chinese on a machine without a CJK font: this one has none (fc-list :lang=zh is empty), so any
character the served web font (api/routes/fonts.py) lacks, or any page that does not load it,
shows as a box. For each page, in headless Chromium: every character it shows (text, titles,
placeholders, values) is in the font's cmap, the font is loaded, and Chromium reports (DevTools
CSS.getPlatformFontsForNode) that the web font drew every Chinese character of every rendered
element. A screenshot of each page is kept under the test's temporary directory. With the font
route taken away the same check fails."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from starlette.responses import PlainTextResponse

from api.app import create_app
from api.routes import fonts
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings
from chain.paths import HARDHAT_DIR
from chain.types import Scenario
from tests.api.browser import chromium_page, is_blank
from tests.api.conftest import Certified
from tests.api.server import free_port, serve_thread

FONT = ServiceSettings().pdf_font / fonts.FILES["400Regular.ttf"][0]
# every non-ASCII character the pages show must be in the web font: the marks are ✓ and × (Noto
# Sans SC has them), not ✔ ✘ ✕ (it has none of them, so they came from the machine's own fonts)
SYSTEM_SYMBOLS: set[str] = set()
FAMILIES = {"Noto Sans SC", "Noto Sans CJK SC"}  # api/templates/fonts.css: both names, one file


def cmap() -> set[int]:
    from reportlab.pdfbase.ttfonts import TTFontFile  # the PDF's own TrueType reader (certificates/render/pdf.py)

    return set(TTFontFile(str(FONT)).charToGlyph)


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x2E80 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x3FFFF


def _live(certified: Certified, drop_fonts: bool = False) -> Iterator[str]:
    ctx = certified.service.context
    app = create_app(ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(), ctx.rpc))
    with serve_thread(without_fonts(app) if drop_fonts else app, free_port(), access_log=False) as url:
        yield url


def without_fonts(app: Any) -> Any:
    """The app as if its font route were gone: every /static/fonts/ request is a 404."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/static/fonts/"):
            await PlainTextResponse("no such route", status_code=404)(scope, receive, send)
            return
        await app(scope, receive, send)

    return asgi


@pytest.fixture(scope="module")
def live(certified: Certified) -> Iterator[str]:
    yield from _live(certified)


@pytest.fixture(scope="module")
def live_without_fonts(certified: Certified) -> Iterator[str]:
    yield from _live(certified, drop_fonts=True)


# everything a person reads on the page, inputs included; then which fonts drew each element's text
SHOWN = """() => {
  const parts = [document.title, document.body.innerText];
  for (const e of document.querySelectorAll("input, textarea")) parts.push(e.value, e.placeholder || "");
  for (const e of document.querySelectorAll("button")) parts.push(e.textContent);
  return parts.join("\\n");
}"""
LOADED = """async () => {
  await document.fonts.ready;
  return [...document.fonts].map((f) => [f.family, f.status]);
}"""


def drawn_by_element(page: Any) -> list[dict[str, Any]]:
    """For each rendered element with Chinese in its own text: how many CJK characters it holds and
    the platform fonts Chromium drew its text with (DevTools CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]["nodeId"]
    found = []
    for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "[data-cjk]"})["nodeIds"]:
        attributes = cdp.send("DOM.getAttributes", {"nodeId": node})["attributes"]
        named = dict(zip(attributes[::2], attributes[1::2], strict=True))
        fonts_ = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        found.append({"cjk": int(named["data-cjk"]), "text": named["data-text"], "fonts": fonts_})
    cdp.detach()
    return found


def look(url: str, shot: Path, wait: str | None = None) -> dict[str, Any]:
    """What the page at `url` shows, the fonts the page loaded, and the fonts that drew its Chinese."""
    with chromium_page() as page:
        page.goto(url)
        if wait:
            page.wait_for_selector(wait)
        loaded = page.evaluate(LOADED)
        text = page.evaluate(SHOWN)
        # the rendered elements that hold Chinese text of their own (not just inside a child)
        page.evaluate(
            """() => { for (const e of document.body.querySelectorAll("*")) {
                 if (!e.getClientRects().length) continue;
                 const own = [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data).join("");
                 const cjk = own.match(/[\\u2e80-\\u9fff\\uf900-\\ufaff\\uff00-\\uffef]/g);
                 if (cjk) { e.dataset.cjk = String(cjk.length); e.dataset.text = own.trim().slice(0, 40); } } }"""
        )
        drawn = drawn_by_element(page)
        page.screenshot(path=str(shot), full_page=True)
    return {"text": text, "loaded": loaded, "drawn": drawn}


def box_problems(seen: dict[str, Any], coverage: set[int], *, per_element: bool = True) -> list[str]:
    """Why some Chinese on the page would show as boxes on a machine without a CJK font."""
    problems = []
    missing = sorted({ch for ch in seen["text"] if ord(ch) > 0x7F and ord(ch) not in coverage} - SYSTEM_SYMBOLS)
    if missing:
        problems.append(f"not in the web font: {''.join(missing)}")
    if not any(family.strip('"') in FAMILIES and status == "loaded" for family, status in seen["loaded"]):
        problems.append(f"the web font did not load: {seen['loaded']}")
    if sum(1 for ch in seen["text"] if is_cjk(ch)) and not seen["drawn"]:
        problems.append("no element with Chinese was found to check")
    for element in seen["drawn"] if per_element else ():
        # each CJK character is one glyph, and it must come from the web font, not a fallback's box
        web = sum(f["glyphCount"] for f in element["fonts"] if f["isCustomFont"])
        if web < element["cjk"]:
            fonts_ = [(f["familyName"], f["glyphCount"]) for f in element["fonts"]]
            problems.append(
                f"{element['text']!r}: {element['cjk']} Chinese characters, {web} drawn with the web font {fonts_}"
            )
    return problems


def pages(certified: Certified) -> list[tuple[str, str | None, bool]]:
    """(path, what to wait for, whether the page lays its text out again once the font is in:
    api/templates/fontfix.js; the explorer has no script)."""
    cert_id = certified.ids[Scenario.ECOLOGICAL_JUSTICE]
    return [
        ("/verify", None, True),
        (f"/verify/{cert_id}", "#verdict[data-verdict]", True),
        ("/footprint", None, True),
        ("/explorer", None, False),
        (f"/explorer/batch/{certified.world.batch_id}", None, False),
    ]


def test_no_fonts_for_chinese_on_this_machine() -> None:
    """The premise: without the web font Chromium has nothing to draw Chinese with here."""
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0 and listed.stdout.strip() == "", listed.stdout


def test_every_page_draws_its_chinese_with_the_served_font(live: str, certified: Certified, tmp_path: Path) -> None:
    coverage = cmap()
    for path, wait, relaid in pages(certified):
        shot = tmp_path / (path.strip("/").replace("/", "_") + ".png")
        seen = look(live + path, shot, wait)
        assert sum(1 for ch in seen["text"] if is_cjk(ch)) > 5, (path, seen["text"][:200])  # there is Chinese to draw
        assert box_problems(seen, coverage, per_element=relaid) == [], path
        families = {f["familyName"] for element in seen["drawn"] for f in element["fonts"] if f["isCustomFont"]}
        assert families and families <= FAMILIES, families
        with Image.open(shot) as image:
            assert not is_blank(image)


@pytest.mark.xfail(
    strict=True,
    reason="Chromium keeps some text laid out before the web font began to load in the fallback font (boxes); "
    "the script pages lay themselves out again (api/templates/fontfix.js), the explorer has no script",
)
def test_the_explorer_draws_every_chinese_character_with_the_font(live: str, tmp_path: Path) -> None:
    seen = look(live + "/explorer", tmp_path / "explorer.png")
    assert box_problems(seen, cmap()) == []


def test_without_the_font_route_the_chinese_is_boxes(
    live_without_fonts: str, certified: Certified, tmp_path: Path
) -> None:
    seen = look(live_without_fonts + "/verify", tmp_path / "verify.png")
    problems = box_problems(seen, cmap())
    assert any("did not load" in p for p in problems), problems
    assert any("drawn with the web font" in p for p in problems), problems


def test_the_font_is_cached_for_a_year_and_carries_its_hash(live: str) -> None:
    name = "400Regular.ttf"
    request = urllib.request.Request(live + fonts.PREFIX + name, headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=60) as r:
        body, headers = r.read(), r.headers
    assert headers["Content-Type"] == "font/ttf"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (
        hashlib.sha256(body).hexdigest() == fonts.FILES[name][1] == headers["ETag"].strip('"').removeprefix("sha256-")
    )
    assert body == FONT.read_bytes()
    again = urllib.request.Request(live + fonts.PREFIX + name, headers={"If-None-Match": headers["ETag"]})
    try:
        urllib.request.urlopen(again, timeout=60)
        raise AssertionError("a cached font is answered 304")
    except urllib.error.HTTPError as exc:
        assert exc.code == 304
    assert fonts.FONT_CSS.count(fonts.PREFIX + name) == 2  # both family names point at the one file


def test_the_font_url_names_the_pinned_package_version() -> None:
    pinned = json.loads((HARDHAT_DIR / "package.json").read_text("utf-8"))["dependencies"][
        "@expo-google-fonts/noto-sans-sc"
    ]
    assert pinned == fonts.VERSION


def test_an_unknown_font_is_a_problem_not_a_crash(live: str) -> None:
    try:
        urllib.request.urlopen(live + fonts.PREFIX + "../../etc.ttf", timeout=30)
        raise AssertionError("refused")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404


def test_a_changed_font_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "400Regular").mkdir()
    (tmp_path / "400Regular" / "NotoSansSC_400Regular.ttf").write_bytes(b"not the font")
    (tmp_path / "package.json").write_text('{"version": "9.9.9"}')
    with pytest.raises(fonts.FontError, match=r"package version 9\.9\.9.*run `make deps`"):
        fonts.load(tmp_path, "400Regular.ttf")
    with pytest.raises(fonts.FontError, match="missing; run `make deps`"):
        fonts.load(tmp_path / "nowhere", "400Regular.ttf")
