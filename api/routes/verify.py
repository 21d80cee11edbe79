"""POST /verify: the verdict on a certificate document and every check, from the mirror alone
(verification never calls the node per request)."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.problems import problem, problem_responses
from api.schemas.verify import VerdictPublic
from certificates.verify import verify_document

router = APIRouter(tags=["verification"])

MAX_DOCUMENT = 1 << 20
# json.loads recurses in C once per level, and the process's recursion limit is 100,000 (py_ecc
# raises it on import): a megabyte of "[" overflowed the stack and killed the worker. A
# certificate document nests about six levels.
MAX_NESTING = 64
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _too_deep(raw: bytes) -> bool:
    """Whether arrays and objects nest more than MAX_NESTING levels in `raw` (strings skipped),
    without parsing it."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:  # it cannot nest deeper than it opens
        return False
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", raw))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_NESTING


@router.post(
    "/verify",
    summary="Verify a certificate document",
    description="Checks the field commitments, the claim, the beneficiary commitment, the inclusion proof, the "
    "anchored root, each retirement and revocation. A malformed document is a verdict, not an error.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
    # answered as a JSONResponse built from the verdict: the model documents it, no encoder walks it
    response_model=VerdictPublic,
    responses=problem_responses(400, 413, 503),
)
async def verify(request: Request) -> JSONResponse:
    too_large = problem(413, "Document too large", f"a certificate document is at most {MAX_DOCUMENT} bytes")
    if int(request.headers.get("content-length") or 0) > MAX_DOCUMENT:
        return too_large
    chunks, size = [], 0
    async for chunk in request.stream():  # never hold more than the limit, whatever the client sends
        size += len(chunk)
        if size > MAX_DOCUMENT:
            return too_large
        chunks.append(chunk)
    # parsing a megabyte and the checks (which read the database through the synchronous engine)
    # run on a thread, never on the event loop
    return await run_in_threadpool(_verify, b"".join(chunks), request.app.state.context.evidence)


def _verify(raw: bytes, evidence: Any) -> JSONResponse:
    if _too_deep(raw):
        return problem(
            400, "Nested too deeply", f"a certificate document nests at most {MAX_NESTING} levels of arrays and objects"
        )
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return problem(400, "Not JSON", "send the certificate document as JSON (Content-Type: application/json)")
    return JSONResponse(verify_document(doc, evidence).as_json())
