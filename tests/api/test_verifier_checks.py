"""Each check of `verify_document` proven to fire on its own: a document changed in exactly one way
fails exactly the check that change concerns, with the status docs/certificate-format.md §9
promises and a detail naming the reason. Pure: documents built in memory (tests/api/memory_evidence.py),
evidence answered from dicts. The claim rules, `tonnes` and the statement wording are pinned with
literal expected values."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from certificates.document import claim_errors, leaf_hash, make_claim, statement, tonnes
from certificates.scenarios import SCENARIOS
from certificates.verify import Verdict, verify_document
from tests.api.memory_evidence import EXAMPLES, LEAF_INDEX, MemoryEvidence, reseal, sealed

CHECKS = ["format", "issuer", "fields", "claim", "beneficiary", "inclusion", "anchor", "retirements", "revocation"]
Doc = dict[str, Any]


def verified(doc: Doc, evidence: MemoryEvidence) -> Verdict:
    verdict = verify_document(doc, evidence)
    # whatever the document held, the verdict can be sent as UTF-8 (POST /verify, `ledger verify`)
    json.dumps(verdict.as_json(), ensure_ascii=False).encode()
    return verdict


def detail(verdict: Verdict, name: str) -> str:
    [found] = [c.detail for c in verdict.checks if c.name == name]
    return found


@pytest.mark.parametrize("scenario", list(EXAMPLES))
def test_a_well_formed_certificate_of_every_scenario_passes_every_check(scenario: str) -> None:
    doc, evidence = sealed(scenario)
    verdict = verified(doc, evidence)
    assert verdict.status == "valid" and verdict.failed == []
    assert [c.name for c in verdict.checks] == CHECKS
    assert verdict.certificate_id == "SCCW-31337-000001"


# ---------------------------------------------------------------- format: one case per refusal of _shape


def put(*path: Any, value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def drop(*path: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def retirement(key: str, value: Any) -> Callable[[Doc], None]:
    return put("certificate", "retirements", 0, key, value=value)


def _twice(doc: Doc) -> None:
    doc["certificate"]["retirements"].append(dict(doc["certificate"]["retirements"][0]))


FORMAT_CASES: list[tuple[str, Callable[[Doc], None], str]] = [
    ("format", put("format", value="sichuan-ccw/2"), "not a sichuan-ccw/1 document"),
    ("body format", put("certificate", "format", value=None), "not a sichuan-ccw/1 document"),
    ("no body", put("certificate", value=[]), "not a sichuan-ccw/1 document"),
    *[
        (f"no {key}", drop("certificate", key), f"certificate.{key} is missing or not a {kind}")
        for key, kind in (
            ("id", "str"),
            ("scenario", "str"),
            ("issuer", "dict"),
            ("issued_at", "str"),
            ("claim", "dict"),
            ("fields", "dict"),
            ("retirements", "list"),
        )
    ],
    ("id a number", put("certificate", "id", value=1), "certificate.id is missing or not a str"),
    ("issuer a string", put("certificate", "issuer", value="x"), "certificate.issuer is missing or not a dict"),
    *[
        (f"issuer without {key}", drop("certificate", "issuer", key), "certificate.issuer must hold name, chain_id")
        for key in ("name", "chain_id", "registry", "revocations")
    ],
    (
        "issuer chain_id a string",
        put("certificate", "issuer", "chain_id", value="31337"),
        "certificate.issuer must hold name, chain_id",
    ),
    (
        "issuer registry not an address",
        put("certificate", "issuer", "registry", value="0x1234"),
        "certificate.issuer must hold name, chain_id",
    ),
    (
        "issuer revocations with a surrogate",
        put("certificate", "issuer", "revocations", value="0x\ud800"),
        "certificate.issuer must hold name, chain_id",
    ),
    (
        "unknown scenario",
        put("certificate", "scenario", value="Banquet"),
        "certificate.scenario 'Banquet' is not one of LargeEvent, Organisation",
    ),
    (
        "a field of another scenario",
        put("certificate", "fields", "court", value="00" * 32),
        "certificate.fields has court, not fields of Personal",
    ),
    ("no beneficiary field", drop("certificate", "fields", "beneficiary"), "certificate.fields lacks the beneficiary"),
    ("no retirements", put("certificate", "retirements", value=[]), "must list at least one retirement"),
    (
        "a retirement not an object",
        put("certificate", "retirements", 0, value="r"),
        "must list at least one retirement",
    ),
    *[
        (
            f"retirement without {key}",
            drop("certificate", "retirements", 0, key),
            "certificate.retirements[0] lacks tx_hash, log_index, batch_id, amount_kg or serial_ranges",
        )
        for key in ("tx_hash", "log_index", "batch_id", "amount_kg", "serial_ranges")
    ],
    ("tx_hash without 0x", retirement("tx_hash", "ab" * 32), "certificate.retirements[0] lacks"),
    ("tx_hash with another prefix", retirement("tx_hash", "zz" + "ab" * 32), "certificate.retirements[0] lacks"),
    ("tx_hash uppercase", retirement("tx_hash", "0x" + "AB" * 32), "certificate.retirements[0] lacks"),
    ("tx_hash too short", retirement("tx_hash", "0x" + "ab" * 31), "certificate.retirements[0] lacks"),
    ("negative log_index", retirement("log_index", -1), "certificate.retirements[0] lacks"),
    ("amount_kg true", retirement("amount_kg", True), "certificate.retirements[0] lacks"),
    ("serial_ranges an object", retirement("serial_ranges", {}), "certificate.retirements[0] lacks"),
    ("a retirement listed twice", _twice, "certificate.retirements lists a retirement twice"),
    (
        "an uppercase commitment",
        put("certificate", "fields", "account", value="AB" * 32),
        "certificate.fields must map names to 64-hex-digit commitments",
    ),
    (
        "a commitment with 0x",
        put("certificate", "fields", "account", value="0x" + "ab" * 31),
        "certificate.fields must map names to 64-hex-digit commitments",
    ),
    ("disclosed a list", put("disclosed", value=[]), "disclosed must be an object"),
    ("no proof member", drop("proof"), "proof is missing"),
    ("proof a list", put("proof", value=[]), "proof must hold"),
    ("no leaf_index", drop("proof", "leaf_index"), "proof must hold"),
    ("leaf_index a string", put("proof", "leaf_index", value="3"), "proof must hold"),
    ("tree_size true", put("proof", "tree_size", value=True), "proof must hold"),
    ("tree_size 2^256", put("proof", "tree_size", value=2**256), "integers from 0 to 9007199254740991"),
    ("tree_size 2^53", put("proof", "tree_size", value=2**53), "integers from 0 to 9007199254740991"),
    ("negative tree_size", put("proof", "tree_size", value=-1), "proof must hold"),
    ("root with 0x", put("proof", "root", value="0x" + "ab" * 31), "proof must hold"),
    ("inclusion a string", put("proof", "inclusion", value="ab" * 32), "proof must hold"),
    ("an uppercase path node", put("proof", "inclusion", 0, value="AB" * 32), "proof must hold"),
]


@pytest.mark.parametrize("name,edit,reason", FORMAT_CASES, ids=[c[0] for c in FORMAT_CASES])
def test_a_malformed_document_fails_format_alone(name: str, edit: Callable[[Doc], None], reason: str) -> None:
    doc, evidence = sealed()
    edit(doc)
    verdict = verified(doc, evidence)
    assert verdict.status == "invalid"
    assert verdict.failed == ["format"] and [c.name for c in verdict.checks] == ["format"]  # §3: nothing else runs
    assert reason in detail(verdict, "format")


@pytest.mark.parametrize("doc", [None, [], "x", 1])
def test_a_document_that_is_not_an_object_fails_format(doc: Any) -> None:
    verdict = verified(doc, MemoryEvidence())
    assert verdict.failed == ["format"] and verdict.status == "invalid" and verdict.certificate_id is None
    assert detail(verdict, "format") == "the document is not a JSON object"


# ---------------------------------------------------------------- every other check, alone


def body(change: Callable[[Doc], None]) -> Callable[[Doc, MemoryEvidence], MemoryEvidence]:
    """Change the body, then give the document a proof of the changed body anchored on the evidence,
    as a registry that issued it so would: only the check the change concerns can fail."""

    def edit(doc: Doc, _: MemoryEvidence) -> MemoryEvidence:
        change(doc["certificate"])
        return reseal(doc)

    return edit


def document(change: Callable[[Doc], None]) -> Callable[[Doc, MemoryEvidence], MemoryEvidence]:
    """Change what the leaf does not cover (disclosed, proof): the evidence stays."""

    def edit(doc: Doc, evidence: MemoryEvidence) -> MemoryEvidence:
        change(doc)
        return evidence

    return edit


def chain(change: Callable[[MemoryEvidence], None]) -> Callable[[Doc, MemoryEvidence], MemoryEvidence]:
    """Change what the chain says."""

    def edit(_: Doc, evidence: MemoryEvidence) -> MemoryEvidence:
        change(evidence)
        return evidence

    return edit


def opening(**members: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        doc["disclosed"]["account"].update(members)

    return edit


def claim(**values: Any) -> Callable[[Doc], None]:
    def edit(body: Doc) -> None:
        body["claim"].update(values)

    return edit


def on_chain(**changes: Any) -> Callable[[MemoryEvidence], None]:
    def edit(evidence: MemoryEvidence) -> None:
        key, found = next(iter(evidence.on_chain.items()))
        evidence.on_chain[key] = dataclasses.replace(found, **changes)

    return edit


def flip(hex_text: str) -> str:
    return hex_text[:-1] + ("0" if hex_text[-1] != "0" else "1")


RID = f"0x{1:064x}#0"  # the first retirement, as the retirements check names it
# (case, scenario, edit, failed checks, status, a fragment of the first failed check's detail)
CASES: list[tuple[str, str, Callable[[Doc, MemoryEvidence], MemoryEvidence], list[str], str, str]] = [
    (
        "issuer: another chain",
        "Personal",
        body(lambda b: b["issuer"].update(chain_id=1)),
        ["issuer"],
        "invalid",
        (
            "issued by 0xE7f1725E7734CE288F8367e1Bb143E90bb3F0512 on chain 1, but this verifier checks "
            "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512 on chain 31337"
        ),
    ),
    (
        "issuer: another registry",
        "Personal",
        body(lambda b: b["issuer"].update(registry="0x" + "12" * 20)),
        ["issuer"],
        "invalid",
        "issued by 0x1212121212121212121212121212121212121212 on chain 31337",
    ),
    (
        "fields: a changed value",
        "Personal",
        document(opening(value="acct-0000")),
        ["fields"],
        "invalid",
        "field account does not match its commitment",
    ),
    (
        "fields: a changed salt",
        "Personal",
        document(opening(salt="00" * 16)),
        ["fields"],
        "invalid",
        "field account does not match its commitment",
    ),
    (
        "fields: an extra member",
        "Personal",
        document(opening(note="paid in full")),
        ["fields"],
        "invalid",
        'field account is not an opening of exactly "value" and "salt"',
    ),
    (
        "fields: no salt",
        "Personal",
        document(lambda d: d["disclosed"]["account"].pop("salt")),
        ["fields"],
        "invalid",
        'field account is not an opening of exactly "value" and "salt"',
    ),
    (
        "fields: an opening not an object",
        "Personal",
        document(put("disclosed", "account", value="acct-8841")),
        ["fields"],
        "invalid",
        'field account is not an opening of exactly "value" and "salt"',
    ),
    (
        "fields: a salt not text",
        "Personal",
        document(opening(salt=7)),
        ["fields"],
        "invalid",
        "field account has a value that is neither text nor an integer, or a salt that is not text",
    ),
    *[
        (
            f"fields: a {kind} value",
            "Personal",
            document(opening(value=value)),
            ["fields"],
            "invalid",
            "field account has a value that is neither text nor an integer, or a salt that is not text",
        )
        for kind, value in (("boolean", True), ("float", 8841.0), ("null", None), ("list", ["acct-8841"]))
    ],
    (
        "fields: a value beyond 2^53",
        "Personal",
        document(opening(value=2**53)),
        ["fields"],
        "invalid",
        "field account cannot be hashed ($.value: integer 9007199254740992 is beyond ±2^53",
    ),
    (
        "fields: a lone surrogate in a value",
        "Personal",
        document(opening(value="acct-\ud800")),
        ["fields"],
        "invalid",
        "field account cannot be hashed ($.value: a lone surrogate",
    ),
    (
        "fields: a name never committed",
        "Personal",
        document(put("disclosed", "nickname", value={"value": "x", "salt": "y"})),
        ["fields"],
        "invalid",
        "field nickname is not a committed field",
    ),
    (
        "fields: a lone surrogate in a name",
        "Personal",
        document(put("disclosed", "\ud800", value={"value": "x", "salt": "y"})),
        ["fields"],
        "invalid",
        "field \\ud800 is not a committed field",
    ),
    (
        "claim: quantity",
        "Personal",
        body(claim(quantity_kg=6)),
        ["claim"],
        "invalid",
        "the claim states 6 kg but its retirements add up to 5 kg",
    ),
    (
        "claim: quantity true",
        "Voluntary",
        body(
            lambda b: (
                b["claim"].update(quantity_kg=True),
                b["retirements"][0].update(amount_kg=1, serial_ranges=[[1, 1]]),
            )
        ),
        ["claim"],
        "invalid",
        "the claim states True kg but its retirements add up to 1 kg",
    ),
    (
        "claim: a key of another scenario",
        "Voluntary",
        body(claim(footprint_kg=5)),
        ["claim"],
        "invalid",
        "a Voluntary claim has exactly quantity_kg",
    ),
    (
        "claim: a key missing",
        "Personal",
        body(lambda b: b["claim"].pop("carbon_neutral")),
        ["claim"],
        "invalid",
        "a Personal claim has exactly carbon_neutral, footprint_kg, quantity_kg",
    ),
    (
        "claim: carbon neutral not earned",
        "Personal",
        body(claim(footprint_kg=6)),
        ["claim"],
        "invalid",
        "the carbon-neutral statement does not follow from the retired quantity and the footprint",
    ),
    (
        "claim: carbon neutral denied",
        "Organisation",
        body(claim(carbon_neutral=True)),
        ["claim"],
        "invalid",
        "the carbon-neutral statement does not follow from the retired quantity and the footprint",
    ),
    (
        "claim: carbon neutral as 1",
        "Personal",
        body(claim(carbon_neutral=1)),
        ["claim"],
        "invalid",
        "the carbon-neutral statement does not follow",
    ),
    (
        "claim: a footprint of 0",
        "Personal",
        body(claim(footprint_kg=0)),
        ["claim"],
        "invalid",
        "the footprint must be a whole number of kg above 0, not 0",
    ),
    (
        "claim: a negative footprint",
        "Personal",
        body(claim(footprint_kg=-5)),
        ["claim"],
        "invalid",
        "the footprint must be a whole number of kg above 0, not -5",
    ),
    (
        "claim: a footprint as text",
        "Personal",
        body(claim(footprint_kg="5")),
        ["claim"],
        "invalid",
        "the footprint must be a whole number of kg above 0, not 5",
    ),
    (
        "claim: duty kg",
        "TreePlantingDuty",
        body(claim(duty_kg=1_000)),
        ["claim"],
        "invalid",
        "the tree-planting conversion does not follow from trees × kg per tree",
    ),
    (
        "claim: duty fulfilled",
        "TreePlantingDuty",
        body(claim(duty_fulfilled=False)),
        ["claim"],
        "invalid",
        "the tree-planting conversion does not follow from trees × kg per tree",
    ),
    (
        "claim: duty over-stated",
        "TreePlantingDuty",
        body(claim(trees=4, duty_kg=1_600)),
        ["claim"],
        "invalid",
        "the tree-planting conversion does not follow from trees × kg per tree",
    ),
    (
        "claim: 0 trees",
        "TreePlantingDuty",
        body(claim(trees=0, duty_kg=0)),
        ["claim"],
        "invalid",
        "the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not 0 and 400",
    ),
    (
        "claim: negative trees and rate",
        "TreePlantingDuty",
        body(claim(trees=-3, kg_per_tree=-400)),
        ["claim"],
        "invalid",
        "the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not -3 and -400",
    ),
    (
        "claim: 0 kg per tree",
        "TreePlantingDuty",
        body(claim(kg_per_tree=0, duty_kg=0)),
        ["claim"],
        "invalid",
        "the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not 3 and 0",
    ),
    (
        "beneficiary",
        "Personal",
        body(lambda b: b["retirements"][0].update(beneficiary_commitment="0x" + "cd" * 32)),
        ["beneficiary"],
        "invalid",
        f"retirement 31337-0x{1:064x}-0 commits to another beneficiary",
    ),
    (
        "inclusion: a path node",
        "Personal",
        document(lambda d: d["proof"]["inclusion"].__setitem__(0, flip(d["proof"]["inclusion"][0]))),
        ["inclusion"],
        "invalid",
        f"the proof does not lead from leaf {LEAF_INDEX} to the root of a tree of 6 entries",
    ),
    (
        "inclusion: the leaf index",
        "Personal",
        document(put("proof", "leaf_index", value=LEAF_INDEX - 1)),
        ["inclusion"],
        "invalid",
        f"the proof does not lead from leaf {LEAF_INDEX - 1} to the root of a tree of 6 entries",
    ),
    (
        "inclusion: a leaf index past the tree",
        "Personal",
        document(put("proof", "leaf_index", value=6)),
        ["inclusion"],
        "invalid",
        "the proof does not lead from leaf 6",
    ),
    (
        "inclusion: a body that cannot be hashed (surrogate)",
        "Personal",
        document(put("certificate", "issuer", "name", value="登记簿\udfff")),
        ["inclusion"],
        "invalid",
        "the certificate cannot be hashed: $.certificate.issuer.name: a lone surrogate",
    ),
    (
        "inclusion: a body that cannot be hashed (integer)",
        "Personal",
        document(put("certificate", "retirements", 0, "block_number", value=2**53)),
        ["inclusion"],
        "invalid",
        "the certificate cannot be hashed: $.certificate.retirements[0].block_number: integer 9007199254740992",
    ),
    (
        "anchor: never anchored",
        "Personal",
        chain(lambda e: e.roots.clear()),
        ["anchor"],
        "invalid",
        "no root is anchored on chain for tree size 6",
    ),
    (
        "anchor: another root",
        "Personal",
        chain(lambda e: e.roots.update({6: "ef" * 32})),
        ["anchor"],
        "invalid",
        f"the root anchored on chain for tree size 6 is 0x{'ef' * 32}, not the document's",
    ),
    (
        "retirements: no such event",
        "Personal",
        chain(lambda e: e.on_chain.clear()),
        ["retirements"],
        "invalid",
        f"{RID}: no such retirement event on chain",
    ),
    *[
        (
            f"retirements: the {what} on chain",
            "Personal",
            chain(on_chain(**change)),
            ["retirements"],
            "invalid",
            f"{RID}: its {what} differ(s) from the event on chain",
        )
        for what, change in (
            ("batch", {"batch_id": 2}),
            ("holder", {"holder": "0x" + "11" * 20}),
            ("amount", {"amount": 6}),
            ("beneficiary commitment", {"beneficiary_commitment": "0x" + "00" * 32}),
            ("scenario", {"scenario": "Voluntary"}),
        )
    ],
    (
        "retirements: the mirror's serial ranges",
        "Personal",
        chain(on_chain(serial_ranges=[[2, 6]])),
        ["retirements"],
        "invalid",
        f"{RID}: its serial ranges differ from the ones the registry's mirror traced",
    ),
    (
        "retirements: serials short of the amount",
        "Personal",
        body(lambda b: b["retirements"][0].update(serial_ranges=[[1, 4]])),
        ["retirements"],
        "invalid",
        f"{RID}: its serial ranges do not add up to its amount",
    ),
    (
        "retirements: a reversed serial range",
        "Personal",
        body(lambda b: b["retirements"][0].update(serial_ranges=[[5, 1], [1, 9]])),
        ["retirements"],
        "invalid",
        f"{RID}: its serial ranges do not add up",
    ),
    (
        "retirements: another chain",
        "Personal",
        body(lambda b: b["retirements"][0].update(chain_id=1)),
        ["retirements"],
        "invalid",
        f"{RID}: names another chain or registry",
    ),
    (
        "retirements: another registry",
        "Personal",
        body(lambda b: b["retirements"][0].update(registry="0x" + "12" * 20)),
        ["retirements"],
        "invalid",
        f"{RID}: names another chain or registry",
    ),
    (
        "revocation: revoked",
        "Personal",
        lambda d, e: (e.revoked_leaves.add(_leaf(d)), e)[1],
        ["revocation"],
        "revoked",
        "revoked by the registry",
    ),
    (
        "unreadable: revocation list",
        "Personal",
        chain(lambda e: e.unreadable.add("revoked")),
        ["revocation"],
        "invalid",
        "could not be read: revoked: the test made it unreadable",
    ),
    (
        "unreadable: anchored root",
        "Personal",
        chain(lambda e: e.unreadable.add("anchored_root")),
        ["anchor"],
        "invalid",
        "could not be read: anchored_root",
    ),
    (
        "unreadable: receipts",
        "Personal",
        chain(lambda e: e.unreadable.add("retirement")),
        ["retirements"],
        "invalid",
        "could not be read: retirement",
    ),
    (
        "unreadable: chain id",
        "Personal",
        chain(lambda e: e.unreadable.add("chain_id")),
        ["issuer", "retirements"],
        "invalid",
        "could not be read: chain_id",
    ),
    (
        "pending: proof null",
        "Personal",
        document(put("proof", value=None)),
        ["inclusion", "anchor"],
        "pending",
        "no inclusion proof yet",
    ),
    (
        "pending and a wrong claim: invalid",
        "Personal",
        lambda d, e: (body(claim(quantity_kg=6))(d, e), d.__setitem__("proof", None), e)[-1],
        ["claim", "inclusion", "anchor"],
        "invalid",
        "the claim states 6 kg",
    ),
    (
        "pending and revoked: invalid",
        "Personal",
        lambda d, e: (e.revoked_leaves.add(_leaf(d)), d.__setitem__("proof", None), e)[-1],
        ["inclusion", "anchor", "revocation"],
        "invalid",
        "no inclusion proof yet",
    ),
]


def _leaf(doc: Doc) -> str:
    return leaf_hash(doc["certificate"]).hex()


@pytest.mark.parametrize("name,scenario,edit,failed,status,reason", CASES, ids=[c[0] for c in CASES])
def test_each_check_fails_alone_with_its_reason(
    name: str,
    scenario: str,
    edit: Callable[[Doc, MemoryEvidence], MemoryEvidence],
    failed: list[str],
    status: str,
    reason: str,
) -> None:
    doc, evidence = sealed(scenario)
    evidence = edit(doc, evidence)
    verdict = verified(doc, evidence)
    assert verdict.failed == failed, [c.detail for c in verdict.checks if not c.ok]
    assert [c.name for c in verdict.checks] == CHECKS
    assert verdict.status == status
    assert reason in detail(verdict, failed[0])


def test_a_verdict_is_unreadable_only_where_the_evidence_was() -> None:
    doc, evidence = sealed()
    evidence.unreadable.add("chain_id")
    verdict = verified(doc, evidence)
    assert {c.name for c in verdict.checks if c.unreadable} == {"issuer", "retirements"}


def test_a_certificate_id_with_a_lone_surrogate_is_shown_escaped() -> None:
    doc, evidence = sealed()
    doc["certificate"]["id"] = "SCCW-\ud800"
    verdict = verified(doc, evidence)
    assert verdict.certificate_id == "SCCW-\\ud800"
    assert verdict.failed == ["inclusion"]


# ---------------------------------------------------------------- claim_errors, reason by reason

PERSONAL, TREES, VOLUNTARY = SCENARIOS["Personal"], SCENARIOS["TreePlantingDuty"], SCENARIOS["Voluntary"]
NEUTRAL = "the carbon-neutral statement does not follow from the retired quantity and the footprint"
CONVERSION = "the tree-planting conversion does not follow from trees × kg per tree"
CLAIMS: list[tuple[str, dict[str, Any], int, Any, list[str]]] = [
    ("a good footprint claim", {"quantity_kg": 5, "footprint_kg": 5, "carbon_neutral": True}, 5, PERSONAL, []),
    ("a good partial offset", {"quantity_kg": 4, "footprint_kg": 5, "carbon_neutral": False}, 4, PERSONAL, []),
    (
        "a good tree duty",
        {"quantity_kg": 1200, "trees": 3, "kg_per_tree": 400, "duty_kg": 1200, "duty_fulfilled": True},
        1200,
        TREES,
        [],
    ),
    (
        "a good partial tree duty",
        {"quantity_kg": 1, "trees": 3, "kg_per_tree": 400, "duty_kg": 1200, "duty_fulfilled": False},
        1,
        TREES,
        [],
    ),
    (
        "scenario keys: one extra",
        {"quantity_kg": 5, "note": "x"},
        5,
        VOLUNTARY,
        ["a Voluntary claim has exactly quantity_kg"],
    ),
    ("scenario keys: not checked without a scenario", {"quantity_kg": 5, "note": "x"}, 5, None, []),
    ("quantity", {"quantity_kg": 5}, 4, VOLUNTARY, ["the claim states 5 kg but its retirements add up to 4 kg"]),
    (
        "quantity as a float",
        {"quantity_kg": 5.0},
        5,
        VOLUNTARY,
        ["the claim states 5.0 kg but its retirements add up to 5 kg"],
    ),
    ("quantity missing", {}, 5, None, ["the claim states None kg but its retirements add up to 5 kg"]),
    (
        "carbon neutral below the footprint",
        {"quantity_kg": 4, "footprint_kg": 5, "carbon_neutral": True},
        4,
        PERSONAL,
        [NEUTRAL],
    ),
    (
        "not carbon neutral at the footprint",
        {"quantity_kg": 5, "footprint_kg": 5, "carbon_neutral": False},
        5,
        PERSONAL,
        [NEUTRAL],
    ),
    (
        "carbon neutral as a string",
        {"quantity_kg": 5, "footprint_kg": 5, "carbon_neutral": "yes"},
        5,
        PERSONAL,
        [NEUTRAL],
    ),
    (
        "footprint 0",
        {"quantity_kg": 5, "footprint_kg": 0, "carbon_neutral": True},
        5,
        PERSONAL,
        ["the footprint must be a whole number of kg above 0, not 0"],
    ),
    (
        "footprint negative",
        {"quantity_kg": 5, "footprint_kg": -1, "carbon_neutral": True},
        5,
        PERSONAL,
        ["the footprint must be a whole number of kg above 0, not -1"],
    ),
    (
        "footprint true",
        {"quantity_kg": 5, "footprint_kg": True, "carbon_neutral": True},
        5,
        PERSONAL,
        ["the footprint must be a whole number of kg above 0, not True"],
    ),
    (
        "footprint missing",
        {"quantity_kg": 5, "carbon_neutral": True},
        5,
        PERSONAL,
        [
            "a Personal claim has exactly carbon_neutral, footprint_kg, quantity_kg",
            "the footprint must be a whole number of kg above 0, not None",
        ],
    ),
    (
        "duty kg",
        {"quantity_kg": 1200, "trees": 3, "kg_per_tree": 400, "duty_kg": 1000, "duty_fulfilled": True},
        1200,
        TREES,
        [CONVERSION],
    ),
    (
        "duty fulfilled short",
        {"quantity_kg": 1199, "trees": 3, "kg_per_tree": 400, "duty_kg": 1200, "duty_fulfilled": True},
        1199,
        TREES,
        [CONVERSION],
    ),
    (
        "duty not fulfilled at the duty",
        {"quantity_kg": 1200, "trees": 3, "kg_per_tree": 400, "duty_kg": 1200, "duty_fulfilled": False},
        1200,
        TREES,
        [CONVERSION],
    ),
    (
        "duty kg as a float",
        {"quantity_kg": 1200, "trees": 3, "kg_per_tree": 400, "duty_kg": 1200.0, "duty_fulfilled": True},
        1200,
        TREES,
        [CONVERSION],
    ),
    (
        "trees 0",
        {"quantity_kg": 1, "trees": 0, "kg_per_tree": 400, "duty_kg": 0, "duty_fulfilled": True},
        1,
        TREES,
        ["the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not 0 and 400"],
    ),
    (
        "kg per tree 0",
        {"quantity_kg": 1, "trees": 3, "kg_per_tree": 0, "duty_kg": 0, "duty_fulfilled": True},
        1,
        TREES,
        ["the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not 3 and 0"],
    ),
    (
        "trees and rate negative",
        {"quantity_kg": 1, "trees": -1, "kg_per_tree": -1, "duty_kg": 1, "duty_fulfilled": True},
        1,
        TREES,
        ["the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not -1 and -1"],
    ),
    (
        "every reason at once",
        {"quantity_kg": 9, "footprint_kg": 0, "carbon_neutral": True, "trees": 0, "duty_fulfilled": True},
        5,
        VOLUNTARY,
        [
            "a Voluntary claim has exactly quantity_kg",
            "the claim states 9 kg but its retirements add up to 5 kg",
            "the footprint must be a whole number of kg above 0, not 0",
            "the tree-planting duty needs whole numbers trees > 0 and kg per tree > 0, not 0 and None",
        ],
    ),
]


@pytest.mark.parametrize("name,claim_,retired,spec,expected", CLAIMS, ids=[c[0] for c in CLAIMS])
def test_claim_errors(name: str, claim_: dict[str, Any], retired: int, spec: Any, expected: list[str]) -> None:
    assert claim_errors(claim_, retired, spec) == expected


def test_make_claim_states_what_the_numbers_give() -> None:
    assert make_claim(PERSONAL, 5, footprint_kg=5) == {"quantity_kg": 5, "footprint_kg": 5, "carbon_neutral": True}
    assert make_claim(PERSONAL, 4, footprint_kg=5) == {"quantity_kg": 4, "footprint_kg": 5, "carbon_neutral": False}
    assert make_claim(TREES, 1000, trees=3, kg_per_tree=400) == {
        "quantity_kg": 1000,
        "trees": 3,
        "kg_per_tree": 400,
        "duty_kg": 1200,
        "duty_fulfilled": False,
    }
    assert make_claim(VOLUNTARY, 7) == {"quantity_kg": 7}


@pytest.mark.parametrize("footprint", [None, 0, -1])
def test_make_claim_refuses_a_footprint_not_above_0(footprint: int | None) -> None:
    with pytest.raises(
        ValueError, match=r"^a personal footprint certificate states its footprint: give footprint_kg > 0$"
    ):
        make_claim(PERSONAL, 5, footprint_kg=footprint)


@pytest.mark.parametrize("trees,rate", [(None, 400), (0, 400), (-3, 400), (3, None), (3, 0), (3, -400), (-3, -400)])
def test_make_claim_refuses_trees_or_a_rate_not_above_0(trees: int | None, rate: int | None) -> None:
    with pytest.raises(
        ValueError,
        match=r"^a tree-planting duty certificate needs trees > 0 and the conversion "
        r"\(kg per tree\) > 0$",
    ):
        make_claim(TREES, 1200, trees=trees, kg_per_tree=rate)


# ---------------------------------------------------------------- tonnes and the statement, word for word


@pytest.mark.parametrize(
    "kg,shown",
    [
        (0, "0.000"),
        (1, "0.001"),
        (5, "0.005"),
        (400, "0.400"),
        (999, "0.999"),
        (1_000, "1.000"),
        (1_250, "1.250"),
        (12_345, "12.345"),
        (1_234_567, "1,234.567"),
        (1_000_000_000, "1,000,000.000"),
    ],
)
def test_tonnes(kg: int, shown: str) -> None:
    assert tonnes(kg) == shown


STATEMENTS: list[tuple[str, Any, dict[str, Any], tuple[str, str, str, str]]] = [
    (
        "carbon neutral",
        PERSONAL,
        {"quantity_kg": 1_250, "footprint_kg": 1_200, "carbon_neutral": True},
        (
            "碳中和见证",
            "Carbon-neutrality witness",
            "已注销林草碳普惠减排量 1.250 吨二氧化碳当量，不少于其碳排放 1.200 吨，实现碳中和。",
            "1.250 tCO2e of forestry and grassland credits retired, covering a footprint of 1.200 tCO2e: carbon neutral.",
        ),
    ),
    (
        "an offset share",
        SCENARIOS["Organisation"],
        {"quantity_kg": 800, "footprint_kg": 1_000, "carbon_neutral": False},
        (
            "减排量注销证明",
            "Certificate of retirement",
            "已注销林草碳普惠减排量 0.800 吨二氧化碳当量，抵消其碳排放 1.000 吨中的 80%。",
            "0.800 tCO2e of forestry and grassland credits retired, offsetting 80% of a footprint of 1.000 tCO2e.",
        ),
    ),
    (
        "an offset share rounded down",
        PERSONAL,
        {"quantity_kg": 2, "footprint_kg": 3, "carbon_neutral": False},
        (
            "减排量注销证明",
            "Certificate of retirement",
            "已注销林草碳普惠减排量 0.002 吨二氧化碳当量，抵消其碳排放 0.003 吨中的 66%。",
            "0.002 tCO2e of forestry and grassland credits retired, offsetting 66% of a footprint of 0.003 tCO2e.",
        ),
    ),
    (
        "tree duty fulfilled",
        TREES,
        {"quantity_kg": 1_200, "trees": 3, "kg_per_tree": 400, "duty_kg": 1_200, "duty_fulfilled": True},
        (
            "义务植树尽责证明",
            "Tree-planting duty certificate",
            "已注销林草碳普惠减排量 1.200 吨二氧化碳当量，按每株 0.400 吨折算义务植树 3 株，已履行。",
            "1.200 tCO2e retired in place of 3 trees at 0.400 t per tree: duty fulfilled.",
        ),
    ),
    (
        "tree duty partly fulfilled",
        TREES,
        {"quantity_kg": 500, "trees": 3, "kg_per_tree": 400, "duty_kg": 1_200, "duty_fulfilled": False},
        (
            "义务植树尽责证明",
            "Tree-planting duty certificate",
            "已注销林草碳普惠减排量 0.500 吨二氧化碳当量，按每株 0.400 吨折算义务植树 3 株，部分履行。",
            "0.500 tCO2e retired in place of 3 trees at 0.400 t per tree: duty partly fulfilled.",
        ),
    ),
    (
        "a plain retirement",
        VOLUNTARY,
        {"quantity_kg": 2_000_500},
        (
            "减排量注销证明",
            "Certificate of retirement",
            "已注销林草碳普惠减排量 2,000.500 吨二氧化碳当量。",
            "2,000.500 tCO2e of forestry and grassland credits retired.",
        ),
    ),
]


@pytest.mark.parametrize("name,spec,claim_,expected", STATEMENTS, ids=[s[0] for s in STATEMENTS])
def test_statement_wording(name: str, spec: Any, claim_: dict[str, Any], expected: tuple[str, str, str, str]) -> None:
    assert statement(spec, claim_) == expected


def test_carbon_neutral_words_appear_only_when_earned() -> None:
    short = statement(PERSONAL, make_claim(PERSONAL, 4, footprint_kg=5))
    assert not any("碳中和" in s or "carbon neutral" in s.lower() for s in short)
    assert "碳中和" in statement(PERSONAL, make_claim(PERSONAL, 5, footprint_kg=5))[2]
