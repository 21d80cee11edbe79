"""Footprint accounting: the emission-factor library, and a report computed from activity data
without storing anything of it (the body may describe a person's life: it is neither kept nor logged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

import footprint
from api.problems import ApiProblem, problem, problem_responses
from api.schemas.footprint import FactorListPublic, FactorPublic, FootprintInput, FootprintPublic

router = APIRouter(tags=["footprint"], responses=problem_responses(503))


@router.get(
    "/emission-factors",
    summary="The emission-factor library: every row with its source, version and hash",
    responses=problem_responses(404, 422),
)
def emission_factors(
    activity: Annotated[str | None, Query(max_length=100, description="only this activity")] = None,
    region: Annotated[str | None, Query(max_length=20, description="only this region: CN, 西南, 510000")] = None,
    include_superseded: Annotated[bool, Query(description="superseded versions too")] = False,
) -> FactorListPublic:
    lib = footprint.shipped()
    if activity is not None and activity not in lib.activities:
        raise ApiProblem(404, "Not found", f"no activity {activity!r}; use one of {', '.join(sorted(lib.activities))}")
    rows = [
        FactorPublic.model_validate(f.document())
        for f in lib.factors.values()
        if (activity is None or f.activity == activity)
        and (region is None or f.region == region)
        and (include_superseded or f.current)
    ]
    return FactorListPublic(count=len(rows), illustrative=sum(r.illustrative for r in rows), factors=rows)


@router.post(
    "/footprints",
    summary="Compute a footprint report from activity data (nothing is stored)",
    description="One line per emission source with its pinned factor (id@version and row hash), the total in "
    "whole kg (each line rounded up), the method version and whether an aviation multiplier is applied. "
    "Bad activity data is a 422 problem naming the line and the fix.",
    response_model=FootprintPublic,
    responses=problem_responses(422),
)
def footprints(body: FootprintInput) -> JSONResponse:
    try:
        report = footprint.compute(body.model_dump(exclude_none=True))
    except footprint.FootprintError as exc:
        return problem(422, "Invalid activity data", str(exc), errors=[{"loc": ["body"], "msg": str(exc)}])
    return JSONResponse(report.output())
