"""Activity data and reports read from JSON without letting the nesting kill the process.

json recurses in C once per level of nesting, and the process's recursion limit is 100,000 (py_ecc
raises it on import when chain/ is loaded): a file or request body of a few hundred thousand "["
overflowed the stack and killed the CLI or the API worker with a segmentation fault instead of a
RecursionError. Activity data nests three levels and a report five, so the depth is checked on the
bytes, strings skipped, before anything is parsed."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from itertools import accumulate
from typing import Any

from footprint.errors import FootprintError

MAX_NESTING = 64
_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_NOT_SKELETON = bytes(range(256)).translate(None, b'"[]{}')
_STRING = re.compile(rb'"[^"]*"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def too_deep(raw: bytes) -> bool:
    """Whether arrays and objects nest more than MAX_NESTING levels in `raw`, without parsing it."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:  # it cannot nest deeper than it opens
        return False
    # escapes out first (so an escaped quote ends no string), then all but quotes and brackets (a C pass over
    # what may be 50 MB), then the strings: what is left are the brackets outside strings
    skeleton = _STRING.sub(b"", _ESCAPED.sub(b"", raw).translate(None, _NOT_SKELETON)).replace(b'"', b"")
    return max(accumulate(map(_STEP.__getitem__, skeleton)), default=0) > MAX_NESTING


def loads(raw: bytes, name: str, fix: str) -> Any:
    """`raw` parsed with decimals read as written (Decimal, never float); FootprintError naming
    `name` and `fix` when it is not JSON or nests too deeply."""
    if too_deep(raw):
        raise FootprintError(f"{name} nests arrays and objects more than {MAX_NESTING} levels deep; {fix}")
    try:
        # UTF-8 only: json.loads(bytes) also reads UTF-16/32, whose nesting too_deep cannot see
        return json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FootprintError(f"{name} is not JSON; {fix}") from None
