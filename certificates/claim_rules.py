"""The published conversion rules a claim names (footprint/rules/, footprint/conversion.py): a tree
duty's kg per tree, an ecological-justice order's price. A claim carries its rule as
`{"id", "version", "sha256"}`; the arithmetic is checked from the claim alone
(certificates/document.py), and here, when this software ships the rule the claim names, its hash
and its rate are checked against the shipped row (docs/certificate-format.md §5.2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from certificates.document import DAMAGES_TERMS, rule_problem
from footprint.conversion import DamagesRule, Rules, TreeDutyRule, shipped_rules
from footprint.errors import FootprintError
from footprint.library import decimal_text


def rule_member(rule: TreeDutyRule | DamagesRule) -> dict[str, Any]:
    """What a claim carries of its rule."""
    return {"id": rule.id, "version": rule.version, "sha256": rule.sha256}


def tree_conversion(ref: str | None = None, rules: Rules | None = None) -> tuple[int, dict[str, Any], TreeDutyRule]:
    """(kg per tree, the claim's conversion, the rule) of the tree-duty rule `ref` (id@version or id),
    or of the only current one. FootprintError names the fix."""
    rule = (rules or shipped_rules()).tree(ref)
    if rule.kgco2e_per_tree != rule.kgco2e_per_tree.to_integral_value():
        # the claim's kg_per_tree is a whole number (docs/certificate-format.md §5): a fractional rate needs a new format
        raise FootprintError(
            f"rule {rule.ref} converts a tree to {decimal_text(rule.kgco2e_per_tree)} kg, not a whole number; "
            "a certificate takes a rule with whole kilograms per tree"
        )
    return int(rule.kgco2e_per_tree), {"rule": rule_member(rule)}, rule


def damages_conversion(rule: DamagesRule, damages_yuan: Decimal) -> dict[str, Any]:
    """The claim's conversion of `damages_yuan` at `rule`'s published price pair."""
    return {
        "rule": rule_member(rule),
        "damages_yuan": decimal_text(damages_yuan),
        "price_yuan": decimal_text(rule.price_yuan),
        "price_tonnes": decimal_text(rule.price_tonnes),
    }


def check(claim: dict[str, Any], rules: Rules | None = None) -> tuple[list[str], str]:
    """(problems, note) of the claim's rule against the rules this software ships: a rule it knows
    must have the shipped row's hash and rate; a rule it does not know is no problem (the note says
    only the arithmetic was checked). An illustrative rule is named so in the note."""
    rule = claim.get("rule")
    if rule is None or rule_problem(rule) is not None:
        return [], ""  # no rule (an older certificate), or a malformed one that claim_errors names
    ref = f"{rule['id']}@{rule['version']}"
    try:
        known = rules or shipped_rules()
    except FootprintError as exc:
        return [], f"; conversion rule {ref} not checked against the shipped rules ({exc})"
    table: dict[str, TreeDutyRule] | dict[str, DamagesRule] = known.tree_duty if "duty_kg" in claim else known.damages
    shipped = table.get(ref)
    if shipped is None:
        return [], f"; conversion rule {ref} is not one this verifier ships: its arithmetic alone was checked"
    problems = []
    if shipped.sha256 != rule["sha256"]:
        problems.append(
            f"the claim's conversion rule {ref} has hash {rule['sha256']}, not the published row's {shipped.sha256}"
        )
    if isinstance(shipped, TreeDutyRule) and claim.get("kg_per_tree") != shipped.kgco2e_per_tree:
        problems.append(
            f"the claim converts at {claim.get('kg_per_tree')} kg per tree, not rule {ref}'s "
            f"{decimal_text(shipped.kgco2e_per_tree)}"
        )
    if isinstance(shipped, DamagesRule):
        price = {"price_yuan": shipped.price_yuan, "price_tonnes": shipped.price_tonnes}
        given = {k: claim.get(k) for k in DAMAGES_TERMS[1:]}
        if any(not isinstance(v, str) or _number(v) != price[k] for k, v in given.items()):
            problems.append(
                f"the claim's price {given} is not rule {ref}'s "
                f"¥{decimal_text(shipped.price_yuan)} for {decimal_text(shipped.price_tonnes)} t"
            )
    marked = " (illustrative: no public source gives its numbers)" if shipped.illustrative else ""
    if shipped.superseded_by:  # still the published row, but a newer version replaces it: a reader should know
        marked += f" (superseded by {shipped.superseded_by})"
    return problems, f"; conversion rule {ref} is the published one{marked}"


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None
