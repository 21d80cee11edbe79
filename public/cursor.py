"""Opaque keyset cursors: the sort key of the last row of a page, and the list it belongs to.

A cursor is base64url of the canonical JSON `[list name, key values...]`. It names a position in
a stable order (each list sorts by a unique key), so rows inserted while someone pages neither
repeat nor go missing, and no OFFSET is ever counted."""

from __future__ import annotations

import base64
import binascii
import json

from chain.canonical import canonical_json
from public.errors import PublicQueryError
from public.filters import MAX_INT

Key = tuple[int | str, ...]


def encode(list_name: str, key: Key) -> str:
    return base64.urlsafe_b64encode(canonical_json([list_name, *key])).decode().rstrip("=")


def decode(list_name: str, cursor: str, kinds: tuple[type, ...]) -> Key:
    """The key a cursor of `list_name` holds; PublicQueryError if it is not one this list gave."""
    hint = f"the cursor is not one the {list_name} list gave; start again without a cursor"
    if len(cursor) > 512:
        raise PublicQueryError(hint)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise PublicQueryError(hint) from None
    if not isinstance(value, list) or len(value) != len(kinds) + 1 or value[0] != list_name:
        raise PublicQueryError(hint)
    key = tuple(value[1:])
    # bool is an int to Python: a cursor of true/false is not a block number
    if any(type(v) is not kind or not _storable(v) for v, kind in zip(key, kinds, strict=True)):
        raise PublicQueryError(hint)
    return key


def _storable(value: object) -> bool:
    """A key value the databases can compare: a forged 10**30 overflows SQLite's INTEGER, and a
    lone surrogate or a NUL cannot be sent as text (the driver failed: 500, not this hint)."""
    if isinstance(value, int):
        return 0 <= value <= MAX_INT
    return isinstance(value, str) and value.isprintable()
