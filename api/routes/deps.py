"""What every route needs: the service context (set on the app at startup) and a connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import Connection

from api.problems import ApiProblem
from certificates.context import ServiceContext


def context(request: Request) -> ServiceContext:
    found: ServiceContext = request.app.state.context  # Starlette's State holds Any
    return found


def connection(request: Request) -> Iterator[Connection]:
    with context(request).engine.connect() as conn:
        yield conn


def shown(row: Any, shape: type[BaseModel]) -> dict[str, Any]:
    """The members of `row` that `shape` lists, in the shape's order: a column the shape does not
    list stays out of the answer, so a new column is never published by accident."""
    values = row._mapping
    return {name: values[name] for name in shape.model_fields if name in values}


def not_found(what: str, hint: str = "") -> ApiProblem:
    return ApiProblem(404, "Not found", f"no {what}" + (f"; {hint}" if hint else ""))
