"""Activity data as CSV (a spreadsheet's export): one row per emission source, the subject's own
fields on the first row (docs/footprint.md, "Activity data as CSV").

Cells are read as text and handed to the same computation as JSON (footprint/compute.py), so the
same checks apply and a quantity keeps every digit written; only whole-number columns are turned
into integers. Every error names the row (the header is row 1, as a spreadsheet counts) and the
column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from footprint.compute import MAX_LINES, Where, read_at_most
from footprint.errors import FootprintError

MAX_BYTES = 2 << 20  # 1,000 lines at their longest fields, as the API takes
# the subject's fields: given on the first row, or repeated unchanged on every row (a filled-down column)
SUBJECT_COLUMNS = ("subject", "title", "region", "year", "aviation_multiplier", "units", "floor_area_m2")
# a line's fields; its own region and year are line_region and line_year, region and year being the subject's
LINE_COLUMNS = ("activity", "quantity", "unit", "passengers", "category", "label", "factor", "line_region", "line_year")
COLUMNS = SUBJECT_COLUMNS + LINE_COLUMNS
REQUIRED = ("subject", "region", "year", "activity", "quantity", "unit")
LINE_FIELD = {"line_region": "region", "line_year": "year"}  # CSV column → field of a JSON line
WHOLE = ("year", "units", "passengers", "line_year")
# the charsets a sheet is read in (an HTTP body's declared one); GB 18030 holds GBK and GB 2312, which
# a Chinese Excel writes its "CSV (逗号分隔)" in
CODECS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "gb18030": "gb18030", "gbk": "gb18030", "gb2312": "gb18030"}


class CsvWhere(Where):
    """Errors name `row R, column C`."""

    def __init__(self, rows: list[int], given_at: dict[str, int]) -> None:
        self.rows = rows
        self.given_at = given_at

    def top(self, name: str) -> str:
        return f"row {self.given_at.get(name, 2)}, column {name}"

    def line(self, n: int) -> str:
        return f"row {self.rows[n - 1]}"

    def cell(self, n: int, name: str) -> str:
        column = {"region": "line_region", "year": "line_year"}.get(name, name)
        return f"row {self.rows[n - 1]}, column {column}"

    def about(self, n: int, name: str) -> str:
        return self.cell(n, name)


@dataclass(frozen=True)
class Parsed:
    data: dict[str, Any]  # the activity data as JSON would give it
    where: CsvWhere


def _value(column: str, text: str) -> str | int:
    # a whole number becomes an int as JSON would give it; anything else stays text for the computation to refuse
    if column in WHOLE and text.isascii() and text.isdigit():
        return int(text)
    return text


def parse(raw: bytes, name: str, charset: str = "utf-8") -> Parsed:
    """The activity data in CSV bytes written in `charset`; FootprintError naming the row and column, and the fix."""
    if len(raw) > MAX_BYTES:
        raise FootprintError(f"{name} is over {MAX_BYTES >> 20} MiB; split it (at most {MAX_LINES} lines)")
    codec = CODECS.get(charset.strip().strip('"').lower())
    if codec is None:
        raise FootprintError(f"{name}: charset {charset[:40]!r} is not read; send the sheet as UTF-8 (or GBK)")
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        said = "UTF-8" if codec != "gb18030" else charset.upper()
        raise FootprintError(f"{name} is not {said} text; save the sheet as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
        records = list(reader)
    except csv.Error as exc:
        raise FootprintError(f"{name}: row {reader.line_num} is not CSV ({exc}); fix its quotes") from None
    if not any(header):
        raise FootprintError(f"{name} is empty; give a header row ({', '.join(REQUIRED)}, …) and one row per source")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise FootprintError(f"{name}: row 1, column {unknown[0]!r} is unknown; use {', '.join(COLUMNS)}")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise FootprintError(f"{name}: row 1, column {twice[0]!r} appears twice; keep one")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FootprintError(f"{name}: row 1 lacks column {missing[0]!r}; add it (docs/footprint.md)")
    data: dict[str, Any] = {}
    given_at: dict[str, int] = {}
    lines: list[dict[str, Any]] = []
    rows: list[int] = []
    for index, record in enumerate(records, start=2):
        cells = [c.strip() for c in record]
        if not any(cells):
            continue  # a blank row between blocks of a sheet
        if len(cells) > len(header):
            raise FootprintError(
                f"{name}: row {index} has {len(cells)} cells, the header {len(header)}; quote a cell that holds a comma"
            )
        row = dict(zip(header, cells, strict=False))
        for column in SUBJECT_COLUMNS:
            cell = row.get(column, "")
            if not cell:
                continue
            value = _value(column, cell)
            if column not in data:
                data[column], given_at[column] = value, index
            elif data[column] != value:
                raise FootprintError(
                    f"{name}: row {index}, column {column}: {cell!r} differs from row {given_at[column]}'s "
                    f"{data[column]!r}; a report has one {column}: give it once, on the first row"
                )
        line = {LINE_FIELD.get(c, c): _value(c, row[c]) for c in LINE_COLUMNS if row.get(c)}
        if not line:
            raise FootprintError(
                f"{name}: row {index} has no activity, quantity or unit; fill them in or delete the row"
            )
        lines.append(line)
        rows.append(index)
        if len(lines) > MAX_LINES:
            raise FootprintError(f"{name}: more than {MAX_LINES} rows; sum similar activities into one row")
    if not lines:
        raise FootprintError(f"{name} holds a header and no rows; add one row per emission source")
    data["lines"] = lines
    return Parsed(data, CsvWhere(rows, given_at))


def load(path: Path) -> Parsed:
    return parse(read_at_most(path, MAX_BYTES, f"split it (at most {MAX_LINES} lines)"), path.name)
