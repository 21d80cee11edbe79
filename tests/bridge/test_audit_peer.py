"""`ledger audit --peer`: the bridge reconciliation's differences in the audit's report."""

from __future__ import annotations

from audit.bridge_peer import audit_peer
from audit.reconcile import AuditReport
from bridge.origin import origin_key
from bridge.settings import BridgeSettings
from chain.opids import random_op_id
from tests.bridge.conftest import DESTINATION_NAME, SOURCE_NAME, Pair
from tests.conftest import HASH, PROJECT


def settings(pair: Pair) -> BridgeSettings:
    return BridgeSettings(
        source_name=SOURCE_NAME,
        destination_name=DESTINATION_NAME,
        destination_registry=pair.destination.client.address,
    )


def test_a_clean_pair_and_then_a_forged_import(pair: Pair) -> None:
    pair.export(1_500)
    pair.relay().step()
    report = AuditReport(head=0, events=0)
    checked = audit_peer(pair.source.client, 0, pair.destination_node.url, report.add, settings(pair))
    assert report.clean and checked == {"exports confirmed to the peer": 1, "imports at the peer": 1}

    src = pair.source.client
    pair.destination.client.import_credits(
        random_op_id(),
        origin_key=origin_key(src.chain_id, src.address, 77),
        origin_registry=SOURCE_NAME,
        project_id=PROJECT,
        to=pair.destination.cast.buyer.address,
        vintage=2024,
        quantity=300,
        evidence_hash=HASH,
    )
    report = AuditReport(head=0, events=0)
    audit_peer(pair.source.client, 0, pair.destination_node.url, report.add, settings(pair))
    assert [d.check for d in report.differences] == ["bridge", "bridge"]
    assert "forged origin" in report.differences[0].detail
    # 150,000 issued - 1,500 exported + (1,500 + 300) imported = 150,300
    assert "combined supply 150300 kg != 150000 kg" in report.differences[1].detail
