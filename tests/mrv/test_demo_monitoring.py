"""The demo of `ledger up` issues the forest project's 2024 batch from the shipped monitoring report
(mrv/examples/forest-2024.json): the chain holds the computed quantity and the result's hash, the
API serves the report and a breakdown that recomputes, and the verify page of a certificate drawn
from that batch links to it (in headless Chromium, as a person would follow it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import mrv
from api.app import create_app
from certificates.context import ServiceContext
from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from chain.local import open_local_registry
from chain.node import LocalNode
from indexer.db import make_engine
from scripts import demo
from tests.api.browser import chromium_page
from tests.api.server import free_port, serve_thread


def test_the_demo_batch_comes_from_its_report_and_the_verify_page_links_its_breakdown(
    build: Any, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    expected = mrv.compute(mrv.load_report(demo.REPORT), mrv.bundle("SCFM-001-V01", 1))
    assert expected.quantity_kg == 1_335_425  # 1,535,148 net less the 13.01 % uncertainty deduction
    with LocalNode(block_time=1) as node:
        registry = open_local_registry(node.url, deployments_dir=tmp_path / "deployments", build=build)
        engine = make_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}")
        service = CertificateService.open(engine, registry.deployment, registry.client, ServiceSettings())
        ids = demo.load_demo(registry.client, service)
        client = registry.client
        assert client.methodology("SCFM-001-V01").document_hash.hex() == mrv.bundle("SCFM-001-V01", 1).sha256
        service.catch_up(int(client.rpc.call("eth_blockNumber"), 16))
        cert_id = ids[0]  # the large event's, retired from the forest project's 2024 batch
        body = service.document(cert_id)["certificate"]
        [batch] = {r["batch_id"] for r in body["retirements"]}
        assert client.supply(batch).issued == expected.quantity_kg
        assert client.batch(batch).project_id == demo.MONITORED[0]

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        ctx = service.context
        context = ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(public_url=base), ctx.rpc)
        with serve_thread(create_app(context), port, access_log=False), chromium_page() as page:
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/verify/{cert_id}")
            page.wait_for_selector("#verdict[data-verdict]")
            assert page.locator("#verdict").get_attribute("data-verdict") == "valid"
            link = page.locator("#summary a.monitoring")
            assert link.count() == 1 and link.get_attribute("href") == f"/api/v1/batches/{batch}/monitoring"
            assert "计量明细" in link.inner_text()
            link.click()
            page.wait_for_load_state()
            served = json.loads(page.locator("body").inner_text())
            assert not errors, errors
    assert served["matches"] and served["issued_kg"] == served["recomputed_quantity_kg"] == expected.quantity_kg
    assert served["hashes"]["verification_report_hash"] == "0x" + expected.sha256
    assert served["breakdown"]["totals"]["deduction_bps"] == 1_301 and served["report"]["trees"]
