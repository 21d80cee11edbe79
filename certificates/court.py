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
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from certificates import court_reference
from certificates.claim_rules import damages_conversion
from certificates.errors import ServiceError
from certificates.vault import Vault
from footprint import conversion
from footprint.conversion import DamagesRule, Rules, shipped_rules
from footprint.errors import FootprintError

FORMAT = "ledger-court-case/1"
REFERENCE_FORMAT = court_reference.REFERENCE_FORMAT
REQUIRED = ("case_number", "court", "damages_yuan")
OPTIONAL = ("format", "judgment_date", "rule")
MAX_TEXT = 200  # characters of a case number or a court's name
MAX_DEPTH = 4  # a case is one flat object: deeper nesting is refused before the parser recurses
# controls, invisible format characters (zero-width space, bidi overrides), private use, separators:
# two spellings that look alike must not be two cases, and a certificate must read as it prints
UNSEEN = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}
PLAIN_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
# the brackets a case number's year is written in: （2021）, (2021), 〔2021〕, [2021] are one case
BRACKETS = str.maketrans("〔［【[〕］】]", "((((" + "))))")


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
        """The case reference the retirement's claim hash commits to (certificates/court_reference.py):
        built from the claim's own members, so a verifier recomputes it from the certificate."""
        return court_reference.reference(
            court=self.case.court,
            case_number=self.case.case_number,
            judgment_date=self.case.judgment_date,
            damages_yuan=self.claim_conversion["damages_yuan"],
            rule=self.claim_conversion["rule"],
            obligation_kg=self.obligation_kg,
        )

    @property
    def claim_hash(self) -> bytes:
        return bytes.fromhex(court_reference.claim_hash(self.reference)[2:])

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
    hidden = sorted({f"U+{ord(c):04X}" for c in value if unicodedata.category(c) in UNSEEN})
    if hidden:
        raise CourtCaseError(
            f"{where}: {key} holds invisible or control characters ({', '.join(hidden)}); "
            "remove them and write it as the judgment prints it"
        )
    return value


def case_key(case_number: str) -> str:
    """One spelling of a case number for its operation id: full-width and half-width forms, the
    year's brackets, spaces and letter case do not make another case."""
    folded = unicodedata.normalize("NFKC", case_number).translate(BRACKETS).casefold()
    return "".join(c for c in folded if not c.isspace())


def parse_case(text: str, where: str) -> CourtCase:
    """A case from its JSON text; CourtCaseError on the first problem, naming the fix."""
    if _depth(text) > MAX_DEPTH:
        raise CourtCaseError(f"{where} nests too deeply for a case; write a case as docs/footprint.md shows")
    try:
        data = json.loads(text, parse_float=Decimal, object_pairs_hook=_no_repeats)
    except _Repeated as exc:
        raise CourtCaseError(f"{where}: member {exc} appears twice; keep the judgment's one") from None
    except (ValueError, RecursionError):
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


class _Repeated(ValueError):
    pass


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose members are each named once: with two, a reader and this parser could see two cases."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Repeated(key)
        seen[key] = value
    return seen


def _depth(text: str) -> int:
    """The deepest nesting of brackets outside strings (an upper bound is enough to refuse early)."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def _damages(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise CourtCaseError(f'{where}: damages_yuan must be an amount in yuan, e.g. 173900 or "1234.56"')
    shown = str(value).strip()[:40]  # a huge number is named by its first digits
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CourtCaseError(
            f"{where}: damages_yuan {shown!r} is not an amount; write e.g. 173900 or 1234.56"
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise CourtCaseError(f"{where}: damages_yuan {shown} must be above 0 yuan; give the amount the court ordered")
    if isinstance(value, str) and not PLAIN_AMOUNT.fullmatch(value.strip()):
        # Decimal also reads "1_000", "１２３" and "1e3": a court's amount is written in plain digits
        raise CourtCaseError(f"{where}: damages_yuan {shown!r} is not plain digits; write e.g. 173900 or 1234.56")
    # the bound first: quantizing 10^30 to the fen needs more digits than the decimal context holds
    if amount > conversion.MAX_YUAN or amount != amount.quantize(Decimal("0.01")):
        raise CourtCaseError(
            f"{where}: damages_yuan {shown} must be at most {conversion.MAX_YUAN:,} yuan, to the fen (0.01); fix it"
        )
    return amount


def _date(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
        else:
            # a day of grace: Beijing's date is a day ahead of UTC's for eight hours
            if day > datetime.now(UTC).date() + timedelta(days=1):
                raise CourtCaseError(f"{where}: judgment_date {value} is in the future; give the judgment's date")
            return day.isoformat()
    raise CourtCaseError(f"{where}: judgment_date {value!r} must be a date, YYYY-MM-DD")


def quote(case: CourtCase, rule: str | None = None, rules: Rules | None = None) -> Quote:
    """The case converted by `rule` (or the case's own rule, or the only current damages rule)."""
    known = rules or shipped_rules()
    ref = rule or case.rule
    try:
        chosen = known.damage(ref) if ref is not None else _only_current(known)
        if rule is not None and case.rule is not None and known.damage(case.rule) != chosen:
            # the court's price is the case's: an operator's --rule may name it, never replace it
            raise CourtCaseError(
                f"--rule {rule} is not the case's rule {case.rule}; drop --rule, or correct the case file"
            )
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
    """The retirement's operation id: keyed by the case number only (a 案号 names its court by the
    court's code, e.g. 闽0428, so another spelling of the court is not another case), in one
    spelling (case_key), so the chain refuses a second retirement of the same case whatever batch,
    seller or amount it names; keyed by the data key, so the id on chain does not reveal the case
    to someone trying numbers."""
    text = "|".join((str(chain_id), registry.lower(), case_key(case.case_number)))
    return int.from_bytes(vault.fingerprint("court-retire", text), "big")
