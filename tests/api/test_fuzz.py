"""Schema-driven fuzzing of every route (schemathesis, from the app's own OpenAPI document, against
the ASGI app on a real registry): no 5xx, every error is an RFC 9457 problem, and every answer of
/api/v1 is one the document declares (status, media type and schema). Then hypothesis
mutates real certificate documents at random places before POST /verify: never a 5xx, never
"valid" for a changed document."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from api.app import create_app
from tests.api.conftest import Certified

EXAMPLES = 60  # per operation; ~20 operations → the whole module stays well under a minute


# The OpenAPI document does not depend on the registry: load it from an app whose context the
# fixture below fills in (schemathesis' pytest plugin does not run on this pytest, so each
# operation is a parametrised case driving hypothesis itself).
APP = create_app(None)  # type: ignore[arg-type]
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# the JSON API's answers must fit their declared shapes (api/schemas/); the pages are HTML
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(certified: Certified) -> Any:
    APP.state.context = certified.service.context
    return APP


def _is_problem(response: Any) -> bool:
    kind = response.headers.get("content-type", "")
    kind = kind[0] if isinstance(kind, list) else kind
    return kind.startswith("application/problem+json")


@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{o.method.upper()} {o.path}" for o in OPERATIONS])
def test_no_route_fails_with_a_server_error(served: Any, operation: Any) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call()
        assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text[:500])
        if response.status_code >= 400:
            assert _is_problem(response), (case.method, case.formatted_path, response.headers)
            body = response.json()
            assert {"title", "status", "detail"} <= set(body) and body["status"] == response.status_code
        if operation.path.startswith("/api/v1/"):
            case.validate_response(response, checks=CONFORMANCE)

    run()


def test_every_route_is_fuzzed() -> None:
    operations = {(o.method.upper(), o.path) for o in OPERATIONS}
    assert len(operations) >= 15, operations
    for expected in [
        ("POST", "/api/v1/verify"),
        ("GET", "/api/v1/provenance/serials/{serial}"),
        ("GET", "/api/v1/log/consistency"),
        ("GET", "/certificates/{certificate_id}.pdf"),
    ]:
        assert expected in operations


# ------------------------------------------------------------------ mutated real documents

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=80)
    | st.sampled_from(["", "0x", "00" * 32, "0x" + "00" * 32, "ff" * 32, "sichuan-ccw/1"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@pytest.fixture(scope="module")
def client(certified: Certified) -> Any:
    with TestClient(create_app(certified.service.context)) as c:
        yield c


@pytest.fixture(scope="module")
def documents(certified: Certified) -> list[dict[str, Any]]:
    return [
        d for cert_id in certified.ids.values() for d in (certified.public(cert_id), certified.holder_copy(cert_id))
    ]


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_mutated_documents_never_crash_and_never_verify(
    client: TestClient, documents: list[dict[str, Any]], data: st.DataObject
) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(documents)))
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    action = data.draw(st.sampled_from(["replace", "delete"]))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    before = copy.deepcopy(doc)
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    response = client.post(
        "/api/v1/verify", content=json.dumps(doc).encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, (path, action, response.text[:500])
    verdict = response.json()
    if doc != before and not _harmless(path, action, before) and doc.get("disclosed") != {}:
        assert verdict["verdict"] != "valid", (path, action, json.dumps(doc, ensure_ascii=False)[:2000])


def _harmless(path: tuple[Any, ...], action: str, before: dict[str, Any]) -> bool:
    """Changes a certificate survives: hiding disclosed fields (selective disclosure, down to none),
    and the anchoring transaction and revocation note, which are informative (the verifier reads
    the anchored root and the revocation from the chain or the mirror instead)."""
    if path[0] == "disclosed" and action == "delete" and len(path) <= 2:
        return True
    if path == ("disclosed",) and action == "replace" and before.get("disclosed") is not None:
        return False  # replaced by another value: only {} would be harmless, and that is "delete all"
    return path[0] == "revocation" or path[:2] == ("proof", "anchor")
