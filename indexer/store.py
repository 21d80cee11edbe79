"""Writing the mirror: a block range's raw events, state changes, history and cursor in one
transaction; and the rollback of everything above a block, also in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, inspect, select, update
from sqlalchemy.engine import Connection

from indexer import models
from indexer.state import HISTORY, KEYS, Key, Row, State

TABLES = {table.name: table for table in models.TABLES}
BLOCK_COLUMN = dict.fromkeys(HISTORY, "block_number")


def _marks(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


COLUMNS = {name: tuple(c.name for c in table.columns) for name, table in TABLES.items()}
RAW_COLUMNS = COLUMNS["raw_events"]
assert RAW_COLUMNS == (
    "chain_id",
    "block_number",
    "log_index",
    "block_hash",
    "tx_hash",
    "tx_index",
    "address",
    "name",
    "topics",
    "data",
), "Indexer._apply_range builds the rows in this order"


def insert_tuples(conn: Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """executemany straight to the driver, rows as tuples in the table's column order:
    SQLAlchemy's per-row parameter handling costs more than SQLite's insert itself at tens of
    thousands of rows a second."""
    if not rows:
        return
    columns = COLUMNS[table]
    if conn.dialect.name == "postgresql":  # COPY, in the same transaction: several times faster than INSERTs
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # an open Connection always has its DBAPI connection
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(conn, len(columns))})", rows)


GETTERS = {name: itemgetter(*columns) for name, columns in COLUMNS.items()}


def as_tuples(table: str, rows: list[Row]) -> list[tuple[Any, ...]]:
    get = GETTERS[table]
    try:
        return [get(row) for row in rows]
    except KeyError:  # some row leaves a column out: None for it
        columns = COLUMNS[table]
        return [tuple(row.get(c) for c in columns) for row in rows]


def bulk_insert(conn: Connection, table: str, rows: list[Row]) -> None:
    insert_tuples(conn, table, as_tuples(table, rows))


def bulk_delete(conn: Connection, table: str, keys: list[Key]) -> None:
    if not keys:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    where = " AND ".join(f"{k} = {mark}" for k in KEYS[table])
    conn.exec_driver_sql(f"DELETE FROM {table} WHERE {where}", [tuple(k) for k in keys])


def upsert_tuples(conn: Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert or overwrite by primary key, in one statement per row (SQLite and PostgreSQL)."""
    if not rows:
        return
    columns = COLUMNS[table]
    keys = KEYS[table]
    if conn.dialect.name == "sqlite":
        sql = f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({_marks(conn, len(columns))})"
    else:
        updates = (
            ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys) or f"{keys[0]} = EXCLUDED.{keys[0]}"
        )
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(conn, len(columns))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
    conn.exec_driver_sql(sql, rows)


Changes = dict[str, tuple[list[Key], list[tuple[Any, ...]]]]  # table -> (keys to delete, rows to upsert)


def pack_changes(changes: dict[tuple[str, Key], Row | None]) -> Changes:
    by_table: dict[str, tuple[list[Key], list[Row]]] = {}
    for (table, key), row in changes.items():
        gone, present = by_table.setdefault(table, ([], []))
        if row is None:
            gone.append(key)
        else:
            present.append(row)
    return {table: (gone, as_tuples(table, present)) for table, (gone, present) in by_table.items()}


def write_packed(conn: Connection, packed: Changes) -> None:
    for table, (gone, present) in packed.items():
        bulk_delete(conn, table, gone)
        upsert_tuples(conn, table, present)


def write_changes(conn: Connection, changes: dict[tuple[str, Key], Row | None]) -> None:
    write_packed(conn, pack_changes(changes))


def write_journal(conn: Connection, before: dict[int, dict[tuple[str, Key], Row | None]], journal_from: int) -> None:
    """One row per block of the unfinalised window: a JSON list of [table, key, row before the block].
    (A row per change cost 40 % of a backfill's writing when its blocks were all in the window.)"""
    rows = [
        {"block_number": block, "entries": json.dumps([(table, key, old) for (table, key), old in entries.items()])}
        for block, entries in before.items()
        if block >= journal_from and entries
    ]
    if rows:
        conn.execute(insert(TABLES["journal"]), rows)


@dataclass
class RangeWrite:
    """Everything one block range produced, taken from the state: written as one transaction.

    Plain tuples, lists, dicts, ints and strings (the writer may be another process: see
    `indexer/writer.py`).
    """

    chain_id: int
    address: str
    changes: Changes
    before: dict[int, dict[tuple[str, Key], Row | None]]
    appended: dict[str, list[tuple[Any, ...]]]  # history rows in their tables' column order
    raw_events: list[tuple[Any, ...]]  # in RAW_COLUMNS order
    blocks: list[dict[str, Any]]
    cursor_block: int
    cursor_hash: str
    journal_from: int
    prune_below: int


def take_range(state: State, **kw: Any) -> RangeWrite:
    changes, before, appended = state.take_changes()
    return RangeWrite(
        changes=pack_changes(changes),
        before=before,
        appended={table: as_tuples(table, rows) for table, rows in appended.items()},
        **kw,
    )


