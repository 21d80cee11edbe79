"""Conversions as published rules (footprint/rules/): the tree-planting duty and one court order
worked out, the rule's id@version and sources on every conversion, rows without a source or with a
duplicate version refused, and `ledger footprint convert|rules` printing the rule it used."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from footprint import FootprintError
from footprint.conversion import RULES_DIR, DamagesRule, TreeDutyRule, damages, load_rules, shipped_rules, trees
from scripts.cli import app

runner = CliRunner()
JIANGLE = "fj-jiangle-2021@1"


def flat(text: str) -> str:
    return " ".join(text.split())


def test_every_shipped_rule_cites_a_public_source() -> None:
    rules = shipped_rules()
    assert list(rules.tree_duty) == ["cn-tree-duty@1"] and list(rules.damages) == [JIANGLE]
    every: list[TreeDutyRule | DamagesRule] = [*rules.tree_duty.values(), *rules.damages.values()]
    for rule in every:
        assert not rule.illustrative
        assert all(source and url.startswith("http") for source, url in rule.sources), rule.ref


def test_a_citizens_tree_duty() -> None:
    # 中国绿色碳汇基金会: 3 trees = 60 元 = 1.2 t, i.e. 400 kg and 20 元 per tree; the duty is 3-5 trees a year
    three = trees(3).document
    assert (three["kgco2e"], three["yuan"], three["meets_duty"], three["duty_trees"]) == (1_200, "60", True, [3, 5])
    assert three["rule"]["ref"] == "cn-tree-duty@1" and len(three["rule"]["sources"]) == 2
    five = trees(5).document
    assert (five["kgco2e"], five["yuan"]) == (2_000, "100")  # the foundation's 5 trees ≈ 2 t for 100 元
    assert trees(2).document["meets_duty"] is False


def test_one_court_order() -> None:
    # 将乐 2021: ¥173,900 bought 523 t. The same damages at the case's price: 173,900 × 523 / 173,900 t = 523 t
    rule = shipped_rules().damage(JIANGLE)
    order = damages("173900", rule).document
    assert (order["kgco2e"], order["tonnes"], order["price"]["yuan_per_tonne"]) == (523_000, "523.000", "332.5")
    # ¥10,000 at ¥173,900 / 523 t: 10,000 × 523,000 / 173,900 = 30,074.75… kg, rounded up to 30,075
    assert damages(10_000, rule).kgco2e == 30_075
    # a quotient a hair above a whole kilogram still rounds up (exact fractions, not 28-digit decimals)
    assert damages("173900.01", rule).kgco2e == 523_001
    assert rule.yuan_per_tonne * 523 == Decimal(173_900)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: trees(0), "must be a whole number from 1"),
        (lambda: trees("2.5"), "must be a whole number from 1"),
        (lambda: trees("many"), "is not a number"),
        (lambda: damages("-1", shipped_rules().damage(JIANGLE)), "must be 0 or more"),
        (lambda: damages("0.001", shipped_rules().damage(JIANGLE)), "to the fen"),
        (lambda: shipped_rules().damage("fj-jiangle-2021@9"), "no damages rule 'fj-jiangle-2021@9'; use one of"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix(call: object, message: str) -> None:
    with pytest.raises(FootprintError, match=message) as info:
        call()  # type: ignore[operator]  # each case is a zero-argument lambda
    assert "\n" not in str(info.value) and ";" in str(info.value)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def test_a_rule_without_a_source_or_a_version_twice_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "damages.csv"
    header, row = path.read_text(encoding="utf-8").splitlines()[:2]
    path.write_text(f"{header}\n{row}\n{row}\n", encoding="utf-8")
    with pytest.raises(FootprintError, match="fj-jiangle-2021@1 appears twice; give the new row the next version"):
        load_rules(rules_copy)
    illustrative = (
        "sc-example,1,510000,100,1,illustrative: a round number for the example,,2026-11-30,,true,no public price"
    )
    path.write_text(f"{header}\n{row}\n{illustrative}\n", encoding="utf-8")
    assert load_rules(rules_copy).damage("sc-example@1").illustrative  # illustrative: no address needed
    unsourced = "sc-example,1,510000,100,1,,,2026-11-30,,true,no public price"
    path.write_text(f"{header}\n{unsourced}\n", encoding="utf-8")
    with pytest.raises(FootprintError, match="cites no source; name the publication"):
        load_rules(rules_copy)
    no_address = "sc-example,1,510000,100,1,a report,,2026-11-30,,false,"
    path.write_text(f"{header}\n{no_address}\n", encoding="utf-8")
    with pytest.raises(FootprintError, match="has no source_url; give the public address"):
        load_rules(rules_copy)


def test_superseding_a_rule_keeps_its_hash(rules_copy: Path) -> None:
    path = rules_copy / "tree_duty.csv"
    header, row = path.read_text(encoding="utf-8").splitlines()[:2]
    before = load_rules(rules_copy).tree("cn-tree-duty@1").sha256
    fields = row.split(",")
    successor = ",".join(["cn-tree-duty", "2", *fields[2:]])
    superseded = row.replace(",2026-11-30,,false,", ",2026-11-30,cn-tree-duty@2,false,")
    assert superseded != row
    path.write_text(f"{header}\n{superseded}\n{successor}\n", encoding="utf-8")
    rules = load_rules(rules_copy)
    assert rules.tree("cn-tree-duty@1").sha256 == before  # an annotation, outside the hash: a pin survives it
    assert rules.tree().ref == "cn-tree-duty@2"  # without --rule: the one current rule
    assert trees(3, rules.tree("cn-tree-duty@1")).document["rule"]["superseded_by"] == "cn-tree-duty@2"


def test_cli_convert_trees_prints_the_rule_and_its_sources() -> None:
    result = runner.invoke(app, ["footprint", "convert", "trees", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "3 trees = 1,200 kgCO2e (1.200 tCO2e) to retire, or 60 元 at 20 元 per tree" in out
    assert "rule cn-tree-duty@1 (sha256 " in out and "中国绿色碳汇基金会" in out and "news.mydrivers.com" in out
    shown = json.loads(runner.invoke(app, ["footprint", "convert", "trees", "4", "--json"]).stdout)
    assert shown == trees(4).document


def test_cli_convert_damages_names_the_rule() -> None:
    result = runner.invoke(
        app, ["footprint", "convert", "damages", "173900", "--rule", JIANGLE], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "= 523,000 kgCO2e (523.000 tCO2e) to buy and retire" in out
    assert f"rule {JIANGLE}" in out and "将乐县" in out and "m.xtjxxszp.com" in out
    missing = runner.invoke(app, ["footprint", "convert", "damages", "100"])
    assert missing.exit_code != 0  # a court's price is never assumed: --rule is required
    unknown = runner.invoke(app, ["footprint", "convert", "damages", "100", "--rule", "nope@1"])
    assert unknown.exit_code == 1 and "no damages rule 'nope@1'" in flat(unknown.output)


def test_cli_lists_the_rules() -> None:
    result = runner.invoke(app, ["footprint", "rules", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [d["rule"]["ref"] for d in shown["tree_duty"]] == ["cn-tree-duty@1"]
    assert [d["rule"]["ref"] for d in shown["damages"]] == [JIANGLE]
