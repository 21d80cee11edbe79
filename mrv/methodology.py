"""Methodology versions as data plus code: a bundle (mrv/methodologies/<id>/<version>.json) holds
the parameters per species group, each with its source, and the rules; the calculation it names is
code here, turning a group's parameters into tCO2e per unit of each measured variable and pool.

A bundle's hash is sha256 over its canonical JSON (chain/canonical.py), not over the file's bytes:
the file may be re-indented, the hash only changes when content does. That hash is the document
hash `ledger methodology file` puts on chain, so a filed version can never change silently."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from chain.canonical import canonical_json, sha256_hex
from mrv.errors import MethodologyError

BUNDLES = Path(__file__).resolve().parent / "methodologies"
FORMAT = "ledger-methodology/1"
CO2_PER_C = 44 / 12  # molar mass ratio CO2 : C


@dataclass(frozen=True)
class Variable:
    """A plot-level measurement a methodology reads, with the largest plausible value (above it the
    unit is wrong, and `mistake` says which unit it probably is)."""

    name: str
    unit: str
    maximum: float
    mistake: str


@dataclass(frozen=True)
class Bundle:
    id: str
    version: int
    ecosystem: str
    calculation: str
    pools: tuple[str, ...]
    variables: Mapping[str, Variable]
    groups: Mapping[str, Mapping[str, float]]  # group → parameter → value
    illustrative: frozenset[str]  # "group.parameter" and "rules.name" of values with no public source
    leakage_bps: int
    threshold_bps: int
    z: float
    reserve_bps: int
    required_emissions: tuple[str, ...]
    sha256: str
    document: Mapping[str, Any] = field(repr=False)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def canonical(self) -> bytes:
        """The bytes whose sha256 is the bundle's hash: the document to store and serve as filed."""
        return canonical_json(self.document)

    @property
    def trees(self) -> bool:
        """Whether reports may give per-tree measurements (turned into a plot's stem volume)."""
        return self.calculation == VOLUME

    def coefficients(self, group: str) -> dict[str, dict[str, float]]:
        """pool → variable → tCO2e per hectare per unit of the variable, for one species group."""
        return CALCULATIONS[self.calculation](self.groups[group])

    def tree_volume_factor(self, group: str) -> float:
        """k in v[m³] = k × dbh[cm] × dbh[cm] × height[m]: the form factor F times π/4, cm → m."""
        return self.groups[group]["F"] * 3.141592653589793 / 40000

    def illustrative_used(self, groups: set[str], trees: bool) -> list[str]:
        """The illustrative values a computation used (the form factor F only when trees were counted)."""
        return sorted(
            name
            for name in self.illustrative
            if (name.split(".")[0] in groups or name.startswith("rules.")) and (trees or not name.endswith(".F"))
        )


VOLUME = "volume_stock_difference"
HERBACEOUS = "herbaceous_and_soil_stock_difference"


