"""Footprint accounting: the emission-factor library, and a report computed from activity data
without storing anything of it (the body may describe a person's life: it is neither kept nor logged).

Both read the library the registry's database holds (footprint/store.py: the shipped rows, copied
in, and the imported ones), or the shipped library alone for an app without a database."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

import footprint
from api.problems import ApiProblem, problem, problem_responses
from api.schemas.footprint import (
    BreakdownPublic,
    FactorListPublic,
    FactorPublic,
    FootprintInput,
    FootprintPublic,
)
from certificates.footprint_report import hash_problem
from certificates.render.breakdown import disclosed_breakdown, svg
from footprint import csvin
from footprint import store as factor_store
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
    request: Request,
    activity: Annotated[str | None, Query(max_length=100, description="only this activity")] = None,
    region: Annotated[str | None, Query(max_length=20, description="only this region: CN, 西南, 510000")] = None,
    year: Annotated[int | None, Query(ge=1990, le=2100, description="only rows of this data year")] = None,
    include_superseded: Annotated[bool, Query(description="superseded versions too")] = False,
    limit: Annotated[int, Query(ge=1, le=1000, description="rows per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=10**6, description="rows to skip: the previous page's next_offset")] = 0,
) -> FactorListPublic:
    lib = footprint.shipped()
    if activity is not None and activity not in lib.activities:
        raise ApiProblem(404, "Not found", f"no activity {activity!r}; use one of {', '.join(sorted(lib.activities))}")
    query: dict[str, Any] = {
        "activity": activity,
        "region": region,
        "year": year,
        "include_superseded": include_superseded,
        "limit": limit,
        "offset": offset,
    }
    engine = _engine(request)
    try:
        found = factor_store.synced_page(engine, lib, **query) if engine is not None else None
    except SQLAlchemyError:
        raise ApiProblem(503, "Unavailable", "the factor library's database does not answer; try again") from None
    except footprint.FootprintError as exc:
        raise ApiProblem(503, "Unavailable", f"the factor library does not hold together: {exc}") from None
    if found is None:  # no database: the shipped rows, filtered and paged as SQL would
        rows = sorted((f for f in lib.factors.values() if _matches(f, query)), key=lambda f: (f.id.encode(), f.version))
        found = factor_store.Page(
            len(rows), sum(f.illustrative for f in rows), [(f, "shipped") for f in rows[offset : offset + limit]]
        )
    factors = [FactorPublic.model_validate(f.document() | {"origin": origin}) for f, origin in found.rows]
    after = offset + len(factors)
    return FactorListPublic(
        total=found.total,
        illustrative=found.illustrative,
        count=len(factors),
        limit=limit,
        offset=offset,
        next_offset=after if after < found.total else None,
        factors=factors,
    )


def _engine(request: Request) -> Engine | None:
    context = getattr(request.app.state, "context", None)
    engine: Engine | None = None if context is None else context.engine
    return engine


def _matches(f: footprint.Factor, query: dict[str, Any]) -> bool:
    return (
        (query["activity"] is None or f.activity == query["activity"])
        and (query["region"] is None or f.region == query["region"])
        and (query["year"] is None or f.year == query["year"])
        and (query["include_superseded"] or f.current)
    )


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
            "content": {
                "application/json": {"schema": _inlined(FootprintInput.model_json_schema())},
                "text/csv": {"schema": {"type": "string", "description": "the CSV columns of docs/footprint.md"}},
            },
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
    media, *params = request.headers.get("content-type", "").split(";")
    is_csv = media.strip().lower() == "text/csv"
    # a sheet in the charset its sender declares (a Chinese Excel's CSV is GBK); UTF-8 when it names none
    charset = next((v for k, _, v in (p.partition("=") for p in params) if k.strip().lower() == "charset"), "utf-8")
    return await run_in_threadpool(_footprint, b"".join(chunks), is_csv, _engine(request), charset)


def _library(engine: Engine | None) -> footprint.Library:
    if engine is None:
        return footprint.shipped()
    try:
        return factor_store.synced(engine)
    except SQLAlchemyError:
        raise ApiProblem(503, "Unavailable", "the factor library's database does not answer; try again") from None
    except footprint.FootprintError as exc:
        raise ApiProblem(503, "Unavailable", f"the factor library does not hold together: {exc}") from None


def _footprint(raw: bytes, is_csv: bool, engine: Engine | None, charset: str = "utf-8") -> JSONResponse:
    if is_csv:
        try:
            parsed = csvin.parse(raw, "the body", charset)
            report = footprint.compute(parsed.data, _library(engine), parsed.where)
        except footprint.FootprintError as exc:
            return problem(422, "Invalid activity data", str(exc), errors=[{"loc": ["body"], "msg": str(exc)}])
        return JSONResponse(report.output())
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
        report = footprint.compute(data, _library(engine))
    except footprint.FootprintError as exc:
        return problem(422, "Invalid activity data", str(exc), errors=[{"loc": ["body"], "msg": str(exc)}])
    return JSONResponse(report.output())


MAX_DOCUMENT = 1 << 20  # a certificate document, as POST /verify takes it


@router.post(
    "/footprints/breakdown",
    summary="A certificate's footprint breakdown, drawn as SVG (only when the document discloses its report)",
    description="The body is a certificate document, as POST /verify takes it. The answer holds one bar per "
    "category of the disclosed footprint report (kilograms and share of the total) and the same drawn as an SVG "
    "image with the numbers beside the bars, made on the server from the report's own numbers (whether they hold "
    "is POST /verify's verdict). A document that hides its report, or carries none, is a 404 problem; one whose "
    "report is not the one its disclosed footprint_report_sha256 commits to, a 422.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
    response_model=BreakdownPublic,
    responses=problem_responses(400, 404, 413, 422),
)
async def breakdown(request: Request) -> JSONResponse:
    too_large = problem(413, "Document too large", f"a certificate document is at most {MAX_DOCUMENT:,} bytes")
    if int(request.headers.get("content-length") or 0) > MAX_DOCUMENT:
        return too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_DOCUMENT:
            return too_large
        chunks.append(chunk)
    return await run_in_threadpool(_breakdown, b"".join(chunks))


def _breakdown(raw: bytes) -> JSONResponse:
    if too_deep(raw):
        return problem(400, "Nested too deeply", f"a certificate document nests at most {MAX_NESTING} levels")
    try:
        doc = loads(raw, "the body", "send the certificate document as JSON")
    except footprint.FootprintError as exc:
        return problem(400, "Not JSON", str(exc))
    if not isinstance(doc, dict) or not isinstance(doc.get("disclosed", {}), dict):
        return problem(404, "Not found", "the document discloses no footprint report; a hidden report is not drawn")
    mismatch = hash_problem(doc)
    if mismatch is not None:  # numbers no commitment vouches for are not drawn, not even with a caveat
        return problem(422, "Report not committed", f"{mismatch}; the chart draws only the report committed to")
    found = disclosed_breakdown(doc)
    if found is None:
        return problem(404, "Not found", "the document discloses no footprint report; a hidden report is not drawn")
    bars = [
        {"category": b.category, "zh": b.label_zh, "en": b.label_en, "kgco2e": b.kg, "share": b.share(found.total_kg)}
        for b in found.bars
    ]
    return JSONResponse(
        {
            "subject": found.subject,
            "method": found.method,
            "total_kgco2e": found.total_kg,
            "illustrative": found.illustrative,
            "bars": bars,
            "svg": svg(found),
        }
    )
