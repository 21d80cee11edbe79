"""The public, read-only API (/api/v1, OpenAPI at /openapi.json) and the pages for people."""

from __future__ import annotations

from fastapi import FastAPI

from api import problems
from api.admission import Admission
from api.explorer import routes as explorer
from api.headers import SecurityHeaders
from api.routes import catalog, certificates, footprint, health, log, monitoring, pages, provenance, verify
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings


def create_app(context: ServiceContext) -> FastAPI:
    app = FastAPI(
        title="Sichuan forestry & grassland carbon-inclusive registry (林草碳普惠登记簿)",
        version="1",
        description="Public, read-only: certificates with their proofs, verification, provenance of every "
        "kilogram, the catalog and the transparency log. Errors are RFC 9457 problem details.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.context = context
    problems.install(app)
    for router in (
        certificates.router,
        verify.router,
        provenance.router,
        catalog.router,
        footprint.router,
        monitoring.router,
        log.router,
        health.router,
    ):
        app.include_router(router, prefix="/api/v1")
    app.include_router(pages.router)
    app.include_router(explorer.router)  # reads the node, not the mirror (docs/explorer.md)
    s = (
        context.settings if context is not None else ServiceSettings()
    )  # None: the schema alone (tests/api/test_fuzz.py)
    app.add_middleware(Admission, limit=s.api_concurrency, queue_timeout=s.api_queue_timeout, retry_after=s.retry_after)
    app.add_middleware(SecurityHeaders)  # outermost: a 503 of admission control carries the headers too
    return app
