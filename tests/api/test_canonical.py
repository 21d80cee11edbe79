"""Canonical JSON (chain/canonical.py, docs/certificate-format.md §2) value by value: each
refused value with the error and the path it names, each accepted value with its exact bytes."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from certificates.document import field_commitment
from chain.canonical import CanonicalJsonError, canonical_json, printable, sha256_hex

ALLOWED = "is not allowed (strings, integers, booleans, null, arrays, objects)"
SURROGATE = "a lone surrogate (\\ud800-\\udfff) is not text; send UTF-8 text"

REFUSED: list[tuple[str, Any, str]] = [
    ("a float", 1.0, f"$: float {ALLOWED}"),
    ("a fraction", 0.5, f"$: float {ALLOWED}"),
    ("negative zero", -0.0, f"$: float {ALLOWED}"),
    ("NaN", math.nan, f"$: float {ALLOWED}"),
    ("infinity", math.inf, f"$: float {ALLOWED}"),
    ("minus infinity", -math.inf, f"$: float {ALLOWED}"),
    ("2^53", 2**53, "$: integer 9007199254740992 is beyond ±2^53; write it as a string"),
    ("-2^53", -(2**53), "$: integer -9007199254740992 is beyond ±2^53; write it as a string"),
    ("2^64", 2**64, "$: integer 18446744073709551616 is beyond ±2^53; write it as a string"),
    ("2^256", 2**256, f"$: integer {2**256} is beyond ±2^53; write it as a string"),
    ("an integer key", {1: "a"}, "$: object keys must be strings"),
    ("a null key", {None: "a"}, "$: object keys must be strings"),
    ("a boolean key", {True: "a"}, "$: object keys must be strings"),
    ("a tuple key", {("a",): 1}, "$: object keys must be strings"),
    ("a tuple", ("a", 1), f"$: tuple {ALLOWED}"),
    ("a set", {"a"}, f"$: set {ALLOWED}"),
    ("bytes", b"a", f"$: bytes {ALLOWED}"),
    ("a Decimal", Decimal(1), f"$: Decimal {ALLOWED}"),
    ("an object", object(), f"$: object {ALLOWED}"),
    ("a lone high surrogate", "\ud800", f"$: {SURROGATE}"),
    ("a lone low surrogate", "a\udfffb", f"$: {SURROGATE}"),
    ("a reversed pair", "\udc00\ud800", f"$: {SURROGATE}"),
    # nested: the path names the place
    ("a float in a list", [1, 2, 2.5], f"$[2]: float {ALLOWED}"),
    ("a float in an object", {"claim": {"quantity_kg": 5.0}}, f"$.claim.quantity_kg: float {ALLOWED}"),
    (
        "a big integer deep down",
        [[], [{"x": 2**53}]],
        "$[1][0].x: integer 9007199254740992 is beyond ±2^53; write it as a string",
    ),
    ("a bad key deep down", {"a": [{"b": {2: 1}}]}, "$.a[0].b: object keys must be strings"),
    ("a bad list item", {"serial_ranges": [[1, 2], (3, 4)]}, f"$.serial_ranges[1]: tuple {ALLOWED}"),
    ("a surrogate in a list", {"k": ["ok", "\udfff"]}, f"$.k[1]: {SURROGATE}"),
    ("a surrogate in a key", {"\ud800": 1}, f"$.\\ud800: {SURROGATE}"),
    ("a surrogate in a nested key", {"a": {"b\udc00": "x"}}, f"$.a.b\\udc00: {SURROGATE}"),
    ("a float under a surrogate key", {"\ud800": 1.5}, f"$.\\ud800: float {ALLOWED}"),
]


@pytest.mark.parametrize("name,value,error", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(name: str, value: Any, error: str) -> None:
    with pytest.raises(CanonicalJsonError) as caught:
        canonical_json(value)
    assert str(caught.value) == error
    str(caught.value).encode()  # the message itself is UTF-8 text, whatever it quotes


ACCEPTED: list[tuple[str, Any, bytes]] = [
    ("null", None, b"null"),
    ("true", True, b"true"),
    ("false", False, b"false"),
    ("zero", 0, b"0"),
    ("minus one", -1, b"-1"),
    ("2^53 - 1", 2**53 - 1, b"9007199254740991"),
    ("-(2^53 - 1)", -(2**53 - 1), b"-9007199254740991"),
    ("the empty string", "", b'""'),
    ("ASCII", "abc", b'"abc"'),
    ("non-ASCII unescaped", "王小明", '"王小明"'.encode()),
    ("an accent", "é", b'"\xc3\xa9"'),
    ("an astral character", "\U0001f600", b'"\xf0\x9f\x98\x80"'),
    ("a quote and a backslash", '"\\', b'"\\"\\\\"'),
    ("newline and tab", "\n\t", b'"\\n\\t"'),
    ("a control character", "\x01", b'"\\u0001"'),
    ("DEL unescaped", "\x7f", b'"\x7f"'),
    ("a line separator unescaped", "\u2028", b'"\xe2\x80\xa8"'),
    ("a slash unescaped", "a/b", b'"a/b"'),
    ("the empty list", [], b"[]"),
    ("the empty object", {}, b"{}"),
    ("a list in order", [3, "x", None, True, [1]], b'[3,"x",null,true,[1]]'),
    ("keys sorted", {"b": 1, "a": [1, "x", None, True]}, b'{"a":[1,"x",null,true],"b":1}'),
    ("keys by code point", {"é": 4, "b": 1, "aa": 5, "a": 2, "A": 3}, '{"A":3,"a":2,"aa":5,"b":1,"é":4}'.encode()),
    (
        "nested objects sorted",
        {"z": {"y": 1, "x": 2}, "m": [{"b": 0, "a": 0}]},
        b'{"m":[{"a":0,"b":0}],"z":{"x":2,"y":1}}',
    ),
    (
        "an opening",
        {"field": "year", "salt": "ab" * 16, "value": 2026},
        b'{"field":"year","salt":"' + b"ab" * 16 + b'","value":2026}',
    ),
]


@pytest.mark.parametrize("name,value,expected", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(name: str, value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_the_hashes_over_canonical_json() -> None:
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    # §4 commitments, pinned: a change in the canonical bytes would change every certificate
    assert (
        field_commitment("beneficiary", "王小明", "00" * 16)
        == "77ea221211da5c0a3861dae198fcf27f497586af9b000e74f4af20f93e50c8d7"
    )
    assert (
        field_commitment("year", 2026, "ab" * 16) == "8ed15f6f85e2b8dfe9c21942a56da39ca98ce6336d26312408729fa9cfe22e78"
    )


def test_a_refused_opening_is_refused_by_the_commitment() -> None:
    for value in (1.5, 2**53, "\ud800"):
        with pytest.raises(CanonicalJsonError, match=r"^\$\.value: "):
            field_commitment("account", value, "00" * 16)  # type: ignore[arg-type]


@pytest.mark.parametrize("text,shown", [("abc", "abc"), ("王", "王"), ("a\ud800b", "a\\ud800b"), ("\udfff", "\\udfff")])
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown
    printable(text).encode()
