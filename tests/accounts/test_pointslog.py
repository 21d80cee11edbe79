"""The points log without a chain: leaves, appending (in rounds, under concurrency, killed
mid-way), proofs and their check, and the tamper check's SQL half (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text

from accounts import pointslog as pl
from accounts.ledger import Posting, post
from accounts.ledger_models import PointsEntry
from accounts.pointslog_models import PointsLogAnchor
from certificates.anchoring import AnchorPolicy
from chain import rfc9162
from chain.canonical import CanonicalJsonError, canonical_json
from tests.accounts.pointslog_helpers import NOW, TEN_YEARS, count, credit, entry

ENGINES = ["engine", "pg_engine"]


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(request.param)
    return engine


def record_anchor(engine: Engine, size: int) -> str:
    """What `anchor` records after its transaction (the chain half is tests/accounts/test_pointslog_anchor.py)."""
    root = pl.points_log(engine).root(size).hex()
    with engine.begin() as conn:
        conn.execute(
            insert(PointsLogAnchor).values(
                tree_size=size, root=root, tx_hash="0x" + "ab" * 32, block_number=7, anchored_at=NOW
            )
        )
    return root


# ---------------------------------------------------------------------- leaves


def test_a_leaf_is_the_canonical_json_of_the_entry_with_its_format() -> None:
    e = {
        "id": 1,
        "txn": "credit:r0",
        "account": "source:metro",
        "amount": -100,
        "kind": "credit",
        "ref": "r0",
        "created_at": NOW,
        "expires_at": None,
        "log_idx": 0,  # not committed to: it is set by the append itself
    }
    body = (
        b'{"account":"source:metro","amount":-100,"created_at":1767225600,"expires_at":null,'
        b'"format":"sichuan-points-entry/1","id":1,"kind":"credit","ref":"r0","txn":"credit:r0"}'
    )
    assert pl.leaf_entry(e) == body
    assert pl.leaf_hash(e) == hashlib.sha256(b"\x00" + body).digest()  # RFC 9162: a 0x00 prefix on leaves
    assert pl.leaf_hash({**e, "log_idx": 99}) == pl.leaf_hash(e)
    assert pl.leaf_hash({**e, "amount": -101}) != pl.leaf_hash(e)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"ref": 'quote " backslash \\ newline \n tab \t nul \x00 \u2028 碳惠天府 😀'},
        {"account": "person:acc_é", "txn": "credit:\x7f\x1f"},
        {"amount": 2**53 - 1, "id": -(2**53) + 1, "expires_at": 0},
        {"amount": True},  # not an integer to the fast path: canonical JSON writes it as it is
    ],
)
def test_the_leaf_bytes_are_exactly_canonical_json(changes: dict[str, object]) -> None:
    e = {
        "id": 7,
        "txn": "credit:r7",
        "account": "source:metro",
        "amount": 120,
        "kind": "credit",
        "ref": "r7",
        "created_at": NOW,
        "expires_at": NOW + TEN_YEARS,
        **changes,
    }
    assert pl.leaf_entry(e) == canonical_json({**{k: e[k] for k in pl.LEAF_FIELDS}, "format": pl.LEAF_FORMAT})


@pytest.mark.parametrize(
    ("changes", "refused"),
    [({"amount": 2**53}, "is beyond"), ({"ref": "\ud800"}, "lone surrogate"), ({"amount": 1.5}, "float")],
)
def test_a_leaf_refuses_what_canonical_json_refuses(changes: dict[str, object], refused: str) -> None:
    e = {"id": 7, "txn": "t", "account": "a", "amount": 1, "kind": "k", "ref": "r", "created_at": 0, "expires_at": None}
    with pytest.raises(CanonicalJsonError, match=refused):
        pl.leaf_entry({**e, **changes})


def test_the_leaf_commits_to_every_column_of_the_ledger_but_log_idx() -> None:
    """A column added to points_entries must be added to the leaf (a new leaf format) or named here."""
    columns = {c.name for c in PointsEntry.__table__.columns}  # type: ignore[attr-defined]
    assert columns - set(pl.LEAF_FIELDS) == {"log_idx"}
    assert set(pl.LEAF_FIELDS) <= columns


def test_the_points_log_has_the_certificate_logs_shape_under_its_own_names(engine: Engine) -> None:
    with engine.connect() as conn:
        shape = {
            name: [tuple(r[1:3]) + (r[5],) for r in conn.execute(text(f"PRAGMA table_info({name})"))]
            for name in ("log_entries", "log_nodes", "points_log_entries", "points_log_nodes")
        }
    assert shape["points_log_entries"] == shape["log_entries"]
    assert shape["points_log_nodes"] == shape["log_nodes"]
    assert pl.POINTS_LOG.lock_key != pl.TransparencyLog(engine).tables.lock_key  # the two logs never wait on each other


# ---------------------------------------------------------------------- appending


def test_append_pending_appends_in_id_order_in_rounds_and_marks_each_entry(db: Engine) -> None:
    credit(db, 5)  # 10 entries, ids 1..10
    assert pl.append_pending(db, limit=4) == 10  # rounds of 4, 4, 2
    log = pl.points_log(db)
    assert log.size() == 10
    for entry_id in range(1, 11):
        e = entry(db, entry_id)
        assert e["log_idx"] == entry_id - 1
        assert log.leaf(entry_id - 1) == (pl.leaf_hash(e), "credit", str(entry_id))
    assert pl.append_pending(db) == 0  # nothing left: nothing appended twice
    credit(db, 1, start=5)
    assert pl.append_pending(db) == 2 and log.size() == 12
    with pytest.raises(ValueError, match="positive"):
        pl.append_pending(db, limit=0)


def test_a_three_entry_log_worked_example(engine: Engine) -> None:
    """Three leaves l0, l1, l2: root = H(0x01 || H(0x01 || l0 || l1) || l2); leaf 2's path is
    [H(0x01 || l0 || l1)], leaf 0's is [l1, l2]."""
    with engine.begin() as conn:
        post(
            conn,
            "credit:a",
            "credit",
            "a",
            [
                Posting("source:metro", -3),
                Posting("person:acc_1", 2, NOW + TEN_YEARS),
                Posting("person:acc_2", 1, NOW + TEN_YEARS),
            ],
            NOW,
        )
    pl.append_pending(engine)
    leaves = [pl.leaf_hash(entry(engine, i)) for i in (1, 2, 3)]
    node = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    root = hashlib.sha256(b"\x01" + node + leaves[2]).digest()
    assert pl.points_log(engine).root() == root
    got = pl.proofs(engine, [1, 3])
    assert got[3].path == [node.hex()] and got[3].root == root.hex() and got[3].tree_size == 3
    assert got[1].path == [leaves[1].hex(), leaves[2].hex()]
    assert pl.verify_entry(entry(engine, 3), got[3], root)


