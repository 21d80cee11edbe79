"""Canonical JSON: the exact bytes every hash of the registry is taken over (certificates, monitoring
results and methodology bundles, footprint reports and factor rows).

Objects with keys sorted by code point, no insignificant whitespace, UTF-8 without escaping
non-ASCII, integers only (no floats, so 1.0 and 1 can never hash differently), strings of Unicode
text only (a lone surrogate such as "\\ud800" has no UTF-8 bytes). For this subset of JSON the
output equals RFC 8785 (JCS).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


class CanonicalJsonError(ValueError):
    pass


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if abs(value) >= 2**53:
            raise CanonicalJsonError(f"{printable(path)}: integer {value} is beyond ±2^53; write it as a string")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJsonError(f"{printable(path)}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise CanonicalJsonError(
        f"{printable(path)}: {type(value).__name__} is not allowed (strings, integers, booleans, null, arrays, objects)"
    )


def printable(text: str) -> str:
    """`text` with any lone surrogate written as its escape: JSON's "\\ud800" parses to a str that no
    UTF-8 output (a response, a terminal) can carry, and a message may quote what it was given."""
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()


def _not_text(value: Any, path: str) -> str | None:
    """The path of the first string (value or key) that is not Unicode text, or None."""
    if isinstance(value, str):
        return None if printable(value) is value else path
    items = enumerate(value) if isinstance(value, list) else value.items() if isinstance(value, dict) else ()
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(value, list) else f"{path}.{key}"
        if isinstance(key, str) and printable(key) is not key:
            return where
        found = _not_text(item, where)
        if found is not None:
            return found
    return None


def canonical_json(value: Any) -> bytes:
    _check(value, "$")
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # found only on failure, so valid input pays nothing for the search
        where = _not_text(value, "$") or "$"
        raise CanonicalJsonError(
            f"{printable(where)}: a lone surrogate (\\ud800-\\udfff) is not text; send UTF-8 text"
        ) from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
