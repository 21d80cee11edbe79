"""What every route needs: the service context (set on the app at startup) and a connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Connection

from api.problems import ApiProblem
from certificates.context import ServiceContext


def context(request: Request) -> ServiceContext:
    return request.app.state.context  # type: ignore[no-any-return]


def connection(request: Request) -> Iterator[Connection]:
    with context(request).engine.connect() as conn:
        yield conn


def row_dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def not_found(what: str, hint: str = "") -> ApiProblem:
    return ApiProblem(404, "Not found", f"no {what}" + (f"; {hint}" if hint else ""))
