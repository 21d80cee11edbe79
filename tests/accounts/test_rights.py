"""Merchants' rights (accounts/rights.py): listing with checked fields, stock updates and withdrawal
of a merchant's own rights only."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from accounts import rights
from accounts.errors import ConflictError, InputError, NotFoundError, ScopeError
from accounts.sources import Principal
from tests.accounts.ledger_helpers import APP, OTHER_SHOP, SHOP, T0, credit, new_person, setup_sources


@pytest.fixture
def app(engine: Engine) -> Principal:
    return setup_sources(engine)


def _add(engine: Engine, merchant: str = SHOP, **over: object) -> rights.RightInfo:
    fields: dict[str, object] = {
        "name": "Panda base ticket",
        "kind": "ticket",
        "stock": 3,
        "price": 500,
        "reversal_window": 3600,
    }
    fields.update(over)
    return rights.add_right(engine, merchant, now=T0, **fields)  # type: ignore[arg-type]


def test_a_merchant_lists_a_right(engine: Engine, app: Principal) -> None:
    r = _add(engine)
    assert (r.merchant_id, r.name, r.kind, r.stock, r.price, r.reversal_window, r.active) == (
        SHOP,
        "Panda base ticket",
        "ticket",
        3,
        500,
        3600,
        True,
    )
    assert rights.get_right(engine, r.id) == r
    assert rights.list_rights(engine, SHOP) == [r]
    assert rights.list_rights(engine, OTHER_SHOP) == []


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"kind": "cash"}, "kind is one of coupon, ticket, transit_credit, other, not 'cash'"),
        ({"stock": -1}, "stock is a whole number from 0 to 1,000,000,000"),
        ({"price": 0}, "price in points is a whole number from 1 to"),
        ({"price": 2.5}, "price in points is a whole number"),
        ({"reversal_window": 31 * 86_400}, "reversal window in seconds is a whole number from 0 to 2,592,000"),
        ({"name": " "}, "name is 1 to 200 printable characters"),
    ],
)
def test_bad_rights_are_refused_in_one_line(
    engine: Engine, app: Principal, over: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message) as refused:
        _add(engine, SHOP, **over)
    assert "\n" not in str(refused.value)
    assert rights.list_rights(engine, include_withdrawn=True) == []


def test_only_a_source_of_kind_merchant_lists_rights(engine: Engine, app: Principal) -> None:
    with pytest.raises(ScopeError, match="green-app is of kind app; only a source of kind merchant"):
        _add(engine, merchant=APP)
    with pytest.raises(NotFoundError, match="no source nobody"):
        _add(engine, merchant="nobody")


def test_stock_and_withdrawal_of_own_rights_only(engine: Engine, app: Principal) -> None:
    r = _add(engine)
    assert rights.set_stock(engine, SHOP, r.id, 10, T0 + 5).stock == 10
    with pytest.raises(rights.NotYoursError, match="belongs to another merchant"):
        rights.set_stock(engine, OTHER_SHOP, r.id, 0, T0 + 6)
    with pytest.raises(rights.NotYoursError):
        rights.withdraw(engine, OTHER_SHOP, r.id, T0 + 6)
    assert rights.get_right(engine, r.id).stock == 10
    gone = rights.withdraw(engine, SHOP, r.id, T0 + 7)
    assert (gone.active, gone.updated_at) == (False, T0 + 7)
    assert rights.list_rights(engine, SHOP) == []
    assert rights.list_rights(engine, SHOP, include_withdrawn=True) == [gone]
    # a withdrawn right redeems nothing, even with stock left and points enough
    person = new_person(engine, app)
    credit(engine, person, 1_000, at=T0, expires_at=T0 + 86_400, record="r1")
    with pytest.raises(ConflictError, match=f"right {r.id} is withdrawn"):
        rights.redeem(engine, APP, person, r.id, "k1", T0 + 8)
    assert rights.get_right(engine, r.id).stock == 10
