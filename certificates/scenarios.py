"""The retirement scenarios (消纳场景) and the fields a certificate of each carries.

None of these lists is published officially; they are the evidence each scenario's rules call
for (see ../shared/DOMAIN.md). `personal` fields are personal data: stored encrypted, never in
a public response unless the holder disclosed them. Quantities are whole kilograms of CO2e.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.types import Scenario, enum_name


@dataclass(frozen=True)
class FieldSpec:
    name: str
    zh: str
    en: str
    personal: bool = False
    required: bool = False
    integer: bool = False  # else a string


@dataclass(frozen=True)
class ScenarioSpec:
    key: str  # the contract's Scenario enum member
    zh: str
    en: str
    fields: tuple[FieldSpec, ...]
    footprint: bool = False  # the claim states a footprint; "carbon neutral" only if retired ≥ footprint
    trees: bool = False  # tree-planting duty: trees owed, converted at a published rule's rate
    # ecological justice: the claim may state damages converted to an obligation in kg by a published rule
    damages: bool = False
    addressee: str | None = None  # the field naming whom the certificate is addressed to (a court)


BENEFICIARY = FieldSpec("beneficiary", "受益方", "Beneficiary", required=True)
PERSON = FieldSpec("beneficiary", "受益人", "Beneficiary", personal=True, required=True)
PERIOD = FieldSpec("period", "核算期", "Accounting period")
STANDARD = FieldSpec("standard", "核算标准", "Accounting standard")
# the sha256 of the footprint report the claim's footprint comes from (certificates/footprint_report.py)
REPORT = FieldSpec("footprint_report_sha256", "碳足迹报告（sha256）", "Footprint report (sha256)")


def _subject(key: str, zh: str, en: str, subject_zh: str, subject_en: str) -> ScenarioSpec:
    return ScenarioSpec(
        key,
        zh,
        en,
        (
            BENEFICIARY,
            FieldSpec("subject", subject_zh, subject_en, required=True),
            PERIOD,
            STANDARD,
            REPORT,
        ),
        footprint=True,
    )


SCENARIOS: dict[str, ScenarioSpec] = {
    s.key: s
    for s in (
        ScenarioSpec(
            "LargeEvent",
            "大型活动",
            "Large event",
            (
                FieldSpec("beneficiary", "主办方", "Organiser", required=True),
                FieldSpec("event_name", "活动名称", "Event", required=True),
                FieldSpec("event_type", "活动类型", "Type (conference, exhibition, sports…)"),
                FieldSpec("dates", "举办日期", "Dates", required=True),
                FieldSpec("venue", "举办地点", "Venue"),
                FieldSpec("footprint_energy_kg", "能源排放", "Energy (kgCO2e)", integer=True),
                FieldSpec("footprint_travel_kg", "交通排放", "Travel (kgCO2e)", integer=True),
                FieldSpec("footprint_lodging_kg", "住宿排放", "Lodging (kgCO2e)", integer=True),
                FieldSpec("footprint_catering_kg", "餐饮排放", "Catering (kgCO2e)", integer=True),
                FieldSpec("footprint_materials_kg", "物料排放", "Materials (kgCO2e)", integer=True),
                FieldSpec("footprint_waste_kg", "废弃物排放", "Waste (kgCO2e)", integer=True),
                FieldSpec("evaluation_mode", "评价方式", "Evaluation (self-declared / third party)"),
                REPORT,
            ),
            footprint=True,
        ),
        _subject("Organisation", "组织", "Organisation", "组织名称", "Organisation"),
        _subject("Product", "产品", "Product", "产品", "Product"),
        _subject("Building", "建筑", "Building", "建筑", "Building"),
        _subject("Region", "区域", "Region", "区域", "Region"),
        ScenarioSpec(
            "TreePlantingDuty",
            "碳汇+全民义务植树",
            "Tree-planting duty",
            (
                PERSON,
                FieldSpec("id_number", "身份证号", "ID number", personal=True),
                FieldSpec("id_masked", "身份证号（掩码）", "ID number (masked)"),
                FieldSpec("year", "尽责年度", "Year", required=True, integer=True),
            ),
            trees=True,
        ),
        ScenarioSpec(
            "EcologicalJustice",
            "碳汇+生态司法",
            "Ecological justice (alternative restoration)",
            (
                FieldSpec("beneficiary", "赔偿义务人", "Liable party", personal=True, required=True),
                FieldSpec("court", "法院", "Court", required=True),
                FieldSpec("case_number", "案号", "Case number", required=True),
                FieldSpec("judgment_date", "裁判日期", "Judgment date"),
                FieldSpec("damage_yuan", "损害赔偿金额（元）", "Damages (yuan)", integer=True),
                FieldSpec("unit_price_yuan_per_t", "单价（元/吨）", "Unit price (yuan per tonne)", integer=True),
            ),
            damages=True,
            addressee="court",
        ),
        ScenarioSpec(
            "Personal",
            "个人碳账户",
            "Personal footprint",
            (
                PERSON,
                FieldSpec("account", "碳账户", "Carbon account", personal=True),
                FieldSpec("activities", "活动（衣食住行用）", "Activities"),
                # a person's report describes their life: hidden and sealed unless they disclose it
                FieldSpec(REPORT.name, REPORT.zh, REPORT.en, personal=True),
            ),
            footprint=True,
        ),
        ScenarioSpec(
            "Voluntary",
            "自愿注销",
            "Voluntary",
            (
                PERSON,
                FieldSpec("message", "留言", "Message"),
            ),
        ),
    )
}

# the contract's Scenario enum (chain/types.py) in the certificate format's spelling: LARGE_EVENT → LargeEvent
ORDER = tuple("".join(word.capitalize() for word in member.name.split("_")) for member in Scenario)
BY_ENUM_NAME = {enum_name(Scenario, member): key for member, key in zip(Scenario, ORDER)}  # the mirror's "large_event"
assert set(ORDER) == set(SCENARIOS), "every contract scenario has its certificate fields"


def scenario(key: str) -> ScenarioSpec:
    normalised = key.replace("-", "").replace("_", "").lower()
    for spec in SCENARIOS.values():
        if spec.key.lower() == normalised:
            return spec
    raise ValueError(f"unknown scenario {key!r}; one of {', '.join(ORDER)}")
