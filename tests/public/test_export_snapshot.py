"""Bulk exports (CSV, JSON Lines, the ledger of distinct movement types), the daily snapshot
checked against the anchored log root on chain, and the statistics with their charts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import Connection

from chain.types import Scenario
from public import charts, export, lists, snapshot, stats
from public.errors import PublicQueryError
from tests.api.conftest import PERSONAL_DATA
from tests.public.conftest import Public
from tests.public.test_lists import everything


def download(conn: Connection, name: str, fmt: str, given: dict[str, str | None] | None = None) -> str:
    ex = export.prepare(name, fmt, given or {})
    return b"".join(ex.chunks(conn, chunk=3)).decode()  # chunks of 3 rows: many chunk boundaries


def test_a_list_exports_as_csv_and_json_lines_with_the_same_rows(public_registry: Public) -> None:
    with public_registry.certified.service.engine.connect() as conn:
        listed = everything(conn, "retirements", {"scenario": "personal"})
        table = list(csv.DictReader(io.StringIO(download(conn, "retirements", "csv", {"scenario": "personal"}))))
        lines = [json.loads(x) for x in download(conn, "retirements", "jsonl", {"scenario": "personal"}).splitlines()]
    assert [r["id"] for r in table] == [r["id"] for r in lines] == [r["id"] for r in listed]
    assert {r["record_type"] for r in table} == {"retirement"}
    for row, line, item in zip(table, lines, listed, strict=True):
        assert line == {"record_type": "retirement", **item}
        assert row["amount_kg"] == str(item["amount_kg"]) and row["beneficiary_commitment"].startswith("0x")


def test_the_ledger_tells_retirements_cancellations_exports_and_reserve_deposits_apart(public_registry: Public) -> None:
    with public_registry.certified.service.engine.connect() as conn:
        rows = list(csv.DictReader(io.StringIO(download(conn, "ledger", "csv"))))
        retired = sum(r["amount_kg"] for r in everything(conn, "retirements"))
        reserve = sum(r["reserve_kg"] for r in everything(conn, "reserve"))
    kinds = {r["record_type"] for r in rows}
    assert kinds == {"retirement", "cancellation", "export", "reserve_deposit"}
    for r in rows:
        t = r["record_type"]
        assert (r["scenario"] != "") == (t == "retirement")
        assert (r["reason"] != "") == (t == "cancellation")
        assert (r["destination_registry"] != "") == (t == "export")
    assert sum(int(r["amount_kg"]) for r in rows if r["record_type"] == "retirement") == retired
    assert sum(int(r["amount_kg"]) for r in rows if r["record_type"] == "reserve_deposit") == reserve
    # the reserve's reversal, and the 250 kg export, confirmed, cancels its credits here
    cancelled = {r["reason"]: r["amount_kg"] for r in rows if r["record_type"] == "cancellation"}
    assert cancelled == {"reversal": "100", "exported": "250"}


def test_no_personal_data_in_any_export(public_registry: Public, tmp_path: Path) -> None:
    """The demo certified retirements for 张三丰 (with an id number), 李四光, 王小明 ...: the chain
    holds only salted commitments, so no list, export or snapshot can show their names."""
    with public_registry.certified.service.engine.connect() as conn:
        texts = [download(conn, name, fmt) for name in [*lists.SPECS, "ledger"] for fmt in ("csv", "jsonl")]
    for text in texts:
        for secret in PERSONAL_DATA:
            assert secret not in text


def test_export_refusals_come_before_the_first_byte() -> None:
    with pytest.raises(PublicQueryError, match="format 'xlsx' is not one of: csv, jsonl"):
        export.prepare("retirements", "xlsx", {})
    with pytest.raises(PublicQueryError, match="the ledger export takes no filters"):
        export.prepare("ledger", "csv", {"scenario": "personal"})
    with pytest.raises(PublicQueryError, match="unknown filter 'colour'"):
        export.prepare("batches", "csv", {"colour": "red"})


def test_a_csv_value_with_a_comma_or_quote_is_quoted() -> None:
    assert export._csv_chunk("x", [("a,b", 1), ('say "hi"', None)], 3) == 'x,"a,b",1\nx,"say ""hi""",\n'
    assert export._csv_chunk("x", [("plain", 1)], 3) == "x,plain,1\n"


