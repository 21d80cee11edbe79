"""生态司法: a court's order of alternative restoration (替代性修复), turned into a retirement and a
certificate addressed to the court.

A case (`ledger-court-case/1`: case number 案号, court, judgment date, damages in yuan, optionally
the damages rule) is quoted with a published damages rule (footprint/rules/damages.csv): the
kilograms to retire, rounded up. The case reference (the case, the damages and the rule) is what
the retirement's claim hash commits to on chain, and the court and case number alone key its
operation id, so a case is retired once however often the command runs. The liable party's name
(赔偿义务人) is never in the case: it is the certificate's beneficiary, sealed in the vault and only
committed to on chain (docs/footprint.md, "Ecological-justice orders")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from certificates.claim_rules import damages_conversion
from certificates.errors import ServiceError
from certificates.vault import Vault
from chain.canonical import canonical_json, sha256_hex
from footprint import conversion
from footprint.conversion import DamagesRule, Rules, shipped_rules
from footprint.errors import FootprintError
from footprint.library import decimal_text

FORMAT = "ledger-court-case/1"
REFERENCE_FORMAT = "ledger-court-case-reference/1"
REQUIRED = ("case_number", "court", "damages_yuan")
OPTIONAL = ("format", "judgment_date", "rule")
MAX_TEXT = 200  # characters of a case number or a court's name


class CourtCaseError(ServiceError, ValueError):
    """A case that cannot be quoted or retired; the message names the problem and the fix."""


@dataclass(frozen=True)
class CourtCase:
    case_number: str
    court: str
    damages_yuan: Decimal
    judgment_date: str | None = None  # YYYY-MM-DD
    rule: str | None = None  # a damages rule, id@version or id


@dataclass(frozen=True)
class Quote:
    """A case converted by its rule: what to retire, and what the chain and the claim commit to."""

    case: CourtCase
    rule: DamagesRule
    rule_named: bool  # False: the case named no rule and the only current one was taken
    conversion: dict[str, Any]  # footprint.conversion.damages(...).document: the arithmetic, shown
    claim_conversion: dict[str, Any]  # certificates.document.make_claim's `conversion`

    @property
    def obligation_kg(self) -> int:
        kg: int = self.conversion["kgco2e"]
        return kg

    @property
    def reference(self) -> dict[str, Any]:
        """The case reference the retirement's claim hash commits to (docs/footprint.md)."""
        return {
            "format": REFERENCE_FORMAT,
            "court": self.case.court,
            "case_number": self.case.case_number,
            "judgment_date": self.case.judgment_date,
            "damages_yuan": decimal_text(self.case.damages_yuan),
            "rule": {"id": self.rule.id, "version": self.rule.version, "sha256": self.rule.sha256},
            "obligation_kg": self.obligation_kg,
        }

    @property
    def claim_hash(self) -> bytes:
        return bytes.fromhex(sha256_hex(canonical_json(self.reference)))

    @property
    def fields(self) -> dict[str, Any]:
        """The certificate's public fields (the beneficiary, the liable party, is added sealed)."""
        values: dict[str, Any] = {"court": self.case.court, "case_number": self.case.case_number}
        if self.case.judgment_date is not None:
            values["judgment_date"] = self.case.judgment_date
        return values


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise CourtCaseError(f"{where}: {key} must be non-empty text; write it as the judgment does")
    value = value.strip()
    if len(value) > MAX_TEXT or any(c in value for c in "\r\n\t"):
        raise CourtCaseError(f"{where}: {key} must be one line of at most {MAX_TEXT} characters; shorten it")
    return value


def parse_case(text: str, where: str) -> CourtCase:
    """A case from its JSON text; CourtCaseError on the first problem, naming the fix."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except ValueError:
        raise CourtCaseError(f"{where} is not JSON; write a case as docs/footprint.md shows") from None
    if not isinstance(data, dict):
        raise CourtCaseError(f"{where} is not a JSON object; write a case as docs/footprint.md shows")
    unknown = sorted(set(map(str, data)) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        # a name of the liable party has no place here: it is read apart and sealed (--defendant-file)
        raise CourtCaseError(
            f"{where}: unknown member {', '.join(unknown)}; a case has {', '.join(REQUIRED + OPTIONAL[1:])} "
            "(the liable party's name goes in --defendant-file, never in the case)"
        )
    if data.get("format", FORMAT) != FORMAT:
        raise CourtCaseError(f"{where}: format must be {FORMAT!r}")
    missing = [k for k in REQUIRED if data.get(k) in (None, "")]
    if missing:
        raise CourtCaseError(f"{where} lacks {', '.join(missing)}; add it (the judgment gives it)")
    return CourtCase(
        case_number=_text(data, "case_number", where),
        court=_text(data, "court", where),
        damages_yuan=_damages(data["damages_yuan"], where),
        judgment_date=_date(data.get("judgment_date"), where),
        rule=_text(data, "rule", where) if data.get("rule") is not None else None,
    )


def _damages(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise CourtCaseError(f'{where}: damages_yuan must be an amount in yuan, e.g. 173900 or "1234.56"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise CourtCaseError(
            f"{where}: damages_yuan {value!r} is not an amount; write e.g. 173900 or 1234.56"
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise CourtCaseError(f"{where}: damages_yuan {value} must be above 0 yuan; give the amount the court ordered")
    if amount != amount.quantize(Decimal("0.01")) or amount > conversion.MAX_YUAN:
        raise CourtCaseError(
            f"{where}: damages_yuan {value} must be at most {conversion.MAX_YUAN:,} yuan, to the fen (0.01); fix it"
        )
    return amount


def _date(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise CourtCaseError(f"{where}: judgment_date {value!r} must be a date, YYYY-MM-DD")


def quote(case: CourtCase, rule: str | None = None, rules: Rules | None = None) -> Quote:
    """The case converted by `rule` (or the case's own rule, or the only current damages rule)."""
    known = rules or shipped_rules()
    ref = rule or case.rule
    try:
        chosen = known.damage(ref) if ref is not None else _only_current(known)
        converted = conversion.damages(case.damages_yuan, chosen)
    except FootprintError as exc:
        raise CourtCaseError(str(exc)) from None
    return Quote(case, chosen, ref is not None, converted.document, damages_conversion(chosen, case.damages_yuan))


def _only_current(rules: Rules) -> DamagesRule:
    current = [r for r in rules.damages.values() if not r.superseded_by]
    if len(current) != 1:
        known = ", ".join(sorted(rules.damages)) or "none"
        raise CourtCaseError(f"{len(current)} current damages rules; name one with --rule (one of {known})")
    return current[0]


def operation_id(vault: Vault, chain_id: int, registry: str, case: CourtCase) -> int:
    """The retirement's operation id: keyed by the court and the case number only, so the chain
    refuses a second retirement of the same case whatever batch, seller or amount it names; keyed
    by the data key, so the id on chain does not reveal the case to someone trying numbers."""
    text = "|".join((str(chain_id), registry.lower(), case.court, case.case_number))
    return int.from_bytes(vault.fingerprint("court-retire", text), "big")
