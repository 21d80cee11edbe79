"""Every /api/v1/accounts route answers exactly the shape it publishes (tests/api/test_openapi_models.py
holds the registry's routes to theirs; these need keys and a database of their own): each route is
called for real and its answer validated strictly against its response model, which forbids any
member it does not list."""

# ruff: noqa: F811  # the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.accounts_helpers import V1, Sources, _keys, client, world  # noqa: F401
from tests.api.test_accounts_records import trip
from tests.api.test_openapi_models import ROUTES, _fits, _methods


def test_every_accounts_route_answers_its_published_shape(world: Sources, client: TestClient) -> None:
    seen: set[str] = set()
    app, shop = world.auth("metro-app"), world.auth("teahouse")

    def call(method: str, path: str, headers: dict[str, str], template: str | None = None, **kw: Any) -> Any:
        return _fits(client.request(method, path, headers=headers, **kw), method, template or path, seen)

    opened = call("POST", V1, app, json={"personal": {"name": "王小明"}, "consents": ["transit"]})
    account = opened.account
    call("POST", f"{V1}/{account}/consents", app, json={"kind": "cycling"})
    assert call("DELETE", f"{V1}/{account}/consents/cycling", app).revoked_at is not None
    # 10 pkm × 46.8 g/pkm (Shenzhen's metro factor) = 468 points
    batch = call("POST", f"{V1}/records", app, json={"records": [trip(account, "m-1", km="10"), "bad"]})
    assert (batch.credited, batch.refused, batch.points) == (1, 1, 468)
    right = call(
        "POST",
        f"{V1}/rights",
        shop,
        json={"name": "茶券 Tea coupon", "kind": "coupon", "stock": 3, "price": 100, "reversal_window": 600},
    )
    call("PUT", f"{V1}/rights/{right.id}/stock", shop, json={"stock": 4})
    assert [r.id for r in call("GET", f"{V1}/rights", app).rights] == [right.id]
    redeemed = call(
        "POST", f"{V1}/{account}/redemptions", app | {"Idempotency-Key": "shape-1"}, json={"right": right.id}
    )
    statement = call("GET", f"{V1}/{account}/statement", app)
    assert statement.balance == 468 - 100 and [e.kind for e in statement.entries] == ["redeem", "credit"]
    call("POST", f"{V1}/redemptions/{redeemed.id}/reverse", shop, json=None)
    call("POST", f"{V1}/rights/{right.id}/withdraw", shop)
    assert call("POST", f"{V1}/{account}/statement-links", app, json={"ttl": 600}).url.startswith("http")
    assert call("GET", f"{V1}/{account}/export", app).export["personal"] == {"name": "王小明"}
    assert call("DELETE", f"{V1}/{account}", app).deleted_at > 0
    every = {f"{m} {r.path}" for r in ROUTES for m in _methods(r) if str(r.path).startswith(V1)}
    assert seen == every and len(every) == 14, every ^ seen
