"""POST /api/v1/accounts/records and the statement: the same trip from two apps earns once, bad
records are refused one by one with the rest applied, a retried batch credits nothing twice, an
oversize batch is refused whole, and the statement shows the credit with its log status."""

# ruff: noqa: F811  # the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import func, select

from accounts import pointslog
from accounts.ledger_models import PointsEntry
from api.schemas.accounts import BatchPublic
from tests.api.accounts_helpers import V1, Sources, _keys, client, world  # noqa: F401


def trip(account: str, rid: str, *, km: str = "12.5", at: int | None = None, entry: str = "天府广场") -> dict[str, Any]:
    return {
        "id": rid,
        "account": account,
        "type": "metro",
        "occurred_at": at if at is not None else int(time.time()) - 3600,
        "quantity": km,
        "identity": {"entry_station": entry, "exit_station": "火车南站"},
    }


def post(world: Sources, client: TestClient, source: str, records: list[Any]) -> dict[str, Any]:
    r = client.post(f"{V1}/records", json={"records": records}, headers=world.auth(source))
    assert r.status_code == 200, r.text
    TypeAdapter(BatchPublic).validate_json(r.content, strict=True)  # the route builds plain JSON: it must fit its shape
    body: dict[str, Any] = r.json()
    return body


def entries(world: Sources) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(PointsEntry)).scalar_one())


def test_the_same_trip_from_two_apps_earns_once(world: Sources, client: TestClient) -> None:
    account = world.open(client, "metro-app")
    # the person, in the app that opened the account, consents to the bus app's transit data
    r = client.post(
        f"{V1}/{account}/consents", json={"kind": "transit", "source": "bus-app"}, headers=world.auth("metro-app")
    )
    assert r.status_code == 200 and r.json()["source"] == "bus-app"
    # the start of a 10-minute identity bucket an hour or so ago: a report a minute later falls in the same
    # bucket whatever the clock reads (now - 3600 itself could sit in a bucket's last minute)
    at = (int(time.time()) - 3600) // 600 * 600
    first = post(world, client, "metro-app", [trip(account, "m-1", at=at)])
    # metro: 46.8 g/pkm (Shenzhen's published factor, next_wave.md §2.1) × 12.5 pkm = 585 g = 585 points
    assert first["outcomes"][0]["status"] == "credited" and first["points"] == 585
    # the other app reports the same trip under its own id, a minute later within the 10-minute bucket
    second = post(world, client, "bus-app", [trip(account, "b-77", at=at + 60)])
    [o] = second["outcomes"]
    assert o["status"] == "duplicate" and o["record"] == first["outcomes"][0]["record"] and o["points"] == 0
    assert second["points"] == 0


def test_bad_records_are_refused_each_with_a_reason_and_the_rest_applied_once(
    world: Sources, client: TestClient
) -> None:
    account = world.open(client, "metro-app")
    batch: list[Any] = [
        trip(account, "ok-1", km="10"),  # 10 × 46.8 = 468 points
        {**trip(account, "unknown-1"), "type": "teleport"},
        trip(account, "future-1", at=int(time.time()) + 86400),
        "not a record",
        trip(account, "ok-1", km="10"),  # the same id again in one batch
        {**trip(account, "cycle-1"), "type": "cycling", "identity": {"bike_id": "B1"}, "quantity": "3"},  # no consent
        trip(account, "ok-2", km="1", entry="春熙路"),  # 46.8 → 46 points, rounded down
    ]
    body = post(world, client, "metro-app", batch)
    statuses = [(o["index"], o["status"], o["code"]) for o in body["outcomes"]]
    assert statuses[0] == (0, "credited", None) and statuses[6] == (6, "credited", None)
    codes = {o["index"]: o["code"] for o in body["outcomes"] if o["status"] == "refused"}
    assert codes[1] == "unknown_type" and codes[2] == "future" and codes[3] == "malformed"
    assert codes[5] == "no_consent"
    assert all(o["reason"] for o in body["outcomes"] if o["status"] == "refused")
    # the same record sent twice in one batch is one behaviour: the second answers the first's transaction
    assert body["outcomes"][4]["txn"] == body["outcomes"][0]["txn"]
    assert body["points"] == 468 + 46  # each transaction counted once
    held = entries(world)
    again = post(world, client, "metro-app", batch)  # a retried batch: the same outcomes, nothing posted
    assert [(o["status"], o["points"], o["txn"], o["code"]) for o in again["outcomes"]] == [
        (o["status"], o["points"], o["txn"], o["code"]) for o in body["outcomes"]
    ]
    assert entries(world) == held


def test_an_oversize_or_malformed_batch_is_refused_whole(world: Sources, client: TestClient) -> None:
    account = world.open(client, "metro-app")
    r = client.post(
        f"{V1}/records",
        json={"records": [trip(account, f"r-{i}", entry=f"s{i}") for i in range(1001)]},
        headers=world.auth("metro-app"),
    )
    assert r.status_code == 413 and "1000" in r.json()["detail"].replace(",", "")
    for body in ([trip(account, "x")], {"records": "all"}, {"records": [], "extra": 1}):
        r = client.post(f"{V1}/records", json=body, headers=world.auth("metro-app"))
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert entries(world) == 0


def test_the_statement_shows_the_credit_with_its_log_status(world: Sources, client: TestClient) -> None:
    account = world.open(client, "metro-app")
    post(world, client, "metro-app", [trip(account, "m-1", km="2")])  # 2 × 46.8 = 93.6 → 93 points
    r = client.get(f"{V1}/{account}/statement", headers=world.auth("metro-app"))
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["balance"] == 93 and s["expiring"][0]["points"] == 93
    [e] = s["entries"]
    assert e["amount"] == 93 and e["kind"] == "credit" and e["proof"]["leaf_index"] is None  # not yet logged
    pointslog.append_pending(world.engine)
    e = client.get(f"{V1}/{account}/statement", headers=world.auth("metro-app")).json()["entries"][0]
    # the credit is two postings (source:metro-app −93, person +93): both logged, the person's is one leaf of two
    assert e["proof"]["tree_size"] == 2 and e["proof"]["leaf_index"] in (0, 1)
    assert e["proof"]["anchored"] is False and e["proof"]["note"]
    # ten years at most (Shenzhen 碳普惠管理办法): the lot lapses no later than 3,652 days after now
    assert e["expires_at"] <= int(time.time()) + 3652 * 86400
    # a source without the person's consent reads nothing
    r = client.get(f"{V1}/{account}/statement", headers=world.auth("reader"))
    assert r.status_code == 403 and "consent" in r.json()["detail"]


def test_a_quantity_sent_as_a_json_number_is_read_as_written(world: Sources, client: TestClient) -> None:
    """The API reads 12.5 (a number, not text) as Decimal("12.5"): it was refused as malformed."""
    account = world.open(client, "metro-app")
    at = int(time.time()) - 7200
    body = post(
        world,
        client,
        "metro-app",
        [
            {**trip(account, "n-1", at=at, entry="春熙路"), "quantity": 12.5},
            {**trip(account, "n-2", at=at, entry="骡马市"), "quantity": 10},
            {**trip(account, "n-3", at=at, entry="人民北路"), "quantity": 1.0000001},  # 7 decimals: refused
        ],
    )
    first, second, third = body["outcomes"]
    assert (first["status"], first["points"]) == ("credited", 585)  # 12.5 pkm × 46.8 g
    assert (second["status"], second["points"]) == ("credited", 468)
    assert third["status"] == "refused" and third["code"] == "malformed" and "6 decimals" in third["reason"]
