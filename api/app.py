"""The public, read-only API (/api/v1, OpenAPI at /openapi.json) and the pages for people."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from api import problems
from api.admission import Admission
from api.explorer import routes as explorer
from api.headers import SecurityHeaders, VerifyNodeSettings, node_origins
from api.routes import (
    accounts,
    catalog,
    certificates,
    fonts,
    footprint,
    health,
    land,
    log,
    monitoring,
    pages,
    provenance,
    registry,
    registry_pages,
    verify,
)
from certificates.context import ServiceContext
from certificates.settings import ServiceSettings
from public import stats

logger = logging.getLogger(__name__)


def _warm(context: ServiceContext) -> None:
    """Sum the registry's final blocks once, before the first request: the dashboard's first
    answer in a process scanned every retirement (0.4-0.9 s on a million, bench/public_registry.py)."""
    try:
        with context.engine.connect() as conn:
            stats.statistics(conn)
    except SQLAlchemyError as exc:  # a mirror not created yet: the first request computes it
        logger.info("statistics not warmed: %s", type(exc).__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    context = app.state.context
    if context is not None:
        await asyncio.to_thread(_warm, context)
    yield


def create_app(context: ServiceContext) -> FastAPI:
    app = FastAPI(
        title="Sichuan forestry & grassland carbon-inclusive registry (林草碳普惠登记簿)",
        version="1",
        description="Public, read-only: certificates with their proofs, verification, provenance of every "
        "kilogram, the catalog and the transparency log. Errors are RFC 9457 problem details.",
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.context = context
    problems.install(app)
    for router in (
        certificates.router,
        verify.router,
        provenance.router,
        catalog.router,
        registry.router,
        footprint.router,
        monitoring.router,
        land.router,
        log.router,
        health.router,
    ):
        app.include_router(router, prefix="/api/v1")
    app.include_router(pages.router)
    app.include_router(registry_pages.router)  # the public registry's pages and downloads (公示)
    app.include_router(fonts.router)  # the pages' CJK web font
    app.include_router(explorer.router)  # reads the node, not the mirror (docs/explorer.md)
    accounts.install(app)  # /api/v1/accounts and the statement page (docs/accounts.md)
    s = (
        context.settings if context is not None else ServiceSettings()
    )  # None: the schema alone (tests/api/test_fuzz.py)
    app.add_middleware(Admission, limit=s.api_concurrency, queue_timeout=s.api_queue_timeout, retry_after=s.retry_after)
    # the nodes the verify page's in-browser verifier may ask (LEDGER_VERIFY_NODES)
    nodes = node_origins(VerifyNodeSettings().verify_nodes)
    app.add_middleware(
        SecurityHeaders, verify_nodes=nodes
    )  # outermost: a 503 of admission control carries the headers too
    return app
