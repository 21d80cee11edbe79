"""Verification edge cases (issue 12, item 8) on a real anvil, through POST /verify and `ledger verify`:
a lone surrogate in the document, a tree size beyond any integer the format allows, an unreachable node,
an opening with an extra member, a document without `proof`, a registry address without a contract;
and `ledger certificate pdf` into a directory that does not exist."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from certificates.evidence import ChainEvidence
from certificates.verify import EvidenceError, verify_document
from chain.rpc import JsonRpc
from chain.types import Scenario
from scripts.cli import app
from tests.api.conftest import Certified

runner = CliRunner()
VERDICT = r"(?:valid|invalid|revoked|pending) \(node [^ ]+, chain [^ )]+\)"
TITLES = [
    "Document format",
    "Issuing registry",
    "Field commitments",
    "Claim and quantities",
    "Beneficiary commitment matches the chain",
    "Inclusion in the transparency log",
    "Log root anchored on chain",
    "Retirements on chain",
    "Not revoked",
]


def voluntary(certified: Certified) -> dict[str, Any]:
    return certified.public(certified.ids[Scenario.VOLUNTARY])


def post(api: TestClient, doc: Any) -> Any:
    # json.dumps writes a lone surrogate as the escape "\ud800", which any JSON parser accepts
    return api.post("/api/v1/verify", content=json.dumps(doc).encode(), headers={"content-type": "application/json"})


def ledger_verify(
    certified: Certified, doc: dict[str, Any], tmp_path: Path, *extra: str, rpc: str | None = None
) -> Any:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc), "utf-8")
    registry = certified.service.context.deployment.address
    result = runner.invoke(
        app, ["verify", str(path), "--rpc", rpc or certified.node.url, "--registry", registry, *extra]
    )
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    return result


def flat(output: str) -> str:
    """The output with line breaks as spaces: the console wraps long lines at its width."""
    return " ".join(output.split())


def shown(output: str, title: str) -> str:
    """ "<mark> <detail>" of the check titled `title` (English), wherever the console wrapped it."""
    pattern = r"([✔✘?]) \S+ / " + re.escape(title) + r": (.*?)(?= [✔✘?] \S+ / | " + VERDICT + "|$)"
    found = re.search(pattern, flat(output))
    assert found is not None, output
    return f"{found.group(1)} {found.group(2)}"


def verdict_of(output: str) -> str:
    found = re.search(VERDICT, flat(output))
    assert found is not None, output
    return found.group(0)


def _in_disclosed_value(doc: dict[str, Any]) -> None:
    doc["disclosed"]["message"]["value"] = "为了\ud800"


def _in_disclosed_name(doc: dict[str, Any]) -> None:
    doc["disclosed"]["\udfff"] = {"value": "x", "salt": "00" * 16}


def _in_body(doc: dict[str, Any]) -> None:
    doc["certificate"]["issuer"]["name"] = "登记簿\ud800"


def _in_certificate_id(doc: dict[str, Any]) -> None:
    doc["certificate"]["id"] = "SCCW-31337-\ud800"


def _in_registry(doc: dict[str, Any]) -> None:
    doc["certificate"]["issuer"]["registry"] = "0x\ud800"


# (where the lone surrogate is, the edit, the checks that must fail)
SURROGATES = [
    ("a disclosed value", _in_disclosed_value, {"fields"}),
    ("a disclosed name", _in_disclosed_name, {"fields"}),
    ("the body", _in_body, {"inclusion"}),
    ("the certificate id", _in_certificate_id, {"inclusion"}),
    ("the issuing registry", _in_registry, {"format"}),  # not an address
]


@pytest.mark.parametrize("where,edit,failed", SURROGATES, ids=[s[0] for s in SURROGATES])
def test_a_lone_surrogate_is_an_invalid_verdict_from_post_verify(
    certified: Certified, api: TestClient, where: str, edit: Any, failed: set[str]
) -> None:
    doc = voluntary(certified)
    edit(doc)
    response = post(api, doc)
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["verdict"] == "invalid" and failed <= set(verdict["failed"]), verdict
    if where == "the certificate id":
        assert verdict["certificate_id"] == "SCCW-31337-\\ud800"


@pytest.mark.parametrize("where,edit,failed", SURROGATES, ids=[s[0] for s in SURROGATES])
def test_a_lone_surrogate_is_an_invalid_verdict_from_ledger_verify(
    certified: Certified, tmp_path: Path, where: str, edit: Any, failed: set[str]
) -> None:
    doc = voluntary(certified)
    edit(doc)
    result = ledger_verify(certified, doc, tmp_path)
    assert result.exit_code == 1, result.output
    assert verdict_of(result.output).startswith("invalid ")
    title = {
        "fields": "Field commitments",
        "inclusion": "Inclusion in the transparency log",
        "format": "Document format",
    }[min(failed)]
    assert shown(result.output, title)[0] == "✘"
    as_json = json.loads(ledger_verify(certified, doc, tmp_path, "--json").output)
    assert as_json["verdict"] == "invalid" and failed <= set(as_json["failed"])


def test_a_tree_size_of_2_to_the_256_fails_format(certified: Certified, api: TestClient, tmp_path: Path) -> None:
    doc = voluntary(certified)
    doc["proof"]["tree_size"] = 2**256
    result = ledger_verify(certified, doc, tmp_path)
    assert result.exit_code == 1
    assert shown(result.output, "Document format").startswith(
        "✘ proof must hold leaf_index and tree_size (integers from 0 to 9007199254740991)"
    )
    assert verdict_of(result.output).startswith("invalid ")
    verdict = post(api, doc).json()
    assert verdict["verdict"] == "invalid" and verdict["failed"] == ["format"]


def test_the_node_refuses_a_tree_size_beyond_uint256_as_unreadable_evidence(certified: Certified) -> None:
    d = certified.service.context.deployment
    evidence = ChainEvidence(JsonRpc(certified.node.url), registry=d.address, revocations=d.revocations)
    assert evidence.chain_id == 31337  # read from the node when not given
    with pytest.raises(EvidenceError, match="anchoredRoot"):
        evidence.anchored_root(2**256)


def test_an_unreachable_node_still_gives_the_verdict_check_by_check(certified: Certified, tmp_path: Path) -> None:
    doc = voluntary(certified)
    result = ledger_verify(certified, doc, tmp_path, rpc="http://127.0.0.1:1")
    assert result.exit_code == 1
    marks = {title: shown(result.output, title) for title in TITLES}  # every check is listed, as §9 promises
    for title in ("Issuing registry", "Log root anchored on chain", "Retirements on chain", "Not revoked"):
        assert marks[title].startswith("? could not be read: cannot reach the node at http://127.0.0.1:1 "), marks
    for title in (
        "Document format",
        "Field commitments",
        "Claim and quantities",
        "Beneficiary commitment matches the chain",
        "Inclusion in the transparency log",
    ):
        assert marks[title].startswith("✔ "), marks
    assert verdict_of(result.output) == "invalid (node http://127.0.0.1:1, chain ?)"
    assert "? = not checked: issuer, anchor, retirements, revocation could not be read" in flat(result.output)
    as_json = json.loads(ledger_verify(certified, doc, tmp_path, "--json", rpc="http://127.0.0.1:1").output)
    assert as_json["verdict"] == "invalid"
    assert as_json["unreadable"] == as_json["failed"] == ["issuer", "anchor", "retirements", "revocation"]


def test_an_opening_with_an_extra_member_is_refused(certified: Certified, api: TestClient, tmp_path: Path) -> None:
    doc = voluntary(certified)
    doc["disclosed"]["message"]["note"] = "paid in full"
    verdict = post(api, doc).json()
    assert verdict["verdict"] == "invalid" and verdict["failed"] == ["fields"]
    result = ledger_verify(certified, doc, tmp_path)
    assert result.exit_code == 1
    assert (
        shown(result.output, "Field commitments") == '✘ field message is not an opening of exactly "value" and "salt"'
    )


def test_a_document_without_proof_is_invalid_and_with_a_null_proof_pending(
    certified: Certified, api: TestClient, tmp_path: Path
) -> None:
    doc = voluntary(certified)
    null = copy.deepcopy(doc)
    null["proof"] = None
    assert post(api, null).json()["verdict"] == "pending"
    assert verdict_of(ledger_verify(certified, null, tmp_path).output).startswith("pending ")
    del doc["proof"]
    verdict = post(api, doc).json()
    assert verdict["verdict"] == "invalid" and verdict["failed"] == ["format"]
    assert "proof is missing" in verdict["checks"][0]["detail"]
    assert shown(ledger_verify(certified, doc, tmp_path).output, "Document format").startswith("✘ proof is missing")


def test_a_registry_without_a_contract_is_named(certified: Certified) -> None:
    doc = voluntary(certified)
    nobody = "0x" + "12" * 20
    evidence = ChainEvidence(
        JsonRpc(certified.node.url),
        chain_id=31337,
        registry=nobody,
        revocations=doc["certificate"]["issuer"]["revocations"],
    )
    verdict = verify_document(doc, evidence)
    assert verdict.status == "invalid"
    anchor = next(c for c in verdict.checks if c.name == "anchor")
    assert anchor.unreadable and f"there is no contract at {nobody} on this chain" in anchor.detail


def test_pdf_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "no-such-directory" / "x.pdf"
    result = runner.invoke(app, ["certificate", "pdf", "SCCW-31337-000001", "--out", str(out)])
    assert result.exit_code == 1
    assert "unexpected" not in result.output and "Traceback" not in result.output
    # one message; the console may wrap a long path, so compare without whitespace
    expected = f"error: --out {out}: there is no directory {out.parent}; create it or write elsewhere"
    assert "".join(result.output.split()) == "".join(expected.split())
