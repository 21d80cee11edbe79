"""The API as an ASGI application factory, for several workers behind one address:

    uvicorn --factory api.asgi:app --workers 4 --host 0.0.0.0 --port 8000

Each worker opens its own connections to DATABASE_URL (PostgreSQL at scale) from the deployment
record of the configured chain; the API only reads, so workers share nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from api.context import ServiceContext
from api.db import api_engine, create_schema
from api.settings import ApiSettings
from chain.connection import connect
from chain.deploy import require_deployment
from chain.settings import ChainSettings


def app() -> FastAPI:
    chain = ChainSettings()
    deployment = require_deployment(chain.deployments_path, chain.chain_id)
    settings = ApiSettings()
    engine = api_engine(settings)  # per worker: LEDGER_API_CONCURRENCY + 4 connections (docs/api.md, "Load")
    create_schema(engine)
    return create_app(ServiceContext(engine, deployment, settings, connect(chain.effective_rpc_url, chain.chain_id)))
