"""A footprint report (footprint/, docs/footprint.md) behind a certificate's claim.

`ledger certify --footprint-report REPORT` commits the sha256 of the report's canonical JSON as the
field `footprint_report_sha256` (salted, disclosable or hidden like any field), takes the claim's
footprint from the report's total and a large event's per-source fields from its lines, and keeps
the report under its hash (`footprint_reports`), so a copy that opens the field carries the report
as its member `footprint_report`. A report is refused unless it recomputes from its own pinned
factors to the same bytes. The check a verifier makes (docs/certificate-format.md §5.1) is
`report_problems` and `hash_problem`: pure, they need nothing of footprint/."""

from __future__ import annotations

import json
import re
import time
from decimal import ROUND_CEILING, Decimal, localcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, update
from sqlmodel import col, select

import footprint
from certificates.document import REPORT_FIELD, REPORT_MEMBER
from certificates.errors import ServiceError
from certificates.models import FootprintReportRow
from certificates.scenarios import ScenarioSpec
from certificates.vault import Vault
from chain.canonical import CanonicalJsonError, canonical_json, sha256_hex
from footprint.jsonin import loads

FIELD = REPORT_FIELD  # the field committing to the report's hash
MEMBER = REPORT_MEMBER  # the document's member holding the report, when FIELD is disclosed
REPORT_FORMAT = "ledger-footprint-report/1"
# the footprint calculator whose reports a scenario's claim may rest on
SUBJECTS = {
    "LargeEvent": "event",
    "Organisation": "organisation",
    "Product": "product",
    "Building": "building",
    "Region": "organisation",
    "Personal": "person",
}
# a large event's per-source fields, each the sum of the report lines of these categories (event-mee-2019@1)
SOURCES: dict[str, tuple[str, ...]] = {
    "footprint_energy_kg": ("fuel-stationary", "fuel-mobile", "electricity-heat"),
    "footprint_travel_kg": ("travel",),
    "footprint_lodging_kg": ("lodging",),
    "footprint_catering_kg": ("catering",),
    "footprint_materials_kg": ("materials",),
    "footprint_waste_kg": ("waste",),
}
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


class FootprintReportError(ServiceError, ValueError):
    """A report that cannot back a certificate; the message names the problem and the fix."""


# ------------------------------------------------------------------ reading and deriving


