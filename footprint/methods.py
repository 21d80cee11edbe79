"""The three calculators as data: for each subject, its categories (the emission sources the
method reports by), which kinds of activity each category takes, and where an activity goes when
the line names no category.

- event: the emission sources of the MEE 2019 large-event guideline (大型活动碳中和实施指南（试行）,
  生态环境部公告 of 2019-05-29): fossil fuel burnt in venues (stationary) and in the event's vehicles
  (mobile), net purchased electricity and heat, participants' travel, lodging, catering, the
  embodied emissions of materials, waste treatment;
- organisation: scope 1 and scope 2 (location-based: the average grid factor), scope 3 optional
  (a line put there is counted; none need be);
- person: 衣食住行用, simple;
- product (simplified, cradle to grave): the materials of one unit by mass, the energy of making
  it, its transport in tonne-km and its end of life, per unit, times the units the report covers
  (`units` in the input: footprint/compute.py);
- building (simplified): a year's operational electricity, heat and fuel, reported also per square
  metre of floor area (`floor_area_m2`), and optionally the embodied emissions of its materials,
  kept apart from the yearly figure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    id: str
    zh: str
    en: str
    kinds: frozenset[str]  # the activity kinds a line of this category may have


@dataclass(frozen=True)
class Method:
    subject: str
    id: str
    version: int
    title: str
    categories: tuple[Category, ...]
    default: dict[str, str]  # activity kind → category, when the line names none

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories if c.id == name), None)


def _c(id_: str, zh: str, en: str, *kinds: str) -> Category:
    return Category(id_, zh, en, frozenset(kinds))


EVENT = Method(
    subject="event",
    id="event-mee-2019",
    version=1,
    title="大型活动碳排放核算 after the MEE 2019 large-event guideline's emission sources",
    categories=(
        _c("fuel-stationary", "化石燃料燃烧（固定源）", "fossil fuel, stationary", "stationary-fuel", "declared"),
        _c("fuel-mobile", "化石燃料燃烧（移动源）", "fossil fuel, the event's vehicles", "mobile-fuel", "declared"),
        _c(
            "electricity-heat",
            "净购入电力、热力",
            "net purchased electricity and heat",
            "electricity",
            "heat",
            "declared",
        ),
        _c("travel", "交通", "participants' and organisers' travel", "passenger-transport", "declared"),
        _c("lodging", "住宿", "lodging", "lodging", "declared"),
        _c("catering", "餐饮", "catering", "meal", "declared"),
        _c("materials", "会议用品隐含排放", "materials and products (embodied)", "material", "declared"),
        _c("waste", "废弃物处理", "waste treatment", "waste", "declared"),
    ),
    default={
        "stationary-fuel": "fuel-stationary",
        "mobile-fuel": "fuel-mobile",
        "electricity": "electricity-heat",
        "heat": "electricity-heat",
        "passenger-transport": "travel",
        "lodging": "lodging",
        "meal": "catering",
        "material": "materials",
        "waste": "waste",
    },
)
ORGANISATION = Method(
    subject="organisation",
    id="organisation-scopes",
    version=1,
    title="组织碳排放核算: scope 1, scope 2 location-based, scope 3 optional",
    categories=(
        _c("scope1", "范围一：直接排放", "scope 1, direct", "stationary-fuel", "mobile-fuel", "declared"),
        _c(
            "scope2",
            "范围二：外购电力、热力（基于位置）",
            "scope 2, purchased energy (location-based)",
            "electricity",
            "heat",
        ),
        _c(
            "scope3",
            "范围三：其他间接排放（可选）",
            "scope 3, other indirect (optional)",
            "passenger-transport",
            "lodging",
            "meal",
            "declared",
        ),
    ),
    default={
        "stationary-fuel": "scope1",
        "mobile-fuel": "scope1",
        "electricity": "scope2",
        "heat": "scope2",
        "passenger-transport": "scope3",
        "lodging": "scope3",
        "meal": "scope3",
    },
)
PERSON = Method(
    subject="person",
    id="person-yishizhuxingyong",
    version=1,
    title="个人碳足迹 衣食住行用 (simple)",
    categories=(
        _c("clothing", "衣", "clothing", "declared"),
        _c("food", "食", "food", "meal", "declared"),
        _c("housing", "住", "housing", "electricity", "heat", "stationary-fuel", "declared"),
        _c("travel", "行", "travel", "passenger-transport", "mobile-fuel", "lodging", "declared"),
        _c("goods", "用", "goods and services", "declared"),
    ),
    default={
        "meal": "food",
        "electricity": "housing",
        "heat": "housing",
        "stationary-fuel": "housing",
        "passenger-transport": "travel",
        "mobile-fuel": "travel",
        "lodging": "travel",
    },
)
PRODUCT = Method(
    subject="product",
    id="product-simplified",
    version=1,
    title="产品碳足迹（简化）: materials, manufacturing energy, transport, end of life; per unit × units",
    categories=(
        _c("materials", "原材料", "materials (embodied, by mass)", "material", "declared"),
        _c(
            "manufacturing",
            "生产能耗",
            "manufacturing energy",
            "electricity",
            "heat",
            "stationary-fuel",
            "declared",
        ),
        _c("transport", "运输", "transport (tonne-km)", "freight", "mobile-fuel", "declared"),
        _c("end-of-life", "废弃处置", "end of life", "waste", "declared"),
    ),
    default={
        "material": "materials",
        "electricity": "manufacturing",
        "heat": "manufacturing",
        "stationary-fuel": "manufacturing",
        "freight": "transport",
        "mobile-fuel": "transport",
        "waste": "end-of-life",
    },
)
BUILDING = Method(
    subject="building",
    id="building-simplified",
    version=1,
    title="建筑碳排放（简化）: a year's operational energy over floor area; embodied materials optional",
    categories=(
        _c("operational-electricity", "运行：电力", "operation: electricity", "electricity", "declared"),
        _c("operational-heat", "运行：热力", "operation: purchased heat", "heat", "declared"),
        _c("operational-fuel", "运行：化石燃料", "operation: fuel burnt on site", "stationary-fuel", "declared"),
        _c(
            "embodied",
            "建材隐含排放（可选）",
            "embodied: materials and their transport (optional)",
            "material",
            "freight",
            "declared",
        ),
    ),
    default={
        "electricity": "operational-electricity",
        "heat": "operational-heat",
        "stationary-fuel": "operational-fuel",
        "material": "embodied",
        "freight": "embodied",
    },
)
OPERATIONAL = ("operational-electricity", "operational-heat", "operational-fuel")  # a building's yearly categories
METHODS = {m.subject: m for m in (EVENT, ORGANISATION, PERSON, PRODUCT, BUILDING)}
