"""The public lists on a mirror indexed from a real chain: filters, canonical spellings, keyset
pagination that neither repeats nor skips while the chain moves, and one-line refusals."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from chain.opids import random_op_id
from chain.types import RetirementId, Scenario
from indexer.models import Retirement
from public import cursor, lists
from public.errors import PublicQueryError
from tests.conftest import METHODOLOGY, PROJECT
from tests.public.conftest import Public


def everything(conn: Connection, name: str, given: dict[str, str | None] | None = None, limit: int = 2) -> list[Any]:
    """Every row of a list, page by page (small pages, so the cursor is exercised)."""
    out: list[Any] = []
    after = None
    while True:
        page = lists.page(conn, name, given or {}, after, limit)
        out += page.rows
        if page.next_cursor is None:
            return out
        after = page.next_cursor


def test_retirements_filter_by_scenario_batch_and_period(public_registry: Public) -> None:
    with public_registry.certified.service.engine.connect() as conn:
        rows = everything(conn, "retirements")
        assert len(rows) == conn.execute(select(func.count()).select_from(Retirement)).scalar()
        for r in rows:  # the canonical retirement id, and the block order with its tiebreak
            assert str(RetirementId.parse(r["id"])) == r["id"]
        keys = [(r["block_number"], r["log_index"]) for r in rows]
        assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
        # the demo retired 1,250 kg for a large event and the activity 150 kg more: 2 rows, 1,400 kg
        large = everything(conn, "retirements", {"scenario": "LARGE-EVENT"})
        assert sorted(r["amount_kg"] for r in large) == [150, 1_250]
        assert all(r["scenario"] == "large_event" for r in large)
        batch = everything(conn, "retirements", {"batch": "1"})
        assert batch and all(r["batch_id"] == 1 and r["project_id"] == PROJECT for r in batch)
        middle = keys[len(keys) // 2][0]
        early = everything(conn, "retirements", {"to_block": str(middle)})
        late = everything(conn, "retirements", {"from_block": str(middle + 1)})
        assert len(early) + len(late) == len(rows) and all(r["block_number"] <= middle for r in early)


def test_catalog_lists_filter_and_spell_methodologies_one_way(public_registry: Public) -> None:
    with public_registry.certified.service.engine.connect() as conn:
        [project] = everything(conn, "projects", {"county": "511802"})
        assert project["id"] == PROJECT and project["ecosystem"] == "forest"
        assert everything(conn, "projects", {"county": "510104"}) == []
        for spelling in ("scfm-001-v01", " SCFM_001_V01 ", "scfm 001 v01"):
            assert [p["id"] for p in everything(conn, "projects", {"methodology": spelling})] == [PROJECT]
        assert [p["id"] for p in everything(conn, "projects", {"status": "registered", "ecosystem": "forest"})] == [
            PROJECT
        ]
        [m] = everything(conn, "methodologies", {"ecosystem": "forest"})
        assert m["id"] == METHODOLOGY and m["version"] == 1
        batches = everything(conn, "batches", {"project": PROJECT})
        assert len(batches) >= 2
        for b in batches:  # circulating = issued - retired - cancelled
            assert b["circulating_kg"] == b["issued_kg"] - b["retired_kg"] - b["cancelled_kg"]
            assert b["last_serial"] == b["first_serial"] + b["issued_kg"] - 1
        circulating = everything(conn, "batches", {"supply": "circulating"})
        assert {b["id"] for b in circulating} == {b["id"] for b in batches if b["circulating_kg"] > 0}
        reserve = everything(conn, "reserve", {})
        assert reserve and all(r["reserve_kg"] > 0 for r in reserve)


def test_cancellations_exports_participants_and_sanctions(public_registry: Public) -> None:
    c = public_registry.certified.world.client
    cast = public_registry.certified.world.cast
    with public_registry.certified.service.engine.connect() as conn:
        [cancel] = everything(conn, "cancellations", {"reason": "reversal"})
        assert cancel["amount_kg"] == 100 and cancel["holder"] == c.reserve_account().lower()
        exports = {e["status"]: e["amount_kg"] for e in everything(conn, "exports")}
        assert exports == {"confirmed": 250, "aborted": 50, "pending": 30}
        sanctions = everything(conn, "sanctions")
        # newest first: the pledgee revoked, the buyer restricted, the platform suspended by the activity
        assert [(s["address"], s["status"]) for s in sanctions] == [
            (cast.pledgee.address.lower(), "revoked"),
            (cast.buyer.address.lower(), "restricted"),
            (cast.platform.address.lower(), "suspended"),
        ]
        assert sanctions[0]["reason_hash"] == public_registry.secret_reason_hash
        assert sanctions[1]["reason_hash"] == public_registry.reason_hash
        assert [s["address"] for s in everything(conn, "sanctions", {"status": "revoked"})] == [
            cast.pledgee.address.lower()
        ]
        restricted = everything(conn, "participants", {"status": "restricted"})
        assert [p["address"] for p in restricted] == [cast.buyer.address.lower()]


def test_pages_neither_repeat_nor_skip_while_the_chain_moves(public_registry: Public) -> None:
    """Newest first: retirements made while someone pages sit above the cursor, so the pages
    hold exactly the rows there were at the start; a fresh walk then finds the new ones too."""
    certified = public_registry.certified
    engine = certified.service.engine
    with engine.connect() as conn:
        before = {r["id"] for r in everything(conn, "retirements")}
    seen: list[str] = []
    after = None
    added = []
    while True:
        with engine.connect() as conn:
            page = lists.page(conn, "retirements", {}, after, 2)
        seen += [r["id"] for r in page.rows]
        receipt = certified.retire(Scenario.VOLUNTARY, 1, b"\x33" * 32)
        added.append(
            RetirementId.of(certified.world.client.chain_id, receipt.tx_hash, receipt.event("CreditsRetired").log_index)
        )
        public_registry.sync()
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert len(seen) == len(set(seen)) and set(seen) == before
    with engine.connect() as conn:
        now = [r["id"] for r in everything(conn, "retirements", limit=3)]
    assert len(now) == len(set(now)) and set(now) == before | set(added)
    # oldest first (batches by id): a batch issued mid-walk appears on a later page, once
    with engine.connect() as conn:
        first = lists.page(conn, "batches", {}, None, 1)
    c = certified.world.client
    issued = (
        c.issue(
            random_op_id(),
            project_id=PROJECT,
            vintage=2025,
            monitoring_start=1_700_000_000,
            monitoring_end=1_710_000_000,
            quantity=1_000,
            reserve_bps=1_000,
            verification_report_hash=b"\x42" * 32,
        )
        .event("BatchIssued")
        .args["batchId"]
    )
    public_registry.sync()
    walked = [first.rows[0]["id"]]
    after = first.next_cursor
    while after:
        with engine.connect() as conn:
            page = lists.page(conn, "batches", {}, after, 1)
        walked += [b["id"] for b in page.rows]
        after = page.next_cursor
    assert walked == sorted(set(walked)) and walked[-1] == issued


@pytest.mark.parametrize(
    ("name", "given", "after", "limit", "words"),
    [
        ("retirements", {"colour": "green"}, None, 10, "unknown filter 'colour'"),
        ("retirements", {"scenario": "wedding"}, None, 10, "scenario 'wedding' is not one of"),
        ("retirements", {"batch": "one"}, None, 10, "batch is a whole number"),
        ("retirements", {"from_block": "9", "to_block": "3"}, None, 10, "from_block is after to_block"),
        ("projects", {"owner": "0x12"}, None, 10, "owner is an account address"),
        ("projects", {"county": "51"}, None, 10, "county 51 is outside"),
        ("sanctions", {"status": "active"}, None, 10, "status on the sanctions list is one of"),
        ("retirements", {}, "bm90IGEgY3Vyc29y", 10, "the cursor is not one the retirements list gave"),
        ("retirements", {}, cursor.encode("batches", (3,)), 10, "the cursor is not one the retirements list gave"),
        ("retirements", {}, cursor.encode("retirements", (True, 1)), 10, "the cursor is not one"),
        ("retirements", {}, None, 501, "limit is 1..500"),
        ("wallets", {}, None, 10, "no list 'wallets'"),
    ],
)
def test_bad_requests_are_refused_in_one_line(
    public_registry: Public, name: str, given: dict[str, str], after: str | None, limit: int, words: str
) -> None:
    with public_registry.certified.service.engine.connect() as conn, pytest.raises(PublicQueryError) as caught:
        lists.page(conn, name, given, after, limit)
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_a_cursor_is_opaque_but_round_trips() -> None:
    text = cursor.encode("retirements", (1234, 7))
    assert "1234" not in text and cursor.decode("retirements", text, (int, int)) == (1234, 7)
