"""Shared fixtures: one compiled build, one anvil per test session, one deployed registry whose
state every test starts from (evm_snapshot / evm_revert), and accounts named by role."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain.artifacts import Build
from chain.client import RegistryClient
from chain.compiler import compile_contracts
from chain.keys import dev_accounts
from chain.local import LocalRegistry, open_local_registry
from chain.node import LocalNode
from chain.opids import random_op_id
from chain.types import ParticipantKind

HASH = b"\x42" * 32
METHODOLOGY = "SCFM-001-V01"
PROJECT = "P-511802-0001"
CREDITING = (1_577_836_800, 2_208_988_800)  # 2020-01-01 .. 2040-01-01
MONITORING = (1_704_067_200, 1_735_689_600)  # 2024
ISSUED = 100_000
RESERVE_BPS = 1_000
HOLDER_START = 20_000


@dataclass(frozen=True)
class Cast:
    """Accounts by role. Operator roles are held by separate keys so authorisation is tested."""

    admin: LocalAccount
    registrar: LocalAccount
    reviewer: LocalAccount
    anchorer: LocalAccount
    pauser: LocalAccount
    owner: LocalAccount
    holder: LocalAccount
    buyer: LocalAccount
    platform: LocalAccount
    pledgee: LocalAccount
    stranger: LocalAccount
    newcomer: LocalAccount


@dataclass
class World:
    """The deployed registry as every contract test finds it: one registered project and one
    batch (id 1) of ISSUED kg, 10 % in the reserve, HOLDER_START kg moved from owner to holder."""

    client: RegistryClient
    cast: Cast
    batch_id: int
    registry: LocalRegistry

    def op(self) -> int:
        return random_op_id()


@pytest.fixture(scope="session")
def build() -> Build:
    return compile_contracts()


@pytest.fixture(scope="session")
def cast() -> Cast:
    a = dev_accounts()
    return Cast(*a[:12])


@pytest.fixture(scope="session")
def anvil() -> Iterator[LocalNode]:
    with LocalNode(block_time=None) as node:  # automine: one block per transaction, fastest for tests
        yield node


def deploy_world(url: str, deployments_dir: Path, build: Build, cast: Cast) -> World:
    """A fresh registry at `url` with the cast's roles granted and the base state populated."""
    grant = {
        "REGISTRAR_ROLE": cast.registrar.address,
        "REVIEWER_ROLE": cast.reviewer.address,
        "ANCHORER_ROLE": cast.anchorer.address,
        "PAUSER_ROLE": cast.pauser.address,
    }
    registry = open_local_registry(url, deployments_dir=deployments_dir, grant=grant, build=build, force=True)
    client = registry.client
    client.signer = cast.registrar
    batch_id = populate(client, cast)
    return World(client, cast, batch_id, registry)


@pytest.fixture(scope="session")
def world_base(anvil: LocalNode, build: Build, cast: Cast, tmp_path_factory: pytest.TempPathFactory) -> World:
    return deploy_world(anvil.url, tmp_path_factory.mktemp("deployments"), build, cast)


def populate(client: RegistryClient, cast: Cast) -> int:
    op = random_op_id
    client.file_methodology(op(), METHODOLOGY, 0, 1, HASH)
    for account, kind in [
        (cast.owner, ParticipantKind.PROJECT_OWNER),
        (cast.holder, ParticipantKind.ENTERPRISE),
        (cast.buyer, ParticipantKind.INDIVIDUAL),
        (cast.platform, ParticipantKind.PLATFORM),
        (cast.pledgee, ParticipantKind.PLEDGEE),
    ]:
        client.register_participant(op(), account.address, kind, HASH)
    client.register_project(
        op(),
        project_id=PROJECT,
        methodology_id=METHODOLOGY,
        owner=cast.owner.address,
        county_code=511802,
        area_square_metres=2_000_000,
        crediting_start=CREDITING[0],
        crediting_end=CREDITING[1],
        documents_hash=HASH,
        parcels=[b"\x01" * 32, b"\x02" * 32],
    )
    client.review_project(op(), PROJECT, True, HASH, sender=cast.reviewer)
    result = client.issue(
        op(),
        project_id=PROJECT,
        vintage=2024,
        monitoring_start=MONITORING[0],
        monitoring_end=MONITORING[1],
        quantity=ISSUED,
        reserve_bps=RESERVE_BPS,
        verification_report_hash=HASH,
    )
    batch_id = int(result.event("BatchIssued").args["batchId"])
    client.transfer(cast.owner.address, cast.holder.address, batch_id, HOLDER_START, sender=cast.owner)
    return batch_id


@pytest.fixture
def world(world_base: World) -> Iterator[World]:
    rpc = world_base.client.rpc
    snapshot = rpc.call("evm_snapshot")
    yield world_base
    rpc.call("evm_revert", snapshot)


@pytest.fixture
def tmp_deployments(tmp_path: Path) -> Path:
    return tmp_path / "deployments"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL: TEST_DATABASE_URL (CI sets it), else one started by .ci/postgres-up."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    script = Path(__file__).resolve().parent.parent / ".ci" / "postgres-up"
    done = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip().splitlines()[-1]
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI and could not be started: {done.stderr[-500:]}")
    pytest.skip("no PostgreSQL here (set TEST_DATABASE_URL, or run as root so .ci/postgres-up can start one)")
