"""Accounts: pseudonymous ids, personal data only in the vault, consent, export and deletion."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, MetaData, select

from accounts import ledger
from accounts.errors import ConflictError, InputError, NotFoundError
from accounts.ingest import ingest
from accounts.models import ACCOUNT_VAULT
from accounts.people import delete_account, export_account, grant_consent, list_consents, open_account, revoke_consent
from tests.accounts.conftest import T0, Apps

NAME, PHONE, ID_NUMBER = "张三", "13800138000", "510104199001011234"


def metro(account: str, rid: str, at: int, km: str = "10", entry: str = "天府广场") -> dict[str, object]:
    return {
        "id": rid,
        "account": account,
        "type": "metro",
        "occurred_at": at,
        "quantity": km,
        "identity": {"entry_station": entry, "exit_station": "春熙路"},
    }


def test_an_account_id_is_pseudonymous_and_the_personal_data_sealed(apps: Apps) -> None:
    assert re.fullmatch(r"acc_[a-z2-7]{26}", apps.account)
    with apps.engine.connect() as conn:
        sealed = conn.execute(select(ACCOUNT_VAULT.c.sealed)).scalar_one()
    assert NAME.encode() not in sealed and PHONE.encode() not in sealed
    assert export_account(apps.engine, apps.account)["personal"] == {
        "name": NAME,
        "phone": PHONE,
        "id_number": ID_NUMBER,
    }


def test_personal_data_errors_never_quote_the_value(apps: Apps) -> None:
    with pytest.raises(InputError) as e:
        open_account(apps.engine, apps.a, T0, {"phone": "138\n00138000"})
    assert "138" not in str(e.value) and "phone" in str(e.value)
    with pytest.raises(InputError, match="email"):
        open_account(apps.engine, apps.a, T0, {"email": "a@b.c"})


def test_consent_is_per_source_and_kind_and_revocable(apps: Apps) -> None:
    before = len(list_consents(apps.engine, apps.account))
    assert grant_consent(apps.engine, apps.a, apps.account, "transit", T0 + 5).granted_at == T0  # already live
    assert revoke_consent(apps.engine, apps.a, apps.account, "transit", T0 + 10) == 1
    assert revoke_consent(apps.engine, apps.a, apps.account, "transit", T0 + 11) == 0
    again = grant_consent(apps.engine, apps.a, apps.account, "transit", T0 + 20)
    assert again.granted_at == T0 + 20
    rows = list_consents(apps.engine, apps.account)
    assert len(rows) == before + 1  # the withdrawn consent stays on record, beside the new one
    mine = [c for c in rows if c.source_id == "tianfutong" and c.data_kind == "transit"]
    assert [(c.granted_at, c.revoked_at) for c in mine] == [(T0, T0 + 10), (T0 + 20, None)]
    with pytest.raises(InputError, match="data kind"):
        grant_consent(apps.engine, apps.a, apps.account, "medical", T0)


def test_a_revoked_consent_refuses_that_sources_records_only(apps: Apps) -> None:
    revoke_consent(apps.engine, apps.a, apps.account, "transit", T0)
    got = ingest(apps.engine, apps.a, [metro(apps.account, "a1", T0 - 600)], T0)
    assert (got[0].status, got[0].code) == ("refused", "no_consent")
    # the other app still holds the person's consent for transit: 10 pkm × 46.8 g = 468 points
    other = ingest(apps.engine, apps.b, [metro(apps.account, "b1", T0 - 600)], T0)
    assert (other[0].status, other[0].points) == ("credited", 468)


def test_export_holds_consents_records_and_entries(apps: Apps) -> None:
    ingest(apps.engine, apps.a, [metro(apps.account, "a1", T0 - 600)], T0)
    doc = export_account(apps.engine, apps.account)
    assert [r["source_record_id"] for r in doc["records"]] == ["a1"]
    assert doc["records"][0]["quantity"] == "10" and doc["records"][0]["points"] == 468
    assert [(e["kind"], e["amount"]) for e in doc["entries"]] == [("credit", 468)]
    assert {c["data_kind"] for c in doc["consents"]} == {"transit", "walking", "cycling", "venue", "hotel"}


def test_deletion_destroys_personal_data_keeps_entries_and_refuses_records(apps: Apps) -> None:
    engine = apps.engine
    ingest(engine, apps.a, [metro(apps.account, "a1", T0 - 600)], T0)
    delete_account(engine, apps.account, T0 + 60)
    with engine.connect() as conn:
        assert conn.execute(select(ACCOUNT_VAULT)).all() == []
    doc = export_account(engine, apps.account)
    assert doc["personal"] == {} and doc["consents"] == [] and doc["deleted_at"] == T0 + 60
    assert [(r["occurred_at"], r["quantity"], r["points"]) for r in doc["records"]] == [(None, None, 468)]
    assert [e["amount"] for e in doc["entries"]] == [468]  # the ledger keeps its pseudonymous entry
    assert ledger.balance(engine, apps.account, T0 + 60) == 468
    got = ingest(engine, apps.b, [metro(apps.account, "b9", T0, entry="春熙路")], T0 + 120)
    assert (got[0].status, got[0].code) == ("refused", "deleted_account")
    with pytest.raises(ConflictError, match="deleted"):
        grant_consent(engine, apps.a, apps.account, "transit", T0 + 200)
    with pytest.raises(NotFoundError):
        delete_account(engine, "acc_" + "a" * 26, T0)


def _every_value(engine: Engine) -> list[tuple[str, str, object]]:
    meta = MetaData()
    meta.reflect(engine)
    out = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)).all():
                for column, value in zip(table.columns.keys(), row, strict=True):
                    out.append((table.name, column, value))
    return out


def test_privacy_scan_no_table_but_the_vault_holds_personal_data(apps: Apps) -> None:
    """Every column of every table in the database, after accounts, consents and credits."""
    engine = apps.engine
    second = open_account(
        engine, apps.b, T0, {"name": "李四", "phone": "13900139000", "id_number": "51010419850505123X"}
    )
    grant_consent(engine, apps.b, second, "transit", T0)
    ingest(engine, apps.a, [metro(apps.account, "a1", T0 - 600)], T0)
    ingest(engine, apps.b, [metro(second, "b1", T0 - 600), metro(apps.account, "b2", T0 - 600)], T0)
    needles = [NAME, PHONE, ID_NUMBER, "李四", "13900139000", "51010419850505123X"]
    values = _every_value(engine)
    assert {t for t, _, _ in values} >= {"accounts", "consents", "behaviour_records", "points_entries", "account_vault"}
    found = []
    for table, column, value in values:
        text = bytes(value).decode("latin-1") if isinstance(value, (bytes, memoryview)) else str(value)
        for needle in needles:
            if needle in text or needle.encode().decode("latin-1") in text:
                found.append((table, column))
    assert found == []  # not even the vault shows them in clear: its rows are sealed
