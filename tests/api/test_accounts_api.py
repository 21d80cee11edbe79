"""/api/v1/accounts for sources: keys and scopes, rate limits, opening accounts with sealed personal
data, consent, export and deletion, oversize and malformed bodies: every refusal a problem document
naming the fix, never a 5xx, never the secret or the person's data echoed."""

# ruff: noqa: F811  # the fixtures imported from tests/api/accounts_helpers.py are the parameters' names

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from accounts.models import ACCOUNT_VAULT, ACCOUNTS, CONSENTS
from api.app import create_app
from api.routes.accounts_auth import Buckets
from tests.api.accounts_helpers import PERSONAL, V1, Sources, _keys, client, context, world  # noqa: F401

PROBLEM = "application/problem+json"


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["detail"]
    return body


def test_no_key_a_wrong_secret_and_a_revoked_key_are_401_without_the_secret(world: Sources, client: TestClient) -> None:
    r = client.post(V1, json={})
    assert "Bearer" in r.headers["www-authenticate"]
    assert "Authorization: Bearer" in _problem(r, 401)["detail"]
    good = world.keys["metro-app"]
    wrong = f"{good.key_id}.{'a' * len(good.secret)}"
    r = client.post(V1, json={}, headers={"Authorization": f"Bearer {wrong}"})
    assert "a" * len(good.secret) not in r.text and good.secret not in r.text
    _problem(r, 401)
    r = client.post(V1, json={}, headers=world.auth("revoked"))
    assert "revoked" in _problem(r, 401)["detail"]
    assert world.keys["revoked"].secret not in r.text
    r = client.post(V1, json={}, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _problem(r, 401)


def test_a_key_without_the_scope_is_403(world: Sources, client: TestClient) -> None:
    r = client.post(V1, json={"personal": PERSONAL}, headers=world.auth("teahouse"))
    assert "accounts:write" in _problem(r, 403)["detail"]
    with world.engine.connect() as conn:
        assert conn.execute(select(ACCOUNTS)).first() is None  # nothing half applied


def test_opening_an_account_seals_the_personal_data_and_answers_none_of_it(world: Sources, client: TestClient) -> None:
    r = client.post(
        V1, json={"personal": PERSONAL, "consents": ["transit", "cycling"]}, headers=world.auth("metro-app")
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["account"].startswith("acc_") and len(answer["account"]) == 30
    assert answer["consents"] == ["cycling", "transit"] and answer["created_by"] == "metro-app"
    for value in PERSONAL.values():
        assert value not in r.text
    with world.engine.connect() as conn:
        sealed = conn.execute(select(ACCOUNT_VAULT.c.sealed)).scalar_one()
    for value in PERSONAL.values():
        assert value.encode() not in sealed  # sealed: AES-GCM, not merely stored elsewhere
    export = client.get(f"{V1}/{answer['account']}/export", headers=world.auth("metro-app"))
    assert export.status_code == 200 and export.json()["export"]["personal"] == PERSONAL


def test_an_invalid_personal_field_is_named_never_echoed(world: Sources, client: TestClient) -> None:
    secret_name = "张三丰" * 100  # 300 characters: over the 200 allowed
    r = client.post(V1, json={"personal": {"name": secret_name}}, headers=world.auth("metro-app"))
    body = _problem(r, 422)
    assert "name" in body["detail"] and "张三丰" not in r.text
    r = client.post(V1, json={"personal": {"nickname": "小明"}}, headers=world.auth("metro-app"))
    assert "nickname" in _problem(r, 422)["detail"] and "小明" not in r.text


def test_consent_is_granted_and_withdrawn_per_kind_of_data(world: Sources, client: TestClient) -> None:
    account = world.open(client, consents=[])  # opened by metro-app
    # a source that only learnt the account id cannot grant itself the person's consent
    r = client.post(f"{V1}/{account}/consents", json={"kind": "cycling"}, headers=world.auth("bus-app"))
    assert "only the app that opened" in _problem(r, 403)["detail"]
    # the person answers in the app that opened the account, which records it for the bus app
    r = client.post(
        f"{V1}/{account}/consents", json={"kind": "cycling", "source": "bus-app"}, headers=world.auth("metro-app")
    )
    assert r.status_code == 200 and r.json()["source"] == "bus-app" and r.json()["revoked_at"] is None
    r = client.post(
        f"{V1}/{account}/consents", json={"kind": "cycling", "source": "no-such-app"}, headers=world.auth("metro-app")
    )
    _problem(r, 404)
    # a source may always drop its own consent
    r = client.delete(f"{V1}/{account}/consents/cycling", headers=world.auth("bus-app"))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    with world.engine.connect() as conn:
        rows = conn.execute(select(CONSENTS.c.source_id, CONSENTS.c.data_kind, CONSENTS.c.revoked_at)).all()
    assert [(s, k, t is not None) for s, k, t in rows] == [("bus-app", "cycling", True)]
    r = client.post(f"{V1}/{account}/consents", json={"kind": "teleportation"}, headers=world.auth("metro-app"))
    assert "teleportation" in _problem(r, 422)["detail"]  # the fix: the kinds it lists
    r = client.post(f"{V1}/acc_{'a' * 26}/consents", json={"kind": "transit"}, headers=world.auth("metro-app"))
    _problem(r, 404)


def test_export_and_delete_need_the_person_s_relation_to_the_source(world: Sources, client: TestClient) -> None:
    account = world.open(client, "metro-app")
    r = client.get(f"{V1}/{account}/export", headers=world.auth("bus-app"))
    assert "bus-app" in _problem(r, 403)["detail"]
    r = client.delete(f"{V1}/{account}", headers=world.auth("bus-app"))
    _problem(r, 403)
    r = client.delete(f"{V1}/{account}", headers=world.auth("metro-app"))
    assert r.status_code == 200 and "points entries stay" in r.json()["kept"]
    with world.engine.connect() as conn:
        assert conn.execute(select(ACCOUNT_VAULT)).first() is None
        assert conn.execute(select(CONSENTS)).first() is None
    after = client.get(f"{V1}/{account}/export", headers=world.auth("metro-app")).json()["export"]
    assert after["personal"] == {} and after["deleted_at"] is not None
    r = client.post(f"{V1}/{account}/consents", json={"kind": "transit"}, headers=world.auth("metro-app"))
    assert "deleted" in _problem(r, 409)["detail"]


def test_an_oversize_body_is_refused_before_the_key_is_read(
    world: Sources, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = b'{"records": [' + b"0," * (3 << 20) + b"0]}"  # 6 MB over the 4 MB limit
    r = client.post(V1, content=big, headers={"Content-Type": "application/json"})
    assert "4,194,304 bytes" in _problem(r, 413)["detail"]  # no key given, yet 413: the size is checked first

    def chunks() -> Any:  # no Content-Length: the stream is counted and cut at the limit
        for _ in range(5):
            yield b" " * (1 << 20)

    r = client.post(V1, content=chunks(), headers={**world.auth("metro-app"), "Content-Type": "application/json"})
    _problem(r, 413)


@pytest.mark.parametrize(
    ("content", "media", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[" * 100 + b"]" * 100, "application/json", 400),
        (b"personal=1", "application/x-www-form-urlencoded", 415),
        (b"", "application/json", 400),
        (b'{"personal": [1]}', "application/json", 422),
        (b'{"consents": "transit"}', "application/json", 422),
    ],
)
def test_malformed_bodies_are_problems(
    world: Sources, client: TestClient, content: bytes, media: str, status: int
) -> None:
    r = client.post(V1, content=content, headers={**world.auth("metro-app"), "Content-Type": media})
    _problem(r, status)


def test_a_key_over_its_rate_is_429_with_retry_after(world: Sources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_ACCOUNTS_RATE_BURST", "3")
    monkeypatch.setenv("LEDGER_ACCOUNTS_RATE_PER_SECOND", "0.5")
    with TestClient(create_app(context(world.engine))) as limited:
        answers = [limited.get(f"{V1}/acc_{'a' * 26}/export", headers=world.auth("metro-app")) for _ in range(4)]
        other = limited.get(f"{V1}/acc_{'a' * 26}/export", headers=world.auth("bus-app"))
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert answers[3].headers["retry-after"] == "2"  # one token at 0.5 a second: 2 s
    assert other.status_code == 404  # a bucket per key: another source is not slowed


def test_a_token_bucket_refills_at_its_rate() -> None:
    clock = [100.0]
    b = Buckets(rate=2.0, burst=3, clock=lambda: clock[0])
    assert [b.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert b.take("k") == pytest.approx(0.5)  # empty: one token at 2 a second is 0.5 s away
    clock[0] += 0.75  # 0.75 s × 2/s = 1.5 tokens back
    assert b.take("k") == 0.0  # 1.5 - 1 = 0.5 left
    assert b.take("k") == pytest.approx(0.25)  # 0.5 short of one token: 0.25 s
    clock[0] += 100
    assert [b.take("k") for _ in range(4)][-1] > 0  # refills to the burst (3), not beyond


def test_problem_documents_in_the_openapi_document(world: Sources) -> None:
    doc = world.app.openapi()
    paths = [p for p in doc["paths"] if p.startswith(V1)]
    assert f"{V1}/records" in paths and f"{V1}/{{account}}/statement" in paths
    for path in paths:
        for method, op in doc["paths"][path].items():
            for status in ("401", "413", "429", "503"):
                assert PROBLEM in op["responses"][status]["content"], (method, path, status)
