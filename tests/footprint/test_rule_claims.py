"""Conversions printed on certificates as published rules (issue 16, "Conversions as published rules";
docs/certificate-format.md §5.2): a tree-planting duty's claim names cn-tree-duty@1 and takes its 400 kg per tree
from it; an ecological-justice claim converts its damages by its rule; a verifier redoes the arithmetic from the
claim alone and checks the rule's hash and rate against the shipped row when it knows it; claims without a rule
(certificates issued before) still verify."""

from __future__ import annotations

import copy
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from certificates import claim_rules, document
from certificates.claim_rules import tree_conversion
from certificates.document import claim_errors, make_claim, obligation_kg
from certificates.scenarios import SCENARIOS
from certificates.service import retire_and_certify
from chain.opids import random_op_id
from chain.types import Scenario
from footprint import conversion
from footprint.conversion import RULES_DIR, load_rules, shipped_rules
from footprint.errors import FootprintError
from tests.footprint.test_court import Court, court, verdicts  # noqa: F401  # court: the module's registry

TREES, JUSTICE, VOLUNTARY = SCENARIOS["TreePlantingDuty"], SCENARIOS["EcologicalJustice"], SCENARIOS["Voluntary"]
TREE_RULE = shipped_rules().tree_duty["cn-tree-duty@1"]
DAMAGES_RULE = shipped_rules().damages["fj-jiangle-2021@1"]
HOLDER_NAME = "张三丰"


def tree_claim(quantity: int, trees: int = 3) -> dict[str, Any]:
    rate, conv, _ = claim_rules.tree_conversion()
    return make_claim(TREES, quantity, trees=trees, kg_per_tree=rate, conversion=conv)


def justice_claim(quantity: int, damages: str) -> dict[str, Any]:
    return make_claim(JUSTICE, quantity, conversion=claim_rules.damages_conversion(DAMAGES_RULE, Decimal(damages)))


# ---------------------------------------------------------------- the claim alone


def test_a_tree_duty_claim_names_its_rule_and_takes_its_rate() -> None:
    # cn-tree-duty@1: 1.2 t / 3 trees = 400 kg per tree; 3 trees = 1,200 kg, retired 1,200: fulfilled
    assert tree_claim(1_200) == {
        "quantity_kg": 1_200,
        "trees": 3,
        "kg_per_tree": 400,
        "duty_kg": 1_200,
        "duty_fulfilled": True,
        "rule": {"id": "cn-tree-duty", "version": 1, "sha256": TREE_RULE.sha256},
    }
    assert claim_errors(tree_claim(1_200), 1_200, TREES) == []
    assert claim_rules.check(tree_claim(1_200)) == ([], "; conversion rule cn-tree-duty@1 is the published one")


def test_an_ecological_justice_claim_converts_its_damages_as_conversion_py_does() -> None:
    # ¥10,000 at ¥173,900 for 523 t: 10,000 × 523 × 1000 ÷ 173,900 = 30,074.75… → 30,075 kg; retired 30,000 falls short
    claim = justice_claim(30_000, "10000")
    assert (claim["obligation_kg"], claim["obligation_fulfilled"]) == (30_075, False)
    assert claim_errors(claim, 30_000, JUSTICE) == []
    for yuan, kg in (("173900", 523_000), ("10000", 30_075), ("0.01", 1), ("1234.56", 3_713)):
        # 1,234.56 × 523,000 ÷ 173,900 = 3,712.93… → 3,713; 0.01 yuan is 0.03 kg, still 1 kg owed
        assert obligation_kg(yuan, "173900", "523") == conversion.damages(yuan, DAMAGES_RULE).kgco2e == kg


def test_claims_without_a_rule_still_check() -> None:
    """The shapes certificates had before rules were printed (tests/api/conftest.py DEMO issues them)."""
    old_trees = make_claim(TREES, 1_200, trees=3, kg_per_tree=400)
    assert "rule" not in old_trees and claim_errors(old_trees, 1_200, TREES) == []
    assert claim_rules.check(old_trees) == ([], "")
    old_justice = make_claim(JUSTICE, 2_000)
    assert old_justice == {"quantity_kg": 2_000} and claim_errors(old_justice, 2_000, JUSTICE) == []


