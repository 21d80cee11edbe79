"""The main job's demo: one valid certificate per scenario, and a load interrupted halfway
resumes where it stopped on the next `ledger up`, sending nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from certificates.verify import verify_document
from chain.local import open_local_registry
from chain.node import LocalNode
from indexer.db import make_engine
from scripts import demo

RETIRED = "0x9aa2912b82e3e74edecf00e5e52093bdcaa6d7d1561f1f2cb4a3e38b766b3839"  # CreditsRetired


def test_an_interrupted_demo_load_resumes(build: Any, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    with LocalNode(block_time=1) as node:
        registry = open_local_registry(node.url, deployments_dir=tmp_path / "deployments", build=build)
        engine = make_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}")
        service = CertificateService.open(engine, registry.deployment, registry.client, ServiceSettings())
        real, calls = demo.retire_and_certify, []

        def dies_on_the_third(service_: Any, retire: Any, beneficiary: str, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 3:  # sealed and retired on chain, then the process dies before certifying
                retire(service_.seal_beneficiary(beneficiary))
                raise KeyboardInterrupt
            return real(service_, retire, beneficiary, **kwargs)

        monkeypatch.setattr(demo, "retire_and_certify", dies_on_the_third)
        with pytest.raises(KeyboardInterrupt):
            demo.load_demo(registry.client, service)
        assert len(service.recent_certificates()) == 2
        monkeypatch.setattr(demo, "retire_and_certify", real)
        ids = demo.load_demo(registry.client, service)
        assert len(set(ids)) == 6 and sorted(ids) == sorted(service.recent_certificates())
        retired = registry.client.rpc.call(
            "eth_getLogs", {"fromBlock": "0x0", "address": registry.client.address, "topics": [RETIRED]}
        )
        assert len(retired) == 6  # nothing retired twice
        for cert_id in ids:
            assert verify_document(service.document(cert_id), service.context.evidence).status == "valid", cert_id
