"""What a printable certificate shows: plain, already-formatted strings decided by the caller.

The renderer (certificates.render.pdf) only lays these out; it makes no claims of its own."""

from __future__ import annotations

from dataclasses import dataclass

from certificates.render.breakdown import Breakdown, PrintedRule


@dataclass(frozen=True)
class PrintedField:
    """One labelled line of the scenario's public fields, as printed."""

    label_zh: str
    label_en: str
    value: str


@dataclass(frozen=True)
class PrintedRetirement:
    retirement_id: str  # "<chainId>-<0xtxhash>-<logIndex>"
    batch: str  # batch id / serial prefix
    serials: str  # e.g. "SC-...-000001–000250; ...-000300–000310"
    amount_kg: int
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class CertificateView:
    certificate_id: str  # e.g. "SCCW-31337-000001"
    scenario_zh: str  # e.g. "大型活动"
    scenario_en: str  # e.g. "Large event"
    title_zh: str  # "碳中和见证证书"
    title_en: str  # "Carbon-neutrality witness certificate"
    statement_zh: str  # the claim sentence, decided by the caller
    statement_en: str
    quantity_t: str  # "1.250 tCO2e" (three decimals)
    fields: list[PrintedField]  # public fields; hidden ones carry "（未公开）/ (not disclosed)"
    retirements: list[PrintedRetirement]
    issued_at: str  # ISO 8601
    issuer: str  # registry name
    chain: str  # "chain 31337, contract 0x…"
    log: str  # "leaf 12 of tree 16, root 0x…, anchored in tx 0x… (block 123)" or "awaiting anchoring"
    verify_url: str  # encoded in the QR code and printed under it
    revoked: bool = False  # if true, a clear 已撤销 / REVOKED mark on every page
    breakdown: Breakdown | None = None  # the footprint report's categories, only when the report is disclosed
    rule: PrintedRule | None = None  # the claim's conversion rule, when it carries one