def read(path: Path) -> dict[str, Any]:
    """The report in a file: the output of `ledger footprint compute --json` ({"report", "sha256"},
    the hash checked) or the bare report object."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FootprintReportError(f"cannot read {path} ({exc.strerror}); check the path") from None
    fix = "give the output of `ledger footprint compute FILE --json`"
    try:
        data = loads(raw, path.name, fix)
    except footprint.FootprintError as exc:
        raise FootprintReportError(str(exc)) from None
    if isinstance(data, dict) and isinstance(data.get("report"), dict):
        report: dict[str, Any] = data["report"]
        try:
            same = sha256_hex(canonical_json(report)) == data.get("sha256")
        except CanonicalJsonError as exc:
            raise FootprintReportError(f"{path.name}: the report is not canonical JSON ({exc}); {fix}") from None
        if not same:
            raise FootprintReportError(
                f"{path.name}: the report's sha256 is not {data.get('sha256')!r}: it was changed after it was made; {fix}"
            )
        return report
    if not isinstance(data, dict):
        raise FootprintReportError(f"{path.name} is not a footprint report; {fix}")
    return data


def checked(report: Any) -> footprint.FootprintReport:
    """The report recomputed from its own lines and pinned factors; refused unless it is the same
    report (the totals named when they differ)."""
    if not isinstance(report, dict) or report.get("format") != REPORT_FORMAT:
        raise FootprintReportError(
            f"not a footprint report; give a {REPORT_FORMAT} (`ledger footprint compute --json`)"
        )
    try:
        given = sha256_hex(canonical_json(report))
        again = footprint.recompute(report)
    except (CanonicalJsonError, footprint.FootprintError) as exc:
        raise FootprintReportError(f"the footprint report does not recompute: {exc}") from None
    stated = report.get("total_kgco2e")
    if again.total_kg != stated:
        raise FootprintReportError(
            f"the footprint report states a total of {stated} kgCO2e but recomputes to {again.total_kg} kgCO2e "
            "from its pinned factors; compute it again with `ledger footprint compute`"
        )
    if again.sha256 != given:
        differs = next((a["n"] for a, b in zip(again.document["lines"], report.get("lines") or []) if a != b), None)
        where = f"line {differs}" if differs is not None else "its summary"
        raise FootprintReportError(
            f"the footprint report does not recompute to itself ({where} differs); compute it again with "
            "`ledger footprint compute`"
        )
    return again


def derive(
    spec: ScenarioSpec, report: Any, *, fields: dict[str, Any], footprint_kg: int | None
) -> tuple[dict[str, Any], int]:
    """(the fields the report fills in, the claim's footprint) for a certificate of `spec`; refuses a
    report of another subject, and a footprint or field given as well that says otherwise."""
    if spec.key not in SUBJECTS:
        raise FootprintReportError(f"a {spec.key} certificate states no footprint; drop --footprint-report")
    done = checked(report)
    subject = done.document["subject"]
    if subject != SUBJECTS[spec.key]:
        raise FootprintReportError(
            f"the footprint report is of a {subject}, not of the {SUBJECTS[spec.key]} a {spec.key} certificate "
            f"covers; compute it with subject {SUBJECTS[spec.key]!r}"
        )
    derived: dict[str, Any] = {FIELD: done.sha256}
    if spec.key == "LargeEvent":
        derived |= {name: _category_sum(done.document["lines"], cats) for name, cats in SOURCES.items()}
    total = done.total_kg
    if footprint_kg is not None and footprint_kg != total:
        raise FootprintReportError(
            f"--footprint {footprint_kg} differs from the report's total {total} kgCO2e; drop --footprint"
        )
    clash = sorted(n for n, v in derived.items() if n in fields and fields[n] != v)
    if clash:
        raise FootprintReportError(
            f"field {', '.join(clash)} comes from the footprint report and differs from it; drop --field {clash[0]}"
        )
    if total <= 0:
        raise FootprintReportError("the footprint report's total is 0 kgCO2e; a claim needs a footprint above 0")
    problems = report_problems(done.document, {"footprint_kg": total}, spec.key, derived)
    if problems:  # what a verifier would refuse is refused here, before anything is issued
        raise FootprintReportError(f"the footprint report cannot back a claim: {problems[0]}")
    return derived, total


def _category_sum(lines: list[dict[str, Any]], categories: tuple[str, ...]) -> int:
    return sum(ln["kgco2e"] for ln in lines if ln["category"] in categories)


# ------------------------------------------------------------------ storage


def store(conn: Connection, vault: Vault, report: dict[str, Any], *, sealed: bool) -> str:
    """Keep the report under its hash (once); sealed when it is a person's and not disclosed."""
    text = canonical_json(report).decode()
    sha = sha256_hex(text.encode())
    row = conn.execute(select(FootprintReportRow).where(FootprintReportRow.sha256 == sha)).first()
    if row is None:
        conn.execute(
            insert(FootprintReportRow).values(
                sha256=sha,
                body=None if sealed else text,
                sealed=vault.seal(sha, report) if sealed else None,
                stored_at=int(time.time()),
            )
        )
    elif row.body is None and not sealed:  # stored sealed before, now disclosed with a certificate
        conn.execute(update(FootprintReportRow).where(col(FootprintReportRow.sha256) == sha).values(body=text))
    return sha


def attach(conn: Connection, doc: dict[str, Any], vault: Vault | None) -> None:
    """Put the report into a document whose `disclosed` opens FIELD (when it is on record and may be shown)."""
    opening = doc.get("disclosed", {}).get(FIELD)
    if not isinstance(opening, dict):
        return
    row = conn.execute(select(FootprintReportRow).where(FootprintReportRow.sha256 == opening.get("value"))).first()
    if row is None:
        return
    if row.body is not None:
        doc[MEMBER] = json.loads(row.body)
    elif vault is not None and row.sealed is not None:
        doc[MEMBER] = vault.open(row.sha256, row.sealed)


# ------------------------------------------------------------------ the verifier's checks (pure)


def hash_problem(doc: dict[str, Any]) -> str | None:
    """Why the document's report is not the one its disclosed FIELD commits to, or None (also when
    the document carries no report)."""
    if MEMBER not in doc:
        return None
    opening = doc.get("disclosed", {}).get(FIELD)
    if not isinstance(opening, dict) or "value" not in opening:
        return f"the document carries a footprint report but does not open {FIELD}, the hash that would tie it"
    try:
        actual = sha256_hex(canonical_json(doc[MEMBER]))
    except CanonicalJsonError as exc:
        return f"the footprint report cannot be hashed ({exc})"
    if actual != opening["value"]:
        return f"the footprint report's sha256 is {actual}, not the committed {opening['value']}"
    return None


def _decimal(value: Any) -> Decimal | None:
    return Decimal(value) if isinstance(value, str) and _DECIMAL.fullmatch(value) else None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def report_problems(report: Any, claim: dict[str, Any], scenario: str, values: dict[str, Any]) -> list[str]:
    """What is wrong with a footprint report as the ground of a claim: its format and subject, each
    line's arithmetic (exact = quantity in the factor's unit × factor × multiplier, kg = exact rounded
    up), the categories and the total as sums of the lines, the claim's footprint as the total, and
    each of `values` (the disclosed per-source fields) as the sum of its lines."""
    if not isinstance(report, dict):
        return ["the footprint report is not a JSON object"]
    if report.get("format") != REPORT_FORMAT:
        return [f"the footprint report's format is not {REPORT_FORMAT}"]
    problems = []
    if SUBJECTS.get(scenario) != report.get("subject"):
        problems.append(f"the footprint report's subject {report.get('subject')!r} is not a {scenario}'s")
    lines = report.get("lines")
    if not isinstance(lines, list) or not lines or not all(isinstance(ln, dict) for ln in lines):
        return [*problems, "the footprint report has no lines"]
    for i, ln in enumerate(lines, start=1):
        factor = ln.get("factor")
        numbers = [
            _decimal(x)
            for x in (
                ln.get("factor_quantity"),
                factor.get("kgco2e_per_unit") if isinstance(factor, dict) else None,
                ln.get("multiplier"),
                ln.get("exact_kgco2e"),
            )
        ]
        if any(x is None for x in numbers) or not _whole(ln.get("kgco2e")) or not isinstance(ln.get("category"), str):
            problems.append(f"report line {i} lacks its category, decimals or whole kgco2e")
            continue
        quantity, per_unit, multiplier, exact = (x for x in numbers if x is not None)
        with localcontext() as ctx:
            ctx.prec = sum(len(x.as_tuple().digits) for x in (quantity, per_unit, multiplier)) + 2  # exactly
            if quantity * per_unit * multiplier != exact:
                problems.append(f"report line {i}: {quantity} × {per_unit} × {multiplier} is not {exact}")
            elif int(exact.to_integral_value(rounding=ROUND_CEILING)) != ln["kgco2e"]:
                problems.append(f"report line {i}: {exact} rounded up is not {ln['kgco2e']} kg")
    if problems:
        return problems
    total = sum(ln["kgco2e"] for ln in lines)
    if report.get("total_kgco2e") != total:
        problems.append(
            f"the footprint report's lines add up to {total} kg, not its total {report.get('total_kgco2e')}"
        )
    categories = report.get("categories")
    sums = {ln["category"]: 0 for ln in lines}
    for ln in lines:
        sums[ln["category"]] += ln["kgco2e"]
    stated = (
        {
            c["category"]: c.get("kgco2e")
            for c in categories
            if isinstance(c, dict) and isinstance(c.get("category"), str)
        }
        if isinstance(categories, list)
        else None
    )
    if not isinstance(categories, list) or stated != sums or len(categories) != len(sums):
        problems.append("the footprint report's categories are not the sums of its lines")
    if claim.get("footprint_kg") != total:
        problems.append(f"the claim's footprint {claim.get('footprint_kg')} kg is not the report's total {total} kg")
    for name, cats in SOURCES.items():
        if scenario == "LargeEvent" and name in values and values[name] != _category_sum(lines, cats):
            problems.append(f"field {name} is {values[name]}, not the report's {_category_sum(lines, cats)} kg")
    return problems
