"""Finality before certification, and certificates whose retirement a reorganisation removed:
on a real anvil, `anvil_reorg` of 1–20 blocks over certified retirements."""

from __future__ import annotations

import inspect
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from audit.chain_state import read_chain
from audit.reconcile import reconcile
from certificates import anchoring
from certificates.finality import REORG_REASON, REORG_WINDOW, NotFinalError, required_confirmations
from certificates.issuer import CertificationError
from certificates.models import CertificateRow
from certificates.service import CertificateService, retire_and_certify
from certificates.settings import ServiceSettings
from certificates.translog.models import LogEntry
from certificates.verify import verify_document
from chain.client import RegistryClient, TxResult
from chain.opids import random_op_id
from chain.types import Scenario
from indexer.db import make_engine
from indexer.sync import Indexer
from scripts.audit_commands import in_process_api
from tests.conftest import World


@pytest.fixture
def service(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CertificateService:
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.delenv("LEDGER_CONFIRMATIONS", raising=False)
    c = world.client
    anchorer = RegistryClient(c.rpc, c.address, c.abi, chain_id=c.chain_id, signer=world.cast.anchorer)
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    return CertificateService.open(
        engine, world.registry.deployment, anchorer, ServiceSettings(anchor_every=1, public_url="http://testserver")
    )


def retire(world: World, kg: int, commitment: str) -> TxResult:
    return world.client.retire(
        random_op_id(), world.batch_id, kg, Scenario.VOLUNTARY, commitment, b"\0" * 32, sender=world.cast.holder
    )


def certify_new(service: CertificateService, world: World, kg: int, *, anchor: bool) -> tuple[str, TxResult]:
    result, issued = retire_and_certify(
        service,
        lambda cm: retire(world, kg, cm),
        "赵敏",
        scenario_key="Voluntary",
        fields={"message": f"{kg} kg"},
        anchor=anchor,
    )
    return issued.certificate_id, result


def head(world: World) -> int:
    return int(world.client.rpc.call("eth_blockNumber"), 16)


def row(service: CertificateService, cert_id: str) -> CertificateRow:
    from sqlalchemy import select

    with service.engine.connect() as conn:
        return conn.execute(select(CertificateRow).where(CertificateRow.id == cert_id)).one()  # type: ignore[return-value]


@pytest.mark.parametrize("depth", [1, 3, 12, 20])
def test_a_reorganised_retirement_revokes_its_certificate_before_the_next_anchor(
    world: World, service: CertificateService, depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    service.confirmations = 0  # certify at once, so that the reorganisation finds certificates
    kept, _ = certify_new(service, world, 10, anchor=True)  # older than the reorganisation: stays valid
    # the victim: retired in block R; for depth > 1 also anchored (block R+1), so the anchor goes too
    victim, retired = certify_new(service, world, 7, anchor=depth > 1)
    if depth > 1:
        assert service.document(victim)["proof"] is not None
    padding = retired.block_number + depth - 1 - head(world)
    if padding:
        world.client.rpc.call("anvil_mine", hex(padding))
    assert head(world) - depth + 1 == retired.block_number  # the reorganisation reaches exactly the retirement
    world.client.rpc.call("anvil_reorg", depth, [])
    assert world.client.rpc.call("eth_getTransactionReceipt", retired.tx_hash) is None

    # the anchoring step alone refuses a tree with the vanished retirement's certificate, not revoked
    with pytest.raises(anchoring.AnchorRefusedError, match=victim):
        anchoring.anchor(service.client, service.engine, service.context.log, force=True)
    # the service's anchoring revokes it first (the ordinary path: chain, then the log), then anchors
    with caplog.at_level(logging.WARNING, logger="ledger.certificates"):
        result = service.anchor(force=True)
    assert result is not None
    gone = row(service, victim)
    assert gone.revoked_at is not None and gone.revocation_reason == REORG_REASON and gone.revocation_tx
    assert row(service, kept).revoked_at is None
    assert any(victim in r.getMessage() and REORG_REASON in r.getMessage() for r in caplog.records)
    with service.engine.connect() as conn:
        from sqlalchemy import select

        last = conn.execute(select(LogEntry.kind, LogEntry.ref).order_by(LogEntry.idx.desc()).limit(1)).one()  # type: ignore[attr-defined]
    assert tuple(last) == ("revocation", victim)
    size = service.context.log.size()
    assert service.client.latest_anchor()[0] == size  # the anchored tree holds the revocation
    assert verify_document(service.document(victim), service.context.evidence).status != "valid"
    assert verify_document(service.document(kept), service.context.evidence).status == "valid"
    assert anchoring.reorganised(service.client, service.engine).vanished == []

    chain = read_chain(world.client, service.context.deployment.block_number)
    with service.engine.connect() as conn:
        report = reconcile(chain, conn, service.context.log, in_process_api(create_app(service.context)))
    assert report.clean, report.as_json()["differences"]
    assert report.checked["certificates"] == 2


def test_a_retirement_mined_again_after_a_reorganisation_backs_a_new_certificate(
    world: World, service: CertificateService
) -> None:
    service.confirmations = 0
    victim, retired = certify_new(service, world, 6, anchor=True)  # retired in block R, anchored in R+1
    rid = service.document(victim)["certificate"]["retirements"][0]["id"]
    raw = world.client.rpc.call("eth_getRawTransactionByHash", retired.tx_hash)
    world.client.rpc.call("anvil_reorg", 2, [[raw, 1]])  # R and R+1 replaced: the same transaction, now in R+1
    receipt = world.client.rpc.call("eth_getTransactionReceipt", retired.tx_hash)
    assert int(receipt["blockNumber"], 16) == retired.block_number + 1

    assert service.anchor(force=True) is not None
    assert row(service, victim).revocation_reason == REORG_REASON  # it names a block the retirement is no longer in
    again = service.certify([rid], scenario_key="Voluntary", fields={"message": "again"}, anchor=True)
    assert again.body["retirements"][0]["block_number"] == retired.block_number + 1  # same id, the claim released
    assert verify_document(service.document(again.certificate_id), service.context.evidence).status == "valid"

    chain = read_chain(world.client, service.context.deployment.block_number)
    with service.engine.connect() as conn:
        report = reconcile(chain, conn, service.context.log, in_process_api(create_app(service.context)))
    assert report.clean, report.as_json()["differences"]


def test_the_check_starts_above_the_certificates_already_final(world: World, service: CertificateService) -> None:
    service.confirmations = 0
    first, _ = certify_new(service, world, 3, anchor=True)
    assert service.revoke_reorganised() == 0 and service.settled == 0  # its retirement is within the window
    world.client.rpc.call("anvil_mine", hex(REORG_WINDOW))
    second, _ = certify_new(service, world, 4, anchor=True)
    number = int(first.rsplit("-", 1)[1])
    assert service.settled == number  # the first is deeper than any reorganisation the mirror follows
    check = anchoring.reorganised(service.client, service.engine, after=service.settled)
    assert check.vanished == [] and check.settled == number  # the second is still young
    world.client.rpc.call("anvil_mine", hex(REORG_WINDOW))
    assert service.revoke_reorganised() == int(second.rsplit("-", 1)[1])


def test_certification_waits_for_the_configured_confirmations(world: World, service: CertificateService) -> None:
    service.confirmations = 3
    commitment = service.seal_beneficiary("赵敏")
    result = retire(world, 5, commitment)
    service.catch_up(result.block_number)
    event = result.event("CreditsRetired")
    rid = f"{world.client.chain_id}-{event.tx_hash}-{event.log_index}"
    options: dict[str, Any] = {"scenario_key": "Voluntary", "fields": {"message": "wait"}, "anchor": False}
    with pytest.raises(NotFinalError, match=r"has 0 of the 3 confirmations required .* wait 3 more block"):
        service.certify([rid], **options)
    world.client.rpc.call("anvil_mine", "0x2")
    with pytest.raises(NotFinalError, match="has 2 of the 3"):
        service.certify([rid], **options)

    told: list[tuple[int, int]] = []
    miner = threading.Timer(0.5, lambda: world.client.rpc.call("anvil_mine", "0x1"))
    miner.start()
    try:
        issued = service.certify([rid], wait=30, on_wait=lambda have, need: told.append((have, need)), **options)
    finally:
        miner.cancel()
    assert told == [(2, 3)] and issued.certificate_id


def test_a_retirement_gone_from_the_chain_is_not_certified(world: World, service: CertificateService) -> None:
    service.confirmations = 0
    commitment = service.seal_beneficiary("赵敏")
    result = retire(world, 5, commitment)
    service.catch_up(result.block_number)
    event = result.event("CreditsRetired")
    world.client.rpc.call("anvil_reorg", 1, [])  # the mirror has not noticed yet
    with pytest.raises(CertificationError, match="no longer on chain"):
        service.certify(
            [f"{world.client.chain_id}-{event.tx_hash}-{event.log_index}"],
            scenario_key="Voluntary",
            fields={"message": "gone"},
            anchor=False,
        )


def test_the_confirmation_setting_and_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_CONFIRMATIONS", raising=False)
    assert required_confirmations(31337) == 0  # the local node
    assert required_confirmations(1) == REORG_WINDOW  # an unknown chain: proof-of-stake finality
    for kind, depth in {"local": 0, "poa": 16, "bft": 0, "pos": 64, "12": 12}.items():
        monkeypatch.setenv("LEDGER_CONFIRMATIONS", kind)
        assert required_confirmations(1) == depth
    for bad in ("65", "-1", "soon"):
        monkeypatch.setenv("LEDGER_CONFIRMATIONS", bad)
        with pytest.raises(CertificationError, match="LEDGER_CONFIRMATIONS"):
            required_confirmations(1)
    # the deepest wait allowed is the deepest reorganisation the mirror can follow
    assert inspect.signature(Indexer.__init__).parameters["window"].default == REORG_WINDOW