def volume_stock_difference(p: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """C = V × D × BEF × (1 + R) × CF × 44/12, split into the above- and below-ground pools."""
    above = p["D"] * p["BEF"] * p["CF"] * CO2_PER_C
    return {"above_ground": {"volume_m3_ha": above}, "below_ground": {"volume_m3_ha": above * p["R"]}}


def herbaceous_and_soil_stock_difference(p: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Herbaceous biomass (above ground measured, below ground as R × above) and soil organic carbon."""
    above = p["CF"] * CO2_PER_C
    return {
        "above_ground": {"agb_t_dm_ha": above},
        "below_ground": {"agb_t_dm_ha": above * p["R"]},
        "soil": {"soc_t_c_ha": CO2_PER_C},
    }


CALCULATIONS: dict[str, Callable[[Mapping[str, float]], dict[str, dict[str, float]]]] = {
    VOLUME: volume_stock_difference,
    HERBACEOUS: herbaceous_and_soil_stock_difference,
}
PARAMETERS = {VOLUME: ("D", "BEF", "R", "CF", "F"), HERBACEOUS: ("CF", "R")}


def decimal(value: Any, where: str) -> float:
    if not isinstance(value, str):
        raise MethodologyError(f'{where}: write the value as a decimal string such as "0.478"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise MethodologyError(f'{where}: {value!r} is not a decimal; write one such as "0.478"') from None
    if not number.is_finite() or number < 0:
        raise MethodologyError(f"{where}: {value!r} must be a finite decimal ≥ 0")
    return float(number)


def sourced(entry: Mapping[str, Any], where: str) -> bool:
    """Whether an entry is illustrative; every entry must cite a source or say it is illustrative."""
    illustrative = entry.get("illustrative", False)
    source = entry.get("source")
    if not isinstance(illustrative, bool):
        raise MethodologyError(f"{where}: illustrative must be true or false")
    if not illustrative and not (isinstance(source, dict) and source.get("citation")):
        raise MethodologyError(f"{where}: cite a source (source.citation) or mark it illustrative: true")
    return illustrative


def parse(document: Mapping[str, Any]) -> Bundle:
    """A bundle from its JSON document, checked: a mistake is one line naming the entry."""
    try:
        return _parse(document)
    except (KeyError, TypeError, AttributeError) as exc:
        raise MethodologyError(f"methodology bundle is missing or mistypes {exc}; see docs/mrv.md") from None


def _parse(doc: Mapping[str, Any]) -> Bundle:
    if doc["format"] != FORMAT:
        raise MethodologyError(f"methodology bundle format {doc['format']!r} is not {FORMAT!r}")
    calculation = doc["calculation"]
    if calculation not in CALCULATIONS:
        raise MethodologyError(f"calculation {calculation!r} is not one of {sorted(CALCULATIONS)}")
    illustrative: set[str] = set()
    groups: dict[str, dict[str, float]] = {}
    for group, spec in doc["species_groups"].items():
        values: dict[str, float] = {}
        for name in PARAMETERS[calculation]:
            entry = spec["parameters"][name]
            values[name] = decimal(entry["value"], f"{group}.{name}")
            if sourced(entry, f"{group}.{name}"):
                illustrative.add(f"{group}.{name}")
        groups[group] = values
    rules = doc["rules"]
    for name in ("baseline", "leakage", "uncertainty", "reserve"):
        if sourced(rules[name], f"rules.{name}"):
            illustrative.add(f"rules.{name}")
    variables = {
        name: Variable(name, v["unit"], decimal(v["max"], f"variables.{name}.max"), v["mistake"])
        for name, v in doc["variables"].items()
    }
    pools = tuple(doc["pools"])
    made = CALCULATIONS[calculation](dict.fromkeys(PARAMETERS[calculation], 1.0))
    if set(made) != set(pools) or {v for terms in made.values() for v in terms} != set(variables):
        raise MethodologyError(f"{doc['id']}: pools or variables do not match calculation {calculation}")
    bps = {name: rules[name][key] for name, key in (("leakage", "share_bps"), ("reserve", "share_bps"))}
    bps["threshold"] = rules["uncertainty"]["threshold_bps"]
    for name, value in bps.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
            raise MethodologyError(f"rules.{name}: basis points must be an integer 0..10000")
    return Bundle(
        id=doc["id"],
        version=doc["version"],
        ecosystem=doc["ecosystem"],
        calculation=calculation,
        pools=pools,
        variables=variables,
        groups=groups,
        illustrative=frozenset(illustrative),
        leakage_bps=bps["leakage"],
        threshold_bps=bps["threshold"],
        z=decimal(rules["uncertainty"]["z"], "rules.uncertainty.z"),
        reserve_bps=bps["reserve"],
        required_emissions=tuple(rules.get("required_emissions", {}).get("kinds", ())),
        sha256=sha256_hex(canonical_json(doc)),
        document=doc,
    )


def available() -> list[tuple[str, int]]:
    """(id, version) of every shipped bundle, sorted."""
    found = [(path.parent.name, int(path.stem)) for path in BUNDLES.glob("*/*.json") if path.stem.isdigit()]
    return sorted(found)


@cache
def bundle(methodology_id: str, version: int | None = None) -> Bundle:
    """A shipped methodology version (the newest when `version` is None)."""
    versions = [v for i, v in available() if i == methodology_id]
    if not versions:
        known = ", ".join(sorted({i for i, _ in available()}))
        raise MethodologyError(f"methodology {methodology_id!r} has no bundle; use one of: {known}")
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise MethodologyError(
            f"{methodology_id} has no version {version}; use one of: {', '.join(map(str, versions))}"
        )
    path = BUNDLES / methodology_id / f"{chosen}.json"
    found = parse(json.loads(path.read_text(encoding="utf-8")))
    if (found.id, found.version) != (methodology_id, chosen):
        raise MethodologyError(f"{path.name} in {methodology_id}/ says it is {found.ref}; rename the file")
    return found


def reference(text: str) -> Bundle:
    """A bundle from "ID" or "ID@VERSION" (what the command line and a report's header give)."""
    methodology_id, _, version = text.partition("@")
    # str.isdigit() is true of "²" and "١", which int() refuses or reads as another digit
    if version and not (version.isascii() and version.isdigit() and len(version) <= 9):
        raise MethodologyError(f"{text!r}: the version after @ must be a number, e.g. SCFM-001-V01@1")
    return bundle(methodology_id, int(version) if version else None)