# ---------------------------------------------------------------------- proofs


def test_before_any_anchor_proofs_say_not_yet_anchored_and_prove_to_the_current_root(db: Engine) -> None:
    credit(db, 3)  # ids 1..6
    pl.append_pending(db)
    credit(db, 1, start=3)  # ids 7, 8: not yet in the log
    got = pl.proofs(db, [2, 7, 404])
    assert set(got) == {2, 7}  # an id the ledger does not hold is left out
    current = pl.points_log(db).root(6).hex()
    assert (got[2].anchored, got[2].note, got[2].root, got[2].tree_size) == (False, pl.NOT_ANCHORED, current, 6)
    assert pl.verify_entry(entry(db, 2), got[2], current)
    assert got[7].leaf_index is None and got[7].note == f"{pl.NOT_LOGGED}; {pl.NOT_ANCHORED}"
    assert not pl.verify_entry(entry(db, 7), got[7], current)


def test_proofs_go_to_the_latest_anchored_root_and_verify_against_it(db: Engine) -> None:
    credit(db, 3)  # ids 1..6
    pl.append_pending(db)
    first = record_anchor(db, 4)
    credit(db, 2, start=3)  # ids 7..10
    pl.append_pending(db)
    latest = record_anchor(db, 8)
    got = pl.proofs(db, range(1, 11))
    for i in range(1, 9):
        p = got[i]
        assert (p.anchored, p.tree_size, p.root, p.note, p.anchor_tx) == (True, 8, latest, None, "0x" + "ab" * 32)
        assert pl.verify_entry(entry(db, i), p, latest)
        assert p.as_json()["leaf_format"] == pl.LEAF_FORMAT
    assert (got[9].anchored, got[9].note, got[9].tree_size) == (False, pl.NOT_ANCHORED, 10)
    older = pl.proofs(db, [1, 5], size=4)
    assert older[1].anchored and older[1].root == first and pl.verify_entry(entry(db, 1), older[1], first)
    assert not older[5].anchored  # leaf 4 is beyond the tree of 4
    with pytest.raises(ValueError, match="never anchored at size 5"):
        pl.proofs(db, [1], size=5)


