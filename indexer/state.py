"""The mirror's current state in memory, with the changes made since the last store.

Applying events touches only this object (pure Python, no I/O); `indexer/store.py` then writes
the final value of every changed row, the history rows, and — for blocks inside the
unfinalised window — each row's value before the block into the journal.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

Row = dict[str, Any]
Key = tuple[Any, ...]

KEYS: dict[str, tuple[str, ...]] = {
    "methodologies": ("id",),
    "participants": ("address",),
    "projects": ("id",),
    "parcels": ("parcel",),
    "batches": ("id",),
    "balances": ("holder", "batch_id"),
    "pledges": ("id",),
    "exports": ("id",),
    "lots": ("batch_id", "first_serial"),
    "import_origins": ("origin_key",),
}
# row -> its primary key tuple
KEY_OF = {t: (lambda r, k=keys[0]: (r[k],)) if len(keys) == 1 else itemgetter(*keys) for t, keys in KEYS.items()}
HISTORY = ("participant_status_changes", "retirements", "cancellations", "anchored_roots", "lot_moves")


@dataclass
class State:
    tables: dict[str, dict[Key, Row]] = field(default_factory=lambda: {t: {} for t in KEYS})
    # each holder's lots of a batch, oldest acquisition first (first-in-first-out)
    fifo: dict[tuple[str, int], deque[int]] = field(default_factory=lambda: defaultdict(deque))
    next_acquired: int = 0
    # since the last store: (table, key) -> final row or None; and per block, values before it
    dirty: dict[tuple[str, Key], Row | None] = field(default_factory=dict)
    # rows of `dirty` that did not exist at the last store: deleting one again writes nothing
    fresh: set[tuple[str, Key]] = field(default_factory=set)
    before: dict[int, dict[tuple[str, Key], Row | None]] = field(default_factory=lambda: defaultdict(dict))
    appended: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    # blocks from here on may still be reorganised: only their changes need previous values
    journal_from: int = 0

    def get(self, table: str, key: Key) -> Row | None:
        return self.tables[table].get(key)

    def put(self, table: str, row: Row | None, *, key: Key | None = None, block: int) -> None:
        """Set (or with None, delete) a row; remembers its value before this block once."""
        if key is None:
            assert row is not None
            key = KEY_OF[table](row)
        rows = self.tables[table]
        marker = (table, key)
        if block >= self.journal_from:
            before = self.before[block]
            if marker not in before:
                old = rows.get(key)
                before[marker] = dict(old) if old is not None else None
        dirty = self.dirty
        if marker not in dirty and key not in rows:
            self.fresh.add(marker)
        if row is None:
            rows.pop(key, None)
        else:
            rows[key] = row
        dirty[marker] = row

    def update(self, table: str, key: Key, *, block: int, **changes: Any) -> Row:
        row = self.get(table, key)
        if row is None:
            raise KeyError(f"{table} has no row {key}")
        new = {**row, **changes}
        self.put(table, new, key=key, block=block)
        return new

    def append(self, table: str, row: Row) -> None:
        self.appended[table].append(row)

    def take_changes(
        self,
    ) -> tuple[dict[tuple[str, Key], Row | None], dict[int, dict[tuple[str, Key], Row | None]], dict[str, list[Row]]]:
        dirty = self.dirty
        for marker in self.fresh:
            if dirty[marker] is None:  # created and deleted since the last store: nothing to write
                del dirty[marker]
        changes = (dirty, dict(self.before), dict(self.appended))
        self.dirty, self.fresh, self.before, self.appended = {}, set(), defaultdict(dict), defaultdict(list)
        return changes

    def rebuild_fifo(self) -> None:
        self.fifo = defaultdict(deque)
        held = [r for r in self.tables["lots"].values() if r["state"] == "held"]
        for r in sorted(held, key=lambda r: r["acquired"]):
            self.fifo[(r["holder"], r["batch_id"])].append(r["first_serial"])
        self.next_acquired = max((r["acquired"] for r in self.tables["lots"].values()), default=-1) + 1
