"""Checking a certificate document. The checks are pure; what they compare against (the anchored
root, the retirement events, the revocation list) comes from an Evidence: the node itself
(`ledger verify --rpc`) or the SQL mirror (the public API, which never calls the node per request).
Every check runs, so a verdict names everything that failed, not just the first thing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from certificates import allocation as allocations
from certificates import claim_rules, court_reference, footprint_report
from certificates.document import FORMAT, claim_errors, field_commitment, leaf_hash
from certificates.origins import origin_problem
from certificates.scenarios import ORDER, SCENARIOS
from chain import rfc9162
from chain.canonical import CanonicalJsonError, printable

HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class OnChainRetirement:
    registry: str  # lowercase
    batch_id: int
    holder: str  # lowercase
    amount: int
    beneficiary_commitment: str  # 0x-hex
    block_number: int
    serial_ranges: list[list[int]] | None = None  # None: this evidence cannot tell
    scenario: str | None = None  # the Scenario's name (scenarios.ORDER), None: this evidence cannot tell
    claim_hash: str | None = None  # 0x + 64 lowercase hex, None: this evidence cannot tell


class EvidenceError(Exception):
    """The evidence could not be read (no node, no contract code, a revert): the check that needed
    it fails, naming why; verification never crashes on it (docs/certificate-format.md §8)."""


class Evidence(Protocol):
    # read-only: the chain's evidence reads its chain id from the node when first asked
    @property
    def chain_id(self) -> int: ...  # may raise EvidenceError when read (a node that does not answer)
    @property
    def registry(self) -> str: ...  # lowercase
    @property
    def source(self) -> str: ...  # "node" | "mirror"

    def anchored_root(self, tree_size: int) -> str | None: ...  # 64 hex digits, or None if never anchored
    def retirement(self, tx_hash: str, log_index: int) -> OnChainRetirement | None: ...
    def revoked(self, leaf_hash: str) -> bool: ...


# name → (zh, en): shown by the API and the verify page
CHECKS: dict[str, tuple[str, str]] = {
    "format": ("文档格式", "Document format"),
    "issuer": ("签发登记簿", "Issuing registry"),
    "fields": ("字段承诺", "Field commitments"),
    "claim": ("声明与数量", "Claim and quantities"),
    "beneficiary": ("受益方承诺与链上一致", "Beneficiary commitment matches the chain"),
    "inclusion": ("透明日志包含证明", "Inclusion in the transparency log"),
    "anchor": ("日志根已上链锚定", "Log root anchored on chain"),
    "retirements": ("链上注销记录", "Retirements on chain"),
    "revocation": ("未被撤销", "Not revoked"),
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    unreadable: bool = False  # failed because the evidence could not be read, not because it disagreed

    def __post_init__(self) -> None:
        # a detail may quote the document, and a document may hold a lone surrogate ("\ud800"),
        # which no UTF-8 response or terminal can carry
        self.detail = printable(self.detail)

    def as_json(self) -> dict[str, Any]:
        zh, en = CHECKS[self.name]
        return {"name": self.name, "ok": self.ok, "title_zh": zh, "title_en": en, "detail": self.detail}


@dataclass
class Verdict:
    certificate_id: str | None
    checks: list[Check] = field(default_factory=list)

    pending: bool = False  # proof is null: the log has not been anchored since the certificate

    @property
    def status(self) -> str:
        failed = {c.name for c in self.checks if not c.ok}
        if not failed:
            return "valid"
        if self.pending and failed <= {"inclusion", "anchor"}:
            return "pending"
        revoked = failed == {"revocation"} and not any(c.unreadable for c in self.checks)
        return "revoked" if revoked else "invalid"

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.status,
            "certificate_id": self.certificate_id,
            "failed": self.failed,
            "checks": [c.as_json() for c in self.checks],
        }


_HEX = re.compile("[0-9a-f]*")
_ADDRESS = re.compile("0x[0-9a-fA-F]{40}")  # any case: EIP-55 checksums are not required


def _hex(value: Any, digits: int = 64) -> bool:
    return isinstance(value, str) and len(value) == digits and _HEX.fullmatch(value) is not None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


MAX_INT = 2**53 - 1  # every integer of the format (docs/certificate-format.md §2), proof sizes too


def _size(value: Any) -> bool:
    return _int(value) and value <= MAX_INT


def _shape(doc: Any) -> str | None:
    """Why the document is not a certificate document of this format, or None."""
    if not isinstance(doc, dict):
        return "the document is not a JSON object"
    body = doc.get("certificate")
    if doc.get("format") != FORMAT or not isinstance(body, dict) or body.get("format") != FORMAT:
        return f"not a {FORMAT} document"
    for key, kind in (
        ("id", str),
        ("scenario", str),
        ("issuer", dict),
        ("issued_at", str),
        ("claim", dict),
        ("fields", dict),
        ("retirements", list),
    ):
        if not isinstance(body.get(key), kind):
            return f"certificate.{key} is missing or not a {kind.__name__}"
    issuer = body["issuer"]
    if not (
        isinstance(issuer.get("name"), str)
        and _int(issuer.get("chain_id"))
        and all(isinstance(issuer.get(k), str) and _ADDRESS.fullmatch(issuer[k]) for k in ("registry", "revocations"))
    ):
        return "certificate.issuer must hold name, chain_id (an integer), registry and revocations (0x addresses)"
    spec = SCENARIOS.get(body["scenario"])
    if spec is None:
        return f"certificate.scenario {body['scenario']!r} is not one of {', '.join(ORDER)}"
    unknown = set(body["fields"]) - {f.name for f in spec.fields}
    if unknown or "beneficiary" not in body["fields"]:
        return (
            f"certificate.fields has {', '.join(sorted(map(str, unknown)))}, not fields of {spec.key}"
            if unknown
            else "certificate.fields lacks the beneficiary"
        )
    if not body["retirements"] or not all(isinstance(r, dict) for r in body["retirements"]):
        return "certificate.retirements must list at least one retirement"
    for i, r in enumerate(body["retirements"]):
        tx_hash = r.get("tx_hash")
        if not (
            isinstance(tx_hash, str)
            and tx_hash.startswith("0x")
            and _hex(tx_hash[2:])
            and _int(r.get("log_index"))
            and _int(r.get("amount_kg"))
            and _int(r.get("batch_id"))
            and isinstance(r.get("serial_ranges"), list)
        ):
            return f"certificate.retirements[{i}] lacks tx_hash, log_index, batch_id, amount_kg or serial_ranges"
    if "allocation" in body and not (
        isinstance(body["allocation"], dict)
        and set(body["allocation"]) == {"leaf", "proof"}
        and body["scenario"] == "Personal"
        and len(body["retirements"]) == 1
    ):
        return (
            'certificate.allocation is {"leaf", "proof"} of a Personal certificate of one retirement (docs/offsets.md)'
        )
    listed = [(str(r["tx_hash"]).lower(), r["log_index"]) for r in body["retirements"]]
    if len(set(listed)) != len(listed):
        return "certificate.retirements lists a retirement twice"
    if not all(isinstance(k, str) and _hex(v) for k, v in body["fields"].items()):
        return "certificate.fields must map names to 64-hex-digit commitments"
    if not isinstance(doc.get("disclosed", {}), dict):
        return "disclosed must be an object"
    if "proof" not in doc:  # null says "not anchored yet"; no member at all is a truncated document
        return "proof is missing: a document carries its inclusion proof, or null until the log is anchored"
    proof = doc["proof"]
    if proof is not None and not (
        isinstance(proof, dict)
        and _size(proof.get("leaf_index"))
        and _size(proof.get("tree_size"))
        and _hex(proof.get("root"))
        and isinstance(proof.get("inclusion"), list)
        and all(_hex(p) for p in proof["inclusion"])
    ):
        return (
            f"proof must hold leaf_index and tree_size (integers from 0 to {MAX_INT}), root (64 hex) and "
            "inclusion (a list of 64-hex hashes)"
        )
    return None


def verify_document(doc: Any, evidence: Evidence) -> Verdict:
    problem = _shape(doc)
    cert_id = (
        doc.get("certificate", {}).get("id")
        if isinstance(doc, dict) and isinstance(doc.get("certificate"), dict)
        else None
    )
    verdict = Verdict(printable(cert_id) if isinstance(cert_id, str) else None)
    add = verdict.checks.append
    if problem:
        add(Check("format", False, problem))
        return verdict
    add(Check("format", True, FORMAT))
    body, proof = doc["certificate"], doc["proof"]
    verdict.pending = proof is None
    add(_read("issuer", lambda: _issuer(body["issuer"], evidence)))
    add(_fields(body, doc.get("disclosed", {}), footprint_report.hash_problem(doc)))
    add(_claim(doc))
    beneficiary = body["fields"].get("beneficiary")
    mismatched = [r.get("id") for r in body["retirements"] if r.get("beneficiary_commitment") != f"0x{beneficiary}"]
    add(
        Check(
            "beneficiary",
            beneficiary is not None and not mismatched,
            "every retirement commits to the certificate's beneficiary"
            if beneficiary and not mismatched
            else f"retirement {', '.join(map(str, mismatched))} commits to another beneficiary",
        )
    )
    try:
        leaf = leaf_hash(body).hex()
    except CanonicalJsonError as exc:
        leaf = None
        add(Check("inclusion", False, f"the certificate cannot be hashed: {exc}"))
    if leaf is not None:
        add(_inclusion(leaf, proof))
    add(_read("anchor", lambda: _anchor(proof, evidence)))
    add(_read("retirements", lambda: _retirements(body, doc.get("disclosed", {}), evidence)))
    add(_read("revocation", lambda: _revocation(leaf, evidence)))
    return verdict


def _issuer(issuer: dict[str, Any], evidence: Evidence) -> Check:
    chain_id = evidence.chain_id  # the node's answer: reading it may fail
    same = str(issuer.get("registry", "")).lower() == evidence.registry and issuer.get("chain_id") == chain_id
    return Check(
        "issuer",
        same,
        f"registry {issuer.get('registry')} on chain {issuer.get('chain_id')}"
        if same
        else f"issued by {issuer.get('registry')} on chain {issuer.get('chain_id')}, but this verifier checks "
        f"{evidence.registry} on chain {chain_id}",
    )


def _read(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except EvidenceError as exc:
        return Check(name, False, f"could not be read: {exc}", unreadable=True)


def _revocation(leaf: str | None, evidence: Evidence) -> Check:
    revoked = leaf is not None and evidence.revoked(leaf)
    return Check(
        "revocation",
        not revoked,
        "revoked by the registry" if revoked else f"not on the revocation list ({evidence.source})",
    )


def _opening_problem(name: str, opening: Any, committed: str | None) -> str | None:
    """Why a disclosed opening does not open the committed field, or None."""
    if committed is None:
        return "is not a committed field"
    # exactly these two members: a member the commitment does not cover could say anything
    if not isinstance(opening, dict) or set(opening) != {"value", "salt"}:
        return 'is not an opening of exactly "value" and "salt"'
    value, salt = opening["value"], opening["salt"]
    if not isinstance(salt, str) or isinstance(value, bool) or not isinstance(value, (str, int)):
        return "has a value that is neither text nor an integer, or a salt that is not text"
    try:
        return None if field_commitment(name, value, salt) == committed else "does not match its commitment"
    except CanonicalJsonError as exc:
        return f"cannot be hashed ({exc})"


def _fields(body: dict[str, Any], disclosed: dict[str, Any], report_problem: str | None) -> Check:
    bad = {
        name: why
        for name, opening in disclosed.items()
        if (why := _opening_problem(name, opening, body["fields"].get(name))) is not None
    }
    if bad or report_problem:
        reasons = [f"field {name} {bad[name]}" for name in sorted(bad)] + ([report_problem] if report_problem else [])
        return Check("fields", False, "; ".join(reasons))
    hidden = len(body["fields"]) - len(disclosed)
    return Check("fields", True, f"{len(disclosed)} disclosed field(s) match their commitments; {hidden} hidden")


def _claim(doc: dict[str, Any]) -> Check:
    """The claim's arithmetic; with a footprint report in the document, the report's too (its lines
    add up to the claim's footprint and to the disclosed per-source fields)."""
    body = doc["certificate"]
    retired = sum(r["amount_kg"] for r in body["retirements"])
    if "allocation" in body:  # one person's share of an aggregated retirement: the share is what is claimed
        leaf = body["allocation"]["leaf"]
        retired = leaf.get("kg") if isinstance(leaf, dict) and _int(leaf.get("kg")) else -1
    errors = claim_errors(body["claim"], retired, SCENARIOS[body["scenario"]])
    detail = f"{body['claim'].get('quantity_kg')} kg"
    problems, note = claim_rules.check(body["claim"])  # a conversion rule this software ships: its hash and rate
    errors += problems
    detail += note
    if footprint_report.MEMBER in doc:
        disclosed = doc.get("disclosed", {})
        values = {n: o.get("value") for n, o in disclosed.items() if isinstance(o, dict)}
        errors += footprint_report.report_problems(
            doc[footprint_report.MEMBER], body["claim"], body["scenario"], values
        )
        if not errors:
            lines = len(doc[footprint_report.MEMBER]["lines"])
            detail += f"; the footprint report's {lines} line(s) add up to the footprint"
    return Check("claim", not errors, "; ".join(errors) or detail)


def _inclusion(leaf: str, proof: dict[str, Any] | None) -> Check:
    if proof is None:
        return Check(
            "inclusion",
            False,
            "no inclusion proof yet: the log has not been anchored since this "
            "certificate; fetch the document again later",
        )
    root = rfc9162.root_from_inclusion_proof(
        proof["leaf_index"], proof["tree_size"], bytes.fromhex(leaf), [bytes.fromhex(p) for p in proof["inclusion"]]
    )
    if root is None or root.hex() != proof["root"]:
        return Check(
            "inclusion",
            False,
            f"the proof does not lead from leaf {proof['leaf_index']} to the root "
            f"of a tree of {proof['tree_size']} entries",
        )
    return Check("inclusion", True, f"leaf {proof['leaf_index']} of a tree of {proof['tree_size']} entries")


def _anchor(proof: dict[str, Any] | None, evidence: Evidence) -> Check:
    if proof is None:
        return Check("anchor", False, "no anchored tree size to check against yet")
    anchored = evidence.anchored_root(proof["tree_size"])
    if anchored is None:
        return Check("anchor", False, f"no root is anchored on chain for tree size {proof['tree_size']}")
    if anchored != proof["root"]:
        return Check(
            "anchor",
            False,
            f"the root anchored on chain for tree size {proof['tree_size']} is 0x{anchored}, not the document's",
        )
    return Check("anchor", True, f"root of tree size {proof['tree_size']} anchored on chain ({evidence.source})")


def _retirements(body: dict[str, Any], disclosed: dict[str, Any], evidence: Evidence) -> Check:
    """Each retirement is the event on chain; a court order's also commits, by its claim hash, to
    the case the certificate discloses (docs/certificate-format.md §5.2)."""
    problems = []
    case = court_reference.expected(body, disclosed)
    if case is not None and case.problem is not None:
        problems.append(case.problem)
    uncompared = 0  # court-order retirements whose claim hash this evidence does not give
    for r in body["retirements"]:
        rid = f"{r['tx_hash']}#{r['log_index']}"
        ranges = r["serial_ranges"]
        if (
            not all(isinstance(x, list) and len(x) == 2 and _int(x[0]) and _int(x[1]) and x[0] <= x[1] for x in ranges)
            or sum(x[1] - x[0] + 1 for x in ranges) != r["amount_kg"]
        ):
            problems.append(f"{rid}: its serial ranges do not add up to its amount")
            continue
        if r.get("chain_id") != evidence.chain_id or str(r.get("registry", "")).lower() != evidence.registry:
            problems.append(f"{rid}: names another chain or registry")
            continue
        found = evidence.retirement(r["tx_hash"].lower(), r["log_index"])
        if found is None:
            problems.append(f"{rid}: no such retirement event on chain")
            continue
        expected = (
            r["batch_id"],
            str(r.get("holder", "")).lower(),
            r["amount_kg"],
            r.get("beneficiary_commitment"),
            body["scenario"] if found.scenario is not None else None,
        )
        actual = (found.batch_id, found.holder, found.amount, found.beneficiary_commitment, found.scenario)
        if expected != actual:
            names = [
                n
                for n, a, b in zip(
                    ("batch", "holder", "amount", "beneficiary commitment", "scenario"), expected, actual
                )
                if a != b
            ]
            problems.append(f"{rid}: its {', '.join(names)} differ(s) from the event on chain")
        elif found.serial_ranges is not None and found.serial_ranges != ranges:
            problems.append(f"{rid}: its serial ranges differ from the ones the registry's mirror traced")
        elif "allocation" in body:
            problems += _allocation(body, found, ranges, rid)
        if "origin" in r and (wrong := origin_problem(rid, r, evidence)) is not None:
            problems.append(wrong)
        if case is not None and case.claim_hash is not None:
            if found.claim_hash is None:
                uncompared += 1
            elif found.claim_hash.lower() != case.claim_hash:
                problems.append(
                    f"{rid}: its claim hash on chain does not commit to the case this certificate names "
                    "(court, case number, judgment date, damages, rule or obligation differ)"
                )
    if problems:
        return Check("retirements", False, "; ".join(problems))
    detail = f"{len(body['retirements'])} retirement event(s) found on chain ({evidence.source})"
    if case is not None:
        detail += _case_note(case, uncompared)
    return Check("retirements", True, detail)


def _allocation(body: dict[str, Any], found: OnChainRetirement, ranges: list[list[int]], rid: str) -> list[str]:
    """One person's share (docs/offsets.md §4): their account's allocation, proven to the claim hash
    the retirement event carries and inside its serials; the failing check is named."""
    leaf, proof = body["allocation"]["leaf"], body["allocation"]["proof"]
    if not isinstance(leaf, dict) or leaf.get("account_commitment") != body["fields"].get("account"):
        return [f"{rid}: allocation (account commitment): the allocation is not the certificate's account's"]
    if found.claim_hash is None:
        return [f"{rid}: allocation: this evidence gives no claim hash to check the allocation against"]
    failure = allocations.check(leaf, proof, found.claim_hash, ranges)
    return [] if failure is None else [f"{rid}: allocation ({failure.check}): {failure.detail}"]


def _case_note(case: court_reference.Expected, uncompared: int) -> str:
    if case.hidden:
        return f"; the case reference could not be compared (hidden fields: {', '.join(case.hidden)})"
    if uncompared:
        return f"; the case reference could not be compared (this evidence gives no claim hash for {uncompared})"
    return "; each commits by its claim hash to the disclosed case"
