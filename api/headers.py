"""Security headers on every response, and CORS for the public read API (docs/api.md, "Headers
and CORS").

The Content-Security-Policy allows no script or style but the inline blocks of our own pages, by
hash (the verify and footprint pages' scripts and styles, the explorer's style, the web font's
@font-face), so it holds whatever a certificate's text or a node's answer puts into a page. /docs
(Swagger UI, from a CDN) gets a looser policy of its own.

The verify page's in-browser verifier asks a JSON-RPC node the person names
(docs/verify-in-browser.md): its connect-src lists, besides 'self', the node origins the operator
allows (LEDGER_VERIFY_NODES, by default the local node at 127.0.0.1:8545), never any origin."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.explorer.pages import CSS as EXPLORER_CSS
from api.routes.fonts import FONT_CSS
from api.routes.pages import FOOTPRINT_PAGE
from api.routes.pages import PAGE as VERIFY_PAGE

API = "/api/"
# CORS: the public read API from any origin, without credentials (nothing here depends on who asks)
CORS_METHODS = {"/api/v1/verify": "POST, OPTIONS"}  # every other API path: GET, HEAD, OPTIONS
CORS_HEADERS = "Content-Type"
CORS_MAX_AGE = "600"


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _inline(tag: str, html: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)


def content_security_policy(scripts: Iterable[str], styles: Iterable[str], connect: Iterable[str] = ()) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(_hash(s) for s in scripts),
            "style-src " + " ".join(_hash(s) for s in styles),
            # the verify and footprint pages' fetch() of /api/v1; the verify page's, of the nodes allowed
            " ".join(["connect-src 'self'", *connect]),
            "font-src 'self'",  # the CJK web font (api/routes/fonts.py)
            "img-src 'self' data:",
            "form-action 'self'",  # the explorer's search form
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


SCRIPTS = [*_inline("script", VERIFY_PAGE), *_inline("script", FOOTPRINT_PAGE)]
STYLES = [*_inline("style", VERIFY_PAGE), *_inline("style", FOOTPRINT_PAGE), EXPLORER_CSS, FONT_CSS]
CSP = content_security_policy(SCRIPTS, STYLES)
LOCAL_NODES = ("http://127.0.0.1:8545", "http://localhost:8545")  # the local node's default address (chain/settings.py)


class VerifyNodeSettings(BaseSettings):
    """LEDGER_VERIFY_NODES: the JSON-RPC node origins the verify page may ask, separated by spaces or
    commas (an origin: scheme, host and port; no path, no credentials)."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")
    verify_nodes: str = " ".join(LOCAL_NODES)


def node_origins(setting: str) -> list[str]:
    """The origins of LEDGER_VERIFY_NODES; ValueError names a bad entry and the fix."""
    origins = []
    for entry in re.split(r"[\s,]+", setting.strip()):
        if not entry:
            continue
        try:
            parts = urlsplit(entry)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.username
            or parts.password
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or any(c in entry for c in "'; *")
        ):
            raise ValueError(
                f"LEDGER_VERIFY_NODES: {entry!r} is not a node origin; give http(s)://host[:port], without path or key"
            )
        origins.append(f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else ""))
    return origins


def is_verify_page(path: str) -> bool:
    return path == "/verify" or path.startswith("/verify/")


DOCS_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; style-src https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # a certificate id in a verify URL stays on this site
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _cors_methods(path: str) -> str:
    return CORS_METHODS.get(path, "GET, HEAD, OPTIONS")


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        docs_paths: Iterable[str] = ("/docs", "/docs/oauth2-redirect"),
        verify_nodes: Iterable[str] = LOCAL_NODES,
    ) -> None:
        self.app = app
        self.docs_paths = set(docs_paths)
        self.verify_csp = content_security_policy(SCRIPTS, STYLES, verify_nodes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        api = path.startswith(API)
        request_headers = Headers(scope=scope)
        if api and scope["method"] == "OPTIONS":
            await self._preflight(path, request_headers)(scope, receive, send)
            return
        csp = DOCS_CSP if path in self.docs_paths else self.verify_csp if is_verify_page(path) else CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", csp)
                if api:
                    headers["Access-Control-Allow-Origin"] = "*"
                    headers["Access-Control-Expose-Headers"] = "Retry-After"
            await send(message)

        await self.app(scope, receive, with_headers)

    def _preflight(self, path: str, request: Headers) -> Response:
        """Every OPTIONS on the API is answered here (a preflight or not): 204 with what is allowed."""
        methods = _cors_methods(path)
        headers = {"Allow": methods, **SECURITY, "Content-Security-Policy": CSP}
        if "origin" in request:
            headers.update(
                {
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Methods": methods,
                    "Access-Control-Allow-Headers": CORS_HEADERS,
                    "Access-Control-Max-Age": CORS_MAX_AGE,
                }
            )
        return Response(status_code=204, headers=headers)
