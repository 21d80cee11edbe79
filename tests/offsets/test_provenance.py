"""GET /api/v1/provenance/serials/{serial} names the personal certificate holding a kilogram retired
for a person (offsets/provenance.py): at both ends of each person's sub-range and inside it; a
kilogram still held, or retired but not yet certified, names none; no account appears."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import col

from api.app import create_app
from offsets.certify import certify_retired
from offsets.models import OffsetPurchase
from offsets.purchases import purchase, purchase_id_for
from tests.offsets.conftest import Platform, account

PEOPLE = [("acct-0001", 4, "pv-alice"), ("acct-0002", 6, "pv-bob"), ("acct-0003", 5, "pv-carol")]


def _serial(api: TestClient, serial: int) -> dict[str, object]:
    answer = api.get(f"/api/v1/provenance/serials/{serial}")
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_each_kilogram_names_its_persons_certificate(platform: Platform) -> None:
    p = platform
    for at, (number, kg, key) in enumerate(PEOPLE):
        purchase(p.engine, account(number, "salt"), kg, key, now=1_000 + at)
    (settled,) = p.batcher().run_once()
    assert settled.amount == 15  # 4 + 6 + 5
    with TestClient(create_app(p.service.context)) as api:
        with p.engine.connect() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    select(col(OffsetPurchase.id), col(OffsetPurchase.serial_first), col(OffsetPurchase.serial_last))
                )
            }
        bob = rows[purchase_id_for("pv-bob")]
        # retired, not certified yet: the kilogram is retired, no certificate holds it
        before = _serial(api, bob.serial_first)
        assert before["personal_certificate"] is None
        ids = certify_retired(p.service)
        assert len(ids) == 3
        with p.engine.connect() as conn:
            certs = dict(conn.execute(select(col(OffsetPurchase.id), col(OffsetPurchase.certificate_id))).all())
        first = min(r.serial_first for r in rows.values())
        for number, kg, key in PEOPLE:
            pid = purchase_id_for(key)
            r = rows[pid]
            assert r.serial_last - r.serial_first + 1 == kg
            for serial in (r.serial_first, (r.serial_first + r.serial_last) // 2, r.serial_last):
                body = _serial(api, serial)
                assert body["personal_certificate"] == {
                    "certificate_id": certs[pid],
                    "purchase_id": pid,
                    "serial_first": r.serial_first,
                    "serial_last": r.serial_last,
                    "account_commitment": account(number, "salt"),
                }, (key, serial)
                assert number not in json.dumps(body) and key not in json.dumps(body)
        # Alice's first kilogram opens the retirement; Bob's starts 4 serials on, Carol's 4 + 6 on
        assert rows[purchase_id_for("pv-alice")].serial_first == first
        assert (bob.serial_first, rows[purchase_id_for("pv-carol")].serial_first) == (first + 4, first + 10)
        # the kilogram after the 15 retired is still the holder's: no certificate holds it
        after = _serial(api, first + 15)
        assert after["personal_certificate"] is None
        assert isinstance(after["now"], dict) and after["now"]["state"] == "held"
        schema = api.get("/openapi.json").json()["components"]["schemas"]
        assert "personal_certificate" in schema["SerialProvenancePublic"]["properties"]