def test_verify_entry_refuses_a_changed_entry_another_root_and_a_malformed_proof(engine: Engine) -> None:
    credit(engine, 2)
    pl.append_pending(engine)
    root = record_anchor(engine, 4)
    e, p = entry(engine, 2), pl.proofs(engine, [2])[2]
    assert pl.verify_entry(e, p, root) and pl.verify_entry(e, p, bytes.fromhex(root))
    assert not pl.verify_entry({**e, "amount": e["amount"] + 1}, p, root)  # type: ignore[operator]
    assert not pl.verify_entry({**e, "id": 3}, p, root)  # the proof of another entry
    assert not pl.verify_entry(e, p, "00" * 32)
    assert not pl.verify_entry({k: v for k, v in e.items() if k != "txn"}, p, root)
    assert not pl.verify_entry(e, pl.Proof(2, 1, 4, root, ["zz"]), root)
    assert not pl.verify_entry(e, p, "not hex")


# ---------------------------------------------------------------------- the tamper check (SQL half)


def test_a_clean_ledger_and_log_pass_the_check(db: Engine) -> None:
    credit(db, 4)
    pl.append_pending(db)
    assert pl.check(db, None, now=NOW) == []
    assert pl.audit(db, None, now=NOW).checked == {
        "points log entries": 8,
        "points transactions": 4,
        "points log anchors": 0,
    }


def test_a_rewritten_entry_row_is_caught(db: Engine) -> None:
    credit(db, 4)
    pl.append_pending(db)
    with db.begin() as conn:
        conn.execute(text("UPDATE points_entries SET amount = amount + 900 WHERE id = 4"))
        conn.execute(text("UPDATE points_entries SET amount = amount - 900 WHERE id = 3"))  # still balanced
    assert pl.check(db, None, now=NOW) == [
        "points entry 3 (txn credit:r1) does not match its log leaf 2: the row was rewritten after it was logged",
        "points entry 4 (txn credit:r1) does not match its log leaf 3: the row was rewritten after it was logged",
    ]


def test_a_deleted_row_and_an_unbalanced_transaction_are_caught(db: Engine) -> None:
    credit(db, 3)
    pl.append_pending(db)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM points_entries WHERE id = 5"))
    problems = pl.check(db, None, now=NOW)
    assert problems == [
        "points log leaf 4 names entry 5, which the ledger no longer holds at that index: "
        "a ledger row was deleted or re-indexed",
        "points transaction credit:r2 does not balance: its postings sum to 100, not 0",
    ]


