"""Restarting the API and the indexer loses no certificate and no log entry: the API served by
uvicorn is stopped, the database re-opened by a new engine, ServiceContext and TransparencyLog, the
indexer run again from its cursor, and the same list, roots and documents come back, every one of
them still verifying. Certifying after the restart (from the new service and the old one) extends
the same log consistently."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from api.app import create_app
from certificates.context import ServiceContext
from certificates.evidence import ChainEvidence
from certificates.service import CertificateService, retire_and_certify
from certificates.settings import ServiceSettings
from certificates.verify import verify_document
from chain import rfc9162
from chain.types import Scenario
from indexer.db import make_engine
from indexer.sync import Indexer
from tests.api.conftest import Certified
from tests.api.server import serve_thread


def get(base: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


def snapshot(base: str) -> dict[str, Any]:
    """Everything the API says about the registry's certificates and log."""
    ids, after = [], 0
    listing = []
    while True:
        page = get(base, f"/api/v1/certificates?after={after}&limit=3")
        listing += page["items"]
        if page["next"] is None:
            break
        after = page["next"]
    ids = [c["id"] for c in listing]
    log = get(base, "/api/v1/log/roots")
    return {
        "list": listing,
        "roots": log["roots"],
        "log_size": log["log_size"],
        "documents": {i: get(base, f"/api/v1/certificates/{i}") for i in ids},
        "proofs": {i: get(base, f"/api/v1/certificates/{i}/proof") for i in ids},
    }


def verdicts(base: str, documents: dict[str, Any]) -> dict[str, str]:
    return {i: get(base, "/api/v1/verify", doc)["verdict"] for i, doc in documents.items()}


def leaves(context: ServiceContext, size: int) -> list[bytes]:
    return [context.log.leaf(i)[0] for i in range(size)]


def test_restart_loses_no_certificate_and_no_log_entry(certified: Certified) -> None:
    old = certified.service
    url = str(old.engine.url)
    deployment = old.context.deployment

    with serve_thread(create_app(old.context)) as base:
        before = snapshot(base)
        assert set(certified.ids.values()) <= set(before["documents"])
        assert set(verdicts(base, before["documents"]).values()) == {"valid"}
    before_leaves = leaves(old.context, before["log_size"])
    old.engine.dispose()

    # the indexer, restarted from its cursor on a new engine, finds nothing to change
    engine = make_engine(url)
    client = certified.world.client
    indexer = Indexer(
        client.rpc,
        engine,
        client.abi,
        chain_id=deployment.chain_id,
        address=deployment.address,
        start_block=deployment.block_number,
    )
    indexer.sync_once()

    context = ServiceContext(engine, deployment, ServiceSettings(public_url="http://testserver"), client.rpc)
    assert context.log is not old.context.log and context.evidence is not old.context.evidence
    with serve_thread(create_app(context)) as base:
        after = snapshot(base)
        assert after == before
        assert set(verdicts(base, after["documents"]).values()) == {"valid"}
    assert leaves(context, after["log_size"]) == before_leaves
    for r in after["roots"]:
        assert context.log.root(r["tree_size"]).hex() == r["root"]
    d = deployment
    node = ChainEvidence(client.rpc, chain_id=d.chain_id, registry=d.address, revocations=d.revocations)
    for cert_id, doc in after["documents"].items():
        assert verify_document(doc, node).status == "valid", cert_id

    # certify after the restart, from a service opened anew and from the one opened before it
    new = CertificateService.open(
        engine, deployment, old.client, ServiceSettings(anchor_every=1, public_url="http://testserver")
    )
    issued = []
    for service, name in ((new, "钱八"), (old, "孙九")):
        _, cert = retire_and_certify(
            service,
            lambda cm: certified.retire(Scenario.VOLUNTARY, 4, cm),
            name,
            scenario_key="VOLUNTARY",
            fields={"message": "重启之后"},
        )
        issued.append(cert.certificate_id)

    with serve_thread(create_app(ServiceContext(make_engine(url), deployment, ServiceSettings(), client.rpc))) as base:
        final = snapshot(base)
        assert final["log_size"] == before["log_size"] + 2
        assert [c["id"] for c in final["list"]] == [c["id"] for c in before["list"]] + issued
        assert set(verdicts(base, final["documents"]).values()) == {"valid"}
        # the log was extended, never rewritten: consistency from every old anchored size to the newest
        newest = final["roots"][-1]
        assert newest["tree_size"] == final["log_size"]
        for r in before["roots"]:
            p = get(base, f"/api/v1/log/consistency?first={r['tree_size']}&second={newest['tree_size']}")
            assert rfc9162.verify_consistency(
                r["tree_size"],
                newest["tree_size"],
                bytes.fromhex(r["root"]),
                bytes.fromhex(newest["root"]),
                [bytes.fromhex(x) for x in p["proof"]],
            )
    assert leaves(context, before["log_size"]) == before_leaves
