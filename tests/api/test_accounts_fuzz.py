"""Every /api/v1/accounts route fuzzed from its own OpenAPI description with a key that holds every
scope (tests/api/test_fuzz.py fuzzes them without one, so it reaches no further than the 401): no
5xx, every error a problem document, every answer one the document declares."""

# the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from api.app import create_app
from certificates.db import create_schema
from indexer.db import make_engine
from tests.api.accounts_helpers import V1, Sources, _keys, context, register  # noqa: F401

APP = create_app(None)  # type: ignore[arg-type]  # the document alone; the fixture below gives it a database
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = [o for o in (r.ok() for r in SCHEMA.get_all_operations()) if o.path.startswith(V1)]
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sources]:
    tmp = tmp_path_factory.mktemp("accounts-fuzz")
    engine = make_engine(f"sqlite:///{tmp / 'fuzz.sqlite'}")
    create_schema(engine)
    keys = register(engine)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEDGER_DATA_KEY_FILE", str(tmp / "data.key"))
        mp.setenv("LEDGER_ACCOUNTS_LINK_KEY_FILE", str(tmp / "link.key"))
        mp.setenv("LEDGER_ACCOUNTS_RATE_BURST", "1000000")
        served = create_app(context(engine))
        APP.state.context = served.state.context
        APP.state.accounts_settings = served.state.accounts_settings
        APP.state.accounts_buckets = served.state.accounts_buckets
        APP.state.accounts_link_key = served.state.accounts_link_key
        world = Sources(engine, APP, keys)
        with TestClient(APP) as c:  # a real account, so the fuzzed paths meet one now and then
            world.open(c, "metro-app")
        yield world
    engine.dispose()


def test_every_accounts_route_is_fuzzed() -> None:
    found = {(o.method.upper(), o.path) for o in OPERATIONS}
    assert ("POST", f"{V1}/records") in found and ("POST", f"{V1}/{{account}}/redemptions") in found
    assert len(found) >= 14, found


@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{o.method.upper()} {o.path}" for o in OPERATIONS])
def test_no_accounts_route_fails_with_a_server_error(served: Sources, operation: Any, tmp_path: Path) -> None:
    merchant = ("/rights" in operation.path and operation.method.upper() != "GET") or "/reverse" in operation.path
    auth = served.auth("teahouse" if merchant else "metro-app")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), **auth}
        response = case.call()
        assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
        if response.status_code >= 400:
            kind = response.headers.get("content-type", "")
            assert (kind[0] if isinstance(kind, list) else kind).startswith("application/problem+json")
        case.validate_response(response, checks=CONFORMANCE)

    run()
