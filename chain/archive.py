"""The durable local node's archive of mined blocks: what anvil no longer holds in memory.

anvil keeps every block, transaction, receipt and trace in memory (about 30 kB per operation under
load, and its snapshots rewrite all of it). The durable node runs it with
`--transaction-block-keeper`, so it forgets the transactions of all but its last blocks; before it
does, the keeper copies each mined block (with its transactions), its receipts and its logs here,
into SQLite on disk. The node's front (chain/front.py) answers history from here, so the indexer
(eth_getLogs from the deployment block), `ledger audit` and the explorer see the whole chain.

The archive follows the chain: on a start it drops the blocks the restored snapshot does not have
(a kill -9 lost them; the journal re-sends their transactions into new blocks), and when a block's
parent is not the archived block below it (a reorganisation) it drops from there. It is written
(and synced) before each snapshot, so a snapshot never covers a block missing from both.
Block 0 is never archived: anvil gives it a new hash at every --load-state.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from chain.rpc import JsonRpc, RpcError

log = logging.getLogger(__name__)

ARCHIVE_NAME = "archive.sqlite"  # next to the state file
CHUNK = 50  # blocks fetched per JSON-RPC batch

# JSON as the node returned it, zlib-compressed; a block lists its transactions' hashes (full
# ones come from txs) and a receipt has no logs (they come from logs): each is stored once
SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, block BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY, number INTEGER NOT NULL, tx_index INTEGER NOT NULL, tx BLOB NOT NULL, receipt BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_number ON txs (number, tx_index);
CREATE TABLE IF NOT EXISTS logs (
    number INTEGER NOT NULL, log_index INTEGER NOT NULL, tx_index INTEGER NOT NULL, address TEXT NOT NULL,
    topic0 TEXT, log BLOB NOT NULL,
    PRIMARY KEY (number, log_index)
);
CREATE INDEX IF NOT EXISTS logs_address ON logs (address, number);
"""


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class Archive:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()  # one connection per thread (the front serves from many)
        self._write = threading.Lock()
        self._following = threading.Lock()  # the keeper and the front (after a mining call) both follow
        self.gaps: set[int] = set()  # blocks whose transactions the node forgot before we copied them

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # on disk before the snapshot that relies on it
            db.executescript(SCHEMA)
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ------------------------------------------------------------------ reading

    def head(self) -> int:
        """The highest archived block, 0 when none is (block 0 is never archived)."""
        row = self._db().execute("SELECT max(number) FROM blocks").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def hash_at(self, number: int) -> str | None:
        row = self._db().execute("SELECT hash FROM blocks WHERE number = ?", (number,)).fetchone()
        return str(row[0]) if row else None

    def block(self, number: int | None = None, *, block_hash: str | None = None, full: bool = False) -> Any:
        """The block as eth_getBlockByNumber/Hash returns it, or None when it is not archived."""
        db = self._db()
        if block_hash is not None:
            row = db.execute("SELECT number, block FROM blocks WHERE hash = ?", (block_hash.lower(),)).fetchone()
        else:
            row = db.execute("SELECT number, block FROM blocks WHERE number = ?", (number,)).fetchone()
        if row is None:
            return None
        block = _unpack(row[1])
        if full:
            rows = db.execute("SELECT tx FROM txs WHERE number = ? ORDER BY tx_index", (row[0],))
            block["transactions"] = [_unpack(r[0]) for r in rows]
        return block

    def number_of(self, block_hash: str) -> int | None:
        row = self._db().execute("SELECT number FROM blocks WHERE hash = ?", (block_hash.lower(),)).fetchone()
        return int(row[0]) if row else None

    def transaction(self, tx_hash: str) -> Any:
        row = self._db().execute("SELECT tx FROM txs WHERE hash = ?", (tx_hash.lower(),)).fetchone()
        return _unpack(row[0]) if row else None

    def receipt(self, tx_hash: str) -> Any:
        db = self._db()
        row = db.execute("SELECT number, tx_index, receipt FROM txs WHERE hash = ?", (tx_hash.lower(),)).fetchone()
        if row is None:
            return None
        receipt = _unpack(row[2])
        logs = db.execute("SELECT log FROM logs WHERE number = ? AND tx_index = ? ORDER BY log_index", (row[0], row[1]))
        receipt["logs"] = [_unpack(r[0]) for r in logs]
        return receipt

    def receipts(self, number: int) -> list[Any] | None:
        db = self._db()
        if self.hash_at(number) is None:
            return None
        receipts = [
            _unpack(r[0]) for r in db.execute("SELECT receipt FROM txs WHERE number = ? ORDER BY tx_index", (number,))
        ]
        for receipt in receipts:
            receipt["logs"] = []
        for (blob,) in db.execute("SELECT log FROM logs WHERE number = ? ORDER BY log_index", (number,)):
            log_ = _unpack(blob)
            receipts[int(log_["transactionIndex"], 16)]["logs"].append(log_)
        return receipts

    def logs(
        self, first: int, last: int, addresses: Sequence[str] | None, topics: Sequence[Any], limit: int | None = None
    ) -> list[Any]:
        """eth_getLogs over archived blocks [first, last]: `addresses` None for any, `topics` as in
        the filter (per position: None for any, a topic, or a list of alternatives); at most
        `limit` + 1 logs, so a caller can tell "more than `limit`" without holding them all."""
        sql = "SELECT log FROM logs WHERE number BETWEEN ? AND ?"
        args: list[Any] = [first, last]
        if addresses is not None:
            sql += f" AND address IN ({','.join('?' * len(addresses))})"
            args += [a.lower() for a in addresses]
        first_topic = topics[0] if topics else None
        if isinstance(first_topic, str):
            sql += " AND topic0 = ?"
            args.append(first_topic.lower())
        elif isinstance(first_topic, list) and first_topic and all(isinstance(t, str) for t in first_topic):
            sql += f" AND topic0 IN ({','.join('?' * len(first_topic))})"
            args += [t.lower() for t in first_topic]
        sql += " ORDER BY number, log_index"
        out = []
        for (blob,) in self._db().execute(sql, args):
            log = _unpack(blob)
            if matches_topics(log["topics"], topics):
                out.append(log)
                if limit is not None and len(out) > limit:
                    break
        return out

    # ------------------------------------------------------------------ writing

    def truncate_above(self, number: int) -> None:
        with self._write:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM blocks WHERE number > ?", (number,))
            db.execute("DELETE FROM txs WHERE number > ?", (number,))
            db.execute("DELETE FROM logs WHERE number > ?", (number,))
            db.execute("COMMIT")

    def follow(self, rpc: JsonRpc, head: int | None = None) -> int:
        """Copy the blocks the node mined since the archived head (up to `head`, else its latest);
        drop archived blocks it no longer has first. Returns the archived head."""
        with self._following:
            return self._follow(rpc, head)

    def _follow(self, rpc: JsonRpc, head: int | None) -> int:
        if head is None:
            head = int(rpc.call("eth_blockNumber"), 16)
        archived = self._rewind(rpc, min(self.head(), head))
        while archived < head:
            last = min(head, archived + CHUNK)
            numbers = range(archived + 1, last + 1)
            calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", [hex(n), True]) for n in numbers]
            calls += [("eth_getBlockReceipts", [hex(n)]) for n in numbers]
            calls.append(("eth_getLogs", [{"fromBlock": hex(archived + 1), "toBlock": hex(last)}]))
            replies: list[Any] = rpc.batch(calls)
            for reply in replies:
                if isinstance(reply, RpcError):
                    raise reply
            count = len(numbers)
            blocks, receipts, logs = replies[:count], replies[count : 2 * count], replies[-1]
            previous = self.hash_at(archived)
            if blocks[0] is None or (previous is not None and blocks[0]["parentHash"] != previous):
                archived = self._rewind(rpc, archived)  # the chain changed under us: again from there
                continue
            self._add(blocks, receipts, logs)
            archived = last
        return archived

    def _rewind(self, rpc: JsonRpc, start: int) -> int:
        """The highest archived block at or below `start` that the node has with the same hash;
        archived blocks above it are dropped."""
        number = start
        while number > 0:
            ours = self.hash_at(number)
            block = rpc.call("eth_getBlockByNumber", hex(number), False)
            if ours is not None and block is not None and block["hash"] == ours:
                break
            number -= 1
        if self.head() > number:
            self.truncate_above(number)
        return number

    def _add(self, blocks: list[Any], receipts: list[Any], logs: Iterable[Any]) -> None:
        by_hash = {}
        forgotten = []
        for block, block_receipts in zip(blocks, receipts, strict=True):
            # a block that used gas but lists no transactions: anvil forgot them before we copied them
            if int(block["gasUsed"], 16) and not block["transactions"]:
                forgotten.append(int(block["number"], 16))
            for r in block_receipts or []:
                by_hash[r["transactionHash"].lower()] = r
        if forgotten:
            self.gaps.update(forgotten)
            log.error(
                "the node forgot the transactions of %d block(s) (%d-%d) before the archive copied them; "
                "their logs are missing from history: restore %s from a backup",
                len(forgotten),
                forgotten[0],
                forgotten[-1],
                self.path,
            )
        block_rows, tx_rows = [], []
        for block in blocks:
            number = int(block["number"], 16)
            for t in block["transactions"]:
                receipt = {**by_hash[t["hash"].lower()], "logs": []}  # the logs are kept once, in logs
                tx_rows.append((t["hash"].lower(), number, int(t["transactionIndex"], 16), _pack(t), _pack(receipt)))
            block_rows.append(
                (
                    number,
                    block["hash"].lower(),
                    _pack({**block, "transactions": [t["hash"] for t in block["transactions"]]}),
                )
            )
        log_rows = [
            (
                int(g["blockNumber"], 16),
                int(g["logIndex"], 16),
                int(g["transactionIndex"], 16),
                g["address"].lower(),
                g["topics"][0].lower() if g["topics"] else None,
                _pack(g),
            )
            for g in logs
        ]
        with self._write:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO blocks (number, hash, block) VALUES (?, ?, ?)", block_rows)
            db.executemany(
                "INSERT OR REPLACE INTO txs (hash, number, tx_index, tx, receipt) VALUES (?, ?, ?, ?, ?)", tx_rows
            )
            db.executemany(
                "INSERT OR REPLACE INTO logs (number, log_index, tx_index, address, topic0, log) VALUES (?, ?, ?, ?, ?, ?)",
                log_rows,
            )
            db.execute("COMMIT")


def matches_topics(log_topics: Sequence[str], wanted: Sequence[Any]) -> bool:
    """eth_getLogs' topic rule as anvil applies it: position i matches when the filter has None (or
    an empty list) there, the log's topic, or a list holding it; a topic wanted beyond the log's
    last one fails."""
    for i, want in enumerate(wanted):
        if want is None or want == []:
            continue
        if i >= len(log_topics):
            return False
        options = want if isinstance(want, list) else [want]
        if log_topics[i].lower() not in {o.lower() for o in options if isinstance(o, str)}:
            return False
    return True
