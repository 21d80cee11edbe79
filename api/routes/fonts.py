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
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    # one ETag per body: the gzipped bytes are another representation (RFC 9110 §8.8.3)
    etag = f'"sha256-{served.sha256}{"-gzip" if gzipped else ""}"'
    headers = {"Cache-Control": CACHE, "ETag": etag, "Vary": "Accept-Encoding"}
    if _matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    headers["Repr-Digest"] = served.digest(gzipped)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(served.gzipped if gzipped else served.plain, media_type="font/ttf", headers=headers)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding allows gzip: named (or x-gzip, or *) with a q above 0; "gzip;q=0"
    refuses it (RFC 9110 §12.5.3), which a substring test took for yes."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0  # an unreadable weight: not an acceptance
        weights.setdefault(coding.strip().lower(), q)
    for name in ("gzip", "x-gzip", "*"):
        if name in weights:
            return weights[name] > 0
    return False


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 §13.1.2): "*", or one of its tags, W/ or not."""
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags
