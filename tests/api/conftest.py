"""A registry with certificates, on its own anvil, for the certificate and API tests."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from certificates.service import CertificateService, retire_and_certify
from certificates.settings import ServiceSettings
from chain.client import RegistryClient
from chain.node import LocalNode
from chain.opids import random_op_id
from chain.types import Scenario
from indexer.db import make_engine
from tests.conftest import World, deploy_world
from tests.pgdb import scratch_database

# one certificate per scenario: (contract scenario, kg, certify keyword arguments)
DEMO: list[tuple[Scenario, int, dict[str, Any]]] = [
    (
        Scenario.LARGE_EVENT,
        1_250,
        dict(
            fields={
                "event_name": "2026 成都大运会论坛",
                "dates": "2026-05-01/2026-05-03",
                "venue": "成都",
                "footprint_travel_kg": 900,
            },
            footprint_kg=1_200,
        ),
    ),
    (Scenario.ORGANISATION, 800, dict(fields={"subject": "雅安茶业有限公司", "period": "2025"}, footprint_kg=1_000)),
    (
        Scenario.TREE_PLANTING_DUTY,
        1_200,
        dict(fields={"id_number": "510104199001011234", "id_masked": "5101**********1234", "year": 2026}, trees=3),
    ),
    (
        Scenario.ECOLOGICAL_JUSTICE,
        2_000,
        dict(fields={"court": "雅安市中级人民法院", "case_number": "（2026）川18民初12号", "damage_yuan": 120_000}),
    ),
    (Scenario.PERSONAL, 5, dict(fields={"account": "acct-8841", "activities": "出行"}, footprint_kg=5)),
    (Scenario.VOLUNTARY, 10, dict(fields={"message": "为了绿水青山"})),
]
BENEFICIARIES = {
    Scenario.LARGE_EVENT: "成都会展集团",
    Scenario.ORGANISATION: "雅安茶业有限公司",
    Scenario.TREE_PLANTING_DUTY: "张三丰",
    Scenario.ECOLOGICAL_JUSTICE: "李四光",
    Scenario.PERSONAL: "王小明",
    Scenario.VOLUNTARY: "赵敏",
}
PERSONAL_DATA = ["张三丰", "510104199001011234", "李四光", "王小明", "赵敏", "acct-8841"]


@dataclass
class Certified:
    world: World
    service: CertificateService
    node: LocalNode
    ids: dict[Scenario, str] = field(default_factory=dict)
    retirements: dict[Scenario, str] = field(default_factory=dict)

    def retire(self, scenario: Scenario, kg: int, commitment: str) -> Any:
        c = self.world.client
        return c.retire(
            random_op_id(), self.world.batch_id, kg, scenario, commitment, b"\0" * 32, sender=self.world.cast.holder
        )

    def certify_new(self, scenario: Scenario, kg: int, beneficiary: str, **kwargs: Any) -> str:
        _, issued = retire_and_certify(
            self.service, lambda cm: self.retire(scenario, kg, cm), beneficiary, scenario_key=scenario.name, **kwargs
        )
        return issued.certificate_id

    def public(self, cert_id: str) -> dict[str, Any]:
        return copy.deepcopy(self.service.document(cert_id))

    def holder_copy(self, cert_id: str) -> dict[str, Any]:
        return self.service.document(cert_id, holder_copy=True)


def open_certified(tmp: Path, build: Any, cast: Any, node: LocalNode, database_url: str | None = None) -> Certified:
    world = deploy_world(node.url, tmp / "deployments", build, cast)
    engine = make_engine(database_url or f"sqlite:///{tmp / 'ledger.sqlite'}")
    anchorer = RegistryClient(
        world.client.rpc, world.client.address, world.client.abi, chain_id=world.client.chain_id, signer=cast.anchorer
    )
    settings = ServiceSettings(anchor_every=1, public_url="http://testserver")
    service = CertificateService.open(engine, world.registry.deployment, anchorer, settings)
    certified = Certified(world, service, node)
    world.client.transfer(cast.owner.address, cast.holder.address, world.batch_id, 30_000, sender=cast.owner)
    for scenario, kg, kwargs in DEMO:
        certified.ids[scenario] = certified.certify_new(scenario, kg, BENEFICIARIES[scenario], **copy.deepcopy(kwargs))
    return certified


@pytest.fixture(scope="module")
def certified(
    build: Any, cast: Any, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[Certified]:
    tmp = tmp_path_factory.mktemp("certified")
    monkeypatch_module.setenv("LEDGER_DATA_KEY_FILE", str(tmp / "data.key"))
    with LocalNode(block_time=None) as node:
        yield open_certified(tmp, build, cast, node)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def api(certified: Certified) -> Iterator[TestClient]:
    with TestClient(create_app(certified.service.context)) as client:
        yield client


@pytest.fixture(scope="session")
def fresh_postgres(postgres_url: str) -> Iterator[Callable[[], str]]:
    """New, empty PostgreSQL databases on the test server (dropped at the end), so these tests share
    no tables with any other test of the same server."""
    with ExitStack() as made:
        yield lambda: made.enter_context(scratch_database(postgres_url, "ledger_test"))
