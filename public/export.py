"""Bulk export: every public list as CSV or JSON Lines, streamed in chunks from a server-side
cursor, and the ledger of credit movements, where a retirement, a cancellation, an export and a
reserve deposit are distinct record types (docs/public-registry.md, "Export schema").

Every row starts with `record_type`, so files of several lists can be concatenated and still be
told apart (Verra's public data cannot tell a retirement from a cancellation: research note §7)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from public.errors import PublicQueryError
from public.lists import ListSpec, query, rows

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
CHUNK_ROWS = 5000  # rows per database fetch and per chunk sent: about 1 MB of CSV

# the ledger of movements: one schema for the four record types, empty where a type has no such field
LEDGER_COLUMNS = (
    "record_type",
    "id",
    "batch_id",
    "project_id",
    "vintage",
    "amount_kg",
    "holder",
    "scenario",
    "beneficiary_commitment",
    "claim_hash",
    "reason",
    "evidence_hash",
    "export_id",
    "destination_registry",
    "destination_account",
    "status",
    "block_number",
    "log_index",
    "tx_hash",
)
LEDGER_SOURCES = ("retirements", "cancellations", "exports", "reserve")
# a column of the ledger that a source names differently (the reserve's amount is its deposit)
LEDGER_RENAMES = {"reserve": {"amount_kg": "reserve_kg"}, "exports": {"export_id": "id"}}


@dataclass(frozen=True)
class Export:
    """A validated export: which lists, filtered how, in which format."""

    name: str
    fmt: str
    parts: tuple[tuple[ListSpec, dict[str, Any]], ...]
    columns: tuple[str, ...]

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.fmt}"

    def chunks(self, conn: Connection, *, chunk: int = CHUNK_ROWS) -> Iterator[bytes]:
        """The file, a chunk at a time (a header line first for CSV)."""
        names = self.columns
        if self.fmt == "csv":
            yield _csv_line(names).encode()
        for s, f in self.parts:
            project = _projection(s, names)
            record_type = s.record_type
            for part in rows(conn, s, f, chunk=chunk):
                shaped = [project(r) for r in part] if project else part
                if self.fmt == "csv":
                    text = _csv_chunk(record_type, shaped, len(names))
                else:
                    text = "".join(
                        [
                            json.dumps(
                                dict(zip(names, (record_type, *r), strict=True)),
                                ensure_ascii=False,
                                separators=(",", ":"),
                            )
                            + "\n"
                            for r in shaped
                        ]
                    )
                yield text.encode()


def _csv_line(row: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


# a cell a spreadsheet reads as a formula (OWASP, "CSV Injection"): = + - @, tab, carriage return
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A text cell that would start a formula, prefixed with ' so a spreadsheet shows it as text
    (free text from the chain, e.g. a destination registry "=cmd|..."); the JSON Lines keep it as is."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _csv_chunk(record_type: str, part: Sequence[Sequence[Any]], width: int) -> str:
    """CSV records (RFC 4180) of a chunk of rows. Joined directly when no value needs quoting or
    could start a formula (hashes, numbers, enum names: nearly every chunk), which costs a fifth
    of csv.writer; counts over the chunk tell, and a chunk that fails them goes through
    csv.writer instead. Every line starts with the record type, so a cell starts after a comma."""
    prefix = record_type + ","
    lines = [prefix + ",".join(["" if v is None else str(v) for v in r]) for r in part]
    text = "\n".join(lines) + "\n"
    plain = (
        text.count(",") == len(lines) * (width - 1)
        and text.count("\n") == len(lines)
        and '"' not in text
        and "\r" not in text
        and not any("," + c in text for c in FORMULA_STARTS)
    )
    return text if plain else "".join(_csv_line((record_type, *[_cell(v) for v in r])) for r in part)


def _projection(s: ListSpec, columns: tuple[str, ...]) -> Any:
    """None when the list's own columns are the export's; else a function from a list row to the
    export's columns (after record_type), None where the list has no such column."""
    own = ("record_type", *s.names)
    if tuple(columns) == own:
        return None
    renames = LEDGER_RENAMES.get(s.name, {})
    where = {n: i for i, n in enumerate(s.names)}
    picks = [where.get(renames.get(c, c)) for c in columns[1:]]

    def project(r: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(None if i is None else r[i] for i in picks)

    return project


def prepare(name: str, fmt: str, given: Mapping[str, str | None]) -> Export:
    """Check the list, format and filters before the first byte is sent: a streamed answer cannot
    turn into an error half-way."""
    if fmt not in MEDIA_TYPES:
        raise PublicQueryError(f"format {fmt[:20]!r} is not one of: {', '.join(MEDIA_TYPES)}")
    if name == "ledger":
        if any(v not in (None, "") for v in given.values()):
            raise PublicQueryError("the ledger export takes no filters; filter one list's export instead")
        return Export(name, fmt, tuple(query(n, {}) for n in LEDGER_SOURCES), LEDGER_COLUMNS)
    s, f = query(name, given)
    return Export(name, fmt, ((s, f),), ("record_type", *s.names))
