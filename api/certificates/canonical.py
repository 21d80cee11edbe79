"""Canonical JSON: the exact bytes every hash of the certificate format is taken over.

Objects with keys sorted by code point, no insignificant whitespace, UTF-8 without escaping
non-ASCII, integers only (no floats, so 1.0 and 1 can never hash differently). For this subset
of JSON the output equals RFC 8785 (JCS).
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
            raise CanonicalJsonError(f"{path}: integer {value} is beyond ±2^53; write it as a string")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJsonError(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise CanonicalJsonError(f"{path}: {type(value).__name__} is not allowed (strings, integers, booleans, null, arrays, objects)")


def canonical_json(value: Any) -> bytes:
    _check(value, "$")
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
