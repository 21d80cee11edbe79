"""The certificate document: salted field commitments, the claim, the log leaf, disclosure.

A document is {"format", "certificate", "disclosed", "proof"}:
- `certificate` (the body) is what the transparency-log leaf commits to: ids, scenario, issuer,
  claim, retirements, and one commitment per field, never a field's value;
- `disclosed` maps field names to {"value", "salt"} for the fields the holder shows;
- `proof` places the leaf in an anchored tree (filled once the log is anchored).
Hiding a field removes it from `disclosed` only, so the leaf and every proof stay valid.
"""

from __future__ import annotations

import copy
import math
import re
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeGuard

from certificates.scenarios import ScenarioSpec
from chain import rfc9162
from chain.canonical import canonical_json, sha256_hex
from footprint.conversion import shipped_rules
from footprint.errors import FootprintError

FORMAT = "sichuan-ccw/1"
# the field committing to a footprint report's hash, and the document member carrying the report
REPORT_FIELD, REPORT_MEMBER = "footprint_report_sha256", "footprint_report"


def new_salt() -> str:
    return secrets.token_hex(16)


def field_commitment(name: str, value: str | int, salt: str) -> str:
    """sha256 of the canonical {"field", "salt", "value"}: 64 hex digits."""
    return sha256_hex(canonical_json({"field": name, "salt": salt, "value": value}))


def iso_utc(unix_seconds: int) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tonnes(kg: int) -> str:
    return f"{kg // 1000:,}.{kg % 1000:03d}"


