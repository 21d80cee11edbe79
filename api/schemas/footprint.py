"""Footprint accounting: the emission-factor library and a report computed from activity data
(footprint/; the formats are in docs/footprint.md). Decimals are strings, kilograms integers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(max_length=200)]
Number = Annotated[float | str, Field(union_mode="left_to_right", description='a decimal: 1200, 0.5 or "0.5"')]


class FactorPublic(BaseModel):
    """One row of the library: `ref` (id@version) is what a report pins, `sha256` the row's hash."""

    model_config = ConfigDict(extra="forbid")

    ref: str
    id: str
    version: int
    activity: str
    region: str
    year: int | None
    unit: str
    kgco2e_per_unit: str
    gases: str
    gwp_set: str
    source: str
    source_url: str | None
    uncertainty_pct: str | None
    valid_from: str | None
    valid_to: str | None
    superseded_by: str | None
    illustrative: bool
    note: str
    sha256: str
    origin: Literal["shipped", "imported"]


class FactorListPublic(BaseModel):
    """One page of the rows that match: `total` and `illustrative` count every page, `count` this one."""

    model_config = ConfigDict(extra="forbid")

    total: int
    illustrative: int
    count: int
    limit: int
    offset: int
    next_offset: int | None
    factors: list[FactorPublic]


class LineInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activity: Text
    quantity: Number
    unit: Text
    passengers: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    category: Text | None = None
    label: Text | None = None
    region: Text | None = None
    year: Annotated[int, Field(ge=1990, le=2100)] | None = None
    factor: Annotated[str | None, Field(max_length=200, description="pin a factor: id@version")] = None


class FootprintInput(BaseModel):
    """Activity data (docs/footprint.md): nothing of it is stored."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["ledger-footprint-input/1"] | None = None
    subject: Literal["event", "organisation", "person", "product", "building"]
    title: Text | None = None
    region: Annotated[str, Field(max_length=20, description="GB/T 2260 code (510100 成都), a grid region (西南) or CN")]
    year: Annotated[int, Field(ge=1990, le=2100)]
    aviation_multiplier: Number | None = None
    units: Annotated[int | None, Field(ge=1, le=10**9, description="product: the units the report covers")] = None
    floor_area_m2: Annotated[Number | None, Field(description="building: its floor area in m2")] = None
    lines: Annotated[list[LineInput], Field(min_length=1, max_length=1000)]


class LineFactorPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str
    sha256: str
    kgco2e_per_unit: str
    unit: str
    region: str
    year: int | None
    gases: str
    source: str
    source_url: str | None
    illustrative: bool


class LinePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    category: str
    activity: str
    label: str | None
    quantity: str
    unit: str
    passengers: int | None
    region: str
    year: int
    factor_quantity: str
    factor: LineFactorPublic
    multiplier: str
    declared: bool
    exact_kgco2e: str
    kgco2e: int
    notes: list[str]


class MethodPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    version: int
    title: str


class CategoryTotalPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str
    zh: str
    en: str
    kgco2e: int


class AviationPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    applied: bool
    value: str | None


class ProductPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    units: int
    kgco2e_per_unit: str
    rounding: str


class BuildingPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    floor_area_m2: str
    operational_kgco2e_per_year: int
    operational_kgco2e_per_m2_year: str
    embodied_kgco2e: int
    embodied_kgco2e_per_m2: str
    rounding: str


class ReportPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["ledger-footprint-report/1"]
    subject: Literal["event", "organisation", "person", "product", "building"]
    method: MethodPublic
    title: str | None
    region: str
    year: int
    lines: list[LinePublic]
    categories: list[CategoryTotalPublic]
    total_kgco2e: int
    aviation_multiplier: AviationPublic
    rounding: str
    illustrative: bool
    warnings: list[str]
    product: ProductPublic | None = None  # a product's report only
    building: BuildingPublic | None = None  # a building's report only


class BarPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str
    zh: str
    en: str
    kgco2e: int
    share: str  # of the total, one decimal: "77.4%"


class BreakdownPublic(BaseModel):
    """A disclosed footprint report's breakdown: the bars' numbers, and the same drawn as SVG."""

    model_config = ConfigDict(extra="forbid")

    subject: str
    method: str
    total_kgco2e: int
    illustrative: bool
    bars: list[BarPublic]
    svg: str


class FootprintPublic(BaseModel):
    """The report and the sha256 of its canonical JSON (docs/footprint.md)."""

    model_config = ConfigDict(extra="forbid")

    report: ReportPublic
    sha256: str
