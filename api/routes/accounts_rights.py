"""Rights exchange (权益兑换, accounts/rights.py): a merchant lists, restocks and withdraws its rights
and reverses a redemption within the right's window (scope rights:write); an app redeems a right for
a person it serves (scope redemptions:write), exactly once per Idempotency-Key."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from accounts import rights
from accounts.redeem_batch import RedemptionBatcher
from accounts.sources import Principal
from api.routes.accounts_auth import (
    body,
    body_schema,
    engine_of,
    now,
    principal,
    require_opener,
    responses,
    scoped,
)
from api.schemas.accounts import RedemptionIn, RedemptionPublic, RightIn, RightListPublic, RightPublic, StockIn

router = APIRouter(prefix="/accounts", tags=["rights exchange"])
RIGHT_PATH = Path(ge=1, le=2**62, description="the right's id")
ACCOUNT_PATH = Path(pattern=r"^acc_[a-z2-7]{26}$", description="the account id")
_BATCHER_LOCK = threading.Lock()


def _batcher(request: Request) -> RedemptionBatcher:
    """The app's one redemption batcher, made on first use (the engine is the app's)."""
    state = request.app.state
    with _BATCHER_LOCK:
        found: RedemptionBatcher | None = getattr(state, "redeem_batcher", None)
        if found is None:
            found = state.redeem_batcher = RedemptionBatcher(engine_of(request))
    return found


def shown(r: rights.RightInfo) -> RightPublic:
    return RightPublic(
        id=r.id,
        merchant=r.merchant_id,
        name=r.name,
        kind=r.kind,
        stock=r.stock,
        price=r.price,
        reversal_window=r.reversal_window,
        active=r.active,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def redemption(r: rights.RedemptionInfo) -> RedemptionPublic:
    return RedemptionPublic(
        id=r.id,
        account=r.account_id,
        right=r.right_id,
        points=r.points,
        created_at=r.created_at,
        reversed_at=r.reversed_at,
        replayed=r.replayed,
    )


@router.get(
    "/rights",
    summary="Rights: a merchant's own (withdrawn too if asked); for any other source, every active right",
    response_model=RightListPublic,
    responses=responses(422),
)
def list_rights(
    request: Request,
    who: Annotated[Principal, Depends(principal)],
    include_withdrawn: Annotated[bool, Query(description="a merchant's withdrawn rights too")] = False,
) -> RightListPublic:
    engine = engine_of(request)
    if who.kind == "merchant":
        found = rights.list_rights(engine, who.source_id, include_withdrawn=include_withdrawn)
    else:
        found = rights.list_rights(engine)
    return RightListPublic(rights=[shown(r) for r in found])


@router.post(
    "/rights",
    summary="List a new right (a merchant, scope rights:write): name, kind, stock, price in points, reversal window",
    openapi_extra=body_schema(RightIn),
    response_model=RightPublic,
    responses=responses(400, 403, 404, 422),
)
async def add_right(request: Request, who: Annotated[Principal, Depends(scoped("rights:write"))]) -> RightPublic:
    given = await body(request, RightIn)
    found = await run_in_threadpool(
        lambda: rights.add_right(
            engine_of(request),
            who.source_id,
            name=given.name,
            kind=given.kind,
            stock=given.stock,
            price=given.price,
            reversal_window=given.reversal_window,
            now=now(),
        )
    )
    return shown(found)


@router.put(
    "/rights/{right_id}/stock",
    summary="Set the stock the merchant counts as left (its own right, scope rights:write)",
    openapi_extra=body_schema(StockIn),
    response_model=RightPublic,
    responses=responses(400, 403, 404, 422),
)
async def set_stock(
    request: Request,
    who: Annotated[Principal, Depends(scoped("rights:write"))],
    right_id: Annotated[int, RIGHT_PATH],
) -> RightPublic:
    given = await body(request, StockIn)
    found = await run_in_threadpool(rights.set_stock, engine_of(request), who.source_id, right_id, given.stock, now())
    return shown(found)


@router.post(
    "/rights/{right_id}/withdraw",
    summary="Stop redemptions of the merchant's right (earlier ones stay reversible within their window)",
    response_model=RightPublic,
    responses=responses(403, 404, 422),
)
def withdraw(
    request: Request,
    who: Annotated[Principal, Depends(scoped("rights:write"))],
    right_id: Annotated[int, RIGHT_PATH],
) -> RightPublic:
    return shown(rights.withdraw(engine_of(request), who.source_id, right_id, now()))


@router.post(
    "/redemptions/{redemption_id}/reverse",
    summary="Reverse a redemption of the merchant's own right within its window: points back, one unit of stock back",
    response_model=RedemptionPublic,
    responses=responses(403, 404, 409, 422),
)
def reverse(
    request: Request,
    who: Annotated[Principal, Depends(scoped("rights:write"))],
    redemption_id: Annotated[str, Path(pattern=r"^red_[a-z2-7]{26}$", description="the redemption id")],
) -> RedemptionPublic:
    return redemption(rights.reverse(engine_of(request), who.source_id, redemption_id, now()))


@router.post(
    "/{account}/redemptions",
    summary="Redeem one unit of a right for the person (the app that opened the account, scope redemptions:write), "
    "exactly once per Idempotency-Key: a retry answers the first redemption (replayed: true), never a second debit",
    openapi_extra=body_schema(RedemptionIn),
    response_model=RedemptionPublic,
    responses=responses(400, 403, 404, 409, 422),
)
async def redeem(
    request: Request,
    who: Annotated[Principal, Depends(scoped("redemptions:write"))],
    account: Annotated[str, ACCOUNT_PATH],
    idempotency_key: Annotated[
        str,
        Header(
            min_length=1,
            max_length=100,
            pattern=r"^[\x21-\x7e]+$",
            description="new for each redemption; the same on a retry",
        ),
    ],
) -> RedemptionPublic:
    given = await body(request, RedemptionIn)
    engine = engine_of(request)

    batcher = _batcher(request)

    def run() -> rights.RedemptionInfo:
        require_opener(engine, who, account)  # the person's own app spends: a self-recorded consent is not enough
        # concurrent redemptions share a transaction and its disk flush; each is answered after it commits
        return batcher.redeem(who.source_id, account, given.right, idempotency_key, now())

    return redemption(await run_in_threadpool(run))
