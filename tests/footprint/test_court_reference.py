"""A court order's certificate names the case its retirement committed to (issue 16, "a purchase-and-retire in
one step with the case reference committed"; docs/certificate-format.md §5.2). `ledger court retire` puts
sha256(canonical(case reference)) on chain as the retirement's claim hash; every verifier (`ledger verify` on the
node, POST /api/v1/verify on the mirror, the independent verifier of tests/api/, the verify page's in-browser
verifier) recomputes the reference from the disclosed court, case number and judgment date and the claim, and
compares. A forger holding the registry's database who re-issues a certificate over the same retirement naming
another case number, court or damages (arithmetic redone, commitments and salts fresh, logged and anchored like
any certificate) passes every other check and fails `retirements`, naming the retirement; with the case hidden
the check passes and says it could not compare."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert

from api.app import create_app
from certificates import court as cases
from certificates import court_reference, issuer
from certificates.context import ServiceContext
from certificates.court import CourtCase
from certificates.document import hide
from certificates.evidence import ChainEvidence, MirrorEvidence
from certificates.models import CertificateClaim
from certificates.settings import ServiceSettings
from certificates.verify import verify_document
from chain.canonical import canonical_json, sha256_hex
from chain.rpc import JsonRpc
from footprint.conversion import RULES_DIR, shipped_rules
from indexer.sync import Indexer
from tests.api.browser import chromium_page
from tests.api.independent_verifier import verify as independent
from tests.api.server import free_port, serve_thread
from tests.footprint.test_court import CASE, DEFENDANT, Court
from tests.footprint.test_court import api as api  # fixtures: this module's own anvil registry
from tests.footprint.test_court import court as court
from tests.footprint.test_court import retired as retired
from tests.pgdb import scratch_engine

RULE = shipped_rules().damages["fj-jiangle-2021@1"]  # ¥173,900 for 523 t: the Jiangle case's own published pair
NOT_COMPARED = "the case reference could not be compared (hidden fields: court, case_number)"


# ---------------------------------------------------------------- the reference, one definition


def genuine_reference(judgment_date: str | None = CASE["judgment_date"]) -> dict[str, Any]:
    return {
        "format": "ledger-court-case-reference/1",
        "court": CASE["court"],
        "case_number": CASE["case_number"],
        "judgment_date": judgment_date,
        "damages_yuan": "173900",
        "rule": {"id": RULE.id, "version": RULE.version, "sha256": RULE.sha256},
        "obligation_kg": 523_000,  # ⌈173,900 × 523 × 1000 ÷ 173,900⌉
    }


def test_the_quote_and_the_verifier_build_one_reference() -> None:
    """certificates/court.py (the chain's side) and certificates/court_reference.py (the verifier's) agree."""
    quote = cases.quote(cases.parse_case(json.dumps(CASE, ensure_ascii=False), "case.json"))
    assert quote.reference == genuine_reference()
    assert "0x" + quote.claim_hash.hex() == "0x" + sha256_hex(canonical_json(genuine_reference()))
    body = {"scenario": "EcologicalJustice", "claim": {}, "fields": {}}
    body["claim"] = {**quote.claim_conversion, "obligation_kg": quote.obligation_kg}
    body["fields"] = dict.fromkeys(("beneficiary", "court", "case_number", "judgment_date"), "0" * 64)
    disclosed = {k: {"value": v, "salt": "s"} for k, v in quote.fields.items()}
    assert court_reference.expected(body, disclosed) == court_reference.Expected("0x" + quote.claim_hash.hex())


def test_a_judgment_date_absent_is_null_and_one_hidden_is_not_compared() -> None:
    """Absent (the case gives none, the certificate commits to no such field): null in the reference, as the
    court flow puts it on chain. Committed but not disclosed: nothing to compare with."""
    undated = cases.quote(
        CourtCase(str(CASE["case_number"]), str(CASE["court"]), Decimal(173_900), None, "fj-jiangle-2021@1")
    )
    claim = {**undated.claim_conversion, "obligation_kg": undated.obligation_kg}
    shown = {"court": {"value": CASE["court"], "salt": "s"}, "case_number": {"value": CASE["case_number"], "salt": "s"}}
    absent = {"scenario": "EcologicalJustice", "claim": claim, "fields": dict.fromkeys(("court", "case_number"), "")}
    assert court_reference.expected(absent, shown) == court_reference.Expected(
        court_reference.claim_hash(genuine_reference(judgment_date=None))
    )
    assert "0x" + undated.claim_hash.hex() == court_reference.claim_hash(genuine_reference(judgment_date=None))
    dated = {**absent, "fields": dict.fromkeys(("court", "case_number", "judgment_date"), "")}
    assert court_reference.expected(dated, shown) == court_reference.Expected(None, hidden=("judgment_date",))
    # a claim without a rule (`ledger certify`, the format's older claim) states no case: nothing to compare
    assert court_reference.expected({**absent, "claim": {"quantity_kg": 5}}, shown) is None


# ---------------------------------------------------------------- four verifiers


@pytest.fixture(scope="module")
def page(retired: Court) -> Iterator[Any]:
    """The verify page of a server that lets it reach this module's node; its in-browser verifier is used alone."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEDGER_VERIFY_NODES", retired.node.url)
        ctx = retired.service.context
        app = create_app(ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(), ctx.rpc))
        with serve_thread(app, free_port(), access_log=False) as base, chromium_page() as tab:
            tab.goto(f"{base}/verify")
            yield tab


