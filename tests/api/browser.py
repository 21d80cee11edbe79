"""Helpers for tests that look at what a person sees: a real Chromium page, a rendered PDF page,
the text of a PDF, the QR codes in an image.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/browser-up); Playwright only drives it
and never downloads a browser. The network here is closed, so Chromium is started without its
background services (component updates, sync, safe-browsing lists ...), whose connections would
otherwise be refused and slow or break the run.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> Path:
    """The Chromium binary, or fail the test with the command that installs it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/browser-up as root (it installs Debian's chromium)")
    return CHROMIUM


@contextmanager
def chromium_page(*, viewport: tuple[int, int] = (1280, 900), timeout_ms: int = 15_000) -> Iterator[Page]:
    """A fresh headless Chromium (new profile in a temporary directory) and one page in it.

    Everything is closed on the way out, also when the test fails: the context (which ends the
    browser process), the Playwright driver, and the profile directory."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    playwright = sync_playwright().start()
    context = None
    try:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
            timeout=timeout_ms,
        )
        context.set_default_timeout(timeout_ms)
        page = context.pages[0] if context.pages else context.new_page()
        yield page
    finally:
        try:
            if context is not None:
                context.close()
        finally:
            playwright.stop()
            shutil.rmtree(profile, ignore_errors=True)


def pdf_to_png(pdf: bytes, page: int = 0, scale: float = 2):
    """Render one page of a PDF (pdfium) to a PIL image; scale 1 is 72 dpi."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return document[page].render(scale=scale).to_pil()
    finally:
        document.close()


def pdf_page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def pdf_text(pdf: bytes) -> str:
    """The text of every page (pypdf), pages separated by form feeds."""
    from pypdf import PdfReader

    return "\f".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def decode_qr(image) -> list[str]:
    """The texts of the QR codes zxing-cpp finds in a PIL image."""
    import zxingcpp

    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def is_blank(image, *, threshold: int = 8) -> bool:
    """True if the image is one flat colour (nothing rendered)."""
    lo, hi = zip(*image.convert("RGB").getextrema())
    return max(high - low for low, high in zip(lo, hi)) < threshold
