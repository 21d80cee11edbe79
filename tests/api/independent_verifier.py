"""An independent verifier of `sichuan-ccw/1` certificate documents.

Written from docs/certificate-format.md alone (no code of the implementation under test was read
or imported), with the Python standard library only. Where the specification leaves something
open, the reading taken here is marked "READING:" with the section it concerns.

    python tests/api/independent_verifier.py FILE --rpc URL --registry ADDRESS

prints the verdict and the checks that failed; the exit code is 0 only for "valid".
"""

from __future__ import annotations

import argparse
import csv
import decimal
import fractions
import hashlib
import json
import math
import re
import sys
import urllib.request
from typing import Any

FORMAT = "sichuan-ccw/1"
# §8: the contract's enum order
SCENARIO_ORDER = [
    "LargeEvent",
    "Organisation",
    "Product",
    "Building",
    "Region",
    "TreePlantingDuty",
    "EcologicalJustice",
    "Personal",
    "Voluntary",
]
CHECKS = ["format", "issuer", "fields", "claim", "beneficiary", "inclusion", "anchor", "retirements", "revocation"]

# §8: selectors and topic, as given by the specification (tests re-derive them with keccak-256)
SEL_ANCHORED_ROOT = "061c4a74"  # anchoredRoot(uint256)
SEL_REGISTRY = "7b103999"  # registry()
SEL_REVOKED_AT = "098787ce"  # revokedAt(bytes32)
TOPIC_CREDITS_RETIRED = "0x9aa2912b82e3e74edecf00e5e52093bdcaa6d7d1561f1f2cb4a3e38b766b3839"

# §5, in the contract's enum order (§8)
SCENARIOS: dict[str, tuple[set[str], set[str]]] = {
    "LargeEvent": (
        {
            "beneficiary",
            "event_name",
            "event_type",
            "dates",
            "venue",
            "footprint_energy_kg",
            "footprint_travel_kg",
            "footprint_lodging_kg",
            "footprint_catering_kg",
            "footprint_materials_kg",
            "footprint_waste_kg",
            "evaluation_mode",
            "footprint_report_sha256",
        },
        {"quantity_kg", "footprint_kg", "carbon_neutral"},
    ),
    **{
        name: (
            {"beneficiary", "subject", "period", "standard", "footprint_report_sha256"},
            {"quantity_kg", "footprint_kg", "carbon_neutral"},
        )
        for name in ("Organisation", "Product", "Building", "Region")
    },
    "TreePlantingDuty": (
        {"beneficiary", "id_number", "id_masked", "year"},
        {"quantity_kg", "trees", "kg_per_tree", "duty_kg", "duty_fulfilled"},
    ),
    "EcologicalJustice": (
        {"beneficiary", "court", "case_number", "judgment_date", "damage_yuan", "unit_price_yuan_per_t"},
        {"quantity_kg"},
    ),
    "Personal": (
        {"beneficiary", "account", "activities", "footprint_report_sha256"},
        {"quantity_kg", "footprint_kg", "carbon_neutral"},
    ),
    "Voluntary": ({"beneficiary", "message"}, {"quantity_kg"}),
}

# §5.1: footprint reports
REPORT_FORMAT = "ledger-footprint-report/1"
REPORT_SUBJECT = {
    "LargeEvent": "event",
    "Organisation": "organisation",
    "Product": "product",
    "Building": "building",
    "Region": "organisation",
    "Personal": "person",
}
REPORT_SOURCES = {
    "footprint_energy_kg": {"fuel-stationary", "fuel-mobile", "electricity-heat"},
    "footprint_travel_kg": {"travel"},
    "footprint_lodging_kg": {"lodging"},
    "footprint_catering_kg": {"catering"},
    "footprint_materials_kg": {"materials"},
    "footprint_waste_kg": {"waste"},
}
DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
# §5.2: a claim converted by a published rule carries these keys instead
RULE_CLAIM_KEYS = {
    "TreePlantingDuty": {"quantity_kg", "trees", "kg_per_tree", "duty_kg", "duty_fulfilled", "rule"},
    "EcologicalJustice": {
        "quantity_kg",
        "damages_yuan",
        "price_yuan",
        "price_tonnes",
        "obligation_kg",
        "obligation_fulfilled",
        "rule",
    },
}
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_INT = 2**53 - 1  # §2
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


class CheckFailed(Exception):
    pass


