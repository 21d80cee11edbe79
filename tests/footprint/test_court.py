"""生态司法 end to end on a real anvil (issue 16, "Ecological-justice workflow"; docs/footprint.md): a court's
order of ¥173,900 at the published rule fj-jiangle-2021@1 (¥173,900 for 523 t) is quoted, retired by the seller
from its own balance in one transaction whose claim hash commits to the case, and certified to the court with the
liable party's name sealed. Every verifier (`ledger verify` against the node, POST /api/v1/verify from the mirror,
the independent verifier of tests/api/ with the published rules) accepts the certificate and refuses it with its
rule or obligation changed; the name is in no output, log, public document or database row in clear; a re-run
retires nothing; bad input is one line with nothing retired."""

from __future__ import annotations

import copy
import json
import logging
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from certificates.court import REFERENCE_FORMAT
from certificates.printable import certificate_view
from certificates.render.pdf import certificate_pdf
from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from chain.canonical import canonical_json, sha256_hex
from chain.client import RegistryClient
from chain.deploy import record_path
from chain.node import LocalNode
from chain.opids import random_op_id
from footprint.conversion import RULES_DIR, shipped_rules
from indexer.db import make_engine
from scripts.cli import app
from tests.api.independent_verifier import verify as independent
from tests.conftest import HASH, PROJECT, World, deploy_world

runner = CliRunner()
DEFENDANT = "陈默林"  # the liable party (赔偿义务人): personal data, never to be seen outside the vault
CASE = {
    "format": "ledger-court-case/1",
    "case_number": "（2021）闽0428刑初88号",
    "court": "将乐县人民法院",
    "judgment_date": "2021-07-16",
    "damages_yuan": 173900,
    "rule": "fj-jiangle-2021@1",
}
# the published case's own pair: ¥173,900 for 523 t, so its damages convert back to exactly 523 t:
# 173,900 × 523 t × 1000 kg/t ÷ 173,900 = 523,000 kg (no rounding needed)
OBLIGATION_KG = 173_900 * 523 * 1000 // 173_900
assert OBLIGATION_KG == 523_000
SELLER_BATCH_KG = 700_000  # a batch issued for the seller (the project owner) in the fixture
RESERVE_BPS = 1_000


@dataclass
class Court:
    world: World
    node: LocalNode
    tmp: Path
    env: dict[str, str]
    batch: int
    service: CertificateService  # signs as the anchorer: the CLI's key (the seller's) may not anchor
    outputs: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    certificate_id: str = ""

    def ledger(self, *argv: str, ok: bool = True, input: str | None = None, key: Any = None) -> Any:
        env = self.env if key is None else {**self.env, "LEDGER_PRIVATE_KEY": "0x" + bytes(key.key).hex()}
        result = runner.invoke(app, list(argv), input=input, env=env)
        self.outputs.append(result.output)
        assert "Traceback" not in result.output, result.output
        if ok:
            assert result.exit_code == 0, f"{argv}: {result.output}"
        return result

    def balance(self, batch: int | None = None) -> int:
        return self.world.client.balance_of(self.world.cast.owner.address, batch or self.batch)

    def write(self, name: str, data: Any) -> Path:
        path = self.tmp / name
        path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), "utf-8")
        return path


class Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record) + repr(record.__dict__))


