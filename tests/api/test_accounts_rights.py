"""Rights exchange through the API: a merchant lists a right, an app redeems it for a person exactly
once per Idempotency-Key, the merchant reverses it; nobody touches what is not theirs."""

# ruff: noqa: F811  # the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.accounts_helpers import V1, Sources, _keys, client, world  # noqa: F401
from tests.api.test_accounts_records import post, trip


def _funded(world: Sources, client: TestClient) -> str:
    account = world.open(client, "metro-app")
    # 10 pkm × 46.8 g/pkm = 468 points
    assert post(world, client, "metro-app", [trip(account, "m-1", km="10")])["points"] == 468
    return account


def _right(world: Sources, client: TestClient, **over: Any) -> dict[str, Any]:
    spec = {
        "name": "熊猫基地门票 Panda base ticket",
        "kind": "ticket",
        "stock": 2,
        "price": 300,
        "reversal_window": 3600,
    }
    r = client.post(f"{V1}/rights", json=spec | over, headers=world.auth("teahouse"))
    assert r.status_code == 200, r.text
    right: dict[str, Any] = r.json()
    return right


def _balance(world: Sources, client: TestClient, account: str) -> int:
    r = client.get(f"{V1}/{account}/statement", headers=world.auth("metro-app"))
    assert r.status_code == 200, r.text
    return int(r.json()["balance"])


def test_redeem_once_per_key_then_reverse(world: Sources, client: TestClient) -> None:
    account = _funded(world, client)
    right = _right(world, client)
    assert right["merchant"] == "teahouse" and right["active"] is True
    key = {"Idempotency-Key": "order-0001"}
    first = client.post(
        f"{V1}/{account}/redemptions", json={"right": right["id"]}, headers=world.auth("metro-app") | key
    )
    assert first.status_code == 200, first.text
    again = client.post(
        f"{V1}/{account}/redemptions", json={"right": right["id"]}, headers=world.auth("metro-app") | key
    )
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert _balance(world, client, account) == 468 - 300  # one debit of 300, not two
    listed = client.get(f"{V1}/rights", headers=world.auth("teahouse")).json()["rights"]
    assert [r["stock"] for r in listed] == [1]
    # 168 points left, the price is 300: refused, nothing taken
    r = client.post(
        f"{V1}/{account}/redemptions",
        json={"right": right["id"]},
        headers=world.auth("metro-app") | {"Idempotency-Key": "order-0002"},
    )
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    # another app may not reverse; the merchant that owns the right may, within its window
    red = first.json()["id"]
    assert client.post(f"{V1}/redemptions/{red}/reverse", headers=world.auth("bus-app")).status_code == 403
    done = client.post(f"{V1}/redemptions/{red}/reverse", headers=world.auth("teahouse"))
    assert done.status_code == 200 and done.json()["reversed_at"] is not None
    assert _balance(world, client, account) == 468
    assert client.post(f"{V1}/redemptions/{red}/reverse", headers=world.auth("teahouse")).status_code == 409


def test_redemption_needs_a_key_an_app_with_the_person_and_a_known_right(world: Sources, client: TestClient) -> None:
    account = _funded(world, client)
    right = _right(world, client)
    r = client.post(f"{V1}/{account}/redemptions", json={"right": right["id"]}, headers=world.auth("metro-app"))
    assert r.status_code == 422 and "idempotency-key" in r.text.lower()  # the header is required
    r = client.post(
        f"{V1}/{account}/redemptions",
        json={"right": right["id"]},
        headers=world.auth("bus-app") | {"Idempotency-Key": "k1"},
    )
    assert r.status_code == 403  # bus-app neither opened the account nor holds a consent for it
    r = client.post(
        f"{V1}/{account}/redemptions", json={"right": 999}, headers=world.auth("metro-app") | {"Idempotency-Key": "k2"}
    )
    assert r.status_code == 404
    assert _balance(world, client, account) == 468


def test_a_merchant_restocks_and_withdraws_only_its_own_rights(world: Sources, client: TestClient) -> None:
    right = _right(world, client, stock=5)
    r = client.put(f"{V1}/rights/{right['id']}/stock", json={"stock": 9}, headers=world.auth("teahouse"))
    assert r.status_code == 200 and r.json()["stock"] == 9
    r = client.put(f"{V1}/rights/{right['id']}/stock", json={"stock": -1}, headers=world.auth("teahouse"))
    assert r.status_code == 422
    # an app's key has no rights:write: 403 before anything is read
    assert client.post(f"{V1}/rights/{right['id']}/withdraw", headers=world.auth("reader")).status_code == 403
    r = client.post(f"{V1}/rights/{right['id']}/withdraw", headers=world.auth("teahouse"))
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get(f"{V1}/rights", headers=world.auth("metro-app")).json()["rights"] == []  # apps see active ones
    mine = client.get(f"{V1}/rights?include_withdrawn=true", headers=world.auth("teahouse")).json()["rights"]
    assert [r["id"] for r in mine] == [right["id"]]
    # a right of another kind than the four is refused with the list
    r = client.post(
        f"{V1}/rights",
        json={"name": "x", "kind": "cash", "stock": 1, "price": 1},
        headers=world.auth("teahouse"),
    )
    assert r.status_code == 422 and "kind" in r.json()["detail"]
