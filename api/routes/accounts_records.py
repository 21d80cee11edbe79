"""POST /api/v1/accounts/records: a batch of behaviour records from a source → one outcome per record
(accounts/ingest.py). A bad record is refused with its reason and the rest of the batch applied; a
retried batch answers the same outcomes and posts nothing new; a batch of more than 1,000 records is
refused whole (413)."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from accounts import ingest
from accounts.sources import Principal
from api.routes.accounts_auth import AccountsProblem, read_json, responses, scoped, settings_of
from api.schemas.accounts import BatchPublic, RecordsIn

router = APIRouter(prefix="/accounts", tags=["accounts"])
EXAMPLE = {
    "id": "trip-20261130-0001",
    "account": "acc_" + "a" * 26,
    "type": "metro",
    "occurred_at": "2026-11-30T08:15:00+08:00",
    "quantity": "12.5",
    # the identity fields the methodology names for metro (accounts/behaviours/behaviours.csv): the API
    # refuses any others; tests/api/test_accounts_examples.py posts this example and expects a credit
    "identity": {"entry_station": "天府广场", "exit_station": "火车南站"},
}


@router.post(
    "/records",
    summary=f"A batch of at most {ingest.MAX_BATCH:,} behaviour records (scope records:write) → one outcome each",
    description="Each record is credited, a duplicate of a behaviour credited before (from any source: the same "
    "behaviour earns once), or refused with a code and a reason. A retried batch answers the same outcomes and "
    "credits nothing twice. Points: 1 point = 1 g CO2e avoided; `illustrative` marks points from a factor "
    "without a public source.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["records"],
                        "additionalProperties": False,
                        "properties": {
                            "records": {"type": "array", "maxItems": ingest.MAX_BATCH, "items": {"type": "object"}}
                        },
                    },
                    "example": {"records": [EXAMPLE]},
                }
            },
        }
    },
    response_model=BatchPublic,
    responses=responses(400, 403, 422),
)
async def records(request: Request, who: Annotated[Principal, Depends(scoped("records:write"))]) -> Response:
    data = await read_json(request, settings_of(request).max_body)
    if not isinstance(data, dict) or set(data) != {"records"} or not isinstance(data["records"], list):
        raise AccountsProblem(422, "Invalid request", 'send {"records": [record, …]}: one member, a list of records')
    batch = RecordsIn.model_construct(records=data["records"])  # each record is checked by the domain, one by one
    engine = request.app.state.context.engine
    outcomes = await run_in_threadpool(ingest.ingest, engine, who, batch.records, int(time.time()))
    # built as plain JSON, not 1,000 models validated twice: the shape is BatchPublic's (the tests hold it to it)
    shown = [
        {
            "index": o.index,
            "id": o.id,
            "status": o.status,
            "points": o.points,
            "txn": o.txn,
            "record": o.record,
            "code": o.code,
            "reason": o.reason,
            "capped": o.capped,
            "type_version": o.type_version,
            "illustrative": o.illustrative,
        }
        for o in outcomes
    ]
    credited = [o for o in outcomes if o.status == "credited"]
    # orjson: a tenth of json.dumps's time for 1,000 outcomes
    body = orjson.dumps(
        {
            "received": len(shown),
            "credited": len(credited),
            "duplicate": sum(o.status == "duplicate" for o in outcomes),
            "refused": sum(o.status == "refused" for o in outcomes),
            # a record sent twice in one batch answers as the first: each behaviour counts once
            "points": sum({o.record: o.points for o in credited}.values()),
            "illustrative": any(o.illustrative for o in credited),
            "outcomes": shown,
        }
    )
    return Response(body, media_type="application/json")
