"""Every /api/v1 route publishes the shape of its answer in /openapi.json (api/schemas/), errors
as the RFC 9457 problem shape; and real answers fit their shapes exactly (the shapes forbid
members they do not list, so an answer that grows a member without its shape fails here)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from starlette.routing import Match

from api.app import create_app
from api.problems import PROBLEM
from api.schemas.catalog import BatchPublic, MethodologyPublic, ProjectDetailPublic, ProjectPublic
from api.schemas.problems import Problem
from api.schemas.provenance import MovePublic, RetirementPublic
from chain.canonical import canonical_json, sha256_hex
from chain.types import Scenario
from indexer.models import BatchRow, LotMove, MethodologyRow, ProjectRow, Retirement
from indexer.sync import FollowStatus
from tests.api.conftest import Certified
from tests.mrv.onchain import issue_monitored

V1 = "/api/v1"
APP = create_app(None)  # type: ignore[arg-type]  # the document alone needs no registry
DOC = APP.openapi()
# the routes as served, prefixes included (an included router is expanded lazily, not in APP.routes)
ROUTES = [
    r
    for r in iter_route_contexts(APP.routes)
    if isinstance(r.original_route, APIRoute) and (r.path or "").startswith(V1)
]
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(DOC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    if schema.get("type") == "array":
        return _resolve(schema["items"])
    return schema


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    # HEAD is answered like GET and kept out of the document (api/routes/registry.py)
    return [(m, str(r.path), DOC["paths"][r.path][m.lower()]) for r in ROUTES for m in sorted(_methods(r))]


def _methods(route: Any) -> set[str]:
    return set(route.methods or ()) - {"HEAD"}


def test_every_api_route_publishes_the_shape_of_its_answer() -> None:
    assert len(ROUTES) >= 12, [r.path for r in ROUTES]
    for route in ROUTES:
        assert route.response_model is not None, f"{route.path} has no response model"
    for method, path, operation in _operations():
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        shape = _resolve(schema)
        assert shape.get("properties") and shape.get("additionalProperties") is False, (method, path, schema)


def test_every_error_answer_is_the_problem_shape() -> None:
    problem = DOC["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    for method, path, operation in _operations():
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert "503" in errors, (method, path)  # admission control may answer any of them
        for status, response in errors.items():
            assert response["content"][PROBLEM]["schema"] == PROBLEM_REF, (method, path, status)
        # FastAPI's own 422 (application/json, HTTPValidationError) would misdescribe our problems
        assert "application/json" not in errors.get("422", {}).get("content", {}), (method, path)


@pytest.mark.parametrize(
    ("table", "shape", "hidden"),
    [
        (MethodologyRow, MethodologyPublic, set()),
        (ProjectRow, ProjectDetailPublic, set()),
        (ProjectRow, ProjectPublic, {"batch_count"}),
        (BatchRow, BatchPublic, set()),
        (Retirement, RetirementPublic, {"beneficiary_commitment"}),  # certificates carry it
        (LotMove, MovePublic, {"part", "batch_id"}),  # a move is shown within its batch, in chain order
    ],
)
def test_a_shape_shows_its_tables_columns_but_those_it_hides_on_purpose(
    table: Any, shape: type[BaseModel], hidden: set[str]
) -> None:
    """The routes show the columns a shape lists: a new column stays out of the API until its
    shape shows it (or this list says why not)."""
    columns = set(table.__table__.columns.keys())
    assert columns & set(shape.model_fields) == columns - hidden


# ------------------------------------------------------------------ real answers


def _route(method: str, path: str) -> RouteContext:
    scope = {"type": "http", "method": method, "path": path.split("?")[0], "root_path": ""}
    [route] = [r for r in ROUTES if r.matches(scope)[0] == Match.FULL]
    return route


def _fits(response: Any, method: str, path: str, seen: set[str], statuses: tuple[int, ...] = (200,)) -> Any:
    """The answer, validated against the route's model from its raw bytes (strict: no coercion)."""
    assert response.status_code in statuses, response.text
    route = _route(method, path)
    seen.add(f"{method} {route.path}")
    return TypeAdapter(route.response_model).validate_json(response.content, strict=True)


