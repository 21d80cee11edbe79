"""The certificate transparency log: an append-only RFC 9162 Merkle log (sha256) in SQL.

Appends write the new leaves to `log_entries` and every subtree they complete to `log_nodes`,
inside the caller's transaction. A root of any size, an inclusion proof and a consistency proof
are each composed from O(log n) stored subtree hashes fetched in one query (see tree.py).
Another log of the same shape lives under other table names with a lock of its own (`LogTables`:
the points log of accounts/pointslog.py).

Concurrency: `append` first takes the log's write lock inside the caller's transaction — a
transaction-scoped advisory lock on PostgreSQL, the database write lock on SQLite (a no-op
UPDATE, which starts the write transaction) — so concurrent appenders queue and each reads the
size the previous one committed. The primary keys are the last guard: an appender that read a
stale size fails with an IntegrityError instead of corrupting the tree.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from certificates.translog import models, tree

_EMPTY_ROOT = hashlib.sha256(b"").digest()


# PostgreSQL: the size, then the frontier of that size (the perfect subtrees its set bits name)
_PG_HEAD = f"""
WITH s AS (SELECT coalesce(max(idx) + 1, 0) AS n FROM {{entries}})
SELECT -1, NULL::bytea, n FROM s
UNION ALL
SELECT node_key, hash, 0 FROM {{nodes}} WHERE node_key IN (
    SELECT (l::bigint << {tree.SHIFT}) | ((s.n >> l) - 1) FROM s, generate_series(1, {tree.SHIFT}) AS l
    WHERE (s.n >> l) & 1 = 1)
