"""A court's case file and its quote, without a chain (certificates/court.py; docs/footprint.md)."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from certificates import court
from certificates.vault import Vault
from footprint.conversion import RULES_DIR, load_rules
from scripts.court_commands import _arithmetic, _rule_line

CASE = {"case_number": "（2021）闽0428刑初88号", "court": "将乐县人民法院", "damages_yuan": "1234.56"}


def parse(**changes: object) -> court.CourtCase:
    return court.parse_case(json.dumps({**CASE, **changes}, ensure_ascii=False), "case.json")


def test_a_quote_rounds_up_to_the_kilogram() -> None:
    quote = court.quote(parse(rule="fj-jiangle-2021"))  # an id alone: its newest version
    # 1,234.56 × 523 × 1000 ÷ 173,900 = 645,674,880 ÷ 173,900 = 3,712.93… → 3,713 kg
    assert quote.obligation_kg == 3_713 and quote.rule.ref == "fj-jiangle-2021@1" and quote.rule_named
    assert _arithmetic(quote) == "¥1234.56 × 523 t × 1000 ÷ ¥173900 = 3,713 kg (3.713 t), rounded up to a whole kg"
    assert quote.claim_conversion["damages_yuan"] == "1234.56"
    assert quote.fields == {"court": CASE["court"], "case_number": CASE["case_number"]}  # no date given
    assert quote.reference["judgment_date"] is None


def test_an_illustrative_rule_is_said_to_be(tmp_path: Path) -> None:
    shutil.copy(RULES_DIR / "tree_duty.csv", tmp_path / "tree_duty.csv")
    text = (RULES_DIR / "damages.csv").read_text("utf-8")
    # ¥300 per tonne with no public source: illustrative
    extra = "cn-sink-price,1,CN,300,1,placeholder,,2026-12-01,,true,an illustrative unit price\n"
    (tmp_path / "damages.csv").write_text(text + extra, "utf-8")
    quote = court.quote(parse(), "cn-sink-price@1", load_rules(tmp_path))
    # 1,234.56 × 1 × 1000 ÷ 300 = 4,115.2 → 4,116 kg
    assert quote.obligation_kg == 4_116
    assert _rule_line(quote) == "rule cn-sink-price@1: ¥300 for 1 t; ILLUSTRATIVE: no public source gives its price"
    with pytest.raises(court.CourtCaseError, match="2 current damages rules; name one with --rule"):
        court.quote(parse(), None, load_rules(tmp_path))


def test_the_operation_id_is_the_cases_whatever_the_damages() -> None:
    vault = Vault(bytes(range(32)))
    registry = "0x" + "ab" * 20
    same = court.operation_id(vault, 31337, registry, parse())
    assert court.operation_id(vault, 31337, registry, parse(damages_yuan="99")) == same
    assert court.operation_id(vault, 31337, registry.upper().replace("0X", "0x"), parse()) == same
    assert court.operation_id(vault, 31337, registry, parse(case_number="（2021）闽0428刑初89号")) != same
    assert court.operation_id(vault, 1, registry, parse()) != same
    assert court.operation_id(Vault(bytes(32)), 31337, registry, parse()) != same  # keyed: another key, another id


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"damages_yuan": True}, "damages_yuan must be an amount in yuan"),
        ({"damages_yuan": "12,000"}, "is not an amount"),
        ({"damages_yuan": "NaN"}, "must be above 0 yuan"),
        ({"court": "  "}, "court must be non-empty text"),
        ({"case_number": "a\nb"}, "must be one line"),
        ({"format": "other/1"}, "format must be 'ledger-court-case/1'"),
        ({"judgment_date": "16/07/2021"}, "must be a date, YYYY-MM-DD"),
    ],
)
def test_a_bad_case_is_one_line_naming_the_fix(changes: dict[str, object], expected: str) -> None:
    with pytest.raises(court.CourtCaseError) as caught:
        parse(**changes)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("case.json: ")


def test_damages_are_exact_decimals() -> None:
    # a JSON number is read as a decimal, never through a float
    assert court.parse_case('{"case_number": "x", "court": "y", "damages_yuan": 0.1}', "c").damages_yuan == Decimal(
        "0.1"
    )