def test_real_answers_fit_their_shapes(api: TestClient, certified: Certified) -> None:
    seen: set[str] = set()

    def get(path: str, statuses: tuple[int, ...] = (200,), **params: Any) -> Any:
        return _fits(api.get(path, params=params), "GET", path, seen, statuses)

    def verify(body: bytes) -> Any:
        return _fits(api.post(f"{V1}/verify", content=body), "POST", f"{V1}/verify", seen)

    page = get(f"{V1}/certificates", limit=2)
    assert len(page.items) == 2 and page.next is not None
    revoked = certified.ids[Scenario.PERSONAL]
    certified.service.revoke(revoked, "shapes test")
    certified.service.catch_up(int(certified.world.client.rpc.call("eth_blockNumber"), 16))
    for cert_id in certified.ids.values():
        doc = get(f"{V1}/certificates/{cert_id}")
        assert doc.certificate.id == cert_id and (doc.revocation is not None) == (cert_id == revoked)
        proof = get(f"{V1}/certificates/{cert_id}/proof")
        assert proof.body == doc.certificate
    doc = certified.public(certified.ids[Scenario.TREE_PLANTING_DUTY])
    assert verify(json.dumps(doc).encode()).verdict == "valid"
    assert verify(json.dumps(certified.public(revoked)).encode()).verdict == "revoked"
    assert verify(b"[]").failed == ["format"]

    retirement = doc["certificate"]["retirements"][0]
    custody = get(f"{V1}/provenance/retirements/{retirement['id']}")
    assert custody.serial_ranges and custody.serial_ranges[0].moves
    first = retirement["serial_ranges"][0][0]
    assert get(f"{V1}/provenance/serials/{first}").now.retirement_id == retirement["id"]
    batch = get(f"{V1}/batches/{retirement['batch_id']}")
    assert get(f"{V1}/projects/{batch.project_id}").batches
    assert get(f"{V1}/projects/{batch.project_id}/parcels").project_id == batch.project_id  # land/ (issue 15)
    assert get(f"{V1}/methodologies")
    roots = get(f"{V1}/log/roots").roots
    assert get(f"{V1}/log/consistency", first=roots[0].tree_size, second=roots[-1].tree_size).proof
    assert get(f"{V1}/emission-factors", activity="grid-electricity").count
    person = {
        "subject": "person",
        "region": "510100",
        "year": 2026,
        "lines": [{"activity": "grid-electricity", "quantity": 1200, "unit": "kWh"}],
    }
    assert _fits(api.post(f"{V1}/footprints", json=person), "POST", f"{V1}/footprints", seen).report.total_kgco2e == 169
    # the breakdown of a disclosed report (the route draws the report's own numbers; the verdict is /verify's)
    shown = certified.public(certified.ids[Scenario.LARGE_EVENT])
    report = api.post(f"{V1}/footprints", json=person).json()["report"]
    shown["disclosed"]["footprint_report_sha256"] = {"value": sha256_hex(canonical_json(report)), "salt": "0" * 32}
    shown["footprint_report"] = report
    drawn = _fits(api.post(f"{V1}/footprints/breakdown", json=shown), "POST", f"{V1}/footprints/breakdown", seen)
    assert drawn.total_kgco2e == 169 and drawn.svg.startswith("<svg")
    # 200 or 503 (the node did not answer in time on a busy machine): the same shape either way
    assert get(f"{V1}/health", statuses=(200, 503)).log_size >= len(certified.ids)
    monitored = issue_monitored(certified.service, certified.world.cast)
    assert get(f"{V1}/batches/{monitored}/monitoring").matches
    for name in ("projects", "batches", "retirements", "cancellations", "exports", "reserve", "participants"):
        assert get(f"{V1}/{name}", limit=2).items or name in ("cancellations", "exports")  # the public registry
    assert get(f"{V1}/sanctions").items == [] and get(f"{V1}/snapshots").snapshots == []
    assert get(f"{V1}/statistics").totals.retired_kg > 0
    # the accounts routes (authenticated, on a database of their own) get the same check in test_accounts_shapes.py
    every = {f"{m} {r.path}" for r in ROUTES for m in _methods(r) if not str(r.path).startswith(f"{V1}/accounts")}
    assert seen == every, "a route went unchecked"


def test_a_failing_health_fits_its_shape(
    api: TestClient, certified: Certified, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.schemas.health import HealthPublic

    monkeypatch.setattr(certified.service.context, "indexer_status", FollowStatus(state="stopped", reason="test"))
    response = api.get(f"{V1}/health")
    assert response.status_code == 503 and response.headers["content-type"] == "application/json"
    health = HealthPublic.model_validate_json(response.content, strict=True)
    assert health.status == "indexer stopped" and health.indexer is not None and health.detail


def test_error_answers_fit_the_problem_shape(api: TestClient) -> None:
    for response, status in [
        (api.get(f"{V1}/certificates/SCCW-0-999999"), 404),
        (api.get(f"{V1}/certificates", params={"limit": 0}), 422),
        (api.get(f"{V1}/provenance/retirements/31337-0xdead-0"), 404),
        (api.post(f"{V1}/verify", content=b"{not json"), 400),
        (api.post(f"{V1}/verify", content=b" " * ((1 << 20) + 1)), 413),
    ]:
        assert response.status_code == status and response.headers["content-type"].startswith(PROBLEM)
        problem = Problem.model_validate_json(response.content, strict=True)
        assert problem.status == status and (problem.errors is not None) == (status == 422), problem
