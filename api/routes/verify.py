"""POST /verify: the verdict on a certificate document and every check, from the mirror alone
(verification never calls the node per request)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.certificates.verify import verify_document
from api.problems import PROBLEM, PROBLEM_SCHEMA, problem

router = APIRouter(tags=["verification"])

MAX_DOCUMENT = 1 << 20

VERDICT_SCHEMA = {
    "type": "object", "required": ["verdict", "checks"],
    "properties": {
        "verdict": {"type": "string", "enum": ["valid", "invalid", "revoked"]},
        "certificate_id": {"type": ["string", "null"]},
        "failed": {"type": "array", "items": {"type": "string"}},
        "checks": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "ok": {"type": "boolean"}, "title_zh": {"type": "string"},
            "title_en": {"type": "string"}, "detail": {"type": "string"}}}},
    },
}


@router.post(
    "/verify", summary="Verify a certificate document",
    description="Checks the field commitments, the claim, the beneficiary commitment, the inclusion proof, the "
                "anchored root, each retirement and revocation. A malformed document is a verdict, not an error.",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}},
    responses={200: {"content": {"application/json": {"schema": VERDICT_SCHEMA}}},
               400: {"description": "Not JSON", "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}},
               413: {"description": "Too large", "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}},
)
async def verify(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_DOCUMENT:
        return problem(413, "Document too large", f"a certificate document is at most {MAX_DOCUMENT} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return problem(400, "Not JSON", "send the certificate document as JSON (Content-Type: application/json)")
    verdict = verify_document(doc, request.app.state.context.evidence)
    return JSONResponse(verdict.as_json())
