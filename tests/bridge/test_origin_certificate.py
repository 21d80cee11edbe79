"""A certificate for a retirement of imported units: its retirement block may carry the origin
(certificates/origins.py), which a verifier reading the mirror checks against the import gate's
record. The certificate is issued for real on the destination (its own indexer mirroring the gate),
and the issuer adds the origin block (`add_origins`) before the body is hashed into the log."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from api.schemas.certificates import CertifiedRetirementPublic
from bridge.origin import origin_key
from certificates.evidence import MirrorEvidence
from certificates.service import CertificateService, retire_and_certify
from certificates.settings import ServiceSettings
from certificates.verify import verify_document
from chain.client import RegistryClient
from chain.opids import random_op_id
from chain.types import Scenario
from indexer.db import make_engine
from tests.bridge.conftest import SOURCE_NAME, Pair
from tests.conftest import ISSUED


def _retirements_check(doc: dict[str, Any], evidence: MirrorEvidence) -> tuple[bool, str]:
    [check] = [c for c in verify_document(doc, evidence).checks if c.name == "retirements"]
    return check.ok, check.detail


def test_the_origin_on_a_certificate_of_imported_units_is_checked(
    pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst, cast = pair.source.client, pair.destination.client, pair.destination.cast
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.setenv("LEDGER_IMPORT_GATE", pair.recognitions.client.address)  # the service's indexer mirrors it
    export_id = pair.export(3_000)
    assert pair.relay().step().confirmed == 1
    batch = int(dst.view("importedBatch", origin_key(src.chain_id, src.address, export_id)))

    engine = make_engine(f"sqlite:///{tmp_path / 'destination.sqlite'}")
    anchorer = RegistryClient(dst.rpc, dst.address, dst.abi, chain_id=dst.chain_id, signer=cast.anchorer)
    service = CertificateService.open(
        engine, pair.destination.registry.deployment, anchorer, ServiceSettings(anchor_every=1)
    )
    retire = lambda commitment: dst.retire(  # noqa: E731
        random_op_id(), batch, 700, Scenario.VOLUNTARY, commitment, b"\0" * 32, sender=cast.buyer
    )
    _, issued = retire_and_certify(service, retire, "赵敏", scenario_key="VOLUNTARY", fields={"message": "绿水青山"})
    doc = copy.deepcopy(service.document(issued.certificate_id))
    evidence = MirrorEvidence(engine, chain_id=dst.chain_id, registry=dst.address)
    # the issuer put the origin in the body before hashing it into the log: the leaf commits to it
    origin = doc["certificate"]["retirements"][0]["origin"]
    # 700 kg of the 3,000 imported from SC-LINCAO's export, source batch 1, serials 1 .. 100,000
    assert (origin["origin_registry"], origin["export_id"], origin["source_batch"]) == (SOURCE_NAME, hex(export_id), 1)
    assert (origin["source_first_serial"], origin["source_last_serial"], origin["attested"]) == (1, ISSUED, True)
    assert _retirements_check(doc, evidence)[0]
    # the API's public shape of a certificate (extra members forbidden) describes it
    CertifiedRetirementPublic.model_validate(doc["certificate"]["retirements"][0])

    tampered = copy.deepcopy(doc)
    tampered["certificate"]["retirements"][0]["origin"]["source_batch"] = 2  # claims another source batch
    ok, detail = _retirements_check(tampered, evidence)
    assert not ok and "origin's source_batch differ(s) from the import gate's record" in detail

    stray = copy.deepcopy(doc)
    del stray["certificate"]["retirements"][0]["origin"]["import_tx_hash"]
    ok, detail = _retirements_check(stray, evidence)
    assert not ok and "its origin must hold exactly" in detail
