"""Chromium runs here: a local page with Chinese text loads, its DOM reads back, a screenshot is taken."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.api.browser import chromium_page, is_blank

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>碳普惠</title></head>
<body style="background:#fff">
  <h1 id="title" style="color:#1f5f3a">碳中和见证证书</h1>
  <p id="en">Carbon-neutrality witness certificate</p>
  <div style="width:200px;height:120px;background:#1f5f3a"></div>
</body></html>
"""


@pytest.fixture()
def local_site(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_chromium_loads_a_chinese_page_and_screenshots_it(local_site: str, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    with chromium_page() as page:
        response = page.goto(local_site)
        assert response is not None and response.ok
        assert page.title() == "碳普惠"
        assert page.locator("#title").inner_text() == "碳中和见证证书"
        assert page.locator("#en").inner_text() == "Carbon-neutrality witness certificate"
        page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    with Image.open(shot) as image:
        assert image.size == (1280, 900)
        assert not is_blank(image)