def require(condition: Any, why: str) -> None:
    if not condition:
        raise CheckFailed(why)


def is_int(v: Any) -> bool:
    """A JSON integer (a Python bool is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------- §2 canonical JSON and hashes


def canonical(v: Any) -> bytes:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sha256hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def has_float(v: Any) -> bool:
    if isinstance(v, float):
        return True
    if isinstance(v, dict):
        return any(has_float(x) for x in v.values())
    if isinstance(v, list):
        return any(has_float(x) for x in v)
    return False


def commitment(name: str, value: Any, salt: str) -> str:
    """§4."""
    return sha256hex(canonical({"field": name, "salt": salt, "value": value}))


def leaf_hash(body: dict[str, Any]) -> bytes:
    """§6."""
    return hashlib.sha256(b"\x00" + canonical({"type": "certificate", "certificate": body})).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """§7, RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# ---------------------------------------------------------------- JSON-RPC


class Rpc:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url, self.timeout, self._id = url, timeout, 0

    def call(self, method: str, params: list[Any]) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            reply = json.loads(response.read())
        if reply.get("error") is not None:
            raise CheckFailed(f"{method}: {reply['error']}")
        return reply.get("result")

    def eth_call(self, to: str, data: str) -> bytes:
        result = self.call("eth_call", [{"to": to, "data": data}, "latest"])
        require(isinstance(result, str) and result.startswith("0x"), f"eth_call returned {result!r}")
        return bytes.fromhex(result[2:])


def word(n: int) -> str:
    return f"{n:064x}"


# ---------------------------------------------------------------- the checks


def load_rules(directory: str) -> dict[str, dict[str, dict[str, str]]]:
    """§5.2: the published rule tables ("tree_duty.csv", "damages.csv"), by kind, then id@version."""
    rules: dict[str, dict[str, dict[str, str]]] = {}
    for kind, name in (("tree", "tree_duty.csv"), ("damages", "damages.csv")):
        with open(f"{directory}/{name}", encoding="utf-8", newline="") as f:
            rows = [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]
        rules[kind] = {f"{row['id']}@{row['version']}": row for row in rows}
    return rules


