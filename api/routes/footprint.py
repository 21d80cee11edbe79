"""Footprint accounting: the emission-factor library, and a report computed from activity data
without storing anything of it (the body may describe a person's life: it is neither kept nor logged)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

import footprint
from api.problems import ApiProblem, problem, problem_responses
from api.schemas.footprint import FactorListPublic, FactorPublic, FootprintInput, FootprintPublic
from footprint.jsonin import MAX_NESTING, loads, too_deep

router = APIRouter(tags=["footprint"], responses=problem_responses(503))

# 1,000 lines of activity data at their longest fields come to about 1.5 MB; FastAPI read any body
# whole before the line limit was checked (100 MB held 860 MB of memory for a second)
MAX_BODY = 2 << 20


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


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its $defs put in place (the body is read by the route itself, so
    FastAPI does not file the model among the document's components)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


@router.post(
    "/footprints",
    summary="Compute a footprint report from activity data (nothing is stored)",
    description="One line per emission source with its pinned factor (id@version and row hash), the total in "
    "whole kg (each line rounded up), the method version and whether an aviation multiplier is applied. "
    f"Bad activity data is a 422 problem naming the line and the fix; a body over {MAX_BODY:,} bytes is a 413, "
    f"one nesting arrays and objects more than {MAX_NESTING} levels a 400.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(FootprintInput.model_json_schema())}},
        }
    },
    response_model=FootprintPublic,
    responses=problem_responses(400, 413, 422),
)
async def footprints(request: Request) -> JSONResponse:
    too_large = problem(413, "Too large", f"activity data is at most {MAX_BODY:,} bytes (1,000 lines)")
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return too_large
    chunks, size = [], 0
    async for chunk in request.stream():  # never hold more than the limit, whatever the client sends
        size += len(chunk)
        if size > MAX_BODY:
            return too_large
        chunks.append(chunk)
    return await run_in_threadpool(_footprint, b"".join(chunks))


def _footprint(raw: bytes) -> JSONResponse:
    if too_deep(raw):
        return problem(
            400, "Nested too deeply", f"activity data nests at most {MAX_NESTING} levels of arrays and objects"
        )
    try:
        data = loads(raw, "the body", "send the activity data as JSON (docs/footprint.md)")
    except footprint.FootprintError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": str(exc)}]) from None
    try:
        FootprintInput.model_validate(data)  # the published shape; the data itself is computed as sent
    except ValidationError as exc:
        raise RequestValidationError(
            [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        ) from None
    # as parsed, decimals as written (the model's float would round "0.1234567890123456789"), and
    # a null taken for an absent field as the model takes it
    data = {k: v for k, v in data.items() if v is not None}
    data["lines"] = [{k: v for k, v in line.items() if v is not None} for line in data["lines"]]
    try:
        report = footprint.compute(data)
    except footprint.FootprintError as exc:
        return problem(422, "Invalid activity data", str(exc), errors=[{"loc": ["body"], "msg": str(exc)}])
    return JSONResponse(report.output())