@pytest.fixture(scope="module")
def court(build: Any, cast: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Court]:
    """A registry on its own anvil; the project owner, the seller, holds a batch of 630,000 kg (700,000 issued,
    10 % to the reserve); the CLI signs as the owner."""
    tmp = tmp_path_factory.mktemp("court")
    with pytest.MonkeyPatch.context() as mp, LocalNode(block_time=None) as node:
        world = deploy_world(node.url, tmp / "deployments", build, cast)
        issued = world.client.issue(
            random_op_id(),
            project_id=PROJECT,
            vintage=2025,
            monitoring_start=1_735_689_600,  # 2025
            monitoring_end=1_767_225_600,
            quantity=SELLER_BATCH_KG,
            reserve_bps=RESERVE_BPS,
            verification_report_hash=HASH,
        )
        batch = int(issued.event("BatchIssued").args["batchId"])
        d = world.registry.deployment
        (tmp / "cli-deployments").mkdir()
        record_path(tmp / "cli-deployments", d.chain_id).write_text(d.to_json())
        env = {
            "LEDGER_RPC_URL": node.url,
            "LEDGER_DEPLOYMENTS_DIR": str(tmp / "cli-deployments"),
            "LEDGER_VAR_DIR": str(tmp / "var"),
            "DATABASE_URL": f"sqlite:///{tmp / 'ledger.sqlite'}",
            "LEDGER_DATA_KEY_FILE": str(tmp / "data.key"),
            "LEDGER_PRIVATE_KEY": "0x" + bytes(cast.owner.key).hex(),
        }
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("LEDGER_CONFIRMATIONS", raising=False)
        anchorer = RegistryClient(
            world.client.rpc,
            world.client.address,
            world.client.abi,
            chain_id=world.client.chain_id,
            signer=cast.anchorer,
        )
        service = CertificateService.open(
            make_engine(env["DATABASE_URL"]), d, anchorer, ServiceSettings(public_url="http://testserver")
        )
        state = Court(world, node, tmp, env, batch, service)
        # every record at every level comes here alone: the CLI's basicConfig adds no handler while one is
        # present, and a handler an earlier CliRunner run left on a closed stream is set aside meanwhile
        collect = Collect(state.logs)
        root = logging.getLogger()
        level, handlers = root.level, root.handlers[:]
        root.handlers[:] = [collect]
        root.setLevel(logging.DEBUG)
        try:
            yield state
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)


@pytest.fixture(scope="module")
def retired(court: Court) -> Court:
    """The order retired once through the CLI, the log anchored."""
    assert court.balance() == SELLER_BATCH_KG * (10_000 - RESERVE_BPS) // 10_000 == 630_000
    case, name = court.write("case.json", CASE), court.write("defendant.txt", DEFENDANT + "\n")
    result = court.ledger(
        "court", "retire", "--case", str(case), "--batch", str(court.batch), "--defendant-file", str(name)
    )
    court.certificate_id = re.findall(r"SCCW-\d+-\d{6}", result.output)[0]
    assert court.service.anchor(force=True) is not None
    return court


@pytest.fixture(scope="module")
def api(retired: Court) -> Iterator[TestClient]:
    with TestClient(create_app(retired.service.context)) as client:
        yield client


def verdicts(court: Court, api: TestClient, doc: dict[str, Any]) -> dict[str, Any]:
    """Each verifier's verdict: `ledger verify` (node), POST /api/v1/verify (mirror), the independent one with the
    published rule tables."""
    registry = court.service.context.deployment.address
    path = court.write("doc.json", doc)
    cli = court.ledger("verify", str(path), "--rpc", court.node.url, "--registry", registry, "--json", ok=False)
    ours = json.loads(cli.output)
    assert cli.exit_code == (0 if ours["verdict"] == "valid" else 1)
    posted = api.post("/api/v1/verify", json=doc)
    assert posted.status_code == 200, posted.text
    theirs = independent(copy.deepcopy(doc), court.node.url, registry, str(RULES_DIR))
    return {
        "verdicts": [ours["verdict"], posted.json()["verdict"], theirs["verdict"]],
        "failed": set(ours["failed"]) | set(posted.json()["failed"]) | set(theirs["failed"]),
        "claim": next(c["detail"] for c in ours["checks"] if c["name"] == "claim"),
    }