def test_an_entry_left_out_of_the_log_longer_than_the_policy_allows_is_caught(db: Engine) -> None:
    credit(db, 1)  # created at NOW, never appended
    policy = AnchorPolicy(every=16, interval=60.0)
    assert pl.check(db, None, policy, now=NOW + 60) == []  # 60 s: still within the policy
    assert pl.check(db, None, policy, now=NOW + 61) == [
        "2 points entries are not in the points log 61 s after they were written (the policy allows 60 s): "
        "run the points log's append step"
    ]


# ---------------------------------------------------------------------- concurrency and crashes


def test_two_appenders_at_once_beside_writers_append_every_entry_exactly_once(db: Engine) -> None:
    """Under the log's write lock (SQLite: the database's; PostgreSQL: an advisory lock)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(150):
                credit(db, 1, start=w * 1000 + i)
        except BaseException as exc:
            errors.append(exc)

    def appender() -> None:
        try:
            while not stop.is_set():
                pl.append_pending(db, limit=37)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
    appenders = [threading.Thread(target=appender) for _ in range(2)]
    for t in writers + appenders:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in appenders:
        t.join()
    assert not errors, errors
    pl.append_pending(db)
    assert count(db, "SELECT count(*) FROM points_entries") == 600
    assert count(db, "SELECT count(DISTINCT log_idx) FROM points_entries") == 600
    assert pl.points_log(db).size() == 600
    assert pl.check(db, None, now=NOW) == []


def test_an_entry_committed_late_with_a_lower_id_is_still_appended(pg_engine: Engine) -> None:
    """Ids come from a sequence when the row is inserted, not when it commits: id 1 commits after
    id 3 was appended, and is appended at a later index instead of being skipped for ever."""
    slow = pg_engine.connect()
    slow.begin()
    post(
        slow,
        "credit:slow",
        "credit",
        "slow",
        [Posting("source:metro", -5), Posting("person:acc_9", 5, NOW + TEN_YEARS)],
        NOW,
    )
    credit(pg_engine, 1)  # ids 3, 4, committed first
    assert pl.append_pending(pg_engine) == 2
    slow.commit()
    slow.close()
    assert pl.append_pending(pg_engine) == 2
    assert [entry(pg_engine, i)["log_idx"] for i in (1, 2, 3, 4)] == [2, 3, 0, 1]
    assert pl.check(pg_engine, None, now=NOW) == []


APPENDER = """
import os, sys
from indexer.db import make_engine
from accounts import pointslog
engine = make_engine(os.environ["POINTS_DB"])
print("ready", flush=True)
pointslog.append_pending(engine, limit=200)
"""


@pytest.mark.parametrize("backend", ENGINES)
def test_an_appender_killed_mid_way_leaves_whole_rounds_only(request: pytest.FixtureRequest, backend: str) -> None:
    db: Engine = request.getfixturevalue(backend)
    credit(db, 10_000)  # 20,000 entries: 100 rounds of 200
    env = {**os.environ, "POINTS_DB": db.url.render_as_string(hide_password=False)}
    proc = subprocess.Popen(
        [sys.executable, "-c", APPENDER], env=env, cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        while count(db, "SELECT count(*) FROM points_entries WHERE log_idx IS NOT NULL") < 1_000:
            assert time.monotonic() < deadline and proc.poll() is None, "the appender did not get going"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    logged = count(db, "SELECT count(*) FROM points_entries WHERE log_idx IS NOT NULL")
    assert logged < 20_000, "killed too late to show anything"
    assert logged % 200 == 0 and pl.points_log(db).size() == logged  # whole rounds: marks and leaves together
    assert pl.check(db, None, now=NOW) == []  # every leaf still matches its entry
    assert pl.append_pending(db) == 20_000 - logged
    assert pl.points_log(db).size() == 20_000 and pl.check(db, None, now=NOW) == []
    assert rfc9162.verify_inclusion(
        0, 20_000, pl.leaf_hash(entry(db, 1)), pl.points_log(db).inclusion_proof(0, 20_000), pl.points_log(db).root()
    )
