"""A registry with every kind of public record, on its own anvil: the certified demo registry
(six retirements, one per scenario, with certificates: tests/api/conftest.py), then the indexer
tests' activity (transfers, retirements, a reserve cancellation, pledges, exports confirmed,
aborted and pending, an import, a status flip) and three sanctions, one with a published reason
document."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chain.node import LocalNode
from chain.types import CancellationReason, ParticipantStatus, Scenario
from tests.api.conftest import Certified, open_certified
from tests.conftest import HASH, MONITORING, PROJECT, World

REASON = "2026年11月 林草局处理决定：虚报监测数据，暂停交易资格六个月。".encode()  # illustrative text


@dataclass
class Public:
    certified: Certified
    documents: Path  # the published reason documents (LEDGER_PUBLIC_DOCUMENTS)
    reason_hash: str  # 0x-hex sha256 of REASON, published
    secret_reason_hash: str  # a reason whose document is not published
    deployments: Path  # LEDGER_DEPLOYMENTS_DIR of this registry

    def tip(self) -> int:
        return int(self.certified.world.client.rpc.call("eth_blockNumber"), 16)

    def sync(self) -> None:
        self.certified.service.catch_up(self.tip())


def activity(world: World) -> None:
    """A second batch, a retirement from each batch, a reserve reversal, three exports (confirmed,
    aborted, pending), an imported batch and a suspension (the indexer tests' activity, less its
    stray anchor, which would stop the certificate log from anchoring)."""
    c, cast = world.client, world.cast
    batch = (
        c.issue(
            world.op(),
            project_id=PROJECT,
            vintage=2024,
            monitoring_start=MONITORING[0],
            monitoring_end=MONITORING[1],
            quantity=9_000,
            reserve_bps=500,
            verification_report_hash=HASH,
        )
        .event("BatchIssued")
        .args["batchId"]
    )
    c.transfer(cast.owner.address, cast.holder.address, batch, 4_000, sender=cast.owner)
    c.transfer(cast.holder.address, cast.buyer.address, batch, 700, sender=cast.holder)
    c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 300, sender=cast.holder)
    c.retire(world.op(), batch, 150, Scenario.LARGE_EVENT, b"\x11" * 32, HASH, sender=cast.buyer)
    c.retire(world.op(), world.batch_id, 60, Scenario.PERSONAL, b"\x12" * 32, HASH, sender=cast.buyer)
    c.cancel(world.op(), c.reserve_account(), batch, 100, CancellationReason.REVERSAL, HASH)
    export = world.op()
    c.request_export(export, cast.holder.address, batch, 250, "CQ-TANHUITONG", HASH)
    c.confirm_export(world.op(), export, b"\x21" * 32)
    export = world.op()
    c.request_export(export, cast.holder.address, batch, 50, "CQ-TANHUITONG", HASH)
    c.abort_export(world.op(), export)
    c.request_export(world.op(), cast.holder.address, world.batch_id, 30, "CQ-TANHUITONG", HASH)
    c.import_credits(
        world.op(),
        origin_key=world.op().to_bytes(32, "big"),
        origin_registry="CQ-TANHUITONG",
        project_id=PROJECT,
        to=cast.buyer.address,
        vintage=2023,
        quantity=333,
        evidence_hash=HASH,
    )
    c.set_participant_status(world.op(), cast.platform.address, ParticipantStatus.SUSPENDED, HASH)


def build_public(tmp: Path, build: Any, cast: Any, node: LocalNode, database_url: str | None = None) -> Public:
    certified = open_certified(tmp, build, cast, node, database_url)
    world = certified.world
    activity(world)
    c = world.client
    documents = tmp / "documents"
    documents.mkdir()
    digest = hashlib.sha256(REASON).hexdigest()
    (documents / digest).write_bytes(REASON)
    secret = hashlib.sha256(b"not published").hexdigest()
    c.set_participant_status(world.op(), cast.buyer.address, ParticipantStatus.RESTRICTED, bytes.fromhex(digest))
    c.set_participant_status(world.op(), cast.pledgee.address, ParticipantStatus.REVOKED, bytes.fromhex(secret))
    public = Public(certified, documents, "0x" + digest, "0x" + secret, tmp / "deployments")
    public.sync()
    return public


@pytest.fixture(scope="module")
def public_registry(
    build: Any, cast: Any, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[Public]:
    tmp = tmp_path_factory.mktemp("public")
    monkeypatch_module.setenv("LEDGER_DATA_KEY_FILE", str(tmp / "data.key"))
    with LocalNode(block_time=None) as node:
        public = build_public(tmp, build, cast, node)
        monkeypatch_module.setenv("LEDGER_PUBLIC_DOCUMENTS", str(public.documents))
        yield public


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp
