"""The accounts API on PostgreSQL under concurrency: overlapping batches from two apps sent at once
(answers 200, or 409/503 "send it again", never a 500; after resending, every behaviour credited
exactly once), and concurrent redemptions of a right with a stock of 5 through the API (exactly 5)."""

# ruff: noqa: F811  # the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from accounts import ledger
from accounts.ledger_models import ENTRIES
from api.app import create_app
from indexer.db import make_engine
from tests.api.accounts_helpers import V1, Sources, _keys, context, pg_url, register  # noqa: F401
from tests.api.test_accounts_records import trip


@pytest.fixture
def pg(pg_url: str) -> Iterator[Sources]:
    engine = make_engine(pg_url)
    keys = register(engine)
    yield Sources(engine, create_app(context(engine)), keys)
    engine.dispose()


def _together(n: int, fn: Any) -> list[Any]:
    """fn(i) for i in range(n), from n threads released at once."""
    gate = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        gate.wait()
        out[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_overlapping_batches_at_once_credit_each_behaviour_once(pg: Sources) -> None:
    with TestClient(pg.app) as client:
        accounts = [pg.open(client, "metro-app") for _ in range(5)]
        for account in accounts:
            assert client.post(
                f"{V1}/{account}/consents",
                json={"kind": "transit", "source": "bus-app"},
                headers=pg.auth("metro-app"),
            ).is_success
        at = int(time.time()) - 7200
        # 40 trips over 5 people; each app reports all of them, under its own ids, in 4 batches of 10
        trips = [(accounts[i % 5], f"站{i}", at - 86_400 * i) for i in range(40)]  # a day apart: no daily cap bites

        def batches(app: str) -> list[list[dict[str, Any]]]:
            records = [trip(a, f"{app}-{i}", entry=s, at=t) for i, (a, s, t) in enumerate(trips)]
            return [records[i : i + 10] for i in range(0, 40, 10)]

        work = [(app, b) for app in ("metro-app", "bus-app") for b in batches(app)]

        def send(i: int) -> list[int]:
            app, batch = work[i]
            statuses = []
            for _ in range(20):  # 409 and 503 say: nothing applied, send it again
                r = client.post(f"{V1}/records", json={"records": batch}, headers=pg.auth(app))
                statuses.append(r.status_code)
                if r.status_code not in (409, 503):
                    break
            return statuses

        seen = _together(len(work), send)
    assert all(s[-1] == 200 for s in seen), seen
    assert {code for s in seen for code in s} <= {200, 409, 503}
    with pg.engine.connect() as conn:
        # a person posting per credited behaviour, each naming its record
        credits = conn.execute(
            select(func.count(func.distinct(ENTRIES.c.ref))).where(ENTRIES.c.account.like("person:%"))
        ).scalar_one()
        points = conn.execute(select(func.sum(ENTRIES.c.amount)).where(ENTRIES.c.amount > 0)).scalar_one()
    # 40 behaviours reported twice each: 40 credits of 12.5 pkm × 46.8 g/pkm = 585 points
    assert credits == 40 and points == 40 * 585
    assert ledger.audit(pg.engine) == []


def test_concurrent_redemptions_through_the_api_never_oversell(pg: Sources) -> None:
    with TestClient(pg.app) as client:
        account = pg.open(client, "metro-app")
        r = client.post(
            f"{V1}/records", json={"records": [trip(account, "m-1", km="40")]}, headers=pg.auth("metro-app")
        )
        assert r.json()["points"] == 1872  # 40 pkm × 46.8 g/pkm, under the 2,000-point daily cap
        right = client.post(
            f"{V1}/rights",
            json={"name": "地铁单程券 Metro ride", "kind": "transit_credit", "stock": 5, "price": 100},
            headers=pg.auth("teahouse"),
        ).json()

        def redeem(i: int) -> int:
            headers = pg.auth("metro-app") | {"Idempotency-Key": f"k{i}"}
            return client.post(f"{V1}/{account}/redemptions", json={"right": right["id"]}, headers=headers).status_code

        codes = _together(12, redeem)
        balance = client.get(f"{V1}/{account}/statement", headers=pg.auth("metro-app")).json()["balance"]
        stock = client.get(f"{V1}/rights", headers=pg.auth("teahouse")).json()["rights"][0]["stock"]
    assert sorted(codes) == [200] * 5 + [409] * 7, codes  # stock 5: five sold, seven told "out of stock"
    assert balance == 1872 - 5 * 100 and stock == 0
