"""The case reference of a court order (生态司法): what `ledger court retire` puts on chain as the
retirement's claim hash, and what a verifier recomputes from a certificate's disclosed case and its
claim to compare with that hash (docs/certificate-format.md §5.2). One definition for both sides:
certificates/court.py builds it from a case file, certificates/verify.py from a certificate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chain.canonical import CanonicalJsonError, canonical_json, sha256_hex

REFERENCE_FORMAT = "ledger-court-case-reference/1"
# the certificate fields the reference holds; a field the certificate does not commit to is null there
# (a case without a judgment date), a field committed but not disclosed cannot be compared
CASE_FIELDS = ("court", "case_number", "judgment_date")
SCENARIO = "EcologicalJustice"


def reference(
    *,
    court: Any,
    case_number: Any,
    judgment_date: Any,
    damages_yuan: Any,
    rule: Any,
    obligation_kg: Any,
) -> dict[str, Any]:
    """The case reference: the damages as the claim writes them (a decimal string), the rule as
    {"id", "version", "sha256"}, judgment_date None when the case gives none."""
    return {
        "format": REFERENCE_FORMAT,
        "court": court,
        "case_number": case_number,
        "judgment_date": judgment_date,
        "damages_yuan": damages_yuan,
        "rule": rule,
        "obligation_kg": obligation_kg,
    }


def claim_hash(ref: dict[str, Any]) -> str:
    """0x + the 64 hex digits of sha256(canonical(ref)); CanonicalJsonError if it cannot be hashed."""
    return "0x" + sha256_hex(canonical_json(ref))


def is_court_claim(scenario: Any, claim: Any) -> bool:
    """A claim of the court's shape: an ecological-justice order converted by a rule. A claim without
    them (issued by `ledger certify` before rules) states no case reference and is compared with none."""
    return scenario == SCENARIO and isinstance(claim, dict) and "obligation_kg" in claim and "rule" in claim


@dataclass(frozen=True)
class Expected:
    """What a certificate lets a verifier compare with its retirements' claim hashes."""

    claim_hash: str | None  # None: nothing to compare (hidden fields, or a problem)
    hidden: tuple[str, ...] = ()  # case fields committed but not disclosed
    problem: str | None = None  # the disclosed case cannot be hashed


def expected(body: dict[str, Any], disclosed: Any) -> Expected | None:
    """None for a certificate that is not a court order's; else the claim hash its retirements must
    carry, or why it cannot be known. A field counts as disclosed when its opening holds a value
    (whether the opening matches its commitment is check `fields`)."""
    claim: Any = body.get("claim")
    if not is_court_claim(body.get("scenario"), claim):
        return None
    committed: Any = body.get("fields")
    fields: dict[str, Any] = committed if isinstance(committed, dict) else {}
    shown: dict[str, Any] = disclosed if isinstance(disclosed, dict) else {}
    values: dict[str, Any] = {}
    hidden = []
    for name in CASE_FIELDS:
        opening = shown.get(name)
        if isinstance(opening, dict) and "value" in opening:
            values[name] = opening["value"]
        elif name in fields:
            hidden.append(name)
        else:
            values[name] = None
    if hidden:
        return Expected(None, hidden=tuple(hidden))
    ref = reference(
        **values,
        damages_yuan=claim.get("damages_yuan"),
        rule=claim.get("rule"),
        obligation_kg=claim.get("obligation_kg"),
    )
    try:
        return Expected(claim_hash(ref))
    except CanonicalJsonError as exc:
        return Expected(None, problem=f"the disclosed case cannot be hashed ({exc})")
