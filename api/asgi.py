"""The API as an ASGI application factory, for several workers behind one address:

    uvicorn --factory api.asgi:app --workers 4 --host 0.0.0.0 --port 8000

Each worker opens its own connections to DATABASE_URL (PostgreSQL at scale) from the deployment
record of the configured chain; the API only reads, so workers share nothing else. `ledger up`
and `ledger serve` start it by this import string too: the command line never imports `api`."""

from __future__ import annotations

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
        return create_app(ServiceContext.from_environment())
    except (ChainError, ServiceError) as exc:
        raise SystemExit(f"error: {exc}") from None
