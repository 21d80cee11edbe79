"""Conversions as published rules: a tree-planting duty (trees → kgCO2e, and the money rate) and
ecological-justice damages (yuan at a unit price → kgCO2e to retire).

Each rule is a versioned row of footprint/rules/ (`tree_duty.csv`, `damages.csv`) citing where its
numbers come from, immutable once shipped like a factor row: a changed rate is a new version, and
the old row gains `superseded_by` (outside the row's hash). A conversion names its rule's
`id@version` and hash, so a certificate can say which rule it used and a verifier can redo it.

Arithmetic is exact; a quantity to retire is rounded UP to a whole kilogram (a court order or a
duty must never fall short). The columns are described in docs/footprint.md."""

from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from chain.canonical import canonical_json, sha256_hex
from footprint.errors import FootprintError
from footprint.library import decimal_text

RULES_DIR = Path(__file__).resolve().parent / "rules"
ANNOTATIONS = ("superseded_by",)  # what a later row may add to an earlier one
TREE_COLUMNS = (
    "id",
    "version",
    "region",
    "trees_min",
    "trees_max",
    "kgco2e_per_tree",
    "yuan_per_tree",
    "kg_source",
    "kg_source_url",
    "yuan_source",
    "yuan_source_url",
    "valid_from",
    "superseded_by",
    "illustrative",
    "note",
)
DAMAGES_COLUMNS = (
    "id",
    "version",
    "region",
    "price_yuan",
    "price_tonnes",
    "source",
    "source_url",
    "valid_from",
    "superseded_by",
    "illustrative",
    "note",
)
MAX_TREES = 1_000_000
MAX_YUAN = Decimal(10) ** 12


@dataclass(frozen=True)
class TreeDutyRule:
    """义务植树: the duty is `trees_min`–`trees_max` trees a year; one tree counts as
    `kgco2e_per_tree` retired, or `yuan_per_tree` given."""

    id: str
    version: int
    region: str
    trees_min: int
    trees_max: int
    kgco2e_per_tree: Decimal
    yuan_per_tree: Decimal
    sources: tuple[tuple[str, str], ...]  # (publication, public address): the kg rate's, then the money rate's
    superseded_by: str
    illustrative: bool
    note: str
    sha256: str = field(compare=False)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@dataclass(frozen=True)
class DamagesRule:
    """替代性修复: damages buy carbon sinks at `price_yuan` for `price_tonnes` tonnes (a published
    case's pair, or a unit price with price_tonnes = 1)."""

    id: str
    version: int
    region: str
    price_yuan: Decimal
    price_tonnes: Decimal
    sources: tuple[tuple[str, str], ...]
    superseded_by: str
    illustrative: bool
    note: str
    sha256: str = field(compare=False)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def yuan_per_tonne(self) -> Decimal:
        return self.price_yuan / self.price_tonnes


Rule = TreeDutyRule | DamagesRule
R = TypeVar("R", TreeDutyRule, DamagesRule)


@dataclass(frozen=True)
class Conversion:
    """One conversion and the rule it followed, as JSON (decimals as strings) with `kgco2e` to retire."""

    kind: str  # tree-duty | damages
    document: dict[str, Any]

    @property
    def kgco2e(self) -> int:
        kg: int = self.document["kgco2e"]
        return kg


def _rule_document(rule: Rule) -> dict[str, Any]:
    return {
        "ref": rule.ref,
        "sha256": rule.sha256,
        "region": rule.region,
        "sources": [{"source": s, "source_url": u or None} for s, u in rule.sources],
        "illustrative": rule.illustrative,
        "superseded_by": rule.superseded_by or None,
    }


def _read(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FootprintError(f"cannot read the conversion rules {path} ({exc.strerror}); reinstall") from None
    reader = csv.DictReader(io.StringIO(text))
    rows = [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}) for row in reader]
    for line, raw in rows:
        missing = [c for c in columns if c not in raw]
        if missing:
            raise FootprintError(f"{path.name}:{line}: lacks column {', '.join(missing)}; add it (docs/footprint.md)")
    return rows


def _number(text: str, where: str, what: str, *, positive: bool = True) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FootprintError(f"{where}: {what} {text!r} is not a decimal; write digits such as 400") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise FootprintError(f"{where}: {what} {text!r} must be a finite number above 0; fix the row")
    return value