def test_the_quote_writes_out_the_arithmetic_and_writes_nothing(court: Court) -> None:
    case = court.write("quote.json", CASE)
    before = court.balance()
    text = court.ledger("court", "quote", "--case", str(case)).output
    assert "¥173900 × 523 t × 1000 ÷ ¥173900 = 523,000 kg (523.000 t)" in text
    assert "rule fj-jiangle-2021@1: ¥173900 for 523 t" in text
    quoted = json.loads(court.ledger("court", "quote", "--case", str(case), "--json").output)
    assert quoted["obligation_kg"] == OBLIGATION_KG
    assert quoted["rule"]["sha256"] == shipped_rules().damages["fj-jiangle-2021@1"].sha256
    # ¥10,000 at the same rule: 10,000 × 523,000 ÷ 173,900 = 30,074.75… kg, rounded up to 30,075
    small = court.write("small.json", {**CASE, "damages_yuan": "10000"})
    assert json.loads(court.ledger("court", "quote", "--case", str(small), "--json").output)["obligation_kg"] == 30_075
    assert court.balance() == before


def test_one_order_is_retired_from_the_sellers_balance_and_certified_to_the_court(
    retired: Court, api: TestClient
) -> None:
    assert retired.balance() == 630_000 - OBLIGATION_KG  # 107,000 kg left: the seller retired from its own balance
    doc = retired.service.document(retired.certificate_id)
    body = doc["certificate"]
    rule = shipped_rules().damages["fj-jiangle-2021@1"]
    assert body["scenario"] == "EcologicalJustice"
    assert body["claim"] == {
        "quantity_kg": 523_000,
        "damages_yuan": "173900",
        "price_yuan": "173900",
        "price_tonnes": "523",
        "obligation_kg": 523_000,  # ⌈173,900 × 523 × 1000 ÷ 173,900⌉
        "obligation_fulfilled": True,
        "rule": {"id": "fj-jiangle-2021", "version": 1, "sha256": rule.sha256},
    }
    # addressed to the court: the court, the case number and the date are public; the liable party is sealed
    assert {k: v["value"] for k, v in doc["disclosed"].items()} == {
        "court": CASE["court"],
        "case_number": CASE["case_number"],
        "judgment_date": CASE["judgment_date"],
    }
    assert "beneficiary" in body["fields"] and "beneficiary" not in doc["disclosed"]
    [retirement] = body["retirements"]
    assert retirement["holder"] == retired.world.cast.owner.address.lower() and retirement["amount_kg"] == 523_000
    # the one transaction's claim hash commits to the case reference
    receipt = retired.world.client.rpc.call("eth_getTransactionReceipt", retirement["tx_hash"])
    [log] = [lg for lg in receipt["logs"] if int(lg["logIndex"], 16) == retirement["log_index"]]
    reference = {
        "format": REFERENCE_FORMAT,
        "court": CASE["court"],
        "case_number": CASE["case_number"],
        "judgment_date": CASE["judgment_date"],
        "damages_yuan": "173900",
        "rule": body["claim"]["rule"],
        "obligation_kg": 523_000,
    }
    assert bytes.fromhex(log["data"][2:])[96:128].hex() == sha256_hex(canonical_json(reference))
    result = verdicts(retired, api, doc)
    assert result["verdicts"] == ["valid"] * 3, result
    assert "conversion rule fj-jiangle-2021@1 is the published one" in result["claim"]
    assert (
        verdicts(retired, api, retired.service.document(retired.certificate_id, holder_copy=True))["verdicts"]
        == ["valid"] * 3
    )


def _rule_hash(claim: dict[str, Any]) -> None:
    claim["rule"]["sha256"] = "0" * 64


def _rule_version(claim: dict[str, Any]) -> None:
    claim["rule"]["version"] = 2


def _obligation(claim: dict[str, Any]) -> None:
    claim["obligation_kg"] = 500_000  # the court ordered 523,000


def _price_and_obligation(claim: dict[str, Any]) -> None:
    """A cheaper price with the arithmetic redone: 173,900 × 1 × 1000 ÷ 332.5 = 523,007.5… → 523,008; fulfilled False"""
    claim["price_yuan"], claim["price_tonnes"], claim["obligation_kg"] = "332.5", "1", 523_008
    claim["obligation_fulfilled"] = False


