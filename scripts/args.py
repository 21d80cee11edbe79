"""Parsing the operator's arguments: operation ids, document hashes, names of enum members."""

from __future__ import annotations

import hashlib
from enum import IntEnum
from pathlib import Path
from typing import TypeVar

from chain.errors import InvalidInputError
from chain.opids import random_op_id

E = TypeVar("E", bound=IntEnum)


def op_id(text: str | None) -> int:
    if text is None:
        return random_op_id()
    try:
        value = int(text, 0)
    except ValueError:
        raise InvalidInputError(f"--op-id {text!r} is not a number (decimal, or hex with 0x)") from None
    if not 0 <= value < 2**256:
        raise InvalidInputError("--op-id must be between 0 and 2**256 - 1")
    return value


def document_hash(path: Path | None) -> bytes:
    """The sha256 of a document file (what goes on chain; the document stays with the registry)."""
    if path is None:
        return b"\0" * 32
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        raise InvalidInputError(f"cannot read the document {path}; check the path") from None


def member(enum: type[E], name: str) -> E:
    key = name.strip().upper().replace("-", "_")
    if key not in enum.__members__:
        choices = ", ".join(m.lower().replace("_", "-") for m in enum.__members__ if m != "NONE")
        raise InvalidInputError(f"{name!r} is not one of: {choices}")
    return enum[key]