def _common(raw: dict[str, str], where: str, pairs: list[tuple[str, str]]) -> tuple[int, bool]:
    """The version, whether illustrative; refuses a row citing nothing, or a sourced one without an address."""
    try:
        version = int(raw["version"])
    except ValueError:
        raise FootprintError(f"{where}: version {raw['version']!r} must be a whole number; fix the row") from None
    illustrative = raw["illustrative"].lower()
    if illustrative not in ("true", "false"):
        raise FootprintError(f"{where}: illustrative must be true or false, not {raw['illustrative']!r}; write one")
    for source, url in pairs:
        if not source:
            raise FootprintError(
                f"{where}: rule {raw['id']} cites no source; name the publication, or mark it illustrative and say so"
            )
        if illustrative == "false" and not url:
            raise FootprintError(
                f"{where}: rule {raw['id']} has no source_url; give the public address of its source, "
                "or mark it illustrative=true"
            )
    return version, illustrative == "true"


def _hash(raw: dict[str, str], columns: tuple[str, ...]) -> str:
    return sha256_hex(canonical_json({k: raw[k] for k in columns if k not in ANNOTATIONS}))


def tree_rule(raw: dict[str, str], where: str) -> TreeDutyRule:
    pairs = [(raw["kg_source"], raw["kg_source_url"]), (raw["yuan_source"], raw["yuan_source_url"])]
    version, illustrative = _common(raw, where, pairs)
    try:
        trees_min, trees_max = int(raw["trees_min"]), int(raw["trees_max"])
    except ValueError:
        raise FootprintError(f"{where}: trees_min and trees_max must be whole numbers; fix the row") from None
    if not 0 < trees_min <= trees_max:
        raise FootprintError(f"{where}: the duty must be 0 < trees_min <= trees_max; fix the row")
    return TreeDutyRule(
        id=raw["id"],
        version=version,
        region=raw["region"],
        trees_min=trees_min,
        trees_max=trees_max,
        kgco2e_per_tree=_number(raw["kgco2e_per_tree"], where, "kgco2e_per_tree"),
        yuan_per_tree=_number(raw["yuan_per_tree"], where, "yuan_per_tree"),
        sources=tuple(pairs),
        superseded_by=raw["superseded_by"],
        illustrative=illustrative,
        note=raw["note"],
        sha256=_hash(raw, TREE_COLUMNS),
    )


def damages_rule(raw: dict[str, str], where: str) -> DamagesRule:
    pairs = [(raw["source"], raw["source_url"])]
    version, illustrative = _common(raw, where, pairs)
    return DamagesRule(
        id=raw["id"],
        version=version,
        region=raw["region"],
        price_yuan=_number(raw["price_yuan"], where, "price_yuan"),
        price_tonnes=_number(raw["price_tonnes"], where, "price_tonnes"),
        sources=tuple(pairs),
        superseded_by=raw["superseded_by"],
        illustrative=illustrative,
        note=raw["note"],
        sha256=_hash(raw, DAMAGES_COLUMNS),
    )


@dataclass(frozen=True)
class Rules:
    tree_duty: dict[str, TreeDutyRule]  # by ref
    damages: dict[str, DamagesRule]

    def tree(self, ref: str | None = None) -> TreeDutyRule:
        """A tree-duty rule by `id@version` (or `id`: its newest version); without one, the only current rule."""
        return _pick(self.tree_duty, ref, "tree-duty", "ledger footprint rules")

    def damage(self, ref: str) -> DamagesRule:
        return _pick(self.damages, ref, "damages", "ledger footprint rules")


def _pick(rules: dict[str, R], ref: str | None, kind: str, listing: str) -> R:
    if ref is None:
        current = [r for r in rules.values() if not r.superseded_by]
        if len(current) == 1:
            return current[0]
        raise FootprintError(f"{len(current)} current {kind} rules; name one with --rule ID@VERSION (`{listing}`)")
    if "@" not in ref:
        versions = [r for r in rules.values() if r.id == ref]
        if versions:
            return max(versions, key=lambda r: r.version)
    elif ref in rules:
        return rules[ref]
    known = ", ".join(sorted(rules)) or "none"
    raise FootprintError(f"no {kind} rule {ref!r}; use one of {known} (`{listing}`)")


