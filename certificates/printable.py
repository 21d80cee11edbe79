"""Where a certificate document becomes what the printable certificate shows (certificates.render)."""

from __future__ import annotations

from typing import Any

from certificates.document import statement, tonnes
from certificates.render.breakdown import disclosed_breakdown, rule_of
from certificates.render.view import CertificateView, PrintedField, PrintedRetirement
from certificates.scenarios import scenario

HIDDEN = "（未公开）/ (not disclosed)"


def _ranges(ranges: list[list[int]]) -> str:
    return "; ".join(f"{a}–{b}" if a != b else str(a) for a, b in ranges)


def certificate_view(doc: dict[str, Any], verify_url: str) -> CertificateView:
    body, disclosed, proof = doc["certificate"], doc.get("disclosed", {}), doc.get("proof")
    spec = scenario(body["scenario"])
    title_zh, title_en, statement_zh, statement_en = statement(spec, body["claim"])
    fields: list[PrintedField] = []
    for f in spec.fields:
        if f.name not in body["fields"]:
            continue
        value = disclosed.get(f.name, {}).get("value")
        fields.append(PrintedField(f.zh, f.en, HIDDEN if value is None else str(value)))
    claim = body["claim"]
    if "footprint_kg" in claim:
        fields.append(PrintedField("碳排放量", "Footprint", f"{tonnes(claim['footprint_kg'])} tCO2e"))
    if "kg_per_tree" in claim:
        fields.append(PrintedField("应尽责植树", "Trees owed", str(claim["trees"])))
        fields.append(PrintedField("折算标准", "Conversion", f"{tonnes(claim['kg_per_tree'])} tCO2e / 株 tree"))
    retirements = [
        PrintedRetirement(
            r["id"],
            f"batch {r['batch_id']}",
            _ranges(r["serial_ranges"]),
            r["amount_kg"],
            r["tx_hash"],
            r["block_number"],
        )
        for r in body["retirements"]
    ]
    if proof:
        log = (
            f"leaf {proof['leaf_index']} of tree {proof['tree_size']}, root 0x{proof['root']}, anchored in tx "
            f"{proof['anchor']['tx_hash']} (block {proof['anchor']['block_number']})"
        )
    else:
        log = "等待锚定 awaiting anchoring"
    issuer = body["issuer"]
    return CertificateView(
        certificate_id=body["id"],
        scenario_zh=spec.zh,
        scenario_en=spec.en,
        title_zh=title_zh,
        title_en=title_en,
        statement_zh=statement_zh,
        statement_en=statement_en,
        quantity_t=f"{tonnes(claim['quantity_kg'])} tCO2e",
        fields=fields,
        retirements=retirements,
        issued_at=body["issued_at"],
        issuer=issuer["name"],
        chain=f"chain {issuer['chain_id']}, contract {issuer['registry']}",
        log=log,
        verify_url=verify_url,
        revoked="revocation" in doc,
        breakdown=disclosed_breakdown(doc),
        rule=rule_of(claim),
    )
