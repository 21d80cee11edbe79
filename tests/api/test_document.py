"""The certificate document's small parts, value by value: salts, claims at their bounds, the
revocation entry's exact bytes, and hiding fields from a copy."""

from __future__ import annotations

import copy
import json

import pytest

from certificates.document import (
    claim_errors,
    hide,
    make_claim,
    new_salt,
    revocation_entry,
)
from certificates.scenarios import scenario

EVENT = scenario("LargeEvent")  # states a footprint
DUTY = scenario("TreePlantingDuty")  # converts trees at a rate


def test_a_salt_is_128_random_bits_as_32_hex_digits() -> None:
    salts = {new_salt() for _ in range(64)}
    assert len(salts) == 64
    for salt in salts:
        assert isinstance(salt, str) and len(salt) == 32 and int(salt, 16) >= 0


def test_the_smallest_footprint_and_duty_are_claims() -> None:
    assert make_claim(EVENT, 1, footprint_kg=1) == {"quantity_kg": 1, "footprint_kg": 1, "carbon_neutral": True}
    assert make_claim(DUTY, 1, trees=1, kg_per_tree=1) == {
        "quantity_kg": 1,
        "trees": 1,
        "kg_per_tree": 1,
        "duty_kg": 1,
        "duty_fulfilled": True,
    }
    assert claim_errors(make_claim(EVENT, 1, footprint_kg=1), 1, EVENT) == []
    assert claim_errors(make_claim(DUTY, 1, trees=1, kg_per_tree=1), 1, DUTY) == []


@pytest.mark.parametrize("footprint", [None, 0, -1, True, 2.0])
def test_a_footprint_must_be_a_whole_number_above_zero(footprint: object) -> None:
    with pytest.raises(ValueError, match="give footprint_kg > 0"):
        make_claim(EVENT, 5, footprint_kg=footprint)  # type: ignore[arg-type]  # the wrong types are the point


@pytest.mark.parametrize(
    ("trees", "rate"), [(None, 400), (0, 400), (-1, 400), (3, None), (3, 0), (3, -400), (True, 400), (3, 1.5)]
)
def test_a_duty_needs_whole_trees_and_rate_above_zero(trees: object, rate: object) -> None:
    with pytest.raises(ValueError, match="trees > 0 and the conversion"):
        make_claim(DUTY, 1200, trees=trees, kg_per_tree=rate)  # type: ignore[arg-type]


def test_the_revocation_entry_is_canonical_json_with_exactly_its_five_members() -> None:
    entry = revocation_entry("SCCW-31337-000007", "ab" * 32, "retirement reorganised away", "2026-11-30T10:00:00Z")
    assert entry == (
        b'{"certificate_id":"SCCW-31337-000007","certificate_leaf":"'
        + b"ab" * 32
        + b'","reason":"retirement reorganised away","revoked_at":"2026-11-30T10:00:00Z",'
        b'"type":"revocation"}'
    )
    assert json.loads(entry)["type"] == "revocation"


def test_hiding_fields_gives_a_copy_and_leaves_the_original_whole() -> None:
    document = {
        "body": {"certificate_id": "X"},
        "disclosed": {
            "beneficiary": {"value": "某公司", "salt": "00" * 16},
            "period": {"value": "2025", "salt": "11" * 16},
        },
    }
    original = copy.deepcopy(document)
    shown = hide(document, ["beneficiary", "not-there"])
    assert shown == {"body": {"certificate_id": "X"}, "disclosed": {"period": {"value": "2025", "salt": "11" * 16}}}
    assert document == original
    shown["disclosed"]["period"]["value"] = "changed"
    assert document["disclosed"]["period"]["value"] == "2025"  # a deep copy, not a shallow one
    assert hide({"body": {}}, {"beneficiary"}) == {"body": {}}  # nothing disclosed: nothing to hide
