"""Every route of the public API against a real registry (anvil, SQLite mirror, one certificate per
scenario): the right data, and errors as RFC 9457 problems."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certificates.verify import CHECKS
from chain import rfc9162
from chain.types import Scenario
from tests.api.conftest import DEMO, Certified

V1 = "/api/v1"


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# ------------------------------------------------------------------ certificates


def test_the_list_pages_with_after_and_limit(api: TestClient, certified: Certified) -> None:
    everything = ok(api.get(f"{V1}/certificates", params={"limit": 100}))
    ids = [c["id"] for c in everything["items"]]
    assert set(certified.ids.values()) <= set(ids) and len(ids) == len(set(ids))
    assert everything["next"] is None
    first = everything["items"][0]
    assert set(first) == {"id", "scenario", "quantity_kg", "issued_at", "leaf_index", "revoked", "verify_url"}
    assert first["verify_url"] == f"http://testserver/verify/{first['id']}"
    assert [c["leaf_index"] for c in everything["items"]] == sorted(c["leaf_index"] for c in everything["items"])

    paged, after = [], 0
    while True:
        page = ok(api.get(f"{V1}/certificates", params={"after": after, "limit": 2}))
        assert len(page["items"]) <= 2
        paged += [c["id"] for c in page["items"]]
        if page["next"] is None:
            break
        assert page["next"] > after
        after = page["next"]
    assert paged == ids
    assert ok(api.get(f"{V1}/certificates", params={"after": 2**62}))["items"] == []
    for bad in ({"limit": 0}, {"limit": 101}, {"after": -1}, {"limit": "x"}):
        problem(api.get(f"{V1}/certificates", params=bad), 422)


def test_one_certificate_carries_public_fields_only(api: TestClient, certified: Certified) -> None:
    for scenario, cert_id in certified.ids.items():
        doc = ok(api.get(f"{V1}/certificates/{cert_id}"))
        public = certified.public(cert_id)
        assert doc == public, scenario
        holder = certified.holder_copy(cert_id)
        hidden = set(holder["disclosed"]) - set(doc["disclosed"])
        assert set(doc["disclosed"]) <= set(holder["disclosed"])
        for name in hidden:  # a hidden field is only its commitment
            assert name in doc["certificate"]["fields"]
            assert all(not isinstance(v, dict) or "salt" not in v for v in doc.values() if v is not None)
    assert (
        "id_number" not in ok(api.get(f"{V1}/certificates/{certified.ids[Scenario.TREE_PLANTING_DUTY]}"))["disclosed"]
    )
    body = problem(api.get(f"{V1}/certificates/SCCW-0-999999"), 404)
    assert "SCCW-0-999999" in body["detail"]


def test_the_proof_at_an_anchored_size_and_not_at_an_unknown_one(api: TestClient, certified: Certified) -> None:
    roots = ok(api.get(f"{V1}/log/roots"))["roots"]
    cert_id = certified.ids[Scenario.ORGANISATION]
    doc = certified.public(cert_id)
    leaf = doc["proof"]["leaf_index"]
    sizes = [r["tree_size"] for r in roots if r["tree_size"] > leaf]
    assert len(sizes) >= 2  # anchored after each certificate (anchor_every=1)
    for size in sizes:
        proof = ok(api.get(f"{V1}/certificates/{cert_id}/proof", params={"tree_size": size}))
        assert proof["tree_size"] == size and proof["leaf_index"] == leaf
        assert proof["certificate_id"] == cert_id and proof["body"] == doc["certificate"]
        root = next(r["root"] for r in roots if r["tree_size"] == size)
        assert proof["root"] == root
        assert rfc9162.verify_inclusion(
            leaf,
            size,
            bytes.fromhex(proof["leaf_hash"]),
            [bytes.fromhex(p) for p in proof["inclusion"]],
            bytes.fromhex(root),
        )
    latest = ok(api.get(f"{V1}/certificates/{cert_id}/proof"))
    assert latest["tree_size"] == max(sizes)
    unknown = max(r["tree_size"] for r in roots) + 1000
    assert (
        "not been anchored"
        in problem(api.get(f"{V1}/certificates/{cert_id}/proof", params={"tree_size": unknown}), 404)["detail"]
    )
    if leaf > 0:  # an anchored tree that does not contain the leaf
        problem(api.get(f"{V1}/certificates/{cert_id}/proof", params={"tree_size": leaf}), 404)
    problem(api.get(f"{V1}/certificates/{cert_id}/proof", params={"tree_size": 0}), 422)
    problem(api.get(f"{V1}/certificates/SCCW-nope/proof"), 404)


# ------------------------------------------------------------------ verification


def test_verify_a_valid_document(api: TestClient, certified: Certified) -> None:
    for scenario, cert_id in certified.ids.items():
        for doc in (certified.public(cert_id), certified.holder_copy(cert_id)):
            verdict = ok(api.post(f"{V1}/verify", json=doc))
            assert verdict["verdict"] == "valid", (scenario, verdict)
            assert verdict["certificate_id"] == cert_id and verdict["failed"] == []
            assert [c["name"] for c in verdict["checks"]] == list(CHECKS)
            assert all(c["ok"] and c["title_zh"] and c["title_en"] and c["detail"] for c in verdict["checks"])


def test_verify_a_tampered_document_names_the_check(api: TestClient, certified: Certified) -> None:
    doc = certified.public(certified.ids[Scenario.LARGE_EVENT])
    doc["disclosed"]["event_name"]["value"] = "另一个活动"
    verdict = ok(api.post(f"{V1}/verify", json=doc))
    assert verdict["verdict"] == "invalid" and verdict["failed"] == ["fields"]
    assert {c["name"]: c["ok"] for c in verdict["checks"]}["fields"] is False

    doc = certified.public(certified.ids[Scenario.VOLUNTARY])
    doc["certificate"]["retirements"][0]["amount_kg"] += 1
    verdict = ok(api.post(f"{V1}/verify", json=doc))
    assert verdict["verdict"] == "invalid" and {"retirements", "inclusion"} <= set(verdict["failed"])


def test_verify_garbage_is_a_problem_and_a_non_certificate_a_verdict(api: TestClient) -> None:
    for garbage in (b"{not json", b"\xff\xfe\x00", b""):
        body = problem(api.post(f"{V1}/verify", content=garbage, headers={"content-type": "application/json"}), 400)
        assert body["title"] == "Not JSON"
    for not_a_certificate in ({"hello": "world"}, [], 42, "text", None, {"format": "sichuan-ccw/1", "certificate": {}}):
        verdict = ok(
            api.post(
                f"{V1}/verify",
                content=json.dumps(not_a_certificate).encode(),
                headers={"content-type": "application/json"},
            )
        )
        assert verdict["verdict"] == "invalid" and verdict["failed"] == ["format"], verdict
        assert verdict["checks"][0]["name"] == "format" and verdict["checks"][0]["ok"] is False
    problem(api.post(f"{V1}/verify", content=b" " * ((1 << 20) + 1)), 413)


# ------------------------------------------------------------------ provenance and catalog


def _retirements(certified: Certified) -> list[dict[str, Any]]:
    return [r for cert_id in certified.ids.values() for r in certified.public(cert_id)["certificate"]["retirements"]]


def test_provenance_of_a_retirement(api: TestClient, certified: Certified) -> None:
    c = certified.world.client
    for r in _retirements(certified):
        p = ok(api.get(f"{V1}/provenance/retirements/{r['id']}"))
        ret = p["retirement"]
        assert ret["id"] == r["id"] and ret["amount"] == r["amount_kg"] and ret["batch_id"] == r["batch_id"]
        assert ret["tx_hash"] == r["tx_hash"] and ret["log_index"] == r["log_index"]
        assert "beneficiary_commitment" not in ret
        assert p["certificate_id"] in certified.ids.values()
        assert p["batch"]["id"] == certified.world.batch_id
        assert p["batch"]["last_serial"] == p["batch"]["first_serial"] + p["batch"]["issued"] - 1
        assert p["project"]["id"] and p["project"]["methodology_id"] == p["methodology"]["id"]
        assert {"county_code", "area_square_metres", "review_report_hash"} <= set(p["project"])
        issuance = c.rpc.call("eth_getTransactionReceipt", p["issuance"]["tx_hash"])
        assert int(issuance["blockNumber"], 16) == p["issuance"]["block_number"]
        ranges = [[s["first_serial"], s["last_serial"]] for s in p["serial_ranges"]]
        assert ranges == r["serial_ranges"]
        assert sum(s["amount_kg"] for s in p["serial_ranges"]) == r["amount_kg"]
        for s in p["serial_ranges"]:
            kinds = [m["kind"] for m in s["moves"]]
            assert kinds[0] == "issue" and kinds[-1] == "retire", kinds
            assert s["moves"][-1]["tx_hash"] == r["tx_hash"]
            # the custody chain: each move starts where the previous one ended
            for before, after in zip(s["moves"], s["moves"][1:]):
                assert after["from_holder"] == before["to_holder"]
                assert (after["block_number"], after["log_index"]) > (before["block_number"], before["log_index"])
            assert s["moves"][-1]["from_holder"].lower() == certified.world.cast.holder.address.lower()
    problem(api.get(f"{V1}/provenance/retirements/31337-0xdead-0"), 404)


def test_provenance_of_one_serial(api: TestClient, certified: Certified) -> None:
    r = _retirements(certified)[0]
    first, last = r["serial_ranges"][0]
    for serial in (first, last):
        p = ok(api.get(f"{V1}/provenance/serials/{serial}"))
        assert p["serial"] == serial and p["batch_id"] == r["batch_id"]
        assert p["now"]["state"] == "retired" and p["now"]["retirement_id"] == r["id"]
        assert p["now"]["lot_first"] <= serial <= p["now"]["lot_last"]
        assert [m["kind"] for m in p["moves"]][-1] == "retire"
        assert all(m["first_serial"] <= serial <= m["last_serial"] for m in p["moves"])
        assert p["batch"]["id"] == r["batch_id"] and p["project"]["id"]
    batch = ok(api.get(f"{V1}/batches/{r['batch_id']}"))
    problem(api.get(f"{V1}/provenance/serials/{batch['last_serial'] + 1}"), 404)
    problem(api.get(f"{V1}/provenance/serials/-1"), 422)


def test_batch_project_methodologies(api: TestClient, certified: Certified) -> None:
    w = certified.world
    batch = ok(api.get(f"{V1}/batches/{w.batch_id}"))
    retired = sum(kg for _, kg, _ in DEMO)
    assert batch["id"] == w.batch_id and batch["supply"]["issued_kg"] == batch["issued"]
    assert batch["supply"]["retired_kg"] >= retired
    s = batch["supply"]
    assert s["circulating_kg"] == s["issued_kg"] - s["retired_kg"] - s["cancelled_kg"]
    holders = {h["holder"].lower(): h for h in batch["holders"]}
    assert w.client.balance_of(w.cast.holder.address, w.batch_id) == holders[w.cast.holder.address.lower()]["amount_kg"]
    project = ok(api.get(f"{V1}/projects/{batch['project_id']}"))
    assert project["id"] == batch["project_id"] and w.batch_id in [b["id"] for b in project["batches"]]
    assert project["parcels"]
    methodologies = ok(api.get(f"{V1}/methodologies"))
    assert project["methodology_id"] in [m["id"] for m in methodologies]
    problem(api.get(f"{V1}/batches/999999"), 404)
    problem(api.get(f"{V1}/batches/x"), 422)
    problem(api.get(f"{V1}/projects/P-NOPE"), 404)


# ------------------------------------------------------------------ the log, health, schema


def test_log_roots_and_consistency_proofs(api: TestClient, certified: Certified) -> None:
    log = ok(api.get(f"{V1}/log/roots"))
    roots = log["roots"]
    assert log["log_size"] >= len(certified.ids) and roots
    assert [r["tree_size"] for r in roots] == sorted({r["tree_size"] for r in roots})
    context = certified.service.context
    for r in roots:
        assert bytes.fromhex(r["root"]) == context.log.root(r["tree_size"])
        assert r["tx_hash"].startswith("0x") and r["block_number"] > 0
    for a in roots:
        for b in roots:
            if a["tree_size"] > b["tree_size"]:
                continue
            p = ok(api.get(f"{V1}/log/consistency", params={"first": a["tree_size"], "second": b["tree_size"]}))
            assert (p["first_root"], p["second_root"]) == (a["root"], b["root"])
            assert rfc9162.verify_consistency(
                a["tree_size"],
                b["tree_size"],
                bytes.fromhex(a["root"]),
                bytes.fromhex(b["root"]),
                [bytes.fromhex(x) for x in p["proof"]],
            )
            if a["tree_size"] < b["tree_size"]:  # a wrong root does not pass
                assert not rfc9162.verify_consistency(
                    a["tree_size"],
                    b["tree_size"],
                    bytes.fromhex(b["root"]),
                    bytes.fromhex(a["root"]),
                    [bytes.fromhex(x) for x in p["proof"]],
                )
    top = roots[-1]["tree_size"]
    problem(api.get(f"{V1}/log/consistency", params={"first": top, "second": top + 7}), 404)
    problem(api.get(f"{V1}/log/consistency", params={"first": top, "second": 1}), 422)
    problem(api.get(f"{V1}/log/consistency", params={"first": 1}), 422)


def test_health_reports_the_indexer_lag(api: TestClient, certified: Certified) -> None:
    h = ok(api.get(f"{V1}/health"))
    head = int(certified.world.client.rpc.call("eth_blockNumber"), 16)
    assert h["chain_id"] == 31337 and h["registry"].lower() == certified.world.client.address.lower()
    assert h["node_block"] == head and h["indexed_block"] == certified.service.indexed_block()
    assert h["indexer_lag_blocks"] == head - h["indexed_block"] >= 0
    assert h["status"] == ("ok" if h["indexer_lag_blocks"] <= 5 else "degraded")
    assert h["log_size"] == certified.service.context.log.size()


def test_openapi_lists_every_route(api: TestClient) -> None:
    schema = ok(api.get("/openapi.json"))
    paths = set(schema["paths"])
    expected = {
        "/certificates",
        "/certificates/{certificate_id}",
        "/certificates/{certificate_id}/proof",
        "/verify",
        "/provenance/retirements/{retirement_id}",
        "/provenance/serials/{serial}",
        "/batches/{batch_id}",
        "/projects/{project_id}",
        "/methodologies",
        "/log/roots",
        "/log/consistency",
        "/health",
    }
    assert {V1 + p for p in expected} <= paths, paths
    assert {"/verify", "/verify/{certificate_id}", "/certificates/{certificate_id}.pdf"} <= paths
    assert "post" in schema["paths"][f"{V1}/verify"]


def test_unknown_routes_and_methods_are_problems(api: TestClient) -> None:
    problem(api.get(f"{V1}/nothing-here"), 404)
    body = problem(api.delete(f"{V1}/certificates"), 405)
    assert body["title"]
    problem(api.get("/certificates/SCCW-nope.pdf"), 404)


def test_pages_are_html(api: TestClient, certified: Certified) -> None:
    for path in ("/verify", f"/verify/{certified.ids[Scenario.VOLUNTARY]}"):
        r = api.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert 'id="verdict"' in r.text
    r = api.get(f"/certificates/{certified.ids[Scenario.VOLUNTARY]}.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    doc = copy.deepcopy(certified.public(certified.ids[Scenario.VOLUNTARY]))
    assert ok(api.post(f"{V1}/verify", json=doc))["verdict"] == "valid"


@pytest.mark.parametrize("path", [f"{V1}/certificates", f"{V1}/log/roots", f"{V1}/methodologies", f"{V1}/health"])
def test_cheap_routes_answer_json(api: TestClient, path: str) -> None:
    ok(api.get(path))


def test_a_retirement_rolled_back_from_the_mirror_stops_verifying(certified: Certified) -> None:
    """The mirror's evidence caches retirements it found for `cache_seconds`: a reorganisation that
    removes one (the indexer deletes its row) is seen once that time has passed."""
    import time

    from sqlalchemy import text

    from certificates.evidence import MirrorEvidence
    from certificates.verify import verify_document

    d = certified.service.context.deployment
    evidence = MirrorEvidence(certified.service.engine, chain_id=d.chain_id, registry=d.address, cache_seconds=0.3)
    doc = certified.public(certified.ids[Scenario.PERSONAL])
    r = doc["certificate"]["retirements"][0]
    assert verify_document(doc, evidence).status == "valid"
    with certified.service.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM retirements WHERE id = :id"), {"id": r["id"]}).mappings().one()
        conn.execute(text("DELETE FROM retirements WHERE id = :id"), {"id": r["id"]})
    try:
        time.sleep(0.35)
        verdict = verify_document(doc, evidence)
        assert verdict.status == "invalid" and verdict.failed == ["retirements"], verdict.as_json()
    finally:
        with certified.service.engine.begin() as conn:
            conn.execute(
                text(f"INSERT INTO retirements ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)})"),
                dict(row),
            )
    assert verify_document(doc, evidence).status == "valid"


def test_verify_refuses_deep_nesting_and_oversized_bodies(api: TestClient, certified: Certified) -> None:
    """A megabyte of "[" used to overflow the C stack in json.loads (the recursion limit is 100,000
    once py_ecc is imported) and kill the worker; a body is also never read past the limit."""
    for depth in (65, 5_000, 400_000):
        body = problem(api.post(f"{V1}/verify", content=b"[" * depth + b"]" * depth), 400)
        assert "nest" in body["detail"]
    problem(api.post(f"{V1}/verify", content=b"[" * 500_000), 400)  # unbalanced
    problem(api.post(f"{V1}/verify", content=b'{"a": ' * 100_000), 400)
    # brackets inside strings do not count; a document nesting 64 levels is still a verdict
    verdict = ok(api.post(f"{V1}/verify", json={"note": "[" * 10_000, "x": json.loads("[" * 63 + "]" * 63)}))
    assert verdict["failed"] == ["format"]

    def chunks():  # no content-length: streamed, refused once past the limit
        for _ in range(64):
            yield b" " * 65_536

    problem(api.post(f"{V1}/verify", content=chunks()), 413)
    doc = certified.public(certified.ids[Scenario.VOLUNTARY])
    assert ok(api.post(f"{V1}/verify", json=doc))["verdict"] == "valid"  # still serving


def test_unreadable_chain_evidence_fails_the_checks_and_never_crashes(certified: Certified) -> None:
    """docs/certificate-format.md §8: no node, no code or a revert fails the check that needed it."""
    from certificates.evidence import ChainEvidence
    from certificates.verify import verify_document
    from chain.rpc import JsonRpc

    d = certified.service.context.deployment
    doc = certified.public(certified.ids[Scenario.VOLUNTARY])
    for rpc, registry, revocations in [
        (JsonRpc("http://127.0.0.1:9", timeout=2), d.address, d.revocations),  # no node
        (certified.world.client.rpc, "0x" + "12" * 20, d.revocations),  # no code at the registry
        (certified.world.client.rpc, d.revocations, d.revocations),  # a contract that reverts anchoredRoot
        (certified.world.client.rpc, d.address, ""),  # no revocation list
    ]:
        verdict = verify_document(
            doc, ChainEvidence(rpc, chain_id=d.chain_id, registry=registry, revocations=revocations)
        )
        assert verdict.status == "invalid", verdict.as_json()
        assert "revocation" in verdict.failed
    no_list = verify_document(
        doc, ChainEvidence(certified.world.client.rpc, chain_id=d.chain_id, registry=d.address, revocations="")
    )
    assert no_list.failed == ["revocation"] and no_list.status == "invalid"  # unreadable, not "revoked"


def test_a_retirement_listed_twice_fails_format(api: TestClient, certified: Certified) -> None:
    doc = certified.public(certified.ids[Scenario.VOLUNTARY])
    doc["certificate"]["retirements"].append(copy.deepcopy(doc["certificate"]["retirements"][0]))
    verdict = ok(api.post(f"{V1}/verify", json=doc))
    assert verdict["failed"] == ["format"] and "twice" in verdict["checks"][0]["detail"]