def four(court_: Court, api: TestClient, page: Any, doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each verifier's verdict, failed checks and what it says about `retirements`."""
    registry = court_.service.context.deployment.address
    path = court_.write("doc.json", doc)
    cli = json.loads(
        court_.ledger("verify", str(path), "--rpc", court_.node.url, "--registry", registry, "--json", ok=False).output
    )
    posted = api.post("/api/v1/verify", json=doc).json()
    theirs = independent(copy.deepcopy(doc), court_.node.url, registry, str(RULES_DIR))
    text = json.dumps(doc, ensure_ascii=False)
    browser = page.evaluate("([t, u, r]) => LedgerVerifier.verify(t, u, r)", [text, court_.node.url, registry])

    def said(result: dict[str, Any]) -> dict[str, Any]:
        detail = next(c["detail"] for c in result["checks"] if c["name"] == "retirements")
        return {"verdict": result["verdict"], "failed": result["failed"], "retirements": detail}

    return {
        "ledger verify": said(cli),
        "POST /api/v1/verify": said(posted),
        "in-browser": said(browser),
        "independent": {
            "verdict": theirs["verdict"],
            "failed": theirs["failed"],
            "retirements": theirs["notes"].get("retirements", ""),
        },
    }


def test_the_court_certificate_verifies_in_all_four(retired: Court, api: TestClient, page: Any) -> None:
    doc = retired.service.document(retired.certificate_id)
    [retirement] = doc["certificate"]["retirements"]
    for name, said in four(retired, api, page, doc).items():
        assert (said["verdict"], said["failed"]) == ("valid", []), (name, said)
        if name != "independent":  # it notes only what it could not check
            assert "each commits by its claim hash to the disclosed case" in said["retirements"], (name, said)
    # the chain's word: the event's fourth data word is the hash of this case's reference
    receipt = retired.world.client.rpc.call("eth_getTransactionReceipt", retirement["tx_hash"])
    [log] = [lg for lg in receipt["logs"] if int(lg["logIndex"], 16) == retirement["log_index"]]
    assert "0x" + log["data"][2 + 3 * 64 : 2 + 4 * 64] == court_reference.claim_hash(genuine_reference())


def test_with_the_case_hidden_it_passes_and_says_it_could_not_compare(
    retired: Court, api: TestClient, page: Any
) -> None:
    doc = hide(retired.service.document(retired.certificate_id), {"court", "case_number"})
    for name, said in four(retired, api, page, doc).items():
        assert (said["verdict"], said["failed"]) == ("valid", []), (name, said)
        assert NOT_COMPARED in said["retirements"], (name, said)


def forge(retired: Court, monkeypatch: pytest.MonkeyPatch, **changes: Any) -> str:
    """A forger with the registry's database and data key re-issues the court certificate over the same
    retirement, naming another case: they free the retirement's claim row, run an issuer without the
    case check, and anchor. Fresh salts and commitments, the claim's arithmetic redone from the damages:
    a certificate logged and anchored like any other. The genuine claim row is put back afterwards."""
    genuine = retired.service.document(retired.certificate_id)
    [retirement] = genuine["certificate"]["retirements"]
    case = CourtCase(
        **{
            "case_number": CASE["case_number"],
            "court": CASE["court"],
            "damages_yuan": Decimal(str(CASE["damages_yuan"])),
            "judgment_date": CASE["judgment_date"],
            "rule": CASE["rule"],
            **changes,
        }
    )
    quote = cases.quote(case)
    engine = retired.service.engine
    with engine.begin() as conn:
        conn.execute(delete(CertificateClaim).where(CertificateClaim.retirement_id == retirement["id"]))  # type: ignore[arg-type]
    monkeypatch.setattr(issuer, "_require_case_committed", lambda *_: None)
    try:
        issued = retired.service.certify(
            [retirement["id"]],
            scenario_key="EcologicalJustice",
            fields=quote.fields,
            disclose=set(),
            conversion=quote.claim_conversion,
            anchor=True,
        )
    finally:
        monkeypatch.undo()
        with engine.begin() as conn:
            conn.execute(delete(CertificateClaim).where(CertificateClaim.retirement_id == retirement["id"]))  # type: ignore[arg-type]
            conn.execute(
                insert(CertificateClaim).values(retirement_id=retirement["id"], certificate_id=retired.certificate_id)
            )
    return issued.certificate_id


FORGERIES: dict[str, dict[str, Any]] = {
    "another case number": {"case_number": "（2021）闽0428刑初89号"},
    "another court": {"court": "三明市中级人民法院"},
    # ¥100,000 × 523 × 1000 ÷ 173,900 = 300,747.55… → 300,748 kg owed; 523,000 retired: fulfilled, consistently
    "other damages": {"damages_yuan": Decimal(100_000)},
    "no judgment date": {"judgment_date": None},  # the forger drops the date: null is not the committed one
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_certificate_naming_another_case_over_the_same_retirement_fails_in_all_four(
    retired: Court, api: TestClient, page: Any, monkeypatch: pytest.MonkeyPatch, forgery: str
) -> None:
    forged_id = forge(retired, monkeypatch, **FORGERIES[forgery])
    doc = retired.service.document(forged_id)
    body = doc["certificate"]
    [retirement] = body["retirements"]
    rid = f"{retirement['tx_hash']}#{retirement['log_index']}"
    if forgery == "other damages":
        assert (body["claim"]["obligation_kg"], body["claim"]["obligation_fulfilled"]) == (300_748, True)
    for name, said in four(retired, api, page, doc).items():
        # every other check passes: the arithmetic is consistent, the fields open, the leaf is logged and anchored
        assert (said["verdict"], said["failed"]) == ("invalid", ["retirements"]), (name, said)
        assert rid in said["retirements"], (name, said)
        if name != "independent":
            assert "its claim hash on chain does not commit to the case this certificate names" in said["retirements"]


def test_the_issuer_refuses_a_court_claim_its_retirement_did_not_commit_to(retired: Court) -> None:
    """Certifying is refused, not only verifying: the court flow is the one way to a rule-based order."""
    genuine = retired.service.document(retired.certificate_id)
    [retirement] = genuine["certificate"]["retirements"]
    quote = cases.quote(
        CourtCase("（2021）闽0428刑初89号", str(CASE["court"]), Decimal(173_900), None, str(CASE["rule"]))
    )
    engine = retired.service.engine
    with engine.begin() as conn:
        conn.execute(delete(CertificateClaim).where(CertificateClaim.retirement_id == retirement["id"]))  # type: ignore[arg-type]
    try:
        with pytest.raises(issuer.CertificationError, match=r"does not commit to case （2021）闽0428刑初89号"):
            retired.service.certify(
                [retirement["id"]],
                scenario_key="EcologicalJustice",
                fields=quote.fields,
                conversion=quote.claim_conversion,
            )
    finally:
        with engine.begin() as conn:
            conn.execute(
                insert(CertificateClaim).values(retirement_id=retirement["id"], certificate_id=retired.certificate_id)
            )


def test_a_case_without_a_judgment_date_is_retired_and_verifies(retired: Court, api: TestClient, page: Any) -> None:
    """The reference holds null for the date; the certificate commits to no judgment_date field."""
    undated = {k: v for k, v in CASE.items() if k != "judgment_date"}
    case = retired.write("undated.json", {**undated, "case_number": "（2022）闽0428刑初6号", "damages_yuan": "3325"})
    name = retired.write("defendant.txt", DEFENDANT)
    text = retired.ledger(
        "court", "retire", "--case", str(case), "--batch", str(retired.batch), "--defendant-file", str(name)
    ).output
    assert "retired 10,000 kg" in text  # ¥3,325 × 523,000 ÷ 173,900 = 9,999.85… → 10,000 kg
    cert_id = re.findall(r"SCCW-\d+-\d{6}", text)[0]
    retired.service.anchor(force=True)
    doc = retired.service.document(cert_id)
    assert "judgment_date" not in doc["certificate"]["fields"]
    for name_, said in four(retired, api, page, doc).items():
        assert (said["verdict"], said["failed"]) == ("valid", []), (name_, said)
    # and the Python verifier against the node agrees with the in-browser one on its retirements' detail
    evidence = ChainEvidence(
        JsonRpc(retired.node.url),
        registry=retired.service.context.deployment.address,
        revocations=doc["certificate"]["issuer"]["revocations"],
    )
    verdict = verify_document(doc, evidence).as_json()
    detail = next(c["detail"] for c in verdict["checks"] if c["name"] == "retirements")
    assert detail == "1 retirement event(s) found on chain (node); each commits by its claim hash to the disclosed case"


# ---------------------------------------------------------------- the in-browser verifier is the Python one


def _set(path: tuple[str, ...], value: Any) -> Any:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path
        target = doc
        for key in parents:
            target = target[key]
        target[last] = value

    return edit


def _drop_date(doc: dict[str, Any]) -> None:
    doc["certificate"]["fields"].pop("judgment_date")
    doc["disclosed"].pop("judgment_date")


EDITS: dict[str, Any] = {
    "as issued": lambda doc: None,
    "court and case hidden": lambda doc: doc.update(hide(doc, {"court", "case_number"})),
    "judgment date hidden": lambda doc: doc.update(hide(doc, {"judgment_date"})),
    "another court disclosed": _set(("disclosed", "court", "value"), "三明市中级人民法院"),
    "a court that is a number": _set(("disclosed", "court", "value"), 5),
    "a court that is no text": _set(("disclosed", "court", "value"), "\ud800"),
    "other damages in the claim": _set(("certificate", "claim", "damages_yuan"), "100000"),
    "an obligation beyond 2^53": _set(("certificate", "claim", "obligation_kg"), 2**60),
    "a float obligation": _set(("certificate", "claim", "obligation_kg"), 523_000.5),
    "no rule in the claim": lambda doc: doc["certificate"]["claim"].pop("rule"),
    "the judgment date dropped": _drop_date,
}


def test_the_browser_and_python_verifiers_agree_on_court_documents(retired: Court, page: Any) -> None:
    """Same verdict, same failed checks, and the same words about the retirements, for the court certificate
    as issued and edited: hidden fields, other values, values no canonical JSON holds."""
    registry = retired.service.context.deployment.address
    disagree, verdicts = [], set()
    for name, edit in EDITS.items():
        doc = retired.service.document(retired.certificate_id)
        edit(doc)
        text = json.dumps(doc, ensure_ascii=True)  # \ud800 travels as its escape, as a pasted document would
        ours = page.evaluate("([t, u, r]) => LedgerVerifier.verify(t, u, r)", [text, retired.node.url, registry])
        revocations = doc["certificate"]["issuer"]["revocations"]
        evidence = ChainEvidence(JsonRpc(retired.node.url), registry=registry, revocations=revocations)
        theirs = verify_document(json.loads(text), evidence).as_json()
        said = [next(c for c in v["checks"] if c["name"] == "retirements") for v in (ours, theirs)]
        verdicts.add((name, theirs["verdict"], said[1]["ok"]))
        same_words = said[0]["detail"] == said[1]["detail"]
        if (ours["verdict"], ours["failed"], said[0]["ok"]) != (theirs["verdict"], theirs["failed"], said[1]["ok"]):
            disagree.append((name, ours["failed"], theirs["failed"]))
        elif not same_words:
            disagree.append((name, said[0]["detail"], said[1]["detail"]))
    assert not disagree, disagree
    # what the edits do to check `retirements` (the verdicts of the other checks are the parity's concern)
    compared = {name: ok for name, _, ok in verdicts}
    assert compared == {
        "as issued": True,
        "court and case hidden": True,
        "judgment date hidden": True,
        "another court disclosed": False,
        "a court that is a number": False,
        "a court that is no text": False,
        "other damages in the claim": False,
        "an obligation beyond 2^53": False,
        "a float obligation": False,
        "no rule in the claim": True,  # no longer a court order's claim: check `claim` fails it, nothing to compare
        "the judgment date dropped": False,
    }


def test_a_postgresql_mirror_gives_the_claim_hash_the_check_compares(retired: Court, postgres_url: str) -> None:
    """The API's evidence is the SQL mirror: indexed from this chain into a fresh PostgreSQL database, it gives
    the retirement's claim hash as the node does, and the mirror's verdict compares it with the case."""
    with scratch_engine(postgres_url, "ledger_test") as engine:
        d, client = retired.service.context.deployment, retired.service.client
        head = int(client.rpc.call("eth_blockNumber"), 16)
        indexer = Indexer(client.rpc, engine, client.abi, chain_id=d.chain_id, address=d.address, start_block=0)
        indexer.sync_once(until=head)
        evidence = MirrorEvidence(engine, chain_id=d.chain_id, registry=d.address)
        doc = retired.service.document(retired.certificate_id)
        [retirement] = doc["certificate"]["retirements"]
        found = evidence.retirement(retirement["tx_hash"], retirement["log_index"])
        assert found is not None and found.claim_hash == court_reference.claim_hash(genuine_reference())
        checks = {c.name: c for c in verify_document(doc, evidence).checks}
        assert checks["retirements"].ok and checks["retirements"].detail.endswith("to the disclosed case")
        doc["disclosed"]["case_number"]["value"] = "（2021）闽0428刑初89号"  # fails `fields` too: not reissued
        checks = {c.name: c for c in verify_document(doc, evidence).checks}
        rid = f"{retirement['tx_hash']}#{retirement['log_index']}"
        assert not checks["retirements"].ok and checks["retirements"].detail.startswith(f"{rid}: its claim hash")
