"""Databases for the accounts tests: a fresh SQLite file, and a new PostgreSQL database per test
(dropped at the end), each with every domain's migrations run (certificates.db.create_schema), so
the accounts' own revision creates its tables as it will in production. The vault's data key is a
per-test file, so no test reads or writes the developer's key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from accounts.people import grant_consent, open_account
from accounts.sources import IssuedKey, Principal, add_source, authenticate, create_key
from certificates.db import create_schema
from indexer.db import make_engine
from tests.pgdb import scratch_engine


@pytest.fixture(autouse=True)
def _data_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_DATA_KEY", raising=False)
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    with scratch_engine(postgres_url, "ledger_accounts") as engine:
        yield engine


T0 = 1_764_460_800  # 2025-11-30 08:00:00 Asia/Shanghai (00:00 UTC): a fixed "now" for the tests


@dataclass
class Apps:
    """Two registered apps with record-writing keys, and one person's account both may feed."""

    engine: Engine
    a: Principal  # app "tianfutong"
    b: Principal  # app "alipay-city"
    a_key: IssuedKey
    b_key: IssuedKey
    account: str


def make_apps(engine: Engine, kinds: tuple[str, ...] = ("transit", "walking", "cycling", "venue", "hotel")) -> Apps:
    """Two apps, a key each (every scope but rights), one account with consent to both for `kinds`."""
    scopes = ["accounts:write", "records:write", "statements:read"]
    add_source(engine, "tianfutong", "天府通", "transit", T0)
    add_source(engine, "alipay-city", "City app", "app", T0)
    a_key = create_key(engine, "tianfutong", scopes, T0)
    b_key = create_key(engine, "alipay-city", scopes, T0)
    a = authenticate(engine, a_key.bearer, T0)
    b = authenticate(engine, b_key.bearer, T0)
    account = open_account(engine, a, T0, {"name": "张三", "phone": "13800138000", "id_number": "510104199001011234"})
    for kind in kinds:
        grant_consent(engine, a, account, kind, T0)
        grant_consent(engine, a, account, kind, T0, for_source=b.source_id)  # the opener records it
    return Apps(engine, a, b, a_key, b_key, account)


@pytest.fixture
def apps(engine: Engine) -> Apps:
    return make_apps(engine)