BROKEN = {
    "an extra rule member": (lambda c: c["rule"].update(illustrative=False), "must be exactly"),
    "version 0": (lambda c: c["rule"].update(version=0), "version must be a whole number above 0"),
    "an upper-case hash": (lambda c: c["rule"].update(sha256=TREE_RULE.sha256.upper()), "64 lowercase hex"),
    "an id@version as id": (lambda c: c["rule"].update(id="cn-tree-duty@1"), "id must be the rule's id"),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_malformed_rule_member_is_named(broken: str) -> None:
    claim = tree_claim(1_200)
    edit, expected = BROKEN[broken]
    edit(claim)
    [error] = claim_errors(claim, 1_200, TREES)
    assert expected in error


def test_the_arithmetic_is_redone_from_the_claim() -> None:
    claim = justice_claim(523_000, "173900")
    claim["obligation_kg"] = 500_000
    assert any("the obligation does not follow" in e for e in claim_errors(claim, 523_000, JUSTICE))
    claim = justice_claim(523_000, "173900")
    claim["damages_yuan"] = "1.5e5"  # an exponent is not a plain decimal
    assert any("plain digits" in e for e in claim_errors(claim, 523_000, JUSTICE))
    voluntary = {"quantity_kg": 5, "rule": {"id": "cn-tree-duty", "version": 1, "sha256": TREE_RULE.sha256}}
    assert any("a Voluntary claim has exactly quantity_kg" in e for e in claim_errors(voluntary, 5, VOLUNTARY))
    with pytest.raises(ValueError, match="converts nothing"):
        make_claim(VOLUNTARY, 5, conversion={"rule": voluntary["rule"]})


def test_a_rule_is_checked_against_the_shipped_row_when_known() -> None:
    claim = tree_claim(2_000, trees=4)
    claim.update(kg_per_tree=500, duty_kg=2_000)  # arithmetic consistent, but not cn-tree-duty@1's 400
    assert claim_errors(claim, 2_000, TREES) == []
    problems, _ = claim_rules.check(claim)
    assert problems == ["the claim converts at 500 kg per tree, not rule cn-tree-duty@1's 400"]
    claim = justice_claim(523_008, "173900")
    # a cheaper price, arithmetic redone: 173,900 × 1 × 1000 ÷ 332.5 = 523,007.5… → 523,008
    claim.update(price_yuan="332.5", price_tonnes="1", obligation_kg=523_008)
    assert claim_errors(claim, 523_008, JUSTICE) == []
    assert "is not rule fj-jiangle-2021@1's ¥173900 for 523 t" in claim_rules.check(claim)[0][0]
    claim["rule"]["version"] = 9  # a rule this software does not ship: the arithmetic alone is checked
    assert claim_rules.check(claim) == (
        [],
        "; conversion rule fj-jiangle-2021@9 is not one this verifier ships: its arithmetic alone was checked",
    )


def test_an_illustrative_rule_is_said_to_be(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(RULES_DIR / "damages.csv", tmp_path / "damages.csv")
    text = (RULES_DIR / "tree_duty.csv").read_text("utf-8")
    # a second version at 16 kg per tree with no public source: illustrative
    extra = "cn-tree-duty,2,CN,3,5,16,20,placeholder,,placeholder,,2026-12-01,,true,an illustrative rate\n"
    (tmp_path / "tree_duty.csv").write_text(text.replace(",,false,", ",cn-tree-duty@2,false,", 1) + extra, "utf-8")
    rules = load_rules(tmp_path)
    rate, conv, rule = claim_rules.tree_conversion(None, rules)
    assert (rate, rule.ref, rule.illustrative) == (16, "cn-tree-duty@2", True)
    claim = make_claim(TREES, 48, trees=3, kg_per_tree=rate, conversion=conv)  # 3 × 16 = 48 kg
    assert claim_rules.check(claim, rules) == (
        [],
        "; conversion rule cn-tree-duty@2 is the published one (illustrative: no public source gives its numbers)",
    )
    with pytest.raises(FootprintError, match="no tree-duty rule 'cn-tree-duty@7'"):
        claim_rules.tree_conversion("cn-tree-duty@7", rules)
    # the printed statement says so too, for a rule the software ships (here: these tables)
    monkeypatch.setattr(document, "shipped_rules", lambda: rules)
    _, _, zh, en = document.statement(TREES, claim)
    assert zh.endswith("换算规则为示例性规则（无公开来源）。")
    assert en == (
        "0.048 tCO2e retired in place of 3 trees at 0.016 t per tree: duty fulfilled. "
        "The conversion rule is illustrative: no public source gives its numbers."
    )


def test_the_court_statement_names_the_damages_and_the_rule() -> None:
    _, title_en, zh, en = document.statement(JUSTICE, justice_claim(523_000, "173900"))
    assert title_en == "Certificate of alternative ecological restoration"
    assert zh == (
        "已注销林草碳普惠减排量 523.000 吨二氧化碳当量，用于履行损害赔偿 173900 元"
        "（按换算规则 fj-jiangle-2021@1 折合 523.000 吨）的替代性修复义务，已履行。"
    )
    assert en == (
        "523.000 tCO2e retired for damages of ¥173900, converted by rule fj-jiangle-2021@1 to an obligation of "
        "523.000 tCO2e: fulfilled."
    )


# ---------------------------------------------------------------- on anvil, through the CLI


@pytest.fixture(scope="module")
def api(court: Court) -> Any:  # noqa: F811  # the module's registry
    with TestClient(create_app(court.service.context)) as client:
        yield client


def test_a_tree_duty_certificate_carries_its_rule_and_verifies(court: Court, api: TestClient) -> None:  # noqa: F811
    name = court.write("holder.txt", HOLDER_NAME)
    text = court.ledger(
        "retire",
        "--batch",
        str(court.world.batch_id),
        "--amount",
        "1200",
        "--scenario",
        "tree-planting-duty",
        "--beneficiary-file",
        str(name),
        "--certify",
        "--trees",
        "3",
        "--field",
        "year=2026",
    ).output
    cert_id = re.findall(r"SCCW-\d+-\d{6}", text)[0]
    assert court.service.anchor(force=True) is not None
    doc = court.service.document(cert_id)
    assert doc["certificate"]["claim"] == {
        "quantity_kg": 1_200,
        "trees": 3,
        "kg_per_tree": 400,  # cn-tree-duty@1's, not the LEDGER setting's
        "duty_kg": 1_200,
        "duty_fulfilled": True,
        "rule": {"id": "cn-tree-duty", "version": 1, "sha256": TREE_RULE.sha256},
    }
    result = verdicts(court, api, doc)
    assert result["verdicts"] == ["valid"] * 3, result
    assert "conversion rule cn-tree-duty@1 is the published one" in result["claim"]
    forged = copy.deepcopy(doc)
    forged["certificate"]["claim"]["rule"]["sha256"] = DAMAGES_RULE.sha256  # another rule's hash
    assert verdicts(court, api, forged)["verdicts"] == ["invalid"] * 3


def test_an_old_style_tree_duty_certificate_still_verifies(court: Court, api: TestClient) -> None:  # noqa: F811
    """Issued as before rules were printed (the rate given, no rule in the claim): such
    certificates exist and still verify. Issuing today names the rule (the next test)."""
    owner = court.world.cast.owner

    def retire(commitment: str) -> Any:
        return court.world.client.retire(
            random_op_id(), court.world.batch_id, 800, Scenario.TREE_PLANTING_DUTY, commitment, b"\0" * 32, sender=owner
        )

    _, issued = retire_and_certify(
        court.service,
        retire,
        HOLDER_NAME,
        scenario_key="TREE_PLANTING_DUTY",
        fields={"year": 2026},
        trees=2,
        kg_per_tree=400,
        conversion=None,  # said outright: no rule
    )
    court.service.anchor(force=True)
    doc = court.service.document(issued.certificate_id)
    # 2 trees × 400 kg = 800 kg: fulfilled, and no rule named
    assert doc["certificate"]["claim"] == {
        "quantity_kg": 800,
        "trees": 2,
        "kg_per_tree": 400,
        "duty_kg": 800,
        "duty_fulfilled": True,
    }
    result = verdicts(court, api, doc)
    assert result["verdicts"] == ["valid"] * 3, result


def test_the_service_names_the_current_tree_rule_when_none_is_given(court: Court) -> None:  # noqa: F811
    """The demo and every Python caller of the service convert at the published rule, not at a
    setting (LEDGER_KG_PER_TREE is gone): 3 trees × cn-tree-duty@1's 400 kg = 1,200 kg."""
    owner = court.world.cast.owner

    def retire(commitment: str) -> Any:
        return court.world.client.retire(
            random_op_id(),
            court.world.batch_id,
            1_200,
            Scenario.TREE_PLANTING_DUTY,
            commitment,
            b"\0" * 32,
            sender=owner,
        )

    _, issued = retire_and_certify(
        court.service, retire, HOLDER_NAME, scenario_key="TREE_PLANTING_DUTY", fields={"year": 2026}, trees=3
    )
    claim = court.service.document(issued.certificate_id)["certificate"]["claim"]
    _, conversion, rule = tree_conversion()
    assert rule.ref == "cn-tree-duty@1" and claim["rule"] == conversion["rule"]
    assert (claim["trees"], claim["kg_per_tree"], claim["duty_kg"], claim["duty_fulfilled"]) == (3, 400, 1_200, True)


def test_an_unknown_tree_rule_is_one_line(court: Court) -> None:  # noqa: F811
    result = court.ledger(
        "certify",
        "31337-0x" + "ab" * 32 + "-1",
        "--scenario",
        "tree-planting-duty",
        "--trees",
        "3",
        "--rule",
        "cn-tree-duty@7",
        ok=False,
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: no tree-duty rule 'cn-tree-duty@7'; use one of cn-tree-duty@1 (`ledger footprint rules`)"
    )
    refused = court.ledger(
        "certify", "31337-0x" + "ab" * 32 + "-1", "--scenario", "voluntary", "--rule", "cn-tree-duty@1", ok=False
    )
    assert refused.output.strip() == "error: --rule converts trees; a voluntary certificate takes no rule"


def test_the_quote_json_is_json(court: Court) -> None:  # noqa: F811
    case = court.write(
        "q.json", {"case_number": "（2024）川18民初3号", "court": "雅安市中级人民法院", "damages_yuan": 332.5}
    )
    quoted = json.loads(court.ledger("court", "quote", "--case", str(case), "--json").output)
    # no rule in the case: the only current damages rule; ¥332.5 × 523,000 ÷ 173,900 = 999.99… → 1,000 kg
    assert quoted["rule"]["named"] is False and quoted["obligation_kg"] == 1_000
