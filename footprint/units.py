"""Units a quantity may be given in, and their exact conversion to the unit of a factor.

Conversions are definitions (1 MWh = 1000 kWh), never measured values, so they are exact decimals.
A unit converts only within its dimension; distance in km becomes passenger-km only with the number
of passengers on the line."""

from __future__ import annotations

from decimal import Decimal

# unit → (dimension, how many of the dimension's base unit one of it is)
UNITS: dict[str, tuple[str, Decimal]] = {
    "kWh": ("electricity", Decimal(1)),
    "MWh": ("electricity", Decimal(1000)),
    "万kWh": ("electricity", Decimal(10000)),
    "GJ": ("heat", Decimal(1)),
    "MJ": ("heat", Decimal("0.001")),
    "TJ": ("heat", Decimal(1000)),
    "m3": ("volume", Decimal(1)),
    "L": ("volume", Decimal("0.001")),
    "万m3": ("volume", Decimal(10000)),
    "pkm": ("passenger-distance", Decimal(1)),
    "km": ("distance", Decimal(1)),
    "room-night": ("room-nights", Decimal(1)),
    "meal": ("meals", Decimal(1)),
    "kg": ("mass", Decimal(1)),
    "t": ("mass", Decimal(1000)),
    "tkm": ("freight", Decimal(1)),
    "kgCO2e": ("emissions", Decimal(1)),
    "tCO2e": ("emissions", Decimal(1000)),
}
# other spellings people write, mapped to the one above
ALIASES = {
    "kwh": "kWh",
    "度": "kWh",
    "mwh": "MWh",
    "gj": "GJ",
    "mj": "MJ",
    "tj": "TJ",
    "m³": "m3",
    "Nm3": "m3",
    "立方米": "m3",
    "l": "L",
    "升": "L",
    "万m³": "万m3",
    "人公里": "pkm",
    "p·km": "pkm",
    "公里": "km",
    "间夜": "room-night",
    "room-nights": "room-night",
    "份": "meal",
    "meals": "meal",
    "千克": "kg",
    "公斤": "kg",
    "吨": "t",
    "tonne": "t",
    "t·km": "tkm",
    "t-km": "tkm",
    "吨公里": "tkm",
    "kgco2e": "kgCO2e",
    "tco2e": "tCO2e",
}


def normal(unit: str) -> str | None:
    """The unit's spelling in UNITS, or None when it is not one we know."""
    if unit in UNITS:
        return unit
    return ALIASES.get(unit, ALIASES.get(unit.lower()))


def same_dimension(unit: str) -> list[str]:
    dimension = UNITS[unit][0]
    return [u for u, (d, _) in UNITS.items() if d == dimension]


def convert(quantity: Decimal, unit: str, to: str, passengers: int | None) -> Decimal | None:
    """`quantity` of `unit` in `to`, or None when they do not convert (both known spellings).
    km × passengers is passenger-km; passengers on any other line is refused by the caller."""
    if unit == "km" and to == "pkm" and passengers is not None:
        return quantity * passengers
    (d_from, k_from), (d_to, k_to) = UNITS[unit], UNITS[to]
    if d_from != d_to:
        return None
    return quantity * k_from / k_to
