"""The accounts API around a real database: the app (no chain: these routes read none), a registered
app, transit operator and merchant with their keys, and the headers to present them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accounts import sources
from api.app import create_app
from certificates.context import ServiceContext
from certificates.db import create_schema
from certificates.settings import ServiceSettings
from chain.deploy import Deployment
from indexer.db import make_engine
from tests.pgdb import scratch_database

NOW = 1_780_000_000  # 2026-05-28T20:26:40Z, a fixed instant for the keys' creation
V1 = "/api/v1/accounts"
ALL_SCOPES = list(sources.SCOPES)
# what a person's data looks like in the tests; none of it may appear in a log line or an answer
# but the person's own export
PERSONAL = {"name": "王小明", "phone": "13800138000", "id_number": "510104199001011234"}


def context(engine: Engine, public_url: str = "http://testserver") -> ServiceContext:
    zero = "0x" + "00" * 20
    deployment = Deployment(31337, zero, zero, zero, 0, "0x" + "00" * 32, "", "", "", "", "", 0)
    return ServiceContext(engine, deployment, ServiceSettings(public_url=public_url))


@dataclass
class Sources:
    engine: Engine
    app: FastAPI
    keys: dict[str, sources.IssuedKey] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name].bearer}"}

    def open(self, client: TestClient, name: str = "metro-app", consents: list[str] | None = None) -> str:
        body: dict[str, Any] = {"personal": PERSONAL, "consents": consents if consents is not None else ["transit"]}
        r = client.post(V1, json=body, headers=self.auth(name))
        assert r.status_code == 200, r.text
        account: str = r.json()["account"]
        return account


def register(engine: Engine) -> dict[str, sources.IssuedKey]:
    """Two apps (both may open accounts and send transit records), a merchant, a key without scopes
    worth anything here, and one revoked."""
    keys = {}
    for sid, kind in (("metro-app", "app"), ("bus-app", "app"), ("teahouse", "merchant"), ("reader", "platform")):
        sources.add_source(engine, sid, f"{sid} name", kind, NOW)
    keys["metro-app"] = sources.create_key(engine, "metro-app", ALL_SCOPES, NOW)
    keys["bus-app"] = sources.create_key(engine, "bus-app", ALL_SCOPES, NOW)
    keys["teahouse"] = sources.create_key(engine, "teahouse", ["rights:write"], NOW)
    keys["reader"] = sources.create_key(engine, "reader", ["statements:read"], NOW)
    keys["revoked"] = sources.create_key(engine, "metro-app", ALL_SCOPES, NOW)
    sources.revoke_key(engine, keys["revoked"].key_id, NOW)
    return keys


@pytest.fixture(autouse=True)
def _keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vault's and the links' keys in the test's own directory, never the developer's."""
    monkeypatch.delenv("LEDGER_DATA_KEY", raising=False)
    monkeypatch.delenv("LEDGER_ACCOUNTS_LINK_KEY", raising=False)
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.setenv("LEDGER_ACCOUNTS_LINK_KEY_FILE", str(tmp_path / "link.key"))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Sources]:
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite'}")
    create_schema(engine)
    keys = register(engine)
    yield Sources(engine, create_app(context(engine)), keys)
    engine.dispose()


@pytest.fixture
def client(world: Sources) -> Iterator[TestClient]:
    with TestClient(world.app) as c:
        yield c


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A new PostgreSQL database of its own (dropped at the end), schema created."""
    with scratch_database(postgres_url, "ledger_accapi") as url:
        engine = make_engine(url)
        create_schema(engine)
        engine.dispose()
        yield url
