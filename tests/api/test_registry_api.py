"""The public registry's API (/api/v1 lists, sanctions, statistics, snapshots) and downloads
(/registry/export, chart CSVs, published reason documents) over HTTP, on a registry indexed from
a real chain (tests/public/conftest.py)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.problems import PROBLEM
from public import lists, snapshot
from tests.api.conftest import PERSONAL_DATA
from tests.conftest import PROJECT
from tests.public.conftest import Public, public_registry  # noqa: F401  # the fixture, for this module

V1 = "/api/v1"
LISTS = ["projects", "batches", "retirements", "cancellations", "exports", "reserve", "participants", "sanctions"]


@pytest.fixture(scope="module")
def web(public_registry: Public) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(public_registry.certified.service.context)) as client:
        yield client


def walk(web: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = None
    while True:
        r = web.get(path, params={**params, "limit": 2, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        after = body["next"]
        if after is None:
            return items


@pytest.mark.parametrize("name", LISTS)
def test_each_list_pages_through_every_row_once(web: TestClient, public_registry: Public, name: str) -> None:  # noqa: F811
    items = walk(web, f"{V1}/{name}")
    with public_registry.certified.service.engine.connect() as conn:
        expected = lists.page(conn, name, {}, None, lists.MAX_LIMIT).rows
    keys = lists.SPECS[name].keys
    assert [tuple(i[k] for k in keys) for i in items] == [tuple(e[k] for k in keys) for e in expected]
    assert items, f"the demo registry has {name}"
    text = json.dumps(items, ensure_ascii=False)
    for secret in PERSONAL_DATA:
        assert secret not in text


def test_filters_over_http(web: TestClient, public_registry: Public) -> None:  # noqa: F811
    cast = public_registry.certified.world.cast
    assert [p["id"] for p in walk(web, f"{V1}/projects", county="511802", methodology="scfm-001-v01")] == [PROJECT]
    assert walk(web, f"{V1}/projects", owner=cast.buyer.address) == []
    large = walk(web, f"{V1}/retirements", scenario="large_event")
    assert sorted(r["amount_kg"] for r in large) == [150, 1_250]  # the demo's 1,250 kg and the activity's 150 kg
    assert {c["reason"] for c in walk(web, f"{V1}/cancellations", reason="exported")} == {"exported"}
    assert [e["amount_kg"] for e in walk(web, f"{V1}/exports", status="pending")] == [30]
    assert all(b["circulating_kg"] > 0 for b in walk(web, f"{V1}/batches", supply="circulating"))
    [platform] = walk(web, f"{V1}/participants", status="suspended")
    assert platform["address"] == cast.platform.address.lower()
    assert [(h["previous"], h["status"]) for h in platform["history"]] == [("active", "suspended")]
    forest = web.get(f"{V1}/methodologies", params={"ecosystem": "forest"}).json()
    assert [m["id"] for m in forest] == ["SCFM-001-V01"]
    reserve = web.get(f"{V1}/reserve").json()
    assert reserve["total_reserve_kg"] == sum(r["reserve_kg"] for r in reserve["items"])


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("retirements", {"scenario": "wedding"}, "scenario 'wedding' is not one of"),
        ("retirements", {"after": "garbage"}, "the cursor is not one the retirements list gave"),
        ("retirements", {"limit": 501}, "limit"),
        ("projects", {"county": "x"}, "county is a whole number"),
        ("sanctions", {"status": "active"}, "status on the sanctions list is one of"),
        ("methodologies", {"ecosystem": "ocean"}, "ecosystem 'ocean' is not one of"),
        ("snapshots", {"date": "yesterday"}, "date 'yesterday' is not YYYY-MM-DD"),
    ],
)
def test_bad_input_is_a_422_problem_in_one_line(web: TestClient, path: str, params: dict[str, Any], words: str) -> None:
    r = web.get(f"{V1}/{path}", params=params)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    assert words in r.json()["detail"] and "\n" not in r.json()["detail"]


def test_sanctions_carry_date_reason_hash_and_the_published_document(web: TestClient, public_registry: Public) -> None:  # noqa: F811
    items = web.get(f"{V1}/sanctions").json()["items"]
    assert [s["status"] for s in items] == ["revoked", "restricted", "suspended"]
    assert all(s["date"] and s["date"].endswith("UTC") for s in items)  # the node answered for every block
    by_status = {s["status"]: s for s in items}
    assert by_status["revoked"]["document_url"] is None  # its reason hash has no published file
    url = by_status["restricted"]["document_url"]
    assert url == f"/registry/documents/{public_registry.reason_hash[2:]}"
    document = web.get(url)
    assert document.status_code == 200
    assert "0x" + hashlib.sha256(document.content).hexdigest() == by_status["restricted"]["reason_hash"]
    assert web.get(f"/registry/documents/{public_registry.secret_reason_hash[2:]}").status_code == 404
    assert web.get("/registry/documents/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_without_a_node_the_notices_keep_their_blocks_and_lose_only_dates(
    public_registry: Public,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chain.rpc import JsonRpc

    context = public_registry.certified.service.context
    monkeypatch.setattr(context, "rpc", JsonRpc("http://127.0.0.1:9", timeout=1))  # nothing listens on port 9
    with TestClient(create_app(context)) as web:
        items = web.get(f"{V1}/sanctions").json()["items"]
    assert len(items) == 3 and all(s["date"] is None and s["block_number"] > 0 for s in items)


def test_exports_stream_every_list_with_record_types(web: TestClient) -> None:
    for name in [*LISTS, "methodologies", "status_changes"]:
        r = web.get(f"/registry/export/{name}.csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows and {row["record_type"] for row in rows} == {lists.SPECS[name].record_type}
        j = web.get(f"/registry/export/{name}.jsonl")
        assert j.headers["content-type"].startswith("application/x-ndjson")
        assert [json.loads(x)["record_type"] for x in j.text.splitlines()] == [row["record_type"] for row in rows]
    personal = web.get("/registry/export/retirements.csv", params={"scenario": "personal"})
    assert {row["scenario"] for row in csv.DictReader(io.StringIO(personal.text))} == {"personal"}
    ledger = web.get("/registry/export/ledger.jsonl")
    types = {json.loads(x)["record_type"] for x in ledger.text.splitlines()}
    assert types == {"retirement", "cancellation", "export", "reserve_deposit"}
    for bad, words in [("retirements.xlsx", "format 'xlsx'"), ("wallets.csv", "no list 'wallets'")]:
        r = web.get(f"/registry/export/{bad}")
        assert r.status_code == 422 and words in r.json()["detail"]


def test_statistics_and_their_csv(web: TestClient) -> None:
    s = web.get(f"{V1}/statistics").json()
    retired = sum(r["amount_kg"] for r in walk(web, f"{V1}/retirements"))
    assert s["totals"]["retired_kg"] == retired == sum(b["retired_kg"] for b in s["by_scenario"])
    assert sum(b["issued_kg"] for b in s["by_county"]) == s["totals"]["issued_kg"]
    table = list(csv.DictReader(io.StringIO(web.get("/registry/statistics/scenario.csv").text)))
    assert {row["scenario"]: int(row["retired_kg"]) for row in table} == {
        b["key"]: b["retired_kg"] for b in s["by_scenario"]
    }
    assert web.get("/registry/statistics/colour.csv").status_code == 404


def test_the_snapshot_endpoint_gives_what_a_download_is_checked_with(
    web: TestClient,
    public_registry: Public,  # noqa: F811
    tmp_path: Any,
) -> None:
    service = public_registry.certified.service
    made = snapshot.write(service.engine, service.context.log, tmp_path, "2026-11-29")
    service.anchor(force=True)
    [found] = web.get(f"{V1}/snapshots", params={"date": "2026-11-29"}).json()["snapshots"]
    assert found["sha256"] == made.sha256 == hashlib.sha256(made.path.read_bytes()).hexdigest()
    proof = snapshot.SnapshotProof(**found)
    assert snapshot.check(made.sha256, proof, service.client.anchored_root(found["tree_size"])) == []
    assert web.get(f"{V1}/snapshots").json()["snapshots"]


def test_the_api_sums_the_final_blocks_before_its_first_request(public_registry: Public) -> None:  # noqa: F811
    """The dashboard's first answer in a process scanned every retirement (0.4-0.9 s on a million
    in bench/public_registry.py); the app's startup now does that once, before serving."""
    from public import stats

    context = public_registry.certified.service.context
    key = str(context.engine.url)
    stats._finals.pop(key, None)
    stats._cache.clear()
    app = create_app(context)
    assert key not in stats._finals  # creating the app reads nothing
    with TestClient(app):  # startup, as uvicorn runs it
        assert key in stats._finals
