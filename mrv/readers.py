"""A monitoring report's file, JSON or sectioned CSV (docs/mrv.md), read into sections of columns
with the line each record starts on, so every later mistake can name its line."""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from mrv.errors import ReportError, ReportErrors

SECTIONS = ("report", "strata", "plots", "visits", "trees", "emissions")
REPORT_FORMAT = "ledger-monitoring-report/1"
_SPACE = re.compile(r"[ \t\n\r]*")
# json recurses in C once per level of nesting, and the process's recursion limit is 100,000 (py_ecc
# raises it on import): a file of "[" overflowed the stack and killed the process. A report nests 3.
MAX_NESTING = 64
_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_NOT_SKELETON = bytes(range(256)).translate(None, b'"[]{}')
_STRING = re.compile(rb'"[^"]*"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
# a JSON integer longer than this is read as a float (inf beyond 1e308, refused as infinite) rather
# than as a Python int that no float holds (OverflowError) or that int() refuses (4,300 digits)
_INT_DIGITS = 18


@dataclass
class Section:
    """One section's records as columns (a missing cell is None) and each record's line."""

    name: str
    header_line: int
    columns: dict[str, list[Any]] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


def read(data: bytes, file: str) -> dict[str, Section]:
    """The sections of a report file; its kind is told by its first character (`{` is JSON)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReportErrors([ReportError(file, line, "the file is not UTF-8 text; save it as UTF-8")]) from None
    start = _SPACE.match(text, 0)
    if start is not None and text[start.end() : start.end() + 1] == "{":
        if too_deep(data):
            raise ReportErrors(
                [
                    ReportError(
                        file,
                        1,
                        f"arrays and objects nest more than {MAX_NESTING} levels; write the report as docs/mrv.md shows",
                    )
                ]
            )
        return read_json(text, file)
    return read_csv(text, file)


def too_deep(raw: bytes) -> bool:
    """Whether arrays and objects nest more than MAX_NESTING levels in `raw` (strings skipped),
    without parsing it."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:  # it cannot nest deeper than it opens
        return False
    # escapes out first (so an escaped quote ends no string), then all but quotes and brackets (a C pass over
    # what may be 50 MB), then the strings: what is left are the brackets outside strings
    skeleton = _STRING.sub(b"", _ESCAPED.sub(b"", raw).translate(None, _NOT_SKELETON)).replace(b'"', b"")
    return max(accumulate(map(_STEP.__getitem__, skeleton)), default=0) > MAX_NESTING


def _int(digits: str) -> int | float:
    return int(digits) if len(digits) <= _INT_DIGITS else float(digits)


def _columns(section: Section, records: list[Any], starts: list[int], file: str) -> None:
    """Fill `section` from JSON objects; a record that is not an object is a mistake on its line."""
    keys: dict[str, None] = {}
    for record, line in zip(records, starts):
        if not isinstance(record, dict):
            raise ReportErrors([ReportError(file, line, f"each entry of {section.name} must be an object {{...}}")])
        keys.update(dict.fromkeys(record))
        for key, cell in record.items():
            if isinstance(cell, list | dict):
                raise ReportErrors(
                    [ReportError(file, line, f"{key} must be a number or text, not {type(cell).__name__}")]
                )
    section.columns = {key: [record.get(key) for record in records] for key in keys}
    section.lines = starts


def read_json(text: str, file: str) -> dict[str, Section]:
    """A JSON report: one object whose arrays are the sections. Each array element is decoded by
    the standard decoder from its own offset, which gives the line it starts on."""
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(newlines, pos - 1) + 1

    def fail(pos: int, message: str) -> ReportErrors:
        return ReportErrors([ReportError(file, line_of(pos), message)])

    decoder = json.JSONDecoder(parse_int=_int)

    def skip(pos: int) -> int:
        match = _SPACE.match(text, pos)
        return pos if match is None else match.end()

    def value(pos: int) -> tuple[Any, int]:
        try:
            return decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ReportErrors(
                [ReportError(file, exc.lineno, f"not valid JSON ({exc.msg}); fix the syntax at column {exc.colno}")]
            ) from None

    sections: dict[str, Section] = {}
    pos = skip(0) + 1  # past the opening brace
    while True:
        pos = skip(pos)
        if text[pos : pos + 1] == "}":
            pos += 1
            break
        key_at = pos
        key, pos = value(pos)
        if not isinstance(key, str):
            raise fail(key_at, "expected a quoted key; fix the JSON syntax")
        if key in sections or (key == "format" and "format" in sections):
            raise fail(key_at, f"{key!r} appears twice; keep one")
        pos = skip(pos)
        if text[pos : pos + 1] != ":":
            raise fail(pos, f"expected ':' after {key!r}; fix the JSON syntax")
        pos = skip(pos + 1)
        if key == "format":
            found, pos = value(pos)
            if found != REPORT_FORMAT:
                raise fail(key_at, f"format {found!r} is not {REPORT_FORMAT!r}; write that")
            sections["format"] = Section("format", line_of(key_at))
        elif key == "report":
            header, end = value(pos)
            section = sections["report"] = Section("report", line_of(pos))
            _columns(section, [header], [line_of(pos)], file)
            pos = end
        elif key in SECTIONS:
            if text[pos : pos + 1] != "[":
                raise fail(pos, f"{key} must be an array [...] of objects")
            section = sections[key] = Section(key, line_of(pos))
            records: list[Any] = []
            starts: list[int] = []
            pos = skip(pos + 1)
            if text[pos : pos + 1] == "]":
                pos += 1
            else:
                while True:
                    pos = skip(pos)
                    starts.append(pos)
                    record, pos = value(pos)
                    records.append(record)
                    pos = skip(pos)
                    if text[pos : pos + 1] == ",":
                        pos += 1
                    elif text[pos : pos + 1] == "]":
                        pos += 1
                        break
                    else:
                        raise fail(pos, f"expected ',' or ']' in {key}; fix the JSON syntax")
            _columns(section, records, [line_of(s) for s in starts], file)
        else:
            raise fail(key_at, f"unknown key {key!r}; a report has {', '.join(('format', *SECTIONS))}")
        pos = skip(pos)
        if text[pos : pos + 1] == ",":
            pos += 1
        elif text[pos : pos + 1] != "}":
            raise fail(pos, "expected ',' or '}' after a value; fix the JSON syntax")
    if skip(pos) != len(text):
        raise fail(skip(pos), "text after the report's closing brace; remove it")
    sections.pop("format", None)
    return sections


def read_csv(text: str, file: str) -> dict[str, Section]:
    """A sectioned CSV report: a `[name]` line opens a section, its next line names the columns,
    then one record a line. Blank lines and lines starting with # are skipped."""
    sections: dict[str, Section] = {}
    section: Section | None = None
    header: list[str] | None = None
    rows: list[list[str]] = []
    # newline=None: a file saved with CR alone (Excel's "CSV (Macintosh)") reads as lines too
    reader = csv.reader(io.StringIO(text, newline=None))

    def close() -> None:
        if section is not None and header is not None:
            by_column = list(zip(*rows)) if rows else [() for _ in header]
            section.columns = {name: [v.strip() or None for v in values] for name, values in zip(header, by_column)}

    try:
        for row in reader:
            line = reader.line_num
            if header is not None and len(row) == len(header) and row[0] and row[0][0] not in "#[ \t":
                rows.append(row)  # the common row, stripped once per column in close()
                section.lines.append(line)  # type: ignore[union-attr]  # a header implies a section
                continue
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if cells[0].startswith("[") and cells[0].endswith("]") and not any(cells[1:]):
                close()
                name = cells[0][1:-1].strip()
                if name not in SECTIONS:
                    raise ReportErrors(
                        [ReportError(file, line, f"unknown section [{name}]; use one of {', '.join(SECTIONS)}")]
                    )
                if name in sections:
                    raise ReportErrors([ReportError(file, line, f"section [{name}] appears twice; merge them")])
                section = sections[name] = Section(name, line)
                header, rows = None, []
                continue
            if section is None:
                raise ReportErrors(
                    [ReportError(file, line, "a line before any section; start the file with [report] (docs/mrv.md)")]
                )
            if header is None:
                header = cells
                if len(set(header)) != len(header) or "" in header:
                    raise ReportErrors(
                        [
                            ReportError(
                                file, line, f"[{section.name}] has an empty or repeated column name; fix the header"
                            )
                        ]
                    )
                continue
            if len(cells) != len(header):
                raise ReportErrors(
                    [
                        ReportError(
                            file,
                            line,
                            f"{len(cells)} cells where [{section.name}] has {len(header)} columns; fix the row",
                        )
                    ]
                )
            rows.append(cells)
            section.lines.append(line)
    except csv.Error as exc:
        raise ReportErrors([ReportError(file, reader.line_num, f"not valid CSV ({exc}); fix the quoting")]) from None
    close()
    if not sections:
        raise ReportErrors([ReportError(file, 1, "no sections found; a report is JSON or CSV as in docs/mrv.md")])
    return sections
