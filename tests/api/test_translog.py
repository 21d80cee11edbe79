"""The SQL transparency log against the in-memory RFC 9162 reference, on SQLite and PostgreSQL:
roots, inclusion and consistency proofs, restarts, batch sizes, bad arguments, concurrent
appenders and the caller's rollback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from certificates.translog import TransparencyLog
from certificates.translog.models import TABLES
from chain import rfc9162 as ref
from indexer.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def leaf(n: int, salt: str = "") -> bytes:
    return ref.leaf_hash(f"certificate {salt}{n}".encode())


def reset(engine: Engine) -> TransparencyLog:
    SQLModel.metadata.drop_all(engine, tables=TABLES)
    SQLModel.metadata.create_all(engine, tables=TABLES)
    return TransparencyLog(engine)


def append(log: TransparencyLog, hashes: list[bytes], start: int = 0) -> list[int]:
    with log.engine.begin() as conn:
        return log.append(conn, [(h, "certificate", f"C-{start + j}") for j, h in enumerate(hashes)])


def build(log: TransparencyLog, batches: list[int]) -> list[bytes]:
    leaves: list[bytes] = []
    for b in batches:
        hashes = [leaf(len(leaves) + j) for j in range(b)]
        assert append(log, hashes, len(leaves)) == list(range(len(leaves), len(leaves) + b))
        leaves += hashes
    return leaves


def stored_nodes_are_right(log: TransparencyLog, leaves: list[bytes]) -> None:
    """Every row of log_nodes is the MTH of the perfect subtree its key names, and every complete
    subtree has its row."""
    with log.engine.connect() as conn:
        rows = dict(conn.exec_driver_sql("SELECT node_key, hash FROM log_nodes").fetchall())
    expected = {}
    level = 1
    while (1 << level) <= len(leaves):
        w = 1 << level
        for i in range(len(leaves) // w):
            expected[(level << 40) | i] = ref.root_of(leaves[i * w : (i + 1) * w])
        level += 1
    assert {k: bytes(v) for k, v in rows.items()} == expected


# ---------------------------------------------------------------- engines


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('translog') / 'log.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    SQLModel.metadata.drop_all(engine, tables=TABLES)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return (
        f"sqlite:///{tmp_path / 'log.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )


# ---------------------------------------------------------------- against the reference


@FUZZ
@given(batches=st.lists(st.integers(1, 40), min_size=1, max_size=12))
def test_roots_of_every_size_match_the_reference(engine: Engine, batches: list[int]) -> None:
    log = reset(engine)
    leaves = build(log, batches)
    assert log.size() == len(leaves)
    assert log.root() == ref.root_of(leaves)
    for n in range(len(leaves) + 1):
        assert log.root(n) == ref.root_of(leaves[:n])
    stored_nodes_are_right(log, leaves)


@pytest.fixture(params=["sqlite", "postgresql"])
def log300(request: pytest.FixtureRequest) -> tuple[TransparencyLog, list[bytes]]:
    """One log of 300 leaves appended in batches of assorted sizes (1 to 64), shared per engine."""
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
    log = reset(engine)
    batches = [1, 2, 3, 64, 1, 1, 5, 17, 33, 8, 1, 40, 7, 13, 50, 9, 45]
    assert sum(batches) == 300
    return log, build(log, batches)


@FUZZ
@given(size=st.integers(1, 300))
def test_inclusion_proofs_of_every_leaf_match_the_reference(
    log300: tuple[TransparencyLog, list[bytes]], size: int
) -> None:
    log, leaves = log300
    root = ref.root_of(leaves[:size])
    with log.engine.connect() as conn:
        for i in range(size):
            proof = log.inclusion_proof(i, size, conn)
            assert proof == ref.inclusion_proof(i, leaves[:size])
            assert ref.verify_inclusion(i, size, leaves[i], proof, root)


@FUZZ
@given(second=st.integers(1, 300))
def test_consistency_proofs_from_every_size_match_the_reference(
    log300: tuple[TransparencyLog, list[bytes]], second: int
) -> None:
    log, leaves = log300
    root = ref.root_of(leaves[:second])
    with log.engine.connect() as conn:
        for first in range(1, second + 1):
            proof = log.consistency_proof(first, second, conn)
            assert proof == ref.consistency_proof(first, leaves[:second])
            assert ref.verify_consistency(first, second, ref.root_of(leaves[:first]), root, proof)


def test_every_pair_of_sizes_up_to_70(engine: Engine) -> None:
    log = reset(engine)
    leaves = build(log, [1] * 10 + [3, 7, 50])
    with engine.connect() as conn:
        for n in range(1, len(leaves) + 1):
            for i in range(n):
                assert log.inclusion_proof(i, n, conn) == ref.inclusion_proof(i, leaves[:n])
            for m in range(1, n + 1):
                assert log.consistency_proof(m, n, conn) == ref.consistency_proof(m, leaves[:n])


def test_the_reference_verifiers_reject_wrong_proofs() -> None:
    leaves = [leaf(i) for i in range(37)]
    for n in range(1, 38):
        for m in range(1, n + 1):
            proof = ref.consistency_proof(m, leaves[:n])
            good = (m, n, ref.root_of(leaves[:m]), ref.root_of(leaves[:n]))
            assert ref.verify_consistency(*good, proof)
            assert not ref.verify_consistency(*good, proof + [b"\x00" * 32])
            for j in range(len(proof)):
                assert not ref.verify_consistency(*good, proof[:j] + [b"\x00" * 32] + proof[j + 1 :])
            if m < n:
                assert not ref.verify_consistency(m, n, ref.root_of(leaves[:m]), ref.root_of(leaves[: n - 1]), proof)
        for i in range(n):
            proof = ref.inclusion_proof(i, leaves[:n])
            assert ref.verify_inclusion(i, n, leaves[i], proof, ref.root_of(leaves[:n]))
            assert not ref.verify_inclusion(i, n, leaves[(i + 1) % 37], proof, ref.root_of(leaves[:n]))


# ---------------------------------------------------------------- persistence and batches


def test_appends_survive_a_restart(engine_url: str) -> None:
    engine = make_engine(engine_url)
    leaves = build(reset(engine), [5, 1, 10])
    roots = [TransparencyLog(engine).root(n) for n in range(1, 17)]
    engine.dispose()

    engine = make_engine(engine_url)
    log = TransparencyLog(engine)
    assert log.size() == 16
    assert [log.root(n) for n in range(1, 17)] == roots
    assert log.leaf(3) == (leaves[3], "certificate", "C-3")
    more = [leaf(i) for i in range(16, 40)]
    append(log, more, 16)
    leaves += more
    assert [log.root(n) for n in range(1, 41)] == [ref.root_of(leaves[:n]) for n in range(1, 41)]
    stored_nodes_are_right(log, leaves)
    SQLModel.metadata.drop_all(engine, tables=TABLES)
    engine.dispose()


def test_batches_of_one_and_one_large_batch_build_the_same_log(engine: Engine) -> None:
    n = 3000
    log = reset(engine)
    with engine.begin() as conn:  # many batches of 1 inside one transaction
        for i in range(n):
            assert log.append(conn, [(leaf(i), "certificate", f"C-{i}")]) == [i]
    ones = [log.root(s) for s in (1, 2, 3, 1000, 2047, 2048, 2049, n)]
    single_proof = log.inclusion_proof(1234, n)
    log = reset(engine)
    assert append(log, [leaf(i) for i in range(n)]) == list(range(n))
    assert [log.root(s) for s in (1, 2, 3, 1000, 2047, 2048, 2049, n)] == ones
    assert log.inclusion_proof(1234, n) == single_proof
    stored_nodes_are_right(log, [leaf(i) for i in range(n)])


def test_an_empty_batch_appends_nothing(engine: Engine) -> None:
    log = reset(engine)
    with engine.begin() as conn:
        assert log.append(conn, []) == []
    assert log.size() == 0
    assert log.root() == ref.root_of([])


# ---------------------------------------------------------------- bad arguments


def test_bad_arguments_raise_clear_errors(engine: Engine) -> None:
    log = reset(engine)
    build(log, [10])
    with pytest.raises(ValueError, match=r"leaf 10 in a tree of size 10: need 0 <= index < size"):
        log.inclusion_proof(10, 10)
    with pytest.raises(ValueError, match=r"leaf -1 in a tree of size 5"):
        log.inclusion_proof(-1, 5)
    with pytest.raises(ValueError, match=r"size 11 is beyond the log's size 10"):
        log.inclusion_proof(10, 11)
    with pytest.raises(ValueError, match=r"size 11 is beyond the log's size 10"):
        log.inclusion_proof(0, 11)
    with pytest.raises(ValueError, match=r"from size 0 to size 5: need 1 <= first <= second"):
        log.consistency_proof(0, 5)
    with pytest.raises(ValueError, match=r"from size 6 to size 5"):
        log.consistency_proof(6, 5)
    with pytest.raises(ValueError, match=r"size 12 is beyond the log's size 10"):
        log.consistency_proof(3, 12)
    with pytest.raises(ValueError, match=r"size 11 is beyond the log's size 10"):
        log.consistency_proof(11, 11)
    with pytest.raises(ValueError, match=r"size 11 is beyond the log's size 10"):
        log.root(11)
    with pytest.raises(ValueError, match=r"a tree size is >= 0"):
        log.root(-1)
    with pytest.raises(KeyError):
        log.leaf(10)
    with pytest.raises(ValueError, match=r"a leaf hash is 32 bytes"), engine.begin() as conn:
        log.append(conn, [(b"short", "certificate", "C-x")])
    with pytest.raises(ValueError, match=r"kind and ref are strings"), engine.begin() as conn:
        log.append(conn, [(leaf(0), "certificate", 7)])  # type: ignore[list-item]
    assert log.size() == 10
    assert log.consistency_proof(10, 10) == []


# ---------------------------------------------------------------- transactions and concurrency


def test_the_callers_rollback_leaves_the_log_unchanged(engine: Engine) -> None:
    log = reset(engine)
    leaves = build(log, [7])
    before = log.root()
    with pytest.raises(RuntimeError, match="certificate failed"), engine.begin() as conn:
        log.append(conn, [(leaf(i, "lost"), "certificate", "lost") for i in range(20)])
        assert log.size(conn) == 27  # visible inside the caller's transaction
        raise RuntimeError("certificate failed")
    assert log.size() == 7
    assert log.root() == before
    more = [leaf(i) for i in range(7, 30)]
    assert append(log, more, 7) == list(range(7, 30))
    leaves += more
    assert log.root() == ref.root_of(leaves)
    stored_nodes_are_right(log, leaves)


def test_append_commits_with_the_callers_other_rows(engine: Engine) -> None:
    """The way the certificate code calls it: a Session's own connection, one commit for both."""
    log = reset(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS translog_test_certificates"))
        conn.execute(text("CREATE TABLE translog_test_certificates (id VARCHAR PRIMARY KEY)"))
    with Session(engine) as session:
        session.execute(text("INSERT INTO translog_test_certificates VALUES ('C-1')"))
        assert log.append(session.connection(), [(leaf(1), "certificate", "C-1")]) == [0]
        session.rollback()
    assert log.size() == 0
    with Session(engine) as session:
        session.execute(text("INSERT INTO translog_test_certificates VALUES ('C-1')"))
        assert log.append(session.connection(), [(leaf(1), "certificate", "C-1")]) == [0]
        session.commit()
    assert log.leaf(0) == (leaf(1), "certificate", "C-1")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM translog_test_certificates")).scalar() == 1
        conn.execute(text("DROP TABLE translog_test_certificates"))


def check_whole_log(log: TransparencyLog, expected_refs: set[str]) -> None:
    with log.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT idx, leaf_hash, ref FROM log_entries ORDER BY idx").fetchall()
    assert [r[0] for r in rows] == list(range(len(rows)))  # contiguous: none lost, none duplicated
    assert sorted(r[2] for r in rows) == sorted(expected_refs)
    leaves = [bytes(r[1]) for r in rows]
    assert log.root() == ref.root_of(leaves)
    stored_nodes_are_right(log, leaves)


def test_concurrent_appending_threads_keep_the_log_valid(engine: Engine) -> None:
    log = reset(engine)
    errors: list[BaseException] = []

    def appender(name: str) -> None:
        try:
            mine = TransparencyLog(engine)
            for i in range(40):
                batch = [(leaf(i, name + str(j)), "certificate", f"{name}-{i}-{j}") for j in range(1 + i % 3)]
                with engine.begin() as conn:
                    indexes = mine.append(conn, batch)
                    assert indexes == list(range(indexes[0], indexes[0] + len(batch)))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=appender, args=(f"T{t}",)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    check_whole_log(log, {f"T{t}-{i}-{j}" for t in range(4) for i in range(40) for j in range(1 + i % 3)})


APPENDER = """
import sys
from certificates.translog import TransparencyLog
from chain.rfc9162 import leaf_hash
from indexer.db import make_engine
url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine = make_engine(url)
log = TransparencyLog(engine)
for i in range(count):
    with engine.begin() as conn:
        log.append(conn, [(leaf_hash(f"{name}-{i}-{j}".encode()), "certificate", f"{name}-{i}-{j}") for j in range(1 + i % 4)])
"""


def test_two_appending_processes_keep_the_log_valid(engine_url: str) -> None:
    """Two `ledger certify` processes at once: each append waits for the other's transaction."""
    engine = make_engine(engine_url)
    log = reset(engine)
    count = 150
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, engine_url, name, str(count)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("A", "B")
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    check_whole_log(log, {f"{n}-{i}-{j}" for n in ("A", "B") for i in range(count) for j in range(1 + i % 4)})
    SQLModel.metadata.drop_all(engine, tables=TABLES)
    engine.dispose()


def test_an_appender_with_a_stale_snapshot_fails_and_the_log_stays_valid(engine: Engine) -> None:
    """The primary keys are the last guard: a caller whose transaction read the database before
    another appender committed (REPEATABLE READ on PostgreSQL, an explicit deferred BEGIN on
    SQLite) gets an error, never a corrupt log."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    log = reset(engine)
    leaves = build(log, [5])
    stale = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            stale = stale.execution_options(isolation_level="REPEATABLE READ")
            stale.execute(text("SELECT count(*) FROM log_entries"))  # the snapshot is taken here
        else:
            stale.exec_driver_sql("BEGIN")  # deferred: a read snapshot, not the write lock
            stale.exec_driver_sql("SELECT count(*) FROM log_entries").fetchall()
        more = [leaf(i) for i in range(5, 8)]
        append(log, more, 5)  # another appender commits after the snapshot
        leaves += more
        with pytest.raises((IntegrityError, OperationalError)):
            log.append(stale, [(leaf(99, "stale"), "certificate", "stale")])
        stale.rollback()
    finally:
        stale.close()
    assert log.size() == 8
    assert log.root() == ref.root_of(leaves)
    stored_nodes_are_right(log, leaves)
    assert append(log, [leaf(8)], 8) == [8]