def write_range(engine: Engine, w: RangeWrite) -> None:
    """A range's raw events, changed rows, history, journal and the cursor in one transaction:
    a crash at any instant leaves either all of it or none of it."""
    with engine.begin() as conn:
        insert_tuples(conn, "raw_events", w.raw_events)
        write_packed(conn, w.changes)
        write_journal(conn, w.before, w.journal_from)
        for table, rows in w.appended.items():
            insert_tuples(conn, table, rows)
        block_rows = [{"chain_id": w.chain_id, **b} for b in w.blocks]
        blocks = TABLES["blocks"]
        if block_rows:
            lowest = min(b["number"] for b in block_rows)
            conn.execute(delete(blocks).where(and_(blocks.c.chain_id == w.chain_id, blocks.c.number >= lowest)))
            conn.execute(insert(blocks), block_rows)
        conn.execute(delete(blocks).where(and_(blocks.c.chain_id == w.chain_id, blocks.c.number < w.prune_below)))
        conn.execute(delete(TABLES["journal"]).where(TABLES["journal"].c.block_number < w.prune_below))
        set_cursor(conn, w.chain_id, w.address, w.cursor_block, w.cursor_hash)


def set_cursor(conn: Connection, chain_id: int, address: str, block: int, block_hash: str) -> None:
    t = TABLES["sync_cursor"]
    where = and_(t.c.chain_id == chain_id, t.c.address == address)
    if conn.execute(select(t.c.block_number).where(where)).first() is None:
        conn.execute(insert(t).values(chain_id=chain_id, address=address, block_number=block, block_hash=block_hash))
    else:
        conn.execute(update(t).where(where).values(block_number=block, block_hash=block_hash))


def rollback_to(engine: Engine, *, chain_id: int, address: str, ancestor: int, ancestor_hash: str) -> int:
    """Undo every block above `ancestor` in one transaction; returns the number of events removed."""
    with engine.begin() as conn:
        raw = TABLES["raw_events"]
        removed = conn.execute(
            delete(raw).where(and_(raw.c.chain_id == chain_id, raw.c.block_number > ancestor))
        ).rowcount
        for table in HISTORY:
            t = TABLES[table]
            conn.execute(delete(t).where(t.c[BLOCK_COLUMN[table]] > ancestor))
        journal = TABLES["journal"]
        blocks_entries = conn.execute(
            select(journal.c.entries)
            .where(journal.c.block_number > ancestor)
            .order_by(journal.c.block_number.desc(), journal.c.id.desc())
        ).scalars()
        restored: dict[tuple[str, Key], Row | None] = {}
        for entries in blocks_entries:  # newest first: the last write per key is its oldest value
            for table, key, old in reversed(json.loads(entries)):
                restored[(table, tuple(key))] = old
        write_changes(conn, restored)
        conn.execute(delete(journal).where(journal.c.block_number > ancestor))
        blocks = TABLES["blocks"]
        conn.execute(delete(blocks).where(and_(blocks.c.chain_id == chain_id, blocks.c.number > ancestor)))
        set_cursor(conn, chain_id, address, ancestor, ancestor_hash)
    return int(removed or 0)


# Secondary indexes a first backfill builds at its end instead of row by row (`Indexer.sync_once`):
# a random key such as a transaction hash dirties a different page for almost every row. The
# event-name index stays: a few names, each appended at its end, cost the writer process less
# than a scan of the whole raw_events table at the end of the backfill, when nothing else runs.
SECONDARY_INDEXES = [
    index
    for name, table in TABLES.items()
    if name not in ("journal", "blocks", "sync_cursor")
    for index in sorted(table.indexes, key=lambda i: str(i.name))
    if not index.unique
]
LIVE_INDEXES = {"ix_raw_events_name"}
DEFERRED_INDEXES = [index for index in SECONDARY_INDEXES if index.name not in LIVE_INDEXES]


def missing_indexes(engine: Engine) -> list[Any]:
    """Secondary indexes absent from the database, deferred or not (an interrupted first backfill
    of an older version may have dropped any of them)."""
    inspector = inspect(engine)
    present = {(t, i["name"]) for t in {ix.table.name for ix in SECONDARY_INDEXES} for i in inspector.get_indexes(t)}
    return [ix for ix in SECONDARY_INDEXES if (ix.table.name, ix.name) not in present]


def drop_deferred_indexes(engine: Engine) -> None:
    missing = {id(ix) for ix in missing_indexes(engine)}
    with engine.begin() as conn:
        for index in DEFERRED_INDEXES:
            if id(index) not in missing:
                index.drop(conn)


def create_missing_indexes(engine: Engine) -> None:
    missing = missing_indexes(engine)
    if missing:
        with engine.begin() as conn:
            for index in missing:
                index.create(conn)


def load_state(engine: Engine) -> State:
    state = State()
    with engine.connect() as conn:
        for table, keys in KEYS.items():
            for row in conn.execute(select(TABLES[table])).mappings():
                state.tables[table][tuple(row[k] for k in keys)] = dict(row)
    state.rebuild_fifo()
    return state


def cursor(engine: Engine, chain_id: int, address: str) -> tuple[int, str] | None:
    t = TABLES["sync_cursor"]
    with engine.connect() as conn:
        row = conn.execute(
            select(t.c.block_number, t.c.block_hash).where(and_(t.c.chain_id == chain_id, t.c.address == address))
        ).first()
    return (int(row[0]), str(row[1])) if row else None


def stored_blocks(engine: Engine, chain_id: int) -> dict[int, str]:
    t = TABLES["blocks"]
    with engine.connect() as conn:
        return {int(n): str(h) for n, h in conn.execute(select(t.c.number, t.c.hash).where(t.c.chain_id == chain_id))}


_ = models  # the tables are registered on SQLModel.metadata by importing the models
