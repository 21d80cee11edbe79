"""The API as an ASGI application factory, for several workers behind one address:

    uvicorn --factory api.asgi:app --workers 4 --host 0.0.0.0 --port 8000

Each worker opens its own connections to DATABASE_URL (PostgreSQL at scale) from the deployment
record of the configured chain; the API only reads, so workers share nothing else. `ledger up`
and `ledger serve` start it by this import string too: the command line never imports `api`."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from api.app import create_app
from certificates.context import ServiceContext
from certificates.errors import ServiceError
from chain import artifacts
from chain.errors import ChainError


def app() -> FastAPI:
    """The API of the environment's registry. What it cannot run without (the contract build, the
    deployment record, the node) is checked here, at start: uvicorn started a worker without a
    build, which then answered the explorer with a 500 per page; uvicorn prints a traceback for
    any other exception, so a refusal leaves as one line (SystemExit) naming the fix.

    The ABIs are loaded now and kept (contract_abi caches them): a worker serves the build it
    started with, so editing contracts/ under a running API no longer turns the explorer into 500s."""
    try:
        for name in ("CarbonRegistry", "CertificateRevocations"):
            artifacts.contract_abi(name)
        built = create_app(ServiceContext.from_environment())
    except (ChainError, ServiceError) as exc:
        raise SystemExit(f"error: {exc}") from None
    _tune_gc()
    return built


# young objects a worker lets live before CPython's cyclic collector runs (its default is 700)
GC_YOUNG = 20_000


def _tune_gc() -> None:
    """A batch of 1,000 behaviour records allocates some 40,000 objects on its way through; at
    CPython's default threshold the collector ran every 700 of them, each run also walking what the
    worker loaded at start (FastAPI, SQLAlchemy, web3, the ABIs): a third of the worker's CPU time on
    a batch (bench/accounts_ingest.py, docs/benchmarks.md). What is loaded at start lives as long as
    the worker, so it is frozen out of the collector's walks, and the young generation is collected
    every GC_YOUNG allocations. The request paths make few reference cycles; memory stays bounded."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, 10, 10)
