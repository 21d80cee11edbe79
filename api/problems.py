"""Errors as RFC 9457 problem details (application/problem+json), never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException

from api.schemas.problems import Problem

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
REF = "#/components/schemas/"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


class ApiProblem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def install(app: FastAPI) -> None:
    _publish_problem_shape(app)

    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, "Not found" if exc.status_code == 404 else "HTTP error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem(422, "Invalid request", f"the request does not fit the API: {where}", errors=errors)

    @app.exception_handler(PoolTimeoutError)
    async def _no_connection(request: Request, _: PoolTimeoutError) -> JSONResponse:
        # every pooled connection stayed busy for db_pool_timeout: say so now, not after the client gives up
        retry_after = request.app.state.context.settings.retry_after
        log.warning("no database connection free for %s %s", request.method, request.url.path)
        response = problem(503, "Busy", f"no database connection is free; retry in {retry_after} s")
        response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        from api.headers import CSP, SECURITY  # here: api.headers imports the pages, which import this module

        log.error("unexpected error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        response = problem(500, "Internal error", "the server failed on this request; it was logged without its data")
        # this answer comes from outside the middleware that adds them to every other
        response.headers.update({**SECURITY, "Content-Security-Policy": CSP})
        return response


# the problem shape is a named component of /openapi.json (added by install()), referred to by every
# error answer under its own media type: FastAPI's `responses={...: {"model": ...}}` would file it
# under application/json, which these answers never are
PROBLEM_SCHEMA = {"$ref": f"{REF}{Problem.__name__}"}
DESCRIPTIONS = {
    400: "Not JSON, or nested too deeply",
    404: "Not found",
    413: "Too large",
    422: "Invalid request",
    503: "Busy: every connection or admission slot stayed taken; retry after Retry-After seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of the problem answers a route can give."""
    return {s: {"description": DESCRIPTIONS[s], "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}} for s in statuses}


def _components() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=REF + "{model}", mode="serialization")
    return {**schema.pop("$defs", {}), Problem.__name__: schema}


def _publish_problem_shape(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()  # cached by FastAPI as app.openapi_schema: completed in place, once
        document.setdefault("components", {}).setdefault("schemas", {}).update(_components())
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document
