"""The CJK web font every page names (api/templates/fonts.css, in api/templates/base.html): Noto
Sans SC, the font the printable certificate is set in (LEDGER_PDF_FONT, certificates/render/pdf.py),
so a page shows Chinese on a machine without a CJK font of its own.

The whole font is served, not a subset: the pages show text from certificates, the chain and the
person (names, courts, messages) whose characters no template lists. Its address names the npm
package version, so it is cached for a year (`immutable`); the file must have the sha256 pinned
here, or it is not served (a changed node_modules is refused, not passed on); the ETag and
Repr-Digest carry that hash, and a browser that accepts gzip gets it compressed (10.6 MB to 6.3 MB)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.problems import problem
from api.templates import render
from certificates.settings import PDF_FONT_PACKAGE, ServiceSettings

router = APIRouter(tags=["pages"])

VERSION = "0.4.3"  # the package version fonts.css's URL names: hardhat-local/package.json's pin (tests check)
# name in the URL → (file under the package directory, its sha256 in that version)
FILES = {
    "400Regular.ttf": (
        Path("400Regular") / "NotoSansSC_400Regular.ttf",
        "d45f67f0a7c0ca3f256950777ce6a61cc7ce5f9696d02900cbbaac25f8aa7d16",
    ),
}
PREFIX = f"/static/fonts/noto-sans-sc@{VERSION}/"
CACHE = "public, max-age=31536000, immutable"  # the URL changes with the version
# the @font-face rules base.html inlines; api/headers.py allows exactly this text by its hash
FONT_CSS = render("fonts.css")


@dataclass(frozen=True)
class Served:
    plain: bytes
    gzipped: bytes
    sha256: str  # of the font file

    def digest(self, gzipped: bool) -> str:
        body = self.gzipped if gzipped else self.plain
        return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


class FontError(Exception):
    """The font cannot be served; the message names the fix."""


_served: dict[Path, Served] = {}
_lock = threading.Lock()


def load(font_dir: Path, name: str) -> Served:
    """The font file `name` of the package at `font_dir`, checked against its pinned sha256; read and
    compressed once per process."""
    relative, pinned = FILES[name]
    path = font_dir / relative
    with _lock:
        if path in _served:
            return _served[path]
        try:
            plain = path.read_bytes()
        except OSError:
            raise FontError(
                f"the web font {path} is missing; run `make deps` to install {PDF_FONT_PACKAGE}@{VERSION}, "
                "or set LEDGER_PDF_FONT to the directory of that package"
            ) from None
        actual = hashlib.sha256(plain).hexdigest()
        if actual != pinned:
            version = _version(font_dir)
            raise FontError(
                f"the web font {path} (package version {version}) has sha256 {actual}, not {pinned} of "
                f"{PDF_FONT_PACKAGE}@{VERSION}; run `make deps` to install the pinned version"
            )
        served = _served[path] = Served(plain, gzip.compress(plain, 6, mtime=0), actual)
        return served


def _version(font_dir: Path) -> str:
    try:
        return str(json.loads((font_dir / "package.json").read_text("utf-8")).get("version", "unknown"))
    except (OSError, ValueError, AttributeError):
        return "unknown"


@router.get(PREFIX + "{name}", include_in_schema=False)
async def font(name: str, request: Request) -> Response:
    if name not in FILES:
        return problem(404, "Not found", f"no font {name}; the pages use {', '.join(PREFIX + n for n in FILES)}")
    context = request.app.state.context
    font_dir = (context.settings if context is not None else ServiceSettings()).pdf_font
    try:
        served = await run_in_threadpool(load, font_dir, name)  # the first request reads 10 MB and compresses it
    except FontError as exc:
        return problem(503, "Font unavailable", str(exc))
    etag = f'"sha256-{served.sha256}"'
    headers = {"Cache-Control": CACHE, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    headers["Repr-Digest"] = served.digest(gzipped)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(served.gzipped if gzipped else served.plain, media_type="font/ttf", headers=headers)
