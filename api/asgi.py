"""The API as an ASGI application factory, for several workers behind one address:

    uvicorn --factory api.asgi:app --workers 4 --host 0.0.0.0 --port 8000

Each worker opens its own connections to DATABASE_URL (PostgreSQL at scale) from the deployment
record of the configured chain; the API only reads, so workers share nothing else. `ledger up`
and `ledger serve` start it by this import string too: the command line never imports `api`."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from certificates.context import ServiceContext


def app() -> FastAPI:
    return create_app(ServiceContext.from_environment())
