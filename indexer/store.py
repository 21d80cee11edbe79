"""Writing the mirror: a block range's raw events, state changes, history and cursor in one
transaction; and the rollback of everything above a block, also in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from indexer import models
from indexer.state import HISTORY, KEYS, Key, Row, State

TABLES = SQLModel.metadata.tables
BLOCK_COLUMN = {t: "block_number" for t in HISTORY}


def _marks(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def bulk_insert(conn: Connection, table: str, rows: list[Row]) -> None:
    """executemany straight to the driver: SQLAlchemy's per-row parameter handling costs more
    than SQLite's insert itself at tens of thousands of rows a second."""
    if not rows:
        return
    columns = [c.name for c in TABLES[table].columns]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(conn, len(columns))})"
    conn.exec_driver_sql(sql, [tuple(row.get(c) for c in columns) for row in rows])


def bulk_delete(conn: Connection, table: str, keys: list[Key]) -> None:
    if not keys:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    where = " AND ".join(f"{k} = {mark}" for k in KEYS[table])
    conn.exec_driver_sql(f"DELETE FROM {table} WHERE {where}", [tuple(k) for k in keys])


def bulk_upsert(conn: Connection, table: str, rows: list[Row]) -> None:
    """Insert or overwrite by primary key, in one statement per row (SQLite and PostgreSQL)."""
    if not rows:
        return
    columns = [c.name for c in TABLES[table].columns]
    keys = KEYS[table]
    if conn.dialect.name == "sqlite":
        sql = f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({_marks(conn, len(columns))})"
    else:
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys) or f"{keys[0]} = EXCLUDED.{keys[0]}"
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(conn, len(columns))}) "
               f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")
    conn.exec_driver_sql(sql, [tuple(row.get(c) for c in columns) for row in rows])


def write_changes(conn: Connection, changes: dict[tuple[str, Key], Row | None]) -> None:
    by_table: dict[str, tuple[list[Key], list[Row]]] = {}
    for (table, key), row in changes.items():
        gone, present = by_table.setdefault(table, ([], []))
        if row is None:
            gone.append(key)
        else:
            present.append(row)
    for table, (gone, present) in by_table.items():
        bulk_delete(conn, table, gone)
        bulk_upsert(conn, table, present)


def write_journal(conn: Connection, before: dict[int, dict[tuple[str, Key], Row | None]], journal_from: int) -> None:
    rows = [
        {"block_number": block, "table_name": table, "key": json.dumps(list(key)), "old": None if old is None else json.dumps(old)}
        for block, entries in before.items() if block >= journal_from
        for (table, key), old in entries.items()
    ]
    if rows:
        conn.execute(insert(TABLES["journal"]), rows)  # the unfinalised window only: small


def write_appended(conn: Connection, appended: dict[str, list[Row]]) -> None:
    for table, rows in appended.items():
        bulk_insert(conn, table, rows)


@dataclass
class RangeWrite:
    """Everything one block range produced, taken from the state: written as one transaction."""

    chain_id: int
    address: str
    changes: dict[tuple[str, Key], Row | None]
    before: dict[int, dict[tuple[str, Key], Row | None]]
    appended: dict[str, list[Row]]
    raw_events: list[dict[str, Any]]
    blocks: list[dict[str, Any]]
    cursor_block: int
    cursor_hash: str
    journal_from: int
    prune_below: int


def take_range(state: State, **kw: Any) -> RangeWrite:
    changes, before, appended = state.take_changes()
    return RangeWrite(changes=changes, before=before, appended=appended, **kw)


def write_range(engine: Engine, w: RangeWrite) -> None:
    """A range's raw events, changed rows, history, journal and the cursor in one transaction:
    a crash at any instant leaves either all of it or none of it."""
    with engine.begin() as conn:
        bulk_insert(conn, "raw_events", w.raw_events)
        write_changes(conn, w.changes)
        write_journal(conn, w.before, w.journal_from)
        write_appended(conn, w.appended)
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
        removed = conn.execute(delete(raw).where(and_(raw.c.chain_id == chain_id, raw.c.block_number > ancestor))).rowcount
        for table in HISTORY:
            t = TABLES[table]
            conn.execute(delete(t).where(t.c[BLOCK_COLUMN[table]] > ancestor))
        journal = TABLES["journal"]
        entries = conn.execute(
            select(journal.c.table_name, journal.c.key, journal.c.old)
            .where(journal.c.block_number > ancestor)
            .order_by(journal.c.block_number.desc(), journal.c.id.desc())
        ).all()
        restored: dict[tuple[str, Key], Row | None] = {}
        for table, key, old in entries:  # newest first: the last write per key is its oldest value
            restored[(table, tuple(json.loads(key)))] = None if old is None else json.loads(old)
        write_changes(conn, restored)
        conn.execute(delete(journal).where(journal.c.block_number > ancestor))
        blocks = TABLES["blocks"]
        conn.execute(delete(blocks).where(and_(blocks.c.chain_id == chain_id, blocks.c.number > ancestor)))
        set_cursor(conn, chain_id, address, ancestor, ancestor_hash)
    return int(removed or 0)


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
        row = conn.execute(select(t.c.block_number, t.c.block_hash).where(and_(t.c.chain_id == chain_id, t.c.address == address))).first()
    return (int(row[0]), str(row[1])) if row else None


def stored_blocks(engine: Engine, chain_id: int) -> dict[int, str]:
    t = TABLES["blocks"]
    with engine.connect() as conn:
        return {int(n): str(h) for n, h in conn.execute(select(t.c.number, t.c.hash).where(t.c.chain_id == chain_id))}


_ = models  # the tables are registered on SQLModel.metadata by importing the models