class Verifier:
    def __init__(
        self, document: dict[str, Any], rpc_url: str, registry: str, rules: dict[str, Any] | None = None
    ) -> None:
        self.doc = document
        self.rules = rules  # §5.2: the published rules this verifier knows, or None
        self.rpc = Rpc(rpc_url)
        self.registry = registry
        self.notes: dict[str, str] = {}
        self.unreadable = False
        self._chain_id: int | None = None

    # helpers
    @property
    def body(self) -> dict[str, Any]:
        body = self.doc.get("certificate") if isinstance(self.doc, dict) else None
        require(isinstance(body, dict), "no certificate body")
        return body

    @property
    def proof(self) -> dict[str, Any]:
        proof = self.doc.get("proof")
        # §9: a null proof fails inclusion and anchor; the verdict is "pending" if nothing else fails
        require(isinstance(proof, dict), "proof is null: not yet verifiable")
        return proof

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.rpc.call("eth_chainId", []), 16)
        return self._chain_id

    def retirements_list(self) -> list[dict[str, Any]]:
        rs = self.body.get("retirements")
        require(isinstance(rs, list) and all(isinstance(r, dict) for r in rs), "retirements is not a list of objects")
        return rs

    # checks
    def check_format(self) -> None:
        doc = self.doc
        require(isinstance(doc, dict), "document is not an object")
        require(doc.get("format") == FORMAT, "document format")
        body = self.body
        require(body.get("format") == FORMAT, "certificate format")
        # §2: no floats in the body or the openings
        require(
            not has_float(doc.get("certificate")) and not has_float(doc.get("disclosed")),
            "floating-point number in the certificate or its openings",
        )
        issuer = body.get("issuer")
        require(isinstance(issuer, dict), "issuer")
        require(isinstance(issuer.get("name"), str), "issuer.name")
        require(is_int(issuer.get("chain_id")), "issuer.chain_id")
        require(isinstance(issuer.get("registry"), str) and ADDRESS.fullmatch(issuer["registry"]), "issuer.registry")
        require(
            isinstance(issuer.get("revocations"), str) and ADDRESS.fullmatch(issuer["revocations"]),
            "issuer.revocations",
        )
        # §3: id = SCCW-<chain id>-<six-digit number>
        require(
            isinstance(body.get("id"), str) and re.fullmatch(rf"SCCW-{issuer['chain_id']}-\d{{6}}", body["id"]),
            "certificate id",
        )
        # §5: the scenario is one of the table; READING: its fields are a subset of the table's row
        require(body.get("scenario") in SCENARIOS, "unknown scenario")
        allowed_fields, _ = SCENARIOS[body["scenario"]]
        fields = body.get("fields")
        require(isinstance(fields, dict), "fields")
        require(set(fields) <= allowed_fields, f"fields not of the scenario: {set(fields) - allowed_fields}")
        require(
            all(isinstance(v, str) and HEX64.fullmatch(v) for v in fields.values()),
            "field commitments must be 64 lowercase hex digits",
        )
        require(isinstance(body.get("claim"), dict), "claim")
        self.retirements_list()
        disclosed = doc.get("disclosed", {})
        require(isinstance(disclosed, dict), "disclosed")
        # §3: `proof` is null (not anchored yet) or the shape shown; absent, the document is cut short
        require("proof" in doc, "no proof member")
        proof = doc["proof"]
        if proof is not None:
            require(isinstance(proof, dict), "proof")
            for key in ("leaf_index", "tree_size"):
                require(is_int(proof.get(key)) and 0 <= proof[key] <= MAX_INT, f"proof.{key}")
            require(isinstance(proof.get("root"), str) and HEX64.fullmatch(proof["root"]), "proof.root")
            require(
                isinstance(proof.get("inclusion"), list)
                and all(isinstance(p, str) and HEX64.fullmatch(p) for p in proof["inclusion"]),
                "proof.inclusion",
            )

    def check_issuer(self) -> None:
        issuer = self.body["issuer"]
        require(is_int(issuer.get("chain_id")) and self.chain_id() == issuer["chain_id"], "chain id")
        require(
            isinstance(issuer.get("registry"), str) and issuer["registry"].lower() == self.registry.lower(),
            "registry is not the trusted one",
        )

    def check_fields(self) -> None:
        fields = self.body.get("fields")
        require(isinstance(fields, dict), "fields")
        disclosed = self.doc.get("disclosed", {})  # READING (§3): a missing `disclosed` = all hidden
        require(isinstance(disclosed, dict), "disclosed")
        for name, opening in disclosed.items():
            # §4: an opening is exactly {"value", "salt"}
            require(isinstance(opening, dict) and set(opening) == {"value", "salt"}, f"opening of {name}")
            value, salt = opening["value"], opening["salt"]
            # §4: a string, or an integer for numeric fields
            require(isinstance(value, str) or is_int(value), f"value of {name} is neither string nor integer")
            require(isinstance(salt, str), f"salt of {name}")
            require(name in fields, f"{name} disclosed but not committed")
            require(fields[name] == commitment(name, value, salt), f"{name} does not open its commitment")
        if "footprint_report" in self.doc:
            # §5.1: the report carried must be the one the opened footprint_report_sha256 commits to
            report = self.doc["footprint_report"]
            opening = disclosed.get("footprint_report_sha256")
            require(isinstance(opening, dict), "a footprint report without its hash opened")
            require(not has_float(report), "floating-point number in the footprint report")
            require(sha256hex(canonical(report)) == opening["value"], "the footprint report is not the committed one")

    def check_claim(self) -> None:
        claim = self.body.get("claim")
        require(isinstance(claim, dict), "claim")
        _, claim_keys = SCENARIOS.get(self.body.get("scenario"), (set(), set()))
        # §5: the claim has exactly the scenario's keys
        with_rule = RULE_CLAIM_KEYS.get(self.body.get("scenario"))
        require(
            set(claim) == claim_keys or set(claim) == with_rule,
            f"claim keys are not the scenario's: {set(claim) ^ claim_keys}",
        )
        amounts = [r.get("amount_kg") for r in self.retirements_list()]
        require(all(is_int(a) for a in amounts), "amount_kg")
        total = sum(amounts)
        if "allocation" in self.body:  # docs/offsets.md: a person's share of one aggregated retirement
            leaf = self.body["allocation"].get("leaf") if isinstance(self.body["allocation"], dict) else None
            require(isinstance(leaf, dict) and is_int(leaf.get("kg")), "allocation kg")
            total = leaf["kg"]
        require(is_int(claim.get("quantity_kg")) and claim["quantity_kg"] == total, "quantity_kg != R")
        if "carbon_neutral" in claim:
            require(is_int(claim.get("footprint_kg")) and claim["footprint_kg"] > 0, "footprint_kg")
            require(isinstance(claim["carbon_neutral"], bool), "carbon_neutral is not a boolean")
            require(claim["carbon_neutral"] == (total >= claim["footprint_kg"]), "carbon_neutral")
        if "duty_fulfilled" in claim:
            for key in ("duty_kg", "trees", "kg_per_tree"):
                require(is_int(claim.get(key)), key)
            require(claim["trees"] > 0 and claim["kg_per_tree"] > 0, "trees and kg_per_tree must be positive")
            require(isinstance(claim["duty_fulfilled"], bool), "duty_fulfilled is not a boolean")
            require(claim["duty_kg"] == claim["trees"] * claim["kg_per_tree"], "duty_kg")
            require(claim["duty_fulfilled"] == (total >= claim["duty_kg"]), "duty_fulfilled")
        if "obligation_fulfilled" in claim:
            terms = [claim.get(k) for k in ("damages_yuan", "price_tonnes", "price_yuan")]
            require(all(isinstance(t, str) and DECIMAL.fullmatch(t) for t in terms), "damages terms are not decimals")
            damages, tonnes, price = (fractions.Fraction(t) for t in terms)
            require(damages > 0 and tonnes > 0 and price > 0, "damages terms must be above 0")
            owed = claim.get("obligation_kg")
            # §5.2: ⌈damages × price_tonnes × 1000 ÷ price_yuan⌉, exactly
            require(is_int(owed) and owed == math.ceil(damages * tonnes * 1000 / price), "obligation_kg")
            require(isinstance(claim["obligation_fulfilled"], bool), "obligation_fulfilled is not a boolean")
            require(claim["obligation_fulfilled"] == (total >= owed), "obligation_fulfilled")
        if "rule" in claim:
            self.check_rule(claim)
        if "footprint_report" in self.doc:
            self.check_report(claim)

    def check_rule(self, claim: dict[str, Any]) -> None:
        """§5.2: the rule member's shape; against a published rule this verifier knows, its row hash and rate."""
        rule = claim["rule"]
        require(
            isinstance(rule, dict) and set(rule) == {"id", "version", "sha256"}, "rule is not {id, version, sha256}"
        )
        require(isinstance(rule["id"], str) and rule["id"] and "@" not in rule["id"], "rule.id")
        require(is_int(rule["version"]) and rule["version"] > 0, "rule.version")
        require(isinstance(rule["sha256"], str) and HEX64.fullmatch(rule["sha256"]), "rule.sha256")
        if self.rules is None:
            return
        kind = "tree" if "duty_kg" in claim else "damages"
        row = self.rules[kind].get(f"{rule['id']}@{rule['version']}")
        if row is None:  # READING (§5.2): a rule this verifier does not know leaves the arithmetic alone checked
            return
        hashed = {k: v for k, v in row.items() if k != "superseded_by"}
        require(sha256hex(canonical(hashed)) == rule["sha256"], "the rule's hash is not the published row's")
        if kind == "tree":
            require(decimal.Decimal(row["kgco2e_per_tree"]) == claim["kg_per_tree"], "kg_per_tree is not the rule's")
        else:
            for key in ("price_yuan", "price_tonnes"):
                require(decimal.Decimal(row[key]) == decimal.Decimal(claim[key]), f"{key} is not the rule's")

    def check_report(self, claim: dict[str, Any]) -> None:
        """§5.1: the report's arithmetic, and the claim's footprint and disclosed sources as its sums."""
        report = self.doc["footprint_report"]
        require(isinstance(report, dict) and report.get("format") == REPORT_FORMAT, "footprint report format")
        require(report.get("subject") == REPORT_SUBJECT.get(self.body.get("scenario")), "footprint report subject")
        lines = report.get("lines")
        require(isinstance(lines, list) and lines and all(isinstance(x, dict) for x in lines), "report lines")
        by_category: dict[str, int] = {}
        for i, line in enumerate(lines):
            factor = line.get("factor")
            require(isinstance(factor, dict), f"report line {i}: factor")
            texts = [line.get("factor_quantity"), factor.get("kgco2e_per_unit"), line.get("multiplier")]
            texts.append(line.get("exact_kgco2e"))
            require(all(isinstance(t, str) and DECIMAL.fullmatch(t) for t in texts), f"report line {i}: decimals")
            kg, category = line.get("kgco2e"), line.get("category")
            require(is_int(kg) and kg >= 0 and isinstance(category, str), f"report line {i}: kgco2e, category")
            q, f, m, exact = (decimal.Decimal(t) for t in texts)
            with decimal.localcontext() as ctx:
                ctx.prec = sum(len(x.as_tuple().digits) for x in (q, f, m)) + 2  # enough for the exact product
                require(q * f * m == exact, f"report line {i}: exact_kgco2e is not the product")
                require(exact.to_integral_value(rounding=decimal.ROUND_CEILING) == kg, f"report line {i}: rounding")
            by_category[category] = by_category.get(category, 0) + kg
        total = sum(by_category.values())
        require(report.get("total_kgco2e") == total, "report total is not the sum of its lines")
        categories = report.get("categories")
        require(isinstance(categories, list) and all(isinstance(c, dict) for c in categories), "report categories")
        require(len(categories) == len(by_category), "report categories")
        require(all(by_category.get(c.get("category")) == c.get("kgco2e") for c in categories), "report categories")
        require(claim.get("footprint_kg") == total, "the claim's footprint is not the report's total")
        if self.body.get("scenario") == "LargeEvent":
            disclosed = self.doc.get("disclosed", {})
            for name, cats in REPORT_SOURCES.items():
                if name in disclosed:
                    expected = sum(kg for c, kg in by_category.items() if c in cats)
                    require(disclosed[name].get("value") == expected, f"{name} is not the report's")

    def check_beneficiary(self) -> None:
        fields = self.body.get("fields")
        require(isinstance(fields, dict) and isinstance(fields.get("beneficiary"), str), "no beneficiary field")
        for r in self.retirements_list():
            require(r.get("beneficiary_commitment") == "0x" + fields["beneficiary"], "beneficiary commitment")

    def check_inclusion(self) -> None:
        proof = self.proof
        index, size, path, root = (proof.get(k) for k in ("leaf_index", "tree_size", "inclusion", "root"))
        require(is_int(index) and is_int(size) and index >= 0 and size >= 0, "leaf_index / tree_size")
        require(
            isinstance(path, list) and all(isinstance(p, str) and HEX64.fullmatch(p) for p in path), "inclusion path"
        )
        require(isinstance(root, str) and HEX64.fullmatch(root), "root")
        require(
            verify_inclusion(leaf_hash(self.body), index, size, [bytes.fromhex(p) for p in path], bytes.fromhex(root)),
            "inclusion proof does not lead to the root",
        )

    def check_anchor(self) -> None:
        proof = self.proof
        size, root = proof.get("tree_size"), proof.get("root")
        require(is_int(size) and 0 <= size < 2**256, "tree_size")
        require(isinstance(root, str) and HEX64.fullmatch(root), "root")
        anchored = self.rpc.eth_call(self.registry, "0x" + SEL_ANCHORED_ROOT + word(size))
        require(len(anchored) == 32, "anchoredRoot did not return a bytes32")
        require(anchored != bytes(32), "tree size never anchored")
        require(anchored.hex() == root, "anchored root differs")

    def case_claim_hash(self) -> str | None:
        """§5.2: the claim hash a court order's retirements carry, recomputed from the disclosed case and
        the claim; None for another claim, or (noted) when the case is committed but not disclosed."""
        body, claim = self.body, self.body.get("claim")
        if body.get("scenario") != "EcologicalJustice" or not isinstance(claim, dict):
            return None
        if "obligation_kg" not in claim or "rule" not in claim:
            return None  # §5.2: a claim without a rule states no case reference
        fields = body.get("fields") if isinstance(body.get("fields"), dict) else {}
        disclosed = self.doc.get("disclosed", {})
        reference: dict[str, Any] = {"format": "ledger-court-case-reference/1"}
        hidden = []
        for name in ("court", "case_number", "judgment_date"):
            opening = disclosed.get(name) if isinstance(disclosed, dict) else None
            if isinstance(opening, dict) and "value" in opening:
                reference[name] = opening["value"]
            elif name in fields:
                hidden.append(name)
            else:
                reference[name] = None  # READING (§5.2): a field the certificate does not commit to is null
        if hidden:
            self.notes["retirements"] = f"the case reference could not be compared (hidden fields: {', '.join(hidden)})"
            return None
        reference.update({k: claim.get(k) for k in ("damages_yuan", "rule", "obligation_kg")})
        require(not has_float(reference), "the case reference holds a float")
        return "0x" + sha256hex(canonical(reference))

    def check_retirements(self) -> None:
        retirements = self.retirements_list()
        # READING (§1, §5): a certificate states that something was retired: at least one retirement
        require(len(retirements) >= 1, "no retirement")
        case_hash = self.case_claim_hash()
        seen: set[tuple[str, int]] = set()
        chain_id = self.chain_id()
        for r in retirements:
            ranges = r.get("serial_ranges")
            require(isinstance(ranges, list), "serial_ranges")
            total = 0
            for rng in ranges:
                require(isinstance(rng, list) and len(rng) == 2 and all(is_int(x) for x in rng), "serial range")
                first, last = rng
                require(first <= last, "serial range first > last")
                total += last - first + 1
            require(is_int(r.get("amount_kg")) and total == r["amount_kg"], "serials do not sum to amount_kg")
            require(r.get("chain_id") == chain_id and is_int(r.get("chain_id")), "retirement chain id")
            require(
                isinstance(r.get("registry"), str) and r["registry"].lower() == self.registry.lower(),
                "retirement registry",
            )
            tx_hash, log_index = r.get("tx_hash"), r.get("log_index")
            require(isinstance(tx_hash, str) and TX_HASH.fullmatch(tx_hash), "tx_hash")
            require(is_int(log_index) and log_index >= 0, "log_index")
            # READING: the same event listed twice would count twice in R; refuse duplicates
            key = (tx_hash.lower(), log_index)
            require(key not in seen, "retirement listed twice")
            seen.add(key)
            receipt = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            require(isinstance(receipt, dict), "no receipt")
            require(int(receipt.get("status", "0x0"), 16) == 1, "transaction failed")
            logs = [lg for lg in receipt.get("logs", []) if int(lg.get("logIndex", "-0x1"), 16) == log_index]
            require(len(logs) == 1, "no log with that index")
            log = logs[0]
            require(not log.get("removed", False), "log removed")
            require(log.get("address", "").lower() == self.registry.lower(), "log not emitted by the registry")
            topics = log.get("topics", [])
            require(len(topics) == 4 and topics[0].lower() == TOPIC_CREDITS_RETIRED, "not a CreditsRetired event")
            data = bytes.fromhex(log.get("data", "0x")[2:])
            require(len(data) == 5 * 32, "CreditsRetired data is not five words")
            batch_id = int(topics[1], 16)
            holder = "0x" + topics[2][-40:].lower()
            amount = int.from_bytes(data[0:32], "big")
            beneficiary_commitment = "0x" + data[64:96].hex()
            scenario_index = int.from_bytes(data[32:64], "big")
            require(
                scenario_index < len(SCENARIO_ORDER) and SCENARIO_ORDER[scenario_index] == self.body.get("scenario"),
                "scenario",
            )
            require(is_int(r.get("batch_id")) and r["batch_id"] == batch_id, "batch id")
            require(isinstance(r.get("holder"), str) and r["holder"].lower() == holder, "holder")
            require(amount == r["amount_kg"], "amount")
            require(
                isinstance(r.get("beneficiary_commitment"), str)
                and r["beneficiary_commitment"].lower() == beneficiary_commitment,
                "beneficiary commitment",
            )
            # §5.2: a court order's retirement commits, by its claim hash (the fourth word), to the case
            require(
                case_hash is None or "0x" + data[96:128].hex() == case_hash,
                f"{tx_hash}#{log_index}: the claim hash does not commit to the disclosed case",
            )
            if "allocation" in self.body:
                self.check_allocation(data[96:128], ranges)

    def check_allocation(self, claim_hash: bytes, ranges: list[list[int]]) -> None:
        """docs/offsets.md §4, from that page alone: the person's leaf, inside the retired serials,
        hashed up its RFC 9162 path to the claim hash of the retirement event."""
        require(
            self.body.get("scenario") == "Personal" and len(self.retirements_list()) == 1, "allocation (allocation)"
        )
        allocation = self.body["allocation"]
        require(isinstance(allocation, dict) and set(allocation) == {"leaf", "proof"}, "allocation (allocation)")
        leaf, proof = allocation["leaf"], allocation["proof"]
        keys = {"account_commitment", "kg", "serial_first", "serial_last", "purchase_id"}
        require(isinstance(leaf, dict) and set(leaf) == keys, "allocation (allocation)")
        require(isinstance(leaf["purchase_id"], str) and 0 < len(leaf["purchase_id"]) <= 64, "allocation (allocation)")
        account = leaf["account_commitment"]
        require(
            isinstance(account, str) and HEX64.fullmatch(account) and account == self.body["fields"].get("account"),
            "allocation (account commitment)",
        )
        kg, first, last = leaf["kg"], leaf["serial_first"], leaf["serial_last"]
        require(is_int(kg) and kg > 0 and is_int(first) and is_int(last), "allocation (kilograms)")
        require(0 <= first <= last and last - first + 1 == kg, "allocation (kilograms)")
        require(any(a <= first and last <= b for a, b in ranges), "allocation (serials)")
        require(
            isinstance(proof, dict)
            and set(proof) == {"index", "size", "path"}
            and is_int(proof["index"])
            and is_int(proof["size"])
            and isinstance(proof["path"], list)
            and all(isinstance(h, str) and HEX64.fullmatch(h) for h in proof["path"]),
            "allocation (sibling hashes)",
        )
        start = hashlib.sha256(b"\x00" + canonical(leaf)).digest()
        path = [bytes.fromhex(h) for h in proof["path"]]
        require(verify_inclusion(start, proof["index"], proof["size"], path, claim_hash), "allocation (sibling hashes)")

    def check_revocation(self) -> None:
        issuer = self.body.get("issuer")
        revocations = issuer.get("revocations") if isinstance(issuer, dict) else None
        require(isinstance(revocations, str) and ADDRESS.fullmatch(revocations), "revocations address")
        # fail closed: a list that is not the trusted registry's counts as revoked
        owner = self.rpc.eth_call(revocations, "0x" + SEL_REGISTRY)
        if not (len(owner) == 32 and owner[:12] == bytes(12) and "0x" + owner[12:].hex() == self.registry.lower()):
            self.unreadable = True  # §8: a list not governed by the trusted registry: invalid, not revoked
            raise CheckFailed("revocation list of another registry")
        at = self.rpc.eth_call(revocations, "0x" + SEL_REVOKED_AT + leaf_hash(self.body).hex())
        require(len(at) == 32, "revokedAt did not return a word")
        revoked_at = int.from_bytes(at, "big")
        require(revoked_at == 0, f"revoked at block {revoked_at}")

    def run(self) -> dict[str, Any]:
        checks: dict[str, bool] = {}
        for name in CHECKS:
            try:
                getattr(self, f"check_{name}")()
                checks[name] = True
            except Exception as e:
                checks[name] = False
                self.notes[name] = f"{type(e).__name__}: {e}" if not isinstance(e, CheckFailed) else str(e)
        failed = [n for n in CHECKS if not checks[n]]
        if not failed:
            verdict = "valid"
        elif failed == ["revocation"] and not self.unreadable:
            verdict = "revoked"
        elif self.doc.get("proof") is None and set(failed) <= {"inclusion", "anchor"}:
            verdict = "pending"
        else:
            verdict = "invalid"
        return {"verdict": verdict, "failed": failed, "checks": checks, "notes": self.notes}


def verify(document: dict, rpc_url: str, registry: str, rules_dir: str | None = None) -> dict:
    return Verifier(document, rpc_url, registry, load_rules(rules_dir) if rules_dir else None).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="the certificate document (a file, or an http(s) URL)")
    parser.add_argument("--rpc", required=True, help="Ethereum JSON-RPC URL of the registry's chain")
    parser.add_argument("--registry", required=True, help="the trusted registry contract address")
    parser.add_argument(
        "--rules", help="a directory of the published rule tables (§5.2) to check claims' rules against"
    )
    args = parser.parse_args(argv)
    if args.file.startswith(("http://", "https://")):
        with urllib.request.urlopen(args.file, timeout=30) as response:
            document = json.loads(response.read())
    else:
        with open(args.file, encoding="utf-8") as f:
            document = json.load(f)
    result = verify(document, args.rpc, args.registry, args.rules)
    print(result["verdict"])
    for name in result["failed"]:
        note = result["notes"].get(name, "").encode("utf-8", "backslashreplace").decode()  # a lone surrogate, escaped
        print(f"  failed: {name}: {note}")
    return 0 if result["verdict"] == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
