"""Canonical JSON for the hashes mrv puts on record (a methodology bundle's, a result's).

The same subset as the certificate format's (certificates/canonical.py, which mrv may not import):
keys sorted, no insignificant whitespace, UTF-8 unescaped, integers within ±2^53, no floats. A
decimal parameter is written as a string ("0.478"), so no two float spellings can hash apart. For
this subset the bytes equal RFC 8785 (JCS)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


class CanonicalJsonError(ValueError):
    pass


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
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
    raise CanonicalJsonError(
        f'{path}: {type(value).__name__} is not allowed; write decimals as strings ("0.478"), '
        "and use integers, booleans, null, arrays and objects otherwise"
    )


def canonical_json(value: Any) -> bytes:
    _check(value, "$")
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
