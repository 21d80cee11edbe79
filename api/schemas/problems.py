"""An error answer: an RFC 9457 problem document (application/problem+json)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import SkipJsonSchema


class InvalidParam(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loc: list[str]
    msg: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    title: str
    status: int
    detail: str
    # only on 422: which parts of the request do not fit; absent otherwise, never null
    errors: list[InvalidParam] | SkipJsonSchema[None] = None
