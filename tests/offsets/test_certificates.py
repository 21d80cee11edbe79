"""One personal certificate a purchase (docs/offsets.md §6), checked by every verifier: `ledger verify`
against the node, POST /api/v1/verify from the mirror, and the independent verifier of tests/api/.
Each proves person → allocation → claim hash of the retirement event → serials → log inclusion →
anchored root; a tampered allocation fails, naming the allocation check that failed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import col
from typer.testing import CliRunner

from api.app import create_app
from certificates.context import ServiceContext
from certificates.evidence import ChainEvidence
from certificates.settings import ServiceSettings
from certificates.verify import verify_document
from chain.rpc import JsonRpc
from offsets.certify import certify_retired
from offsets.models import OffsetPurchase
from offsets.purchases import purchase, purchase_id_for
from scripts.cli import app
from tests.api.browser import chromium_page
from tests.api.independent_verifier import verify as independent
from tests.api.server import free_port, serve_thread
from tests.offsets.conftest import Platform, account

runner = CliRunner()
PEOPLE = [
    (account("acct-0001", "salt-a"), 4, "pc-alice"),
    (account("acct-0002", "salt-b"), 6, "pc-bob"),
    (account("acct-0003", "salt-c"), 5, "pc-carol"),
]


@pytest.fixture
def issued(platform: Platform) -> tuple[Platform, dict[str, str]]:
    """Three purchases retired in one retireFor, one certificate each, the log anchored."""
    p = platform
    for at, (who, kg, key) in enumerate(PEOPLE):
        purchase(p.engine, who, kg, key, now=1_000 + at)
    (settled,) = p.batcher().run_once()
    assert settled.amount == 15
    ids = certify_retired(p.service)
    assert len(ids) == 3
    assert p.service.anchor(force=True) is not None
    with p.engine.connect() as conn:
        by_purchase = dict(conn.execute(select(col(OffsetPurchase.id), col(OffsetPurchase.certificate_id))).all())
    return p, {key: str(by_purchase[purchase_id_for(key)]) for _, _, key in PEOPLE}


@pytest.fixture
def api(issued: tuple[Platform, dict[str, str]]) -> Iterator[TestClient]:
    with TestClient(create_app(issued[0].service.context)) as client:
        yield client


def _verdicts(p: Platform, api: TestClient, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """`ledger verify` (node), POST /api/v1/verify (mirror), the independent verifier: each as
    {verdict, failed, retirements: detail}."""
    registry = p.service.context.deployment.address
    path = p.tmp / "doc.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    cli = runner.invoke(app, ["verify", str(path), "--rpc", p.client.rpc.url, "--registry", registry, "--json"])
    assert "Traceback" not in cli.output, cli.output
    ours = json.loads(cli.output)
    posted = api.post("/api/v1/verify", json=doc)
    assert posted.status_code == 200, posted.text
    theirs = independent(copy.deepcopy(doc), p.client.rpc.url, registry)

    def detail(v: dict[str, Any]) -> str:
        return str(next(c["detail"] for c in v["checks"] if c["name"] == "retirements"))

    return [
        {"verdict": ours["verdict"], "failed": set(ours["failed"]), "retirements": detail(ours)},
        {
            "verdict": posted.json()["verdict"],
            "failed": set(posted.json()["failed"]),
            "retirements": detail(posted.json()),
        },
        {
            "verdict": theirs["verdict"],
            "failed": set(theirs["failed"]),
            "retirements": theirs["notes"].get("retirements", ""),
        },
    ]


def test_each_person_holds_a_valid_certificate_of_their_kilograms(
    issued: tuple[Platform, dict[str, str]], api: TestClient
) -> None:
    p, ids = issued
    kg = {"pc-alice": 4, "pc-bob": 6, "pc-carol": 5}
    serials = []
    for (commitment, _, key), (k, cert_id) in zip(PEOPLE, ids.items(), strict=True):
        doc = p.service.document(cert_id)
        body = doc["certificate"]
        assert body["scenario"] == "Personal"
        # the claim is the person's share, not the 15 kg retired
        assert body["claim"] == {"quantity_kg": kg[k], "footprint_kg": kg[k], "carbon_neutral": True}
        assert body["retirements"][0]["amount_kg"] == 15
        leaf = body["allocation"]["leaf"]
        assert leaf["account_commitment"] == body["fields"]["account"] == commitment
        serials.append((leaf["serial_first"], leaf["serial_last"]))
        for v in _verdicts(p, api, doc):
            assert v["verdict"] == "valid", (key, v)
    # consecutive, disjoint, 4 + 6 + 5 kilograms
    (a0, a1), (b0, b1), (c0, c1) = sorted(serials)
    assert (a1 - a0 + 1, b1 - b0 + 1, c1 - c0 + 1) == (4, 6, 5) and b0 == a1 + 1 and c0 == b1 + 1
    # nothing personal: the account numbers are in no document
    assert "acct-0001" not in json.dumps(p.service.document(ids["pc-alice"]))


def test_certifying_again_issues_nothing(issued: tuple[Platform, dict[str, str]]) -> None:
    p, _ = issued
    assert certify_retired(p.service) == []


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def tamper(doc: dict[str, Any]) -> None:
        target = doc["certificate"]["allocation"]
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value(target[path[-1]]) if callable(value) else value

    return tamper


def _shift(by: int) -> Callable[[dict[str, Any]], None]:
    def tamper(doc: dict[str, Any]) -> None:
        leaf = doc["certificate"]["allocation"]["leaf"]
        leaf["serial_first"] += by
        leaf["serial_last"] += by

    return tamper


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        (_set(("leaf", "kg"), lambda kg: kg + 1), "allocation (kilograms)"),
        (_set(("leaf", "serial_first"), lambda s: s + 1), "allocation (kilograms)"),
        # both ends moved 1,000 serials on: as many kilograms, but outside the 15 retired
        (_shift(1000), "allocation (serials)"),
        (_set(("leaf", "account_commitment"), "0" * 64), "allocation (account commitment)"),
        (_set(("proof", "path"), lambda path: ["00" * 32, *path[1:]]), "allocation (sibling hashes)"),
    ],
)
def test_a_tampered_allocation_fails_its_named_check_everywhere(
    issued: tuple[Platform, dict[str, str]], api: TestClient, tamper: Any, named: str
) -> None:
    p, ids = issued
    doc = p.service.document(ids["pc-bob"])
    tamper(doc)
    for v in _verdicts(p, api, doc):
        assert v["verdict"] == "invalid"
        assert "retirements" in v["failed"], v
        assert named in v["retirements"], v


def test_serials_moved_inside_the_retirement_fail_the_hashes(
    issued: tuple[Platform, dict[str, str]], api: TestClient
) -> None:
    """Bob's serials shifted onto Alice's, kg unchanged: consistent and inside the retired range,
    so only the sibling hashes (and the log leaf) tell."""
    p, ids = issued
    doc = p.service.document(ids["pc-bob"])
    _shift(-4)(doc)
    for v in _verdicts(p, api, doc):
        assert v["verdict"] == "invalid"
        assert "allocation (sibling hashes)" in v["retirements"], v
        assert "inclusion" in v["failed"]


def test_the_browser_verifier_gives_the_python_verdict(
    issued: tuple[Platform, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """api/templates/verify/inbrowser.js in headless Chromium against the node, held to
    certificates/verify.py with ChainEvidence: same verdict, same failed checks, the same named
    allocation check, on each person's certificate and on each tampered copy."""
    p, ids = issued
    node = p.client.rpc.url
    monkeypatch.setenv("LEDGER_VERIFY_NODES", node)
    ctx = p.service.context
    registry = ctx.deployment.address
    docs = [(key, p.service.document(cert_id)) for key, cert_id in ids.items()]
    bob = p.service.document(ids["pc-bob"])
    for name, tamper in [
        ("kg", _set(("leaf", "kg"), lambda kg: kg + 1)),
        ("serials", _shift(1000)),
        ("serials inside", _shift(-4)),
        ("account", _set(("leaf", "account_commitment"), "0" * 64)),
        ("sibling", _set(("proof", "path"), lambda path: ["00" * 32, *path[1:]])),
        ("shape", lambda d: d["certificate"]["allocation"].pop("proof")),
    ]:
        doc = copy.deepcopy(bob)
        tamper(doc)
        docs.append((name, doc))
    app = create_app(ServiceContext(ctx.engine, ctx.deployment, ServiceSettings(), ctx.rpc))
    disagree = []
    with serve_thread(app, free_port(), access_log=False) as base, chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/verify")
        for name, doc in docs:
            text = json.dumps(doc, ensure_ascii=False)
            ours = page.evaluate("([t, u, r]) => LedgerVerifier.verify(t, u, r)", [text, node, registry])
            revocations = doc["certificate"]["issuer"]["revocations"]
            evidence = ChainEvidence(JsonRpc(node), registry=registry, revocations=revocations)
            theirs = verify_document(json.loads(text), evidence).as_json()
            said = [next((c["detail"] for c in v["checks"] if c["name"] == "retirements"), "") for v in (ours, theirs)]
            if (ours["verdict"], ours["failed"], said[0]) != (theirs["verdict"], theirs["failed"], said[1]):
                disagree.append((name, ours["verdict"], ours["failed"], said[0], theirs["verdict"], said[1]))
    assert not disagree, disagree
    assert not errors, errors
