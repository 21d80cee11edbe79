"""What the ledger and rights tests share: registered sources (an app, two merchants), accounts
opened through accounts.people, and credits posted the way ingest posts them (accounts.ledger.post
with a "source:<id>" → "person:<acc>" transaction)."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from accounts import ledger
from accounts.ledger_models import ENTRIES
from accounts.people import open_account
from accounts.sources import Principal, add_source

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
APP = "green-app"
SHOP = "shop-one"
OTHER_SHOP = "shop-two"


def setup_sources(engine: Engine) -> Principal:
    """An app (which opens accounts and redeems for people) and two merchants; returns the app."""
    add_source(engine, APP, "Green App", "app", T0)
    add_source(engine, SHOP, "Shop One", "merchant", T0)
    add_source(engine, OTHER_SHOP, "Shop Two", "merchant", T0)
    return Principal(APP, "app", "k_" + "a" * 20, frozenset({"accounts:write", "redemptions:write"}))


def new_person(engine: Engine, app: Principal) -> str:
    return open_account(engine, app, T0)


def credit(engine: Engine, account_id: str, points: int, *, at: int, expires_at: int, record: str) -> None:
    """A credit: the source's side negative, the person's positive with its expiry (ingest posts a
    batch as one transaction, and names each person posting's record `record:<key>`)."""
    with engine.begin() as conn:
        ledger.post(
            conn,
            f"credit:{record}",
            "credit",
            record,
            [ledger.Posting(f"source:{APP}", -points), ledger.Posting(ledger.person(account_id), points, expires_at)],
            at,
        )


def total(engine: Engine) -> int:
    """The sum of every entry in the ledger: 0 when every transaction balances."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(ENTRIES.c.amount), 0))).scalar_one())


def kinds(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(ENTRIES.c.kind).distinct()).scalars())
