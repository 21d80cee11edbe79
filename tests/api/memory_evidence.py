"""Certificate documents built in memory with the project's own document functions, and an Evidence
that answers from a dict: the verifier's checks tested one by one, without a node or a database.

`sealed(...)` builds a document the way the issuer does (certificates/issuer.py): commitments,
claim, body, a log of a few leaves with the certificate among them, the inclusion proof, and the
evidence that has the root anchored and the retirements on chain. `reseal(doc)` recomputes the proof
and the evidence after a test changed the body, so only the check the change concerns can fail."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from certificates.document import FORMAT, field_commitment, iso_utc, leaf_hash, make_claim
from certificates.scenarios import SCENARIOS
from certificates.verify import EvidenceError, OnChainRetirement
from chain import rfc9162

CHAIN_ID = 31337
REGISTRY = "0xE7f1725E7734CE288F8367e1Bb143E90bb3F0512"  # EIP-55, as the issuer writes it
REVOCATIONS = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
HOLDER = "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65"
OTHER_LEAVES = [rfc9162.leaf_hash(f"entry {i}".encode()) for i in range(5)]
LEAF_INDEX = 3  # the certificate's place among OTHER_LEAVES: a tree of 6, so the path has 3 nodes

# (fields, make_claim keyword arguments, kg per retirement) per scenario: every scenario certifies
EXAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any], list[int]]] = {
    "LargeEvent": (
        {"beneficiary": "成都会展集团", "event_name": "论坛", "dates": "2026-05-01", "footprint_travel_kg": 900},
        {"footprint_kg": 1_200},
        [1_000, 250],
    ),
    "Organisation": (
        {"beneficiary": "雅安茶业有限公司", "subject": "雅安茶业", "period": "2025"},
        {"footprint_kg": 1_000},
        [800],
    ),
    "Product": ({"beneficiary": "某公司", "subject": "茶叶"}, {"footprint_kg": 10}, [10]),
    "Building": ({"beneficiary": "某公司", "subject": "大楼"}, {"footprint_kg": 10}, [10]),
    "Region": ({"beneficiary": "某区", "subject": "某区"}, {"footprint_kg": 10}, [11]),
    "TreePlantingDuty": (
        {"beneficiary": "张三丰", "id_number": "510104199001011234", "year": 2026},
        {"trees": 3, "kg_per_tree": 400},
        [1_200],
    ),
    "EcologicalJustice": (
        {
            "beneficiary": "李四光",
            "court": "雅安市中级人民法院",
            "case_number": "（2026）川18民初12号",
            "damage_yuan": 120_000,
        },
        {},
        [2_000],
    ),
    "Personal": ({"beneficiary": "王小明", "account": "acct-8841", "activities": "出行"}, {"footprint_kg": 5}, [5]),
    "Voluntary": ({"beneficiary": "赵敏", "message": "为了绿水青山"}, {}, [10]),
}


def salt_of(name: str) -> str:
    """A fixed salt per field (32 hex digits), so documents are reproducible."""
    return f"{sum(map(ord, name)):032x}"


@dataclass
class MemoryEvidence:
    """The Evidence protocol of certificates/verify.py, answered from dicts. A method named in
    `unreadable` raises EvidenceError, as ChainEvidence does when the node cannot be read."""

    roots: dict[int, str] = field(default_factory=dict)
    on_chain: dict[tuple[str, int], OnChainRetirement] = field(default_factory=dict)
    revoked_leaves: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)
    registry: str = REGISTRY.lower()
    source: str = "memory"
    _chain_id: int = CHAIN_ID

    @property
    def chain_id(self) -> int:
        self._fail("chain_id")
        return self._chain_id

    def _fail(self, what: str) -> None:
        if what in self.unreadable:
            raise EvidenceError(f"{what}: the test made it unreadable")

    def anchored_root(self, tree_size: int) -> str | None:
        self._fail("anchored_root")
        return self.roots.get(tree_size)

    def retirement(self, tx_hash: str, log_index: int) -> OnChainRetirement | None:
        self._fail("retirement")
        return self.on_chain.get((tx_hash, log_index))

    def revoked(self, leaf_hash: str) -> bool:
        self._fail("revoked")
        return leaf_hash in self.revoked_leaves


def body_of(scenario: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(body, disclosed) of a certificate of `scenario`, every field disclosed."""
    spec = SCENARIOS[scenario]
    values, claim_args, amounts = EXAMPLES[scenario]
    commitment = field_commitment("beneficiary", values["beneficiary"], salt_of("beneficiary"))
    retirements, serial = [], 1
    for i, kg in enumerate(amounts):
        tx_hash = f"0x{i + 1:064x}"
        retirements.append(
            {
                "id": f"{CHAIN_ID}-{tx_hash}-{i}",
                "chain_id": CHAIN_ID,
                "registry": REGISTRY,
                "tx_hash": tx_hash,
                "log_index": i,
                "block_number": 10 + i,
                "batch_id": 1,
                "holder": HOLDER,
                "amount_kg": kg,
                "beneficiary_commitment": "0x" + commitment,
                "serial_ranges": [[serial, serial + kg - 1]],
            }
        )
        serial += kg
    body = {
        "format": FORMAT,
        "id": f"SCCW-{CHAIN_ID}-000001",
        "scenario": spec.key,
        "issuer": {
            "name": "四川林草碳普惠登记簿",
            "chain_id": CHAIN_ID,
            "registry": REGISTRY,
            "revocations": REVOCATIONS,
        },
        "issued_at": iso_utc(1_795_400_000),
        "claim": make_claim(spec, sum(amounts), **claim_args),
        "fields": {n: field_commitment(n, v, salt_of(n)) for n, v in values.items()},
        "retirements": retirements,
    }
    return body, {n: {"value": v, "salt": salt_of(n)} for n, v in values.items()}


def reseal(doc: dict[str, Any]) -> MemoryEvidence:
    """Give `doc` the proof of its (possibly changed) body in a fresh log, and return the evidence
    that agrees with it: the root anchored, each listed retirement on chain as listed."""
    body = doc["certificate"]
    leaves = OTHER_LEAVES[:LEAF_INDEX] + [leaf_hash(body)] + OTHER_LEAVES[LEAF_INDEX:]
    root = rfc9162.root_of(leaves).hex()
    doc["proof"] = {
        "leaf_index": LEAF_INDEX,
        "tree_size": len(leaves),
        "root": root,
        "inclusion": [p.hex() for p in rfc9162.inclusion_proof(LEAF_INDEX, leaves)],
        "anchor": {"tx_hash": "0x" + "ab" * 32, "block_number": 40},
    }
    on_chain = {
        (r["tx_hash"].lower(), r["log_index"]): OnChainRetirement(
            REGISTRY.lower(),
            r["batch_id"],
            str(r["holder"]).lower(),
            r["amount_kg"],
            r["beneficiary_commitment"],
            r["block_number"],
            copy.deepcopy(r["serial_ranges"]),
            body["scenario"],
        )
        for r in body["retirements"]
    }
    return MemoryEvidence(roots={len(leaves): root}, on_chain=on_chain)


def sealed(scenario: str = "Personal") -> tuple[dict[str, Any], MemoryEvidence]:
    """A valid holder's copy of a `scenario` certificate and the evidence it verifies against."""
    body, disclosed = body_of(scenario)
    doc: dict[str, Any] = {"format": FORMAT, "certificate": body, "disclosed": disclosed}
    return doc, reseal(doc)
