"""Canonical JSON for the hash of a footprint report.

The same subset as the certificate format's and mrv's (footprint may import neither): keys sorted,
no insignificant whitespace, UTF-8 unescaped, integers within ±2^53, no floats. A decimal is written
as a string ("0.1404"), so no two float spellings can hash apart. For this subset the bytes equal
RFC 8785 (JCS)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if abs(value) >= 2**53:
            raise ValueError(f"{path}: integer {value} is beyond ±2^53; write it as a string")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise ValueError(f"{path}: {type(value).__name__} is not allowed in canonical JSON; write decimals as strings")


def canonical_json(value: Any) -> bytes:
    _check(value, "$")
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