def make_claim(
    spec: ScenarioSpec,
    quantity_kg: int,
    *,
    footprint_kg: int | None = None,
    trees: int | None = None,
    kg_per_tree: int | None = None,
    conversion: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The claim. `conversion` names the published rule a tree duty's `kg_per_tree` comes from
    ({"rule": {"id", "version", "sha256"}}), or, for ecological justice, the rule and the damages it
    converts ({"rule", "damages_yuan", "price_yuan", "price_tonnes"}, decimals as strings)."""
    claim: dict[str, Any] = {"quantity_kg": quantity_kg}
    if spec.footprint:
        if not _positive(footprint_kg):
            raise ValueError(f"a {spec.en.lower()} certificate states its footprint: give footprint_kg > 0")
        claim["footprint_kg"] = footprint_kg
        claim["carbon_neutral"] = quantity_kg >= footprint_kg
    if conversion is not None and not (spec.trees or spec.damages):
        raise ValueError(f"a {spec.en.lower()} certificate converts nothing: it carries no conversion rule")
    if spec.trees:
        if not _positive(trees) or not _positive(kg_per_tree):
            raise ValueError("a tree-planting duty certificate needs trees > 0 and the conversion (kg per tree) > 0")
        claim.update(
            trees=trees,
            kg_per_tree=kg_per_tree,
            duty_kg=trees * kg_per_tree,
            duty_fulfilled=quantity_kg >= trees * kg_per_tree,
        )
    if spec.damages and conversion is not None:
        terms: dict[str, Any] = {k: conversion.get(k) for k in DAMAGES_TERMS}
        if not all(_decimal(v) and Decimal(v) > 0 for v in terms.values()):
            raise ValueError(
                f"the damages conversion needs {', '.join(DAMAGES_TERMS)} as decimals above 0, not {terms}"
            )
        owed = obligation_kg(**terms)
        claim.update(terms, obligation_kg=owed, obligation_fulfilled=quantity_kg >= owed)
    if conversion is not None:
        rule: Any = conversion.get("rule")
        if (problem := rule_problem(rule)) is not None:
            raise ValueError(f"the conversion rule {problem}")
        claim["rule"] = {k: rule[k] for k in sorted(RULE_KEYS)}
    return claim


# an ecological-justice claim's conversion: the damages and the rule's published price pair
DAMAGES_TERMS = ("damages_yuan", "price_yuan", "price_tonnes")
RULE_KEYS = frozenset({"id", "version", "sha256"})
_DECIMAL = re.compile(r"[0-9]{1,20}(\.[0-9]{1,6})?")  # plain digits: no sign, exponent or spaces


def _decimal(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _DECIMAL.fullmatch(value) is not None


def obligation_kg(damages_yuan: str, price_yuan: str, price_tonnes: str) -> int:
    """⌈damages × price_tonnes × 1000 ÷ price_yuan⌉ kg, exactly (footprint/conversion.py's rounding:
    a court order never falls short)."""
    exact = Fraction(Decimal(damages_yuan)) * Fraction(Decimal(price_tonnes)) * 1000 / Fraction(Decimal(price_yuan))
    return math.ceil(exact)


def rule_problem(rule: Any) -> str | None:
    """Why a claim's `rule` member is not {"id": text, "version": a whole number > 0, "sha256": 64 hex}."""
    if not isinstance(rule, dict) or set(rule) != RULE_KEYS:
        return 'must be exactly {"id", "version", "sha256"}'
    if not isinstance(rule["id"], str) or not rule["id"] or "@" in rule["id"]:
        return "id must be the rule's id (text without @)"
    if not _positive(rule["version"]):
        return "version must be a whole number above 0"
    if not isinstance(rule["sha256"], str) or re.fullmatch("[0-9a-f]{64}", rule["sha256"]) is None:
        return "sha256 must be 64 lowercase hex digits"
    return None


def claim_key_sets(spec: ScenarioSpec) -> list[set[str]]:
    """The keys a claim of this scenario may have: a tree duty's or a damages claim's with its rule
    too; a certificate issued before rules were printed has none."""
    keys = {"quantity_kg"}
    if spec.footprint:
        keys |= {"footprint_kg", "carbon_neutral"}
    if spec.trees:
        keys |= {"trees", "kg_per_tree", "duty_kg", "duty_fulfilled"}
        return [keys, keys | {"rule"}]
    if spec.damages:
        return [keys, keys | set(DAMAGES_TERMS) | {"obligation_kg", "obligation_fulfilled", "rule"}]
    return [keys]


def claim_keys(spec: ScenarioSpec) -> set[str]:
    """The keys of a claim made without a conversion rule."""
    return claim_key_sets(spec)[0]


def _whole(value: Any) -> TypeGuard[int]:
    """A JSON integer: not a bool (True == 1), not a float (5.0 == 5)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> TypeGuard[int]:
    return _whole(value) and value > 0


def claim_errors(claim: dict[str, Any], retired_kg: int, spec: ScenarioSpec | None = None) -> list[str]:
    """What is wrong with a claim, given the kilograms its retirements add up to."""
    errors = []
    if spec is not None and set(claim) not in claim_key_sets(spec):
        errors.append(
            f"a {spec.key} claim has exactly "
            + " or exactly ".join(", ".join(sorted(keys)) for keys in claim_key_sets(spec))
        )
    quantity = claim.get("quantity_kg")
    if not _whole(quantity) or quantity != retired_kg:
        errors.append(f"the claim states {quantity} kg but its retirements add up to {retired_kg} kg")
    if "carbon_neutral" in claim:
        footprint, neutral = claim.get("footprint_kg"), claim["carbon_neutral"]
        # a footprint of 0 (or less) would make any retirement "carbon neutral"
        if not _positive(footprint):
            errors.append(f"the footprint must be a whole number of kg above 0, not {footprint}")
        elif not isinstance(neutral, bool) or neutral != (retired_kg >= footprint):
            errors.append("the carbon-neutral statement does not follow from the retired quantity and the footprint")
    if "duty_fulfilled" in claim:
        trees, rate, fulfilled = claim.get("trees"), claim.get("kg_per_tree"), claim["duty_fulfilled"]
        if not _positive(trees) or not _positive(rate):
            errors.append(
                f"the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not {trees} and {rate}"
            )
        elif (
            not _whole(claim.get("duty_kg"))
            or claim["duty_kg"] != trees * rate
            or not isinstance(fulfilled, bool)
            or fulfilled != (retired_kg >= trees * rate)
        ):
            errors.append("the tree-planting conversion does not follow from trees × kg per tree")
    if "obligation_fulfilled" in claim:
        terms: dict[str, Any] = {k: claim.get(k) for k in DAMAGES_TERMS}
        owed, fulfilled = claim.get("obligation_kg"), claim["obligation_fulfilled"]
        if not all(_decimal(v) and Decimal(v) > 0 for v in terms.values()):
            errors.append(f"{', '.join(DAMAGES_TERMS)} must be decimals above 0 written as plain digits, not {terms}")
        elif (
            not _whole(owed)
            or owed != obligation_kg(**terms)
            or not isinstance(fulfilled, bool)
            or fulfilled != (retired_kg >= owed)
        ):
            errors.append(
                "the obligation does not follow from the damages: obligation_kg = "
                "⌈damages_yuan × price_tonnes × 1000 ÷ price_yuan⌉ and obligation_fulfilled = retired ≥ obligation_kg"
            )
    if "rule" in claim and (problem := rule_problem(claim["rule"])) is not None:
        errors.append(f"the claim's conversion rule {problem}")
    return errors


def statement(spec: ScenarioSpec, claim: dict[str, Any]) -> tuple[str, str, str, str]:
    """(title zh, title en, statement zh, statement en). The words 碳中和 / carbon neutral are
    used only when the retired quantity covers the stated footprint; a conversion by a rule marked
    illustrative says so."""
    title_zh, title_en, zh, en = _statement(claim)
    if _illustrative_rule(claim):
        zh += "换算规则为示例性规则（无公开来源）。"
        en += " The conversion rule is illustrative: no public source gives its numbers."
    return title_zh, title_en, zh, en


def _illustrative_rule(claim: dict[str, Any]) -> bool:
    """Whether the claim's rule is a shipped row (same hash) marked illustrative."""
    rule: Any = claim.get("rule")
    if rule_problem(rule) is not None:
        return False
    try:
        rules = shipped_rules()
    except FootprintError:
        return False
    table: dict[str, Any] = rules.tree_duty if "duty_kg" in claim else rules.damages
    shipped = table.get(f"{rule['id']}@{rule['version']}")
    return shipped is not None and shipped.sha256 == rule["sha256"] and bool(shipped.illustrative)


def _statement(claim: dict[str, Any]) -> tuple[str, str, str, str]:
    q = tonnes(claim["quantity_kg"])
    if claim.get("carbon_neutral"):
        f = tonnes(claim["footprint_kg"])
        return (
            "碳中和见证",
            "Carbon-neutrality witness",
            f"已注销林草碳普惠减排量 {q} 吨二氧化碳当量，不少于其碳排放 {f} 吨，实现碳中和。",
            f"{q} tCO2e of forestry and grassland credits retired, covering a footprint of {f} tCO2e: carbon neutral.",
        )
    if "footprint_kg" in claim:
        f = tonnes(claim["footprint_kg"])
        share = claim["quantity_kg"] * 100 // claim["footprint_kg"]
        return (
            "减排量注销证明",
            "Certificate of retirement",
            f"已注销林草碳普惠减排量 {q} 吨二氧化碳当量，抵消其碳排放 {f} 吨中的 {share}%。",
            f"{q} tCO2e of forestry and grassland credits retired, offsetting {share}% of a footprint of {f} tCO2e.",
        )
    if "duty_kg" in claim:
        done = "已履行" if claim["duty_fulfilled"] else "部分履行"
        done_en = "fulfilled" if claim["duty_fulfilled"] else "partly fulfilled"
        return (
            "义务植树尽责证明",
            "Tree-planting duty certificate",
            (
                f"已注销林草碳普惠减排量 {q} 吨二氧化碳当量，按每株 {tonnes(claim['kg_per_tree'])} 吨折算"
                f"义务植树 {claim['trees']} 株，{done}。"
            ),
            (
                f"{q} tCO2e retired in place of {claim['trees']} trees at {tonnes(claim['kg_per_tree'])} t per tree: "
                f"duty {done_en}."
            ),
        )
    if "obligation_kg" in claim:
        owed, rule = tonnes(claim["obligation_kg"]), claim.get("rule") or {}
        ref = f"{rule['id']}@{rule['version']}" if rule_problem(rule) is None else "?"
        done = "已履行" if claim["obligation_fulfilled"] else "部分履行"
        done_en = "fulfilled" if claim["obligation_fulfilled"] else "partly fulfilled"
        return (
            "生态环境损害替代性修复证明",
            "Certificate of alternative ecological restoration",
            (
                f"已注销林草碳普惠减排量 {q} 吨二氧化碳当量，用于履行损害赔偿 {claim['damages_yuan']} 元"
                f"（按换算规则 {ref} 折合 {owed} 吨）的替代性修复义务，{done}。"
            ),
            (
                f"{q} tCO2e retired for damages of ¥{claim['damages_yuan']}, converted by rule {ref} to an "
                f"obligation of {owed} tCO2e: {done_en}."
            ),
        )
    return (
        "减排量注销证明",
        "Certificate of retirement",
        f"已注销林草碳普惠减排量 {q} 吨二氧化碳当量。",
        f"{q} tCO2e of forestry and grassland credits retired.",
    )


def leaf_entry(body: dict[str, Any]) -> bytes:
    return canonical_json({"type": "certificate", "certificate": body})


def revocation_entry(certificate_id: str, certificate_leaf: str, reason: str, revoked_at: str) -> bytes:
    return canonical_json(
        {
            "type": "revocation",
            "certificate_id": certificate_id,
            "certificate_leaf": certificate_leaf,
            "reason": reason,
            "revoked_at": revoked_at,
        }
    )


def leaf_hash(body: dict[str, Any]) -> bytes:
    return rfc9162.leaf_hash(leaf_entry(body))


def hide(document: dict[str, Any], names: list[str] | set[str]) -> dict[str, Any]:
    """A copy with the named fields' values and salts removed; it still verifies. Hiding the footprint
    report's hash hides the report with it (certificates/footprint_report.py)."""
    shown = copy.deepcopy(document)
    for name in names:
        shown.get("disclosed", {}).pop(name, None)
        if name == REPORT_FIELD:
            shown.pop(REPORT_MEMBER, None)
    return shown
