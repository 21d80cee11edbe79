"""GET /api/v1/emission-factors and POST /api/v1/footprints on create_app: the library, a report
computed and nothing stored, and bad activity data as a 422 problem, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import footprint
from api.app import create_app
from api.problems import PROBLEM
from api.schemas.footprint import FactorListPublic, FootprintPublic
from api.schemas.problems import Problem
from tests.footprint.conftest import example

V1 = "/api/v1"


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    # neither route reads the registry: the app without a service context serves them
    with TestClient(create_app(None)) as client:  # type: ignore[arg-type]  # no context needed here
        yield client


def problem_of(response: Any, status: int) -> Problem:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return Problem.model_validate_json(response.content, strict=True)


def test_the_factor_library(api: TestClient) -> None:
    listed = FactorListPublic.model_validate_json(api.get(f"{V1}/emission-factors").content, strict=True)
    assert listed.total == 101 and listed.illustrative == 19
    sichuan = FactorListPublic.model_validate_json(
        api.get(f"{V1}/emission-factors", params={"activity": "grid-electricity", "region": "510000"}).content,
        strict=True,
    )
    assert [(f.ref, f.kgco2e_per_unit) for f in sichuan.factors] == [
        ("cn-grid-2021-510000@1", "0.1255"),
        ("cn-grid-2022-510000@1", "0.1404"),
    ]
    assert (
        "no activity 'banquet'"
        in problem_of(api.get(f"{V1}/emission-factors", params={"activity": "banquet"}), 404).detail
    )


def test_the_chengdu_conference_over_http(api: TestClient) -> None:
    response = api.post(f"{V1}/footprints", json=example("chengdu_conference.json"))
    assert response.status_code == 200, response.text
    shown = FootprintPublic.model_validate_json(response.content, strict=True)
    assert shown.report.total_kgco2e == 67_808 and shown.report.illustrative
    assert [ln.kgco2e for ln in shown.report.lines] == [2_808, 46_500, 3_600, 2_400, 9_000, 2_500, 1_000]
    # the same report, byte for byte, as the CLI and the library make it
    assert response.json() == footprint.compute(example("chengdu_conference.json")).output()


def test_bad_activity_data_is_a_422_problem(api: TestClient) -> None:
    bad = example("chengdu_conference.json") | {"region": "540000"}
    problem = problem_of(api.post(f"{V1}/footprints", json=bad), 422)
    assert problem.title == "Invalid activity data"
    assert problem.detail.startswith("lines[0]: no grid-electricity factor for 540000 (西藏自治区)")
    assert problem.errors is not None and problem.errors[0].msg == problem.detail
    negative = example("chengdu_household.json")
    negative["lines"][0]["quantity"] = -1
    assert "is negative" in problem_of(api.post(f"{V1}/footprints", json=negative), 422).detail


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"subject": "person"}',
        b'{"subject": "person", "region": "510100", "year": 2026, "lines": []}',
        b'{"subject": "person", "region": "510100", "year": 2026, "lines": [{"activity": "meal", "quantity": 1e400, "unit": "meal"}]}',
        b'{"subject": "person", "region": "510100", "year": 2026, "lines": [{"activity": "meal", "quantity": "1e999999999", "unit": "meal"}]}',
        b'{"subject": "person", "region": "510100", "year": 2026, "lines": [{"activity": "meal", "quantity": "NaN", "unit": "meal"}]}',
        b'{"subject": "person", "region": "510100", "year": 2026, "lines": [{"activity": "meal", "quantity": 1, "unit": "meal", "x": 1}]}',
        b'{"subject": "person", "region": "\xe8\xa5\xbf\xe5\x8d\x97", "year": 2026, "aviation_multiplier": "0", "lines": [{"activity": "meal", "quantity": 1, "unit": "meal"}]}',
    ],
)
def test_malformed_bodies_are_problems_never_server_errors(api: TestClient, body: bytes) -> None:
    response = api.post(f"{V1}/footprints", content=body, headers={"content-type": "application/json"})
    assert problem_of(response, 422).status == 422
