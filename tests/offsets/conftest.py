"""A platform participant retiring a custodial holder's units for people, on the session's anvil
(reverted after each test) with a fresh SQLite service database per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from certificates.document import field_commitment
from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from chain.client import RegistryClient
from indexer.db import make_engine
from offsets.batcher import Batcher
from tests.conftest import Cast, World
from tests.pgdb import scratch_database


def account(number: str, salt: str) -> str:
    """A person's account commitment: the same salted commitment a certificate's `account` field has."""
    return field_commitment("account", number, salt)


@dataclass
class Platform:
    world: World
    cast: Cast
    engine: Engine
    db_url: str
    service: CertificateService
    client: RegistryClient  # signs as the platform participant
    tmp: Path

    def batcher(self, max_purchases: int = 1000) -> Batcher:
        return Batcher(
            self.engine,
            self.client,
            holder=self.cast.holder.address,
            batch_id=self.world.batch_id,
            catch_up=self.service.catch_up,
            max_purchases=max_purchases,
            from_block=self.world.registry.deployment.block_number,
        )

    def balance(self) -> int:
        return self.world.client.balance_of(self.cast.holder.address, self.world.batch_id)


def _platform(world: World, cast: Cast, tmp_path: Path, db_url: str) -> Platform:
    world.client.set_approval_for_all(cast.platform.address, True, sender=cast.holder)
    c = world.client
    anchorer = RegistryClient(c.rpc, c.address, c.abi, chain_id=c.chain_id, signer=cast.anchorer)
    platform_client = RegistryClient(c.rpc, c.address, c.abi, chain_id=c.chain_id, signer=cast.platform)
    engine = make_engine(db_url)
    service = CertificateService.open(
        engine, world.registry.deployment, anchorer, ServiceSettings(public_url="http://testserver")
    )
    return Platform(world, cast, engine, db_url, service, platform_client, tmp_path)


@pytest.fixture
def platform(world: World, cast: Cast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The holder (an enterprise holding 20,000 kg of batch 1) approved the platform as its operator."""
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
    p = _platform(world, cast, tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    yield p
    p.engine.dispose()


@pytest.fixture
def pg_platform(
    world: World, cast: Cast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> Iterator[Platform]:
    """The same platform on a real PostgreSQL database of its own (dropped afterwards)."""
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
    with scratch_database(postgres_url, "ledger_offsets") as url:
        p = _platform(world, cast, tmp_path, url)
        try:
            yield p
        finally:
            p.engine.dispose()
