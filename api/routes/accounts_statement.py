"""A person's statement: as JSON for a source (GET /api/v1/accounts/{account}/statement) and as the
bilingual page a signed link opens (GET /accounts/statement?t=…). Both carry each entry's inclusion
proof in the points log (accounts/pointslog.py) to the latest root anchored on chain.

The page is for the person, who holds nothing but the link: a forged link is a 403 page, an expired
one a 410 page, each saying to ask the app for a new link; never the key, never a 5xx."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine, select

from accounts import ledger, links, pointslog
from accounts.models import ACCOUNTS
from api.schemas.accounts import AnchorPublic, EntryPublic, ExpiringPublic, ProofPublic, StatementPublic
from api.templates import render

page_router = APIRouter(tags=["pages"])
CHINA = ZoneInfo("Asia/Shanghai")  # the methodology counts days there (accounts/methodology.py)
PAGE_ENTRIES = 100
KINDS = {
    "credit": "减碳积分 Credit",
    "redeem": "兑换 Redemption",
    "reverse": "兑换撤销 Reversal",
    "expire": "到期 Expired",
    "correct": "更正 Correction",
}


def statement(engine: Engine, account: str, now: int, limit: int, before: int | None) -> StatementPublic:
    """The statement of `account` at `now`: the ledger's (accounts/ledger.py) with the log's proofs."""
    with engine.connect() as conn:
        if conn.execute(select(ACCOUNTS.c.id).where(ACCOUNTS.c.id == account)).first() is None:
            from api.routes.accounts_auth import AccountsProblem  # here: that module's import is the routes'

            raise AccountsProblem(404, "Not found", f"no account {account}")
    found = ledger.statement(engine, account, now, limit, before)
    proofs = pointslog.proofs(engine, [e.id for e in found.entries])
    with engine.connect() as conn:
        anchor = pointslog.latest_anchor(conn)
    return StatementPublic(
        account=account,
        at=now,
        balance=found.balance,
        expiring=[ExpiringPublic(points=found.next_lapse_amount, expires_at=found.next_lapse_at)]
        if found.next_lapse_at is not None
        else [],
        entries=[
            EntryPublic(
                id=e.id,
                txn=e.txn,
                kind=e.kind,
                amount=e.amount,
                ref=e.ref,
                created_at=e.created_at,
                expires_at=e.expires_at,
                proof=ProofPublic.model_validate(proofs[e.id].as_json()) if e.id in proofs else None,
            )
            for e in found.entries
        ],
        next_before=found.next_before,
        anchor=AnchorPublic(tree_size=anchor[0], root=anchor[1], tx_hash=anchor[2]) if anchor else None,
    )


def when(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(CHINA).strftime("%Y-%m-%d %H:%M (UTC+8)")


@dataclass(frozen=True)
class EntryLine:
    when: str
    kind: str
    kind_label: str
    amount: str
    expires: str | None
    anchored: bool
    leaf_index: int | None
    tree_size: int
    path: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatementPage:
    title: str
    account: str
    balance: int
    at: str
    link_expires: str
    anchor: AnchorPublic | None
    expiring: list[dict[str, Any]]
    entries: list[EntryLine]
    more: bool


@dataclass(frozen=True)
class RefusedPage:
    title: str
    zh: str
    en: str


def statement_page(found: StatementPublic, link_expires: int) -> StatementPage:
    lines = [
        EntryLine(
            when(e.created_at),
            e.kind,
            KINDS.get(e.kind, e.kind),
            f"{e.amount:+d}",
            when(e.expires_at) if e.expires_at is not None and e.amount > 0 else None,
            e.proof is not None and e.proof.anchored,
            e.proof.leaf_index if e.proof else None,
            e.proof.tree_size if e.proof else 0,
            e.proof.path if e.proof else [],
        )
        for e in found.entries
    ]
    return StatementPage(
        title="积分明细 Statement",
        account=found.account,
        balance=found.balance,
        at=when(found.at),
        link_expires=when(link_expires),
        anchor=found.anchor,
        expiring=[{"points": x.points, "expires": when(x.expires_at)} for x in found.expiring],
        entries=lines,
        more=found.next_before is not None,
    )


def _refused(status: int, zh: str, en: str) -> HTMLResponse:
    page = RefusedPage("链接无效 Link not valid" if status == 403 else "链接已过期 Link expired", zh, en)
    response = HTMLResponse(render("accounts/refused.html", page=page), status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@page_router.get("/accounts/statement", response_class=HTMLResponse, include_in_schema=False)
def statement_html(request: Request, t: Annotated[str, Query()] = "") -> HTMLResponse:
    # no max_length here: a person's overlong link gets the refusal page below, not a 422 document
    # (links.verify refuses anything past MAX_TOKEN before any work)
    key: bytes | None = request.app.state.accounts_link_key
    now = int(time.time())
    try:
        if key is None:
            raise links.LinkForgedError("statement links are not served here")
        account, expires_at = links.verify(key, t, now)
    except links.LinkExpiredError:
        return _refused(410, "此链接已过期。", "This statement link has expired.")
    except links.LinkError:
        return _refused(
            403,
            "此链接无效（被修改或并非本平台签发）。",
            "This statement link is not valid (altered, or not issued here).",
        )
    engine: Engine = request.app.state.context.engine
    with engine.connect() as conn:
        row = conn.execute(select(ACCOUNTS.c.deleted_at).where(ACCOUNTS.c.id == account)).first()
    if row is None or row.deleted_at is not None:  # a link outliving the account shows nothing of it
        return _refused(410, "此账户已注销。", "This account has been deleted.")
    found = statement(engine, account, now, PAGE_ENTRIES, None)
    response = HTMLResponse(render("accounts/statement.html", page=statement_page(found, expires_at)))
    response.headers["Cache-Control"] = "no-store"  # a shared cache must not keep one person's points
    return response
