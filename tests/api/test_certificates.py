"""Certificates end to end on a real anvil: issue, anchor, verify against the node and the mirror,
the tamper matrix, selective disclosure, revocation, double claims."""

from __future__ import annotations

from typing import Any

import pytest

from certificates.evidence import ChainEvidence
from certificates.issuer import CertificationError
from certificates.verify import verify_document
from chain.types import Scenario
from footprint.conversion import shipped_rules
from tests.api.conftest import BENEFICIARIES, Certified


def chain_evidence(c: Certified) -> ChainEvidence:
    d = c.service.context.deployment
    return ChainEvidence(c.world.client.rpc, chain_id=d.chain_id, registry=d.address, revocations=d.revocations)


def both(c: Certified) -> list[Any]:
    return [chain_evidence(c), c.service.context.evidence]


def test_every_scenario_certifies_and_verifies_against_node_and_mirror(certified: Certified) -> None:
    for scenario, cert_id in certified.ids.items():
        for doc in (certified.public(cert_id), certified.holder_copy(cert_id)):
            for evidence in both(certified):
                verdict = verify_document(doc, evidence)
                assert verdict.status == "valid", (scenario, evidence.source, verdict.as_json())


def test_carbon_neutral_only_when_the_footprint_is_covered(certified: Certified) -> None:
    event = certified.public(certified.ids[Scenario.LARGE_EVENT])["certificate"]["claim"]
    assert event == {"quantity_kg": 1250, "footprint_kg": 1200, "carbon_neutral": True}
    org = certified.public(certified.ids[Scenario.ORGANISATION])["certificate"]["claim"]
    assert org["carbon_neutral"] is False
    trees = certified.public(certified.ids[Scenario.TREE_PLANTING_DUTY])["certificate"]["claim"]
    rule = {"id": "cn-tree-duty", "version": 1, "sha256": shipped_rules().tree("cn-tree-duty@1").sha256}
    # 3 trees × 400 kg (the published rule, named in the claim) = 1,200 kg: fulfilled
    assert trees == {
        "quantity_kg": 1200,
        "trees": 3,
        "kg_per_tree": 400,
        "duty_kg": 1200,
        "duty_fulfilled": True,
        "rule": rule,
    }


def test_personal_fields_are_hidden_in_the_public_copy_and_it_still_verifies(certified: Certified) -> None:
    cert_id = certified.ids[Scenario.TREE_PLANTING_DUTY]
    public, holder = certified.public(cert_id), certified.holder_copy(cert_id)
    assert "beneficiary" not in public["disclosed"] and "id_number" not in public["disclosed"]
    assert holder["disclosed"]["beneficiary"]["value"] == BENEFICIARIES[Scenario.TREE_PLANTING_DUTY]
    assert public["certificate"] == holder["certificate"]
    assert verify_document(public, certified.service.context.evidence).status == "valid"


def _set(doc: dict[str, Any], path: list[Any], value: Any) -> None:
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _flip(hex_text: str) -> str:
    return hex_text[:-1] + ("0" if hex_text[-1] != "0" else "1")


TAMPER = [
    ("a disclosed field", lambda d: _set(d, ["disclosed", "event_name", "value"], "另一个活动"), {"fields"}),
    (
        "a field commitment",
        lambda d: _set(d, ["certificate", "fields", "venue"], _flip(d["certificate"]["fields"]["venue"])),
        {"fields", "inclusion"},
    ),
    ("a proof node", lambda d: _set(d, ["proof", "inclusion", 0], _flip(d["proof"]["inclusion"][0])), {"inclusion"}),
    ("the leaf index", lambda d: _set(d, ["proof", "leaf_index"], d["proof"]["leaf_index"] ^ 1), {"inclusion"}),
    ("the tree size", lambda d: _set(d, ["proof", "tree_size"], d["proof"]["tree_size"] + 1), {"anchor"}),
    ("the root", lambda d: _set(d, ["proof", "root"], _flip(d["proof"]["root"])), {"inclusion", "anchor"}),
    (
        "a tx hash",
        lambda d: _set(
            d, ["certificate", "retirements", 0, "tx_hash"], _flip(d["certificate"]["retirements"][0]["tx_hash"])
        ),
        {"inclusion", "retirements"},
    ),
    (
        "a log index",
        lambda d: _set(
            d, ["certificate", "retirements", 0, "log_index"], d["certificate"]["retirements"][0]["log_index"] + 1
        ),
        {"inclusion", "retirements"},
    ),
    (
        "an amount",
        lambda d: _set(d, ["certificate", "retirements", 0, "amount_kg"], 1_251),
        {"inclusion", "retirements", "claim"},
    ),
    ("the claimed quantity", lambda d: _set(d, ["certificate", "claim", "quantity_kg"], 9_999), {"inclusion", "claim"}),
]


@pytest.mark.parametrize("what,tamper,expected", TAMPER, ids=[t[0] for t in TAMPER])
def test_tampering_fails_and_names_the_check(certified: Certified, what: str, tamper: Any, expected: set[str]) -> None:
    doc = certified.public(certified.ids[Scenario.LARGE_EVENT])
    tamper(doc)
    for evidence in both(certified):
        verdict = verify_document(doc, evidence)
        assert verdict.status == "invalid", what
        assert expected <= set(verdict.failed), (what, evidence.source, verdict.failed)


def test_a_retirement_backs_one_certificate(certified: Certified) -> None:
    rid = certified.public(certified.ids[Scenario.VOLUNTARY])["certificate"]["retirements"][0]["id"]
    with pytest.raises(CertificationError, match="already backs"):
        certified.service.certify([rid], scenario_key="Voluntary", fields={"message": "again"})


def test_the_beneficiary_must_match_the_commitment_on_chain(certified: Certified) -> None:
    result = certified.retire(Scenario.VOLUNTARY, 3, "0x" + "ab" * 32)
    certified.service.catch_up(result.block_number)
    event = result.event("CreditsRetired")
    rid = f"31337-{event.tx_hash}-{event.log_index}"
    with pytest.raises(CertificationError, match="do not match the commitment"):
        certified.service.certify(
            [rid], scenario_key="Voluntary", fields={"beneficiary": "赵敏"}, beneficiary_salt="00" * 16
        )


def test_a_revoked_certificate_is_reported_revoked(certified: Certified) -> None:
    cert_id = certified.certify_new(Scenario.VOLUNTARY, 7, "钱七", fields={"message": "撤销测试"})
    doc = certified.public(cert_id)
    assert verify_document(doc, certified.service.context.evidence).status == "valid"
    certified.service.revoke(cert_id, "issued in error")
    for evidence in both(certified):
        verdict = verify_document(doc, evidence)
        assert verdict.status == "revoked" and verdict.failed == ["revocation"], evidence.source
