"""/api/v1/accounts for data sources (docs/accounts.md): open an account with the person's data
sealed at once, consent per kind of data, export and delete on the app's request, the statement
with its inclusion proofs, and the signed link to the statement page.

Every route authenticates the key first (api/routes/accounts_auth.py) and reads its body itself,
no further than the size limit, so an oversize or unauthenticated body is never held whole. A
request body may carry personal data: it is neither logged nor echoed (a 422 names the field, not
its value)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, select

from accounts import links, people
from accounts.models import ACCOUNTS
from accounts.sources import Principal
from api.routes import accounts_auth, accounts_records, accounts_rights, accounts_statement
from api.routes.accounts_auth import (
    AccountsProblem,
    body,
    body_schema,
    engine_of,
    now,
    require_consent,
    require_opener,
    responses,
    scoped,
    settings_of,
)
from api.schemas.accounts import (
    AccountPublic,
    ConsentIn,
    ConsentPublic,
    DeletedPublic,
    ExportPublic,
    LinkIn,
    LinkPublic,
    OpenAccountIn,
    StatementPublic,
)

router = APIRouter(prefix="/accounts", tags=["accounts"])
ACCOUNT_PATH = Path(pattern=r"^acc_[a-z2-7]{26}$", description="the account id")
KEPT = "the points entries stay, pseudonymous (the ledger is append-only and its log anchored); nothing else"


def install(app: FastAPI) -> None:
    """Everything of the accounts: the API under /api/v1/accounts, its error answers, and the
    statement page a signed link opens (/accounts/statement)."""
    accounts_auth.install(app)
    for module in (accounts_records, accounts_rights):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(router, prefix="/api/v1")  # after the fixed paths: /accounts/{account} matches anything
    app.include_router(accounts_statement.page_router)


def _consents(engine: Engine, account: str) -> list[str]:
    return sorted({c.data_kind for c in people.list_consents(engine, account) if c.revoked_at is None})


@router.post(
    "",
    summary="Open an account (scope accounts:write); the person's name, phone and ID number are sealed at once",
    openapi_extra=body_schema(OpenAccountIn),
    response_model=AccountPublic,
    responses=responses(400, 403, 422),
)
async def open_account(request: Request, who: Annotated[Principal, Depends(scoped("accounts:write"))]) -> AccountPublic:
    given = await body(request, OpenAccountIn)
    engine = engine_of(request)

    def run() -> AccountPublic:
        at = now()
        personal = given.personal.model_dump(exclude_none=True) if given.personal is not None else None
        vault = request.app.state.context.vault
        account = people.open_account(engine, who, at, personal or None, vault, given.consents)
        return AccountPublic(
            account=account, created_by=who.source_id, created_at=at, consents=_consents(engine, account)
        )

    return await run_in_threadpool(run)


@router.post(
    "/{account}/consents",
    summary="Record the person's consent that a source (this one by default) sends one kind of data "
    "(scope accounts:write; only the app that opened the account records consents)",
    openapi_extra=body_schema(ConsentIn),
    response_model=ConsentPublic,
    responses=responses(400, 403, 404, 409, 422),
)
async def grant_consent(
    request: Request,
    who: Annotated[Principal, Depends(scoped("accounts:write"))],
    account: Annotated[str, ACCOUNT_PATH],
) -> ConsentPublic:
    given = await body(request, ConsentIn)
    found = await run_in_threadpool(
        people.grant_consent, engine_of(request), who, account, given.kind, now(), given.source
    )
    return ConsentPublic(
        account=account, source=found.source_id, kind=found.data_kind, granted_at=found.granted_at, revoked_at=None
    )


@router.delete(
    "/{account}/consents/{kind}",
    summary="Withdraw a consent for one kind of data (scope accounts:write): a source's own, or any source's by "
    "the app that opened the account; records of it are refused",
    response_model=ConsentPublic,
    responses=responses(403, 404, 422),
)
def revoke_consent(
    request: Request,
    who: Annotated[Principal, Depends(scoped("accounts:write"))],
    account: Annotated[str, ACCOUNT_PATH],
    kind: Annotated[str, Path(min_length=1, max_length=40)],
    source: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")] = None,
) -> ConsentPublic:
    at = now()
    withdrawn = people.revoke_consent(engine_of(request), who, account, kind, at, source)
    return ConsentPublic(
        account=account,
        source=source or who.source_id,
        kind=kind,
        granted_at=None,
        revoked_at=at if withdrawn else None,
    )


@router.get(
    "/{account}/statement",
    summary="The account's statement: balance, points expiring soonest, entries newest first with their "
    "inclusion proofs to the anchored root (scope statements:read and the person's live consent)",
    response_model=StatementPublic,
    responses=responses(403, 404, 422),
)
def statement(
    request: Request,
    who: Annotated[Principal, Depends(scoped("statements:read"))],
    account: Annotated[str, ACCOUNT_PATH],
    limit: Annotated[int, Query(ge=1, le=500, description="entries per page")] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="the previous page's next_before")] = None,
) -> StatementPublic:
    engine = engine_of(request)
    require_consent(engine, who, account)
    return accounts_statement.statement(engine, account, now(), limit, before)


@router.post(
    "/{account}/statement-links",
    summary="A signed link to the person's statement page, to hand to the person (scope statements:read)",
    description="The URL carries an HMAC token of the account id and the expiry (accounts/links.py); "
    "anyone holding it sees the statement (never the person's name) until it expires.",
    openapi_extra=body_schema(LinkIn),
    response_model=LinkPublic,
    responses=responses(400, 403, 404, 422),
)
async def statement_link(
    request: Request,
    who: Annotated[Principal, Depends(scoped("statements:read"))],
    account: Annotated[str, ACCOUNT_PATH],
) -> LinkPublic:
    given = await body(request, LinkIn, optional=True)
    engine = engine_of(request)
    await run_in_threadpool(require_consent, engine, who, account)
    settings = settings_of(request)
    ttl = given.ttl or settings.link_ttl
    if ttl > settings.link_max_ttl:
        raise AccountsProblem(422, "Invalid request", f"a link lives at most {settings.link_max_ttl} s; ask for less")
    expires_at = now() + ttl
    token = links.sign(request.app.state.accounts_link_key, account, expires_at)
    base = request.app.state.context.settings.base_url
    return LinkPublic(url=f"{base}/accounts/statement?t={token}", expires_at=expires_at)


@router.get(
    "/{account}/export",
    summary="Everything held about the account, the personal data unsealed, for the person (scope accounts:write; "
    "only the source that opened the account)",
    response_model=ExportPublic,
    responses=responses(403, 404, 422),
)
def export(
    request: Request,
    who: Annotated[Principal, Depends(scoped("accounts:write"))],
    account: Annotated[str, ACCOUNT_PATH],
) -> ExportPublic:
    engine = engine_of(request)
    require_opener(engine, who, account)
    found = people.export_account(engine, account, request.app.state.context.vault)
    return ExportPublic(account=account, export=found)


@router.delete(
    "/{account}",
    summary="Delete the person's data (scope accounts:write; only the source that opened the account): sealed "
    "data, consents and records' details go; the points entries stay, pseudonymous; the account refuses new records",
    response_model=DeletedPublic,
    responses=responses(403, 404, 422),
)
def delete(
    request: Request,
    who: Annotated[Principal, Depends(scoped("accounts:write"))],
    account: Annotated[str, ACCOUNT_PATH],
) -> DeletedPublic:
    engine = engine_of(request)
    require_opener(engine, who, account)
    at = now()
    people.delete_account(engine, account, at)
    with engine.connect() as conn:
        deleted_at = conn.execute(select(ACCOUNTS.c.deleted_at).where(ACCOUNTS.c.id == account)).scalar_one()
    return DeletedPublic(account=account, deleted_at=int(deleted_at or at), kept=KEPT)
