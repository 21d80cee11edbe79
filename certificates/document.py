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
import secrets
from datetime import UTC, datetime
from typing import Any, TypeGuard

from certificates.scenarios import ScenarioSpec
from chain import rfc9162
from chain.canonical import canonical_json, sha256_hex

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
) -> dict[str, Any]:
    claim: dict[str, Any] = {"quantity_kg": quantity_kg}
    if spec.footprint:
        if not _positive(footprint_kg):
            raise ValueError(f"a {spec.en.lower()} certificate states its footprint: give footprint_kg > 0")
        claim["footprint_kg"] = footprint_kg
        claim["carbon_neutral"] = quantity_kg >= footprint_kg
    if spec.trees:
        if not _positive(trees) or not _positive(kg_per_tree):
            raise ValueError("a tree-planting duty certificate needs trees > 0 and the conversion (kg per tree) > 0")
        claim.update(
            trees=trees,
            kg_per_tree=kg_per_tree,
            duty_kg=trees * kg_per_tree,
            duty_fulfilled=quantity_kg >= trees * kg_per_tree,
        )
    return claim


def claim_keys(spec: ScenarioSpec) -> set[str]:
    keys = {"quantity_kg"}
    if spec.footprint:
        keys |= {"footprint_kg", "carbon_neutral"}
    if spec.trees:
        keys |= {"trees", "kg_per_tree", "duty_kg", "duty_fulfilled"}
    return keys


def _whole(value: Any) -> TypeGuard[int]:
    """A JSON integer: not a bool (True == 1), not a float (5.0 == 5)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> TypeGuard[int]:
    return _whole(value) and value > 0


def claim_errors(claim: dict[str, Any], retired_kg: int, spec: ScenarioSpec | None = None) -> list[str]:
    """What is wrong with a claim, given the kilograms its retirements add up to."""
    errors = []
    if spec is not None and set(claim) != claim_keys(spec):
        errors.append(f"a {spec.key} claim has exactly {', '.join(sorted(claim_keys(spec)))}")
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
    return errors


def statement(spec: ScenarioSpec, claim: dict[str, Any]) -> tuple[str, str, str, str]:
    """(title zh, title en, statement zh, statement en). The words 碳中和 / carbon neutral are
    used only when the retired quantity covers the stated footprint."""
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
