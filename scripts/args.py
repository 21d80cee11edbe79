"""Parsing the operator's arguments: operation ids, document hashes, names of enum members, addresses,
whole numbers in the range of the contract's types, vintages."""

from __future__ import annotations

import hashlib
from enum import IntEnum
from pathlib import Path
from typing import TypeVar

from chain.client import RegistryClient
from chain.client import address as client_address
from chain.errors import InvalidInputError
from chain.opids import random_op_id

E = TypeVar("E", bound=IntEnum)


# A vintage is a calendar year; outside this range it is a typo (the contract stores any uint16).
VINTAGES = (1990, 2100)


def signer_address(client: RegistryClient) -> str:
    """The signing key's address: whom a command acts for when no other account is named."""
    if client.signer is None:
        raise InvalidInputError("no signing key configured; set LEDGER_KEYSTORE or LEDGER_PRIVATE_KEY")
    return str(client.signer.address)


def op_id(text: str | None, name: str = "--op-id") -> int:
    if text is None:
        return random_op_id()
    try:
        value = int(text, 0)
    except ValueError:
        raise InvalidInputError(f"{name} {text!r} is not a number (decimal, or hex with 0x)") from None
    if not 0 <= value < 2**256:
        raise InvalidInputError(f"{name} must be between 0 and 2**256 - 1")
    return value


def uint(name: str, value: int, *, bits: int, low: int = 0) -> int:
    """`value` if it fits the contract's uintN (and is at least `low`); else an error naming the option."""
    high = 2**bits - 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} {value!r} is out of range: give a whole number from {low} to {_power(high)}")
    return value


def batch_id(value: int, name: str = "--batch") -> int:
    return uint(name, value, bits=256, low=1)


def vintage(value: int, name: str = "--vintage") -> int:
    low, high = VINTAGES
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} {value!r} is not a plausible vintage: give the year, {low} to {high}")
    return value


def account(name: str, value: str) -> str:
    """An address as typed (chain/client.py's rule: a mixed-case one must be its EIP-55 checksum)."""
    return client_address(name, value)


def _power(value: int) -> str:
    return f"2**{value.bit_length()} - 1" if value > 10**12 else str(value)


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