def test_a_snapshot_is_logged_anchored_and_checks_against_the_chain(public_registry: Public, tmp_path: Path) -> None:
    service = public_registry.certified.service
    made = snapshot.write(service.engine, service.context.log, tmp_path, "2026-11-30")
    assert snapshot.file_sha256(made.path) == made.sha256
    lines = made.path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["record_type"] == "snapshot" and header["date"] == "2026-11-30" and header["sync"]
    types = {json.loads(x)["record_type"] for x in lines[1:]}
    assert types == {
        "methodology",
        "project",
        "batch",
        "participant",
        "participant_status_change",
        "retirement",
        "cancellation",
        "export",
        "reserve_deposit",
    }
    assert len(lines) - 1 == made.records
    with service.engine.connect() as conn:
        [before] = snapshot.proofs(conn, service.context.log, "2026-11-30")
    assert before.leaf_index == made.leaf_index and before.tree_size is None
    assert snapshot.check(made.sha256, before, None) == [
        "the log entry is not anchored on chain yet; check again after the next anchoring"
    ]
    service.anchor(force=True)
    with service.engine.connect() as conn:
        [proof] = snapshot.proofs(conn, service.context.log, "2026-11-30")
    assert proof.tree_size is not None and proof.tree_size > proof.leaf_index
    onchain = service.client.anchored_root(proof.tree_size)  # read from the node, not the mirror
    assert snapshot.check(made.sha256, proof, onchain) == []
    tampered = made.path.read_bytes().replace(b'"amount_kg":1250', b'"amount_kg":1251')
    assert tampered != made.path.read_bytes()
    (tmp_path / "tampered.jsonl").write_bytes(tampered)
    problems = snapshot.check(snapshot.file_sha256(tmp_path / "tampered.jsonl"), proof, onchain)
    assert len(problems) == 1 and "it is not the published file" in problems[0]
    assert "is not" in snapshot.check(made.sha256, proof, b"\x00" * 32)[0]
    with pytest.raises(PublicQueryError, match="the snapshot of 2026-11-30 is already in the log"):
        snapshot.write(service.engine, service.context.log, tmp_path, "2026-11-30")
    with pytest.raises(PublicQueryError, match="date '30/11/2026' is not YYYY-MM-DD"):
        snapshot.write(service.engine, service.context.log, tmp_path, "30/11/2026")


def test_statistics_add_up_and_follow_new_blocks(public_registry: Public) -> None:
    certified = public_registry.certified
    with certified.service.engine.connect() as conn:
        s = stats.statistics(conn)
        batches = everything(conn, "batches")
        retirements = everything(conn, "retirements")
    # totals are the batches' sums; e.g. issued = Σ issued_kg over every batch
    assert s.totals.issued_kg == sum(b["issued_kg"] for b in batches)
    assert s.totals.retired_kg == sum(b["retired_kg"] for b in batches) == sum(r["amount_kg"] for r in retirements)
    assert s.totals.reserve_kg == sum(b["reserve_kg"] for b in batches)
    for name in ("ecosystem", "county", "vintage"):
        assert sum(b.issued_kg or 0 for b in s.by[name]) == s.totals.issued_kg
    by_scenario = {b.key: b.retired_kg for b in s.by["scenario"]}
    # large_event: 1,250 kg (demo certificate) + 150 kg (activity) = 1,400 kg
    assert by_scenario["large_event"] == 1_250 + 150
    assert sum(b.retired_kg for b in s.by["blocks"]) == s.totals.retired_kg
    assert sum(b.issued_kg or 0 for b in s.by["blocks"]) == s.totals.issued_kg
    assert "ecosystem,issued_kg,retired_kg,cancelled_kg,reserve_kg\nforest," in s.csv("ecosystem")
    certified.retire(Scenario.ORGANISATION, 7, b"\x44" * 32)
    public_registry.sync()
    with certified.service.engine.connect() as conn:
        after = stats.statistics(conn)
    assert {b.key: b.retired_kg for b in after.by["scenario"]}["organisation"] == by_scenario["organisation"] + 7
    assert after.totals.retired_kg == s.totals.retired_kg + 7


def test_statistics_sum_final_blocks_once_and_the_window_every_time(public_registry: Public) -> None:
    """The remembered sums cover only blocks below the indexer's undo window; rows inside it are
    summed on every call, so a rolled-back retirement leaves the numbers with it."""
    engine = public_registry.certified.service.engine
    with engine.connect() as conn:
        stats._finals.clear()
        fresh = stats.compute(conn)
        again = stats.compute(conn)  # from the remembered final prefix plus the window
    assert again == fresh
    with engine.connect() as conn:
        oldest = conn.exec_driver_sql("SELECT min(number) FROM blocks").scalar()
    final = stats._finals[str(engine.url)]
    assert oldest is None or final.block == oldest - 1


def test_a_chart_scales_bars_to_the_largest_value_and_escapes_labels() -> None:
    svg = charts.bar_chart(
        "<b>t</b>", ["<script>x</script>", "b"], {"issued_kg": [100, 50], "cancelled_kg": [None, None]}
    )
    assert "<script>" not in svg and "&lt;script&gt;x&lt;/script&gt;" in svg and "&lt;b&gt;t" in svg
    plot = charts.WIDTH - charts.LABEL - 90  # 400 px for the largest value
    assert f'width="{plot}"' in svg and f'width="{plot // 2}"' in svg  # 100 kg → 400 px, 50 kg → 200 px
    assert "作废" not in svg  # a series with no values is left out of the legend
    assert charts._kg(1_234) == "1,234 kg" and charts._kg(12_345) == "12.3 t" and charts._kg(4_560_000) == "4.56 kt"