def _damages(claim: dict[str, Any]) -> None:
    claim["damages_yuan"] = "100000"


TAMPERS = {
    "the rule's hash": _rule_hash,
    "the rule's version": _rule_version,
    "the obligation": _obligation,
    "the price, arithmetic redone": _price_and_obligation,
    "the damages": _damages,
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_changing_the_claims_rule_or_obligation_fails_every_verifier(
    retired: Court, api: TestClient, tamper: str
) -> None:
    doc = retired.service.document(retired.certificate_id)
    TAMPERS[tamper](doc["certificate"]["claim"])
    result = verdicts(retired, api, doc)
    assert result["verdicts"] == ["invalid"] * 3, result
    assert "inclusion" in result["failed"]  # the body is no longer the logged one


def test_a_rule_that_is_not_the_published_one_fails_the_claim_check_itself(retired: Court) -> None:
    """The claim check alone (no log involved): a hash that is not the shipped row's is named."""
    from certificates.verify import _claim

    doc = retired.service.document(retired.certificate_id)
    _rule_hash(doc["certificate"]["claim"])
    check = _claim(doc)
    assert not check.ok and "not the published row's" in check.detail
    doc = retired.service.document(retired.certificate_id)
    _obligation(doc["certificate"]["claim"])
    assert "the obligation does not follow from the damages" in _claim(doc).detail


def test_running_the_same_case_again_retires_nothing(retired: Court) -> None:
    case, name = retired.write("case.json", CASE), retired.write("defendant.txt", DEFENDANT)
    before, other = retired.balance(), retired.balance(retired.world.batch_id)
    for batch in (retired.batch, retired.world.batch_id):  # another batch too: the case keys the operation
        text = retired.ledger(
            "court", "retire", "--case", str(case), "--batch", str(batch), "--defendant-file", str(name)
        ).output
        assert "was already retired" in text and retired.certificate_id in text
    assert (retired.balance(), retired.balance(retired.world.batch_id)) == (before, other)


def sealed_rows(court: Court) -> int:
    with sqlite3.connect(court.tmp / "ledger.sqlite") as conn:
        return int(conn.execute("SELECT count(*) FROM beneficiary_secrets").fetchone()[0])


BAD = {
    "an unknown rule": ({**CASE, "rule": "nowhere@1"}, "no damages rule 'nowhere@1'; use one of fj-jiangle-2021@1"),
    "negative damages": ({**CASE, "damages_yuan": -5}, "damages_yuan -5 must be above 0 yuan"),
    "zero damages": ({**CASE, "damages_yuan": "0"}, "damages_yuan 0 must be above 0 yuan"),
    "damages below the fen": ({**CASE, "damages_yuan": "10.001"}, "to the fen (0.01)"),
    "no case number": ({k: v for k, v in CASE.items() if k != "case_number"}, "lacks case_number; add it"),
    "a name in the case": ({**CASE, "defendant": DEFENDANT}, "unknown member defendant"),
    "a date that is none": ({**CASE, "judgment_date": "2021-02-30"}, "must be a date, YYYY-MM-DD"),
    "more than the seller holds": (
        # ¥60,000,000 × 523,000 ÷ 173,900 = 180,448,533.6… → 180,448,534 kg, against 107,000 free
        {**CASE, "case_number": "（2022）闽0428民初1号", "damages_yuan": 60_000_000},
        "has 107,000 kg of batch",
    ),
    "not JSON": ("{case", "is not JSON"),
}


@pytest.mark.parametrize("bad", list(BAD))
def test_bad_input_is_one_line_and_retires_nothing(retired: Court, bad: str) -> None:
    data, expected = BAD[bad]
    case, name = retired.write("bad.json", data), retired.write("defendant.txt", DEFENDANT)
    before, rows = retired.balance(), sealed_rows(retired)
    result = retired.ledger(
        "court", "retire", "--case", str(case), "--batch", str(retired.batch), "--defendant-file", str(name), ok=False
    )
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert expected in lines[0]
    assert (retired.balance(), sealed_rows(retired)) == (before, rows)


def test_a_platform_retires_a_custodial_sellers_units_for_a_case(retired: Court, api: TestClient) -> None:
    """retireFor: the platform signs, the seller's own balance is retired; the defendant never holds units."""
    cast = retired.world.cast
    retired.world.client.set_approval_for_all(cast.platform.address, True, sender=cast.owner)
    case = retired.write("custodial.json", {**CASE, "case_number": "（2022）闽0428刑初5号", "damages_yuan": "3325"})
    name = retired.write("defendant.txt", DEFENDANT)
    before = retired.balance()
    text = retired.ledger(
        "court",
        "retire",
        "--case",
        str(case),
        "--batch",
        str(retired.batch),
        "--holder",
        cast.owner.address,
        "--defendant-file",
        str(name),
        key=cast.platform,
    ).output
    # ¥3,325 × 523,000 ÷ 173,900 = 9,999.85… → 10,000 kg, from the owner's balance
    assert retired.balance() == before - 10_000
    cert_id = re.findall(r"SCCW-\d+-\d{6}", text)[0]
    retired.service.anchor(force=True)
    doc = retired.service.document(cert_id)
    [retirement] = doc["certificate"]["retirements"]
    assert retirement["holder"] == cast.owner.address.lower() and doc["certificate"]["claim"]["obligation_kg"] == 10_000
    assert verdicts(retired, api, doc)["verdicts"] == ["valid"] * 3


def test_the_name_is_never_on_the_command_line(retired: Court) -> None:
    case = retired.write("case.json", CASE)
    result = retired.ledger("court", "retire", "--case", str(case), "--batch", str(retired.batch), ok=False)
    assert result.exit_code == 1 and "--defendant-file" in result.output
    fresh = retired.write("fresh.json", {**CASE, "case_number": "（2023）闽0428民初7号", "damages_yuan": 1000})
    text = retired.ledger(  # standard input: ¥1,000 × 523,000 ÷ 173,900 = 3,007.47… → 3,008 kg
        "court", "retire", "--case", str(fresh), "--batch", str(retired.batch), "--defendant-file", "-", input=DEFENDANT
    ).output
    assert "retired 3,008 kg" in text


def test_the_liable_partys_name_appears_nowhere_public(retired: Court, api: TestClient) -> None:
    cert_id = retired.certificate_id
    public = json.dumps(retired.service.document(cert_id), ensure_ascii=False)
    shown = retired.ledger("certificate", "show", cert_id).output
    page_answer = api.get(f"/verify/{cert_id}")
    assert page_answer.status_code == 200
    page = page_answer.text
    view = certificate_view(retired.service.document(cert_id), f"http://testserver/verify/{cert_id}")
    assert "fj-jiangle-2021@1" in view.statement_zh and DEFENDANT not in repr(view)
    assert certificate_pdf(view).startswith(b"%PDF")
    served = api.get(f"/api/v1/certificates/{cert_id}").text
    listing = api.get("/api/v1/certificates").text
    with sqlite3.connect(retired.tmp / "ledger.sqlite") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"')]  # our tables
    for where, text in [
        ("CLI output", "\n".join(retired.outputs)),
        ("logs", "\n".join(retired.logs)),
        ("public copy", public),
        ("ledger certificate show", shown),
        ("verify page", page),
        ("API document", served),
        ("API list", listing),
        ("database rows", "\n".join(rows)),
    ]:
        assert DEFENDANT not in text, where
    assert retired.outputs and retired.logs and rows  # the grep had something to look at
    # the holder's copy opens it: the name was sealed, not lost
    assert retired.service.document(cert_id, holder_copy=True)["disclosed"]["beneficiary"]["value"] == DEFENDANT