UNION ALL
SELECT idx, leaf_hash, 0 FROM {{entries}}, s WHERE s.n & 1 = 1 AND idx = s.n - 1
"""
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class LogTables:
    """Where one log keeps its leaves and its subtree hashes (tables shaped as models.py's), and
    the name its PostgreSQL advisory lock is derived from: two logs never wait for each other."""

    entries: str = "log_entries"
    nodes: str = "log_nodes"
    lock: str = "sichuan-carbon-ledger-translog"

    def __post_init__(self) -> None:
        for name in (self.entries, self.nodes):
            if not _NAME.fullmatch(name):  # names go into SQL text: identifiers only
                raise ValueError(f"a log table name is a lower-case SQL identifier, not {name!r}")

    @property
    def lock_key(self) -> int:
        """The advisory lock's key on PostgreSQL: 64 bits of the lock's name."""
        return int.from_bytes(hashlib.sha256(self.lock.encode()).digest()[:8], "big", signed=True)


CERTIFICATE_LOG = LogTables()
LOCK_KEY = CERTIFICATE_LOG.lock_key  # the certificate log's advisory lock on PostgreSQL


class LogCorruptError(RuntimeError):
    """A node the tree needs is missing from the database."""


def _fold(hashes: list[bytes]) -> bytes:
    """MTH of a range from its perfect subtrees' hashes, left to right: a right fold."""
    sha = hashlib.sha256
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = sha(b"\x01" + h + r).digest()
    return r


class TransparencyLog:
    def __init__(self, engine: Engine, tables: LogTables = CERTIFICATE_LOG) -> None:
        self.engine = engine
        self.tables = tables
        self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._postgres = engine.dialect.name == "postgresql"
        self._driver_error = engine.dialect.loaded_dbapi.Error
        _ = models
        # every statement's text, built once: the hot paths only format parameters
        e, n = tables.entries, tables.nodes
        self._e, self._n, self._lock_key = e, n, tables.lock_key
        self._pg_head = _PG_HEAD.format(entries=e, nodes=n)
        self._pg_fetch = (
            f"SELECT idx, leaf_hash FROM {e} WHERE idx = ANY(%s::bigint[]) UNION ALL "
            f"SELECT node_key, hash FROM {n} WHERE node_key = ANY(%s::bigint[])"
        )
        self._pg_insert = (
            f"INSERT INTO {e} (idx, leaf_hash, kind, ref, appended_at) SELECT * FROM "
            "unnest(%b::bigint[], %b::bytea[], %b::varchar[], %b::varchar[], %b::bigint[])"
        )
        self._pg_insert_nodes = (
            f"WITH e AS ({self._pg_insert}) INSERT INTO {n} (node_key, hash) "
            "SELECT * FROM unnest(%b::bigint[], %b::bytea[])"
        )

    # ------------------------------------------------------------------ plumbing
    # Statements go to the DBAPI cursor of the caller's connection: SQLAlchemy's per-statement
    # overhead (~60 µs) is several times SQLite's own cost for these small statements.

    @contextmanager
    def _cursor(self, conn: Connection | None) -> Iterator[Any]:
        """A DBAPI cursor on `conn`, or on a connection from the pool; driver errors come out as
        SQLAlchemy's (IntegrityError, OperationalError, ...), as they would through conn.execute."""
        raw = conn.connection if conn is not None else self.engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                yield cur
            finally:
                cur.close()
        except self._driver_error as e:
            raise DBAPIError.instance(None, None, e, self._driver_error) from e
        finally:
            if conn is None:
                raw.close()  # back to the pool, rolled back

    def _marks(self, n: int) -> str:
        return ", ".join([self._mark] * n)

    def _fetch(self, cur: Any, keys: set[int] | list[int]) -> dict[int, bytes]:
        """Hashes of the given node keys (leaves and inner nodes) in one query; absent keys are
        left out."""
        leaves = [k for k in keys if k <= tree.MASK]
        inner = [k for k in keys if k > tree.MASK]
        if self._postgres:  # one query text whatever the number of keys: psycopg prepares it once
            cur.execute(self._pg_fetch, (leaves, inner))
            return {k: bytes(h) for k, h in cur.fetchall()}
        parts, params = [], []
        if leaves:
            parts.append(f"SELECT idx, leaf_hash FROM {self._e} WHERE idx IN ({self._marks(len(leaves))})")
            params += leaves
        if inner:
            parts.append(f"SELECT node_key, hash FROM {self._n} WHERE node_key IN ({self._marks(len(inner))})")
            params += inner
        if not parts:
            return {}
        cur.execute(" UNION ALL ".join(parts), params)
        return {k: bytes(h) for k, h in cur.fetchall()}

    def _size(self, cur: Any) -> int:
        cur.execute(f"SELECT max(idx) FROM {self._e}")
        top = cur.fetchone()[0]
        return 0 if top is None else int(top) + 1

    def _ranges(self, cur: Any, ranges: list[tuple[int, int]], size: int) -> list[bytes]:
        """The MTH of each leaf range, checking that the log has at least `size` leaves."""
        splits = [tree.perfect(a, b) for a, b in ranges]
        wanted = {k for keys in splits for k in keys}
        last = size - 1  # present iff the log has >= size leaves (idx is contiguous from 0)
        wanted.add(last)
        got = self._fetch(cur, wanted)
        if last not in got:
            raise ValueError(f"size {size} is beyond the log's size {self._size(cur)}")
        try:
            return [_fold([got[k] for k in keys]) for keys in splits]
        except KeyError as e:
            k = e.args[0]
            raise LogCorruptError(f"log node (level {k >> tree.SHIFT}, index {k & tree.MASK}) is missing") from None

    # ------------------------------------------------------------------ writing

    def _lock(self, cur: Any) -> None:
        if self._postgres:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
        else:  # any write statement takes SQLite's write lock until the transaction ends
            cur.execute(f"UPDATE {self._e} SET idx = idx WHERE idx = -1")

    def lock(self, conn: Connection) -> None:
        """Take the log's write lock in the caller's transaction (held until it ends; `append`
        takes it again at no cost): a caller that must read what to append under the lock, so
        that two appenders never append the same thing, takes it first."""
        if not conn.in_transaction():
            conn.begin()
        with self._cursor(conn) as cur:
            self._lock(cur)

    def _head(self, cur: Any, adding: int) -> tuple[int, dict[int, bytes]]:
        """Take the log's write lock, then read its size and the frontier nodes the append of
        `adding` entries merges."""
        self._lock(cur)
        if self._postgres:
            # the lock, then (a statement later, so its snapshot sees whatever the previous holder
            # committed) the size and the whole frontier, computed in SQL. (Pipelining the two
            # measured slower here than two round trips.)
            cur.execute(self._pg_head)
            rows = cur.fetchall()
            size = next(int(n) for k, _, n in rows if k == -1)
            got = {int(k): bytes(h) for k, h, _ in rows if k != -1}
        else:
            size = self._size(cur)
            got = self._fetch(cur, tree.frontier(size, size + adding))
        if size + adding > tree.MAX_LEAVES:
            raise ValueError(f"the log holds at most {tree.MAX_LEAVES} leaves")
        return size, got

    def _insert(self, cur: Any, rows: list[tuple[Any, ...]], nodes: list[tuple[int, bytes]]) -> None:
        if self._postgres:  # one statement, one round trip: arrays unnested server-side
            cols = list(zip(*rows))
            sql = self._pg_insert
            params = [list(c) for c in cols]
            if nodes:
                keys, hashes = zip(*nodes)
                sql = self._pg_insert_nodes
                params += [list(keys), list(hashes)]
            cur.execute(sql, params)
            return
        cur.executemany(f"INSERT INTO {self._e} (idx, leaf_hash, kind, ref, appended_at) VALUES (?, ?, ?, ?, ?)", rows)
        if nodes:
            cur.executemany(f"INSERT INTO {self._n} (node_key, hash) VALUES (?, ?)", nodes)

    def append(self, conn: Connection, entries: list[tuple[bytes, str, str]]) -> list[int]:
        """Append (leaf_hash, kind, ref) entries in the caller's transaction; returns their
        leaf indexes. `leaf_hash` is RFC 9162's leaf_hash of the entry's bytes (32 bytes)."""
        if not entries:
            return []
        for h, kind, ref in entries:
            if not isinstance(h, bytes) or len(h) != 32:
                raise ValueError(f"a leaf hash is 32 bytes, not {h!r}")
            if not isinstance(kind, str) or not isinstance(ref, str):
                raise ValueError(f"kind and ref are strings, not {kind!r}, {ref!r}")
        if not conn.in_transaction():
            conn.begin()  # what SQLAlchemy's autobegin would do: the caller's commit() commits this
        with self._cursor(conn) as cur:
            size, got = self._head(cur, len(entries))
            frontier = tree.frontier(size, size + len(entries))
            try:
                stack = [got[k] for k in frontier]
            except KeyError as e:
                raise LogCorruptError(f"frontier node {e.args[0]} of size {size} is missing") from None

            sha = hashlib.sha256
            now = int(time.time())
            shift = tree.SHIFT
            rows = []
            nodes: list[tuple[int, bytes]] = []
            pop, push, add = stack.pop, stack.append, nodes.append
            i = size
            for h, kind, ref in entries:
                rows.append((i, h, kind, ref, now))
                x, level, cur_hash = i, 0, h
                while x & 1:
                    cur_hash = sha(b"\x01" + pop() + cur_hash).digest()
                    x >>= 1
                    level += 1
                    add(((level << shift) | x, cur_hash))
                push(cur_hash)
                i += 1
            self._insert(cur, rows, nodes)
        return list(range(size, i))

    # ------------------------------------------------------------------ reading

    def size(self, conn: Connection | None = None) -> int:
        with self._cursor(conn) as c:
            return self._size(c)

    def root(self, size: int | None = None, conn: Connection | None = None) -> bytes:
        """The root of the tree of the first `size` leaves (default: all of them)."""
        with self._cursor(conn) as c:
            if size is None:
                size = self._size(c)
            if size < 0:
                raise ValueError(f"a tree size is >= 0, not {size}")
            if size == 0:
                return _EMPTY_ROOT
            return self._ranges(c, [(0, size)], size)[0]

    def leaf(self, index: int, conn: Connection | None = None) -> tuple[bytes, str, str]:
        """(leaf_hash, kind, ref) of leaf `index`; KeyError when the log has no such leaf."""
        with self._cursor(conn) as c:
            c.execute(f"SELECT leaf_hash, kind, ref FROM {self._e} WHERE idx = {self._mark}", (index,))
            row = c.fetchone()
        if row is None:
            raise KeyError(index)
        return bytes(row[0]), row[1], row[2]

    def inclusion_proof(self, index: int, size: int, conn: Connection | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, bottom-up."""
        if not 0 <= index < size:
            raise ValueError(f"no inclusion proof for leaf {index} in a tree of size {size}: need 0 <= index < size")
        with self._cursor(conn) as c:
            return self._ranges(c, tree.inclusion_ranges(index, size), size)

    def inclusion_proofs(self, indexes: list[int], size: int, conn: Connection | None = None) -> list[list[bytes]]:
        """PATH(index, D[size]) of each index, with every hash they need fetched in one query."""
        for index in indexes:
            if not 0 <= index < size:
                raise ValueError(
                    f"no inclusion proof for leaf {index} in a tree of size {size}: need 0 <= index < size"
                )
        if not indexes:
            return []
        per = [tree.inclusion_ranges(index, size) for index in indexes]
        with self._cursor(conn) as c:
            flat = self._ranges(c, [r for ranges in per for r in ranges], size)
        out, at = [], 0
        for ranges in per:
            out.append(flat[at : at + len(ranges)])
            at += len(ranges)
        return out

    def consistency_proof(self, first: int, second: int, conn: Connection | None = None) -> list[bytes]:
        """PROOF(first, D[second]) of RFC 9162 section 2.1.4.1; empty when first == second."""
        if not 1 <= first <= second:
            raise ValueError(f"no consistency proof from size {first} to size {second}: need 1 <= first <= second")
        with self._cursor(conn) as c:
            return self._ranges(c, tree.consistency_ranges(first, second), second)
