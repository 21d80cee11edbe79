"""`ledger audit`'s reconciliation: a clean registry passes; each planted discrepancy is caught
and named, with its transaction where it has one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from api.app import create_app
from audit.chain_state import read_chain
from audit.reconcile import AuditReport, reconcile
from scripts.audit_commands import in_process_api
from tests.api.conftest import Certified


def audit(c: Certified) -> AuditReport:
    service = c.service
    chain = read_chain(c.world.client, service.context.deployment.block_number)
    with service.engine.connect() as conn:
        return reconcile(chain, conn, service.context.log, in_process_api(create_app(service.context)))


@contextmanager
def planted(c: Certified, change: str, undo: str, **params: object) -> Iterator[None]:
    with c.service.engine.begin() as conn:
        conn.execute(text(change), params)
    try:
        yield
    finally:
        with c.service.engine.begin() as conn:
            conn.execute(text(undo), params)


def test_a_clean_registry_passes(certified: Certified) -> None:
    report = audit(certified)
    assert report.clean, report.as_json()["differences"]
    assert report.checked["certificates"] == len(certified.ids) and report.checked["anchors"] >= 1
    assert report.checked["retirements"] >= len(certified.ids) and report.checked["api_requests"] > 0


def _only(report: AuditReport, check: str) -> list[str]:
    assert not report.clean
    return [f"{d.subject}: {d.detail}" for d in report.differences if d.check == check]


def test_an_edited_mirror_row_is_caught(certified: Certified) -> None:
    batch = certified.world.batch_id
    with planted(
        certified,
        "UPDATE batches SET retired = retired + 7 WHERE id = :b",
        "UPDATE batches SET retired = retired - 7 WHERE id = :b",
        b=batch,
    ):
        report = audit(certified)
    found = _only(report, "supply")
    assert any(f"batch {batch}" in f and "mirror" in f for f in found), found
    assert any(d.tx_hash and d.block_number for d in report.differences if d.check == "supply")
    assert any(d.check == "api" and f"/batches/{batch}" in d.subject for d in report.differences)


def test_a_changed_balance_is_caught(certified: Certified) -> None:
    holder = certified.world.cast.holder.address.lower()
    with planted(
        certified,
        "UPDATE balances SET amount = amount + 1 WHERE holder = :h AND batch_id = :b",
        "UPDATE balances SET amount = amount - 1 WHERE holder = :h AND batch_id = :b",
        h=holder,
        b=certified.world.batch_id,
    ):
        report = audit(certified)
    found = _only(report, "balance")
    assert len(found) == 1 and holder in found[0], found
    assert report.differences[0].tx_hash is not None


def test_a_dropped_log_entry_is_caught(certified: Certified) -> None:
    engine = certified.service.engine
    with engine.connect() as conn:
        last = conn.execute(text("SELECT max(idx) FROM log_entries")).scalar()
        row = (
            conn.execute(
                text("SELECT idx, leaf_hash, kind, ref, appended_at FROM log_entries WHERE idx = :i"), {"i": last}
            )
            .mappings()
            .one()
        )
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM log_entries WHERE idx = :i"), {"i": last})
    try:
        report = audit(certified)
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO log_entries (idx, leaf_hash, kind, ref, appended_at) "
                    "VALUES (:idx, :leaf_hash, :kind, :ref, :appended_at)"
                ),
                dict(row),
            )
    found = _only(report, "log")
    assert any("log has only" in f or "missing from the log" in f for f in found), found


def test_an_altered_root_is_caught(certified: Certified) -> None:
    engine = certified.service.engine
    with engine.connect() as conn:
        size, root = conn.execute(
            text("SELECT tree_size, root FROM anchored_roots ORDER BY tree_size DESC LIMIT 1")
        ).one()
    altered = root[:-1] + ("0" if root[-1] != "0" else "1")
    with planted(
        certified,
        "UPDATE anchored_roots SET root = :new WHERE tree_size = :s",
        "UPDATE anchored_roots SET root = :old WHERE tree_size = :s",
        new=altered,
        old=root,
        s=size,
    ):
        report = audit(certified)
    found = _only(report, "anchor")
    assert any(f"tree size {size}" in f and "mirror" in f for f in found), found


def test_a_certificate_pointing_at_the_wrong_retirement_is_caught(certified: Certified) -> None:
    ids = list(certified.ids.values())
    with certified.service.engine.connect() as conn:
        first, second = (
            conn.execute(
                text("SELECT retirement_id FROM certificate_claims WHERE certificate_id = :c"), {"c": c}
            ).scalar()
            for c in ids[:2]
        )
    with planted(
        certified,
        "UPDATE certificate_claims SET retirement_id = :wrong WHERE retirement_id = :right",
        "UPDATE certificate_claims SET retirement_id = :right WHERE retirement_id = :wrong",
        wrong=second + "x",
        right=first,
    ):
        report = audit(certified)
    found = _only(report, "certificate")
    assert any(ids[0] in f for f in found), found


@pytest.mark.parametrize("column", ["amount", "beneficiary_commitment"])
def test_an_edited_retirement_is_caught(certified: Certified, column: str) -> None:
    with certified.service.engine.connect() as conn:
        rid, value = conn.execute(text(f"SELECT id, {column} FROM retirements LIMIT 1")).one()
    new = value + 1 if column == "amount" else "0x" + "00" * 32
    with planted(
        certified,
        f"UPDATE retirements SET {column} = :new WHERE id = :r",
        f"UPDATE retirements SET {column} = :old WHERE id = :r",
        new=new,
        old=value,
        r=rid,
    ):
        report = audit(certified)
    assert any(rid in f for f in _only(report, "retirement"))


def test_an_altered_log_node_is_caught(certified: Certified) -> None:
    engine = certified.service.engine
    with engine.connect() as conn:
        key, value = conn.execute(text("SELECT node_key, hash FROM log_nodes ORDER BY node_key DESC LIMIT 1")).one()
    with planted(
        certified,
        "UPDATE log_nodes SET hash = :new WHERE node_key = :k",
        "UPDATE log_nodes SET hash = :old WHERE node_key = :k",
        new=bytes(32),
        old=value,
        k=key,
    ):
        report = audit(certified)
    found = _only(report, "log")
    assert any("the log's own root" in f or "rewritten" in f for f in found), found
