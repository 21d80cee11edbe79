"""Data sources and their API keys: hashed at rest, scoped, revocable, rotatable."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, select

from accounts.errors import ConflictError, InputError, KeyRefusedError, ScopeError
from accounts.ingest import ingest
from accounts.models import SOURCE_KEYS
from accounts.people import open_account
from accounts.sources import add_source, authenticate, create_key, list_keys, list_sources, revoke_key, rotate_key
from tests.accounts.conftest import T0


def test_a_key_authenticates_and_only_its_hash_is_stored(engine: Engine) -> None:
    add_source(engine, "tianfutong", "天府通", "transit", T0)
    key = create_key(engine, "tianfutong", ["records:write", "accounts:write"], T0)
    who = authenticate(engine, key.bearer, T0)
    assert (who.source_id, who.kind, who.key_id) == ("tianfutong", "transit", key.key_id)
    assert who.scopes == {"records:write", "accounts:write"}
    with engine.connect() as conn:
        row = conn.execute(select(SOURCE_KEYS)).one()
    assert row.secret_sha256 == hashlib.sha256(key.secret.encode()).hexdigest()
    assert key.secret not in repr(tuple(row))  # the secret itself is nowhere in the row
    assert [k.key_id for k in list_keys(engine, "tianfutong")] == [key.key_id]
    assert [s.id for s in list_sources(engine)] == ["tianfutong"]


def test_a_wrong_secret_is_refused_without_echoing_it(engine: Engine) -> None:
    add_source(engine, "tianfutong", "天府通", "transit", T0)
    key = create_key(engine, "tianfutong", ["records:write"], T0)
    forged = key.key_id + ".wrongsecretwrongsecret"
    with pytest.raises(KeyRefusedError) as e:
        authenticate(engine, forged, T0)
    assert "wrongsecret" not in str(e.value)
    for bad in ("", "no-dot", "k_aaaaaaaaaaaaaaaaaaaa.", f"{key.key_id}.{key.secret}x"):
        with pytest.raises(KeyRefusedError):
            authenticate(engine, bad, T0)


def test_a_revoked_key_is_refused_from_the_instant_of_revocation(engine: Engine) -> None:
    add_source(engine, "tianfutong", "天府通", "transit", T0)
    key = create_key(engine, "tianfutong", ["records:write"], T0)
    revoke_key(engine, key.key_id, T0 + 100)
    assert authenticate(engine, key.bearer, T0 + 99).key_id == key.key_id  # one second before
    with pytest.raises(KeyRefusedError, match="revoked"):
        authenticate(engine, key.bearer, T0 + 100)
    with pytest.raises(ConflictError):
        rotate_key(engine, key.key_id, T0 + 200)


def test_a_rotated_keys_old_secret_is_refused_after_the_overlap(engine: Engine) -> None:
    add_source(engine, "tianfutong", "天府通", "transit", T0)
    old = create_key(engine, "tianfutong", ["records:write", "statements:read"], T0)
    new = rotate_key(engine, old.key_id, T0 + 10)  # no overlap: refused at once
    assert new.scopes == old.scopes and new.key_id != old.key_id
    with pytest.raises(KeyRefusedError):
        authenticate(engine, old.bearer, T0 + 10)
    assert authenticate(engine, new.bearer, T0 + 10).scopes == {"records:write", "statements:read"}
    # with an overlap of 60 s both work until T0 + 20 + 60, then only the newer one
    newer = rotate_key(engine, new.key_id, T0 + 20, overlap_seconds=60)
    assert authenticate(engine, new.bearer, T0 + 79).key_id == new.key_id
    with pytest.raises(KeyRefusedError):
        authenticate(engine, new.bearer, T0 + 80)
    assert authenticate(engine, newer.bearer, T0 + 80).key_id == newer.key_id
    info = {k.key_id: k for k in list_keys(engine, "tianfutong")}
    assert info[new.key_id].replaced_by == newer.key_id and info[new.key_id].revoked_at == T0 + 80


def test_a_key_without_the_scope_is_refused(engine: Engine) -> None:
    add_source(engine, "reader", "Statements only", "app", T0)
    add_source(engine, "writer", "Opens accounts", "app", T0)
    reader = authenticate(engine, create_key(engine, "reader", ["statements:read"], T0).bearer, T0)
    writer = authenticate(engine, create_key(engine, "writer", ["accounts:write"], T0).bearer, T0)
    with pytest.raises(ScopeError, match="records:write"):
        ingest(engine, reader, [], T0)
    with pytest.raises(ScopeError, match="accounts:write"):
        open_account(engine, reader, T0)
    account = open_account(engine, writer, T0)
    with pytest.raises(ScopeError, match="records:write"):
        ingest(engine, writer, [{"id": "1", "account": account}], T0)


def test_bad_source_and_key_input_is_refused_in_one_line(engine: Engine) -> None:
    with pytest.raises(InputError, match="kind"):
        add_source(engine, "x-app", "X", "bank", T0)
    with pytest.raises(InputError, match="source id"):
        add_source(engine, "X App", "X", "app", T0)
    add_source(engine, "x-app", "X", "app", T0)
    with pytest.raises(ConflictError):
        add_source(engine, "x-app", "X again", "app", T0)
    with pytest.raises(InputError, match="scopes"):
        create_key(engine, "x-app", ["records:delete"], T0)
    with pytest.raises(InputError, match="overlap"):
        rotate_key(engine, create_key(engine, "x-app", ["records:write"], T0).key_id, T0, overlap_seconds=-1)