def load_rules(directory: Path = RULES_DIR) -> Rules:
    """Both rule tables; FootprintError on the first row that breaks a rule (no source, a duplicate
    id@version, a superseded_by naming no row)."""
    tree: dict[str, TreeDutyRule] = {}
    damages: dict[str, DamagesRule] = {}
    for name, columns, parse, into in (
        ("tree_duty.csv", TREE_COLUMNS, tree_rule, tree),
        ("damages.csv", DAMAGES_COLUMNS, damages_rule, damages),
    ):
        for line, raw in _read(directory / name, columns):
            rule = parse(raw, f"{name}:{line}")
            if rule.ref in into:
                raise FootprintError(f"{name}:{line}: {rule.ref} appears twice; give the new row the next version")
            into[rule.ref] = rule  # type: ignore[assignment]  # parse matches into's kind by the table above
        for rule in into.values():
            if rule.superseded_by and rule.superseded_by not in into:
                raise FootprintError(
                    f"{name}: {rule.ref} is superseded by {rule.superseded_by}, which is not a row; add it or clear it"
                )
    return Rules(tree, damages)


@functools.cache
def shipped_rules() -> Rules:
    """The rules shipped with the project, read once."""
    return load_rules(RULES_DIR)


def _whole(text: Any, what: str, fix: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise FootprintError(f"{what} {text!r} is not a number; {fix}") from None
    if not value.is_finite() or value < 0:
        raise FootprintError(f"{what} {text!r} must be 0 or more; {fix}")
    return value


def trees(count: int | str, rule: TreeDutyRule | None = None) -> Conversion:
    """`count` trees of duty: the kgCO2e to retire for them and the money rate's equivalent, and
    whether they meet the year's duty (trees_min)."""
    rule = rule or shipped_rules().tree()
    n = _whole(count, "the number of trees", "give a whole number of trees, e.g. 3")
    if n != n.to_integral_value() or n == 0 or n > MAX_TREES:
        raise FootprintError(f"the number of trees {count!r} must be a whole number from 1 to {MAX_TREES:,}; fix it")
    exact = n * rule.kgco2e_per_tree
    return Conversion(
        "tree-duty",
        {
            "rule": _rule_document(rule),
            "trees": int(n),
            "kgco2e_per_tree": decimal_text(rule.kgco2e_per_tree),
            "yuan_per_tree": decimal_text(rule.yuan_per_tree),
            "duty_trees": [rule.trees_min, rule.trees_max],
            "meets_duty": n >= rule.trees_min,
            "exact_kgco2e": decimal_text(exact),
            "kgco2e": int(exact.to_integral_value(ROUND_CEILING)),
            "yuan": decimal_text(n * rule.yuan_per_tree),
            "rounding": "trees × kgCO2e per tree, rounded up to a whole kg",
        },
    )


def damages(yuan: int | str | Decimal, rule: DamagesRule) -> Conversion:
    """Damages of `yuan` at the rule's price: the kgCO2e of carbon sinks to buy and retire
    (damages × tonnes ÷ price yuan × 1000, rounded up to a whole kg)."""
    amount = _whole(yuan, "the damages", "give the amount in yuan, e.g. 173900 or 1234.56")
    if amount == 0 or amount > MAX_YUAN or amount != amount.quantize(Decimal("0.01")):
        raise FootprintError(f"the damages {yuan!r} must be from 0.01 to {MAX_YUAN:,} yuan, to the fen; fix them")
    # a fraction, not a 28-digit decimal: a quotient just above a whole kg must round up, not to it
    kg = math.ceil(Fraction(amount) * Fraction(rule.price_tonnes) * 1000 / Fraction(rule.price_yuan))
    return Conversion(
        "damages",
        {
            "rule": _rule_document(rule),
            "yuan": decimal_text(amount),
            "price": {
                "yuan": decimal_text(rule.price_yuan),
                "tonnes": decimal_text(rule.price_tonnes),
                "yuan_per_tonne": decimal_text(rule.yuan_per_tonne.quantize(Decimal("0.01"))),
            },
            "kgco2e": kg,
            "tonnes": f"{Decimal(kg) / 1000:.3f}",
            "rounding": "damages × price tonnes ÷ price yuan, in kg, rounded up to a whole kg",
        },
    )
