"""The in-browser verifier's pieces (api/templates/verify/inbrowser.js) against vectors Python makes
here: canonical JSON byte for byte with chain/canonical.py (and refused where it refuses), field
commitments and leaf hashes with certificates/document.py, RFC 9162 inclusion with chain/rfc9162.py,
and its tables of scenarios and checks with certificates/scenarios.py and certificates/verify.py.
Run in headless Chromium through page.evaluate, on the verify page the API serves."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from certificates.document import claim_keys, field_commitment, leaf_entry, leaf_hash
from certificates.scenarios import ORDER, SCENARIOS
from certificates.verify import CHECKS
from chain import rfc9162
from chain.canonical import CanonicalJsonError, canonical_json
from tests.api.browser import chromium_page
from tests.api.server import free_port, serve_thread

# JSON texts as a certificate might carry them, with what canonical JSON makes of each
TEXTS = [
    '{"b": 1, "a": [true, false, null], "c": {"z": "", "y": {}}}',
    '{"field": "beneficiary", "salt": "46eb0d5d373944f938fd18a0e3ef1b91", "value": "王小明"}',
    '{"value": 900, "field": "footprint_travel_kg", "salt": "00"}',
    '"quote \\" backslash \\\\ slash \\/ controls \\u0000\\u0001\\b\\f\\n\\r\\t\\u001f del \\u007f"',
    '"line separator \\u2028 paragraph \\u2029 bom \\ufeff nbsp \\u00a0"',
    '"emoji \\ud83d\\ude00 and 𠀀 and é"',
    '{"\\ue000": 1, "\\ud83d\\ude00": 2, "a": 3, "B": 4, "é": 5, "": 6}',  # code point order, not UTF-16's
    '{"a": 1, "a": 2}',  # the last one wins, in both
    "[0, -0, 1, -1, 9007199254740991, -9007199254740991, 123456789]",
    "[]",
    "{}",
    '[[[[[[[["deep"]]]]]]]]',
    ' \n\t{ "spaced" :\r [ 1 , 2 ] } \n',
    # refused: floats, integers beyond ±2^53, a lone surrogate
    "[9007199254740992]",
    "[-9007199254740992]",
    "[115792089237316195423570985008687907853269984665640564039457584007913129639936]",
    "[1.0]",
    "[1e3]",
    "[0.1]",
    "[-0.0]",
    "[NaN]",
    "[Infinity]",
    "[-Infinity]",
    '["\\ud800"]',
    '["\\udfff x"]',
    '{"\\ud800": 1}',
]


def canonical_vector(text: str) -> str | None:
    """The hex of the canonical bytes of the JSON `text`, or None when chain/canonical.py refuses it."""
    try:
        return canonical_json(json.loads(text)).hex()
    except CanonicalJsonError:
        return None


def random_texts(n: int, seed: int = 9162) -> list[str]:
    rng = random.Random(seed)
    alphabet = ["a", "Z", "0", " ", '"', "\\", "\n", "\x01", "\x7f", "é", "碳", "\u2028", "\ue000", "😀", "𠀀"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))

    def value(depth: int) -> Any:
        kind = rng.randint(0, 6 if depth < 4 else 3)
        if kind == 0:
            return text()
        if kind == 1:
            return rng.choice([0, 1, -1, 2**53 - 1, -(2**53 - 1), rng.randint(-(10**12), 10**12)])
        if kind == 2:
            return rng.choice([True, False, None])
        if kind == 3:
            return rng.choice([0.5, 2**53, 1.0]) if rng.random() < 0.1 else text()
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {text(): value(depth + 1) for _ in range(rng.randint(0, 4))}

    return [json.dumps(value(0), ensure_ascii=rng.random() < 0.5) for _ in range(n)]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with serve_thread(create_app(None), free_port(), access_log=False) as url, chromium_page() as p:
        errors: list[str] = []
        p.on("pageerror", lambda e: errors.append(str(e)))
        p.goto(f"{url}/verify")
        yield p
        assert not errors, errors


CANONICAL_JS = """(texts) => texts.map((t) => {
  try { return LedgerVerifier.hex(LedgerVerifier.canonical(LedgerVerifier.parse(t))); }
  catch (e) { if (e instanceof LedgerVerifier.CanonicalError) return null; throw e; }
})"""


def test_canonical_json_is_byte_for_byte_pythons(page: Any) -> None:
    texts = TEXTS + random_texts(300)
    expected = [canonical_vector(t) for t in texts]
    assert expected.count(None) >= 13  # the refused ones are refused in Python too
    assert page.evaluate(CANONICAL_JS, texts) == expected
    # a worked example: keys sorted, no spaces, Chinese as UTF-8 (碳 is e7 a2 b3), integers plain
    assert (
        bytes.fromhex(page.evaluate(CANONICAL_JS, ['{"b": [1, -0], "a": "碳"}'])[0]) == '{"a":"碳","b":[1,0]}'.encode()
    )


def test_text_that_is_not_json_is_refused_as_python_refuses_it(page: Any) -> None:
    bad = [
        '{"a": 1,}',
        "[01]",
        "[1.]",
        "[.5]",
        '"\\x41"',
        '"tab\there"',
        "[1] [2]",
        "{'a': 1}",
        "",
        "tru",
        "[-]",
        '"\\u12G4"',
    ]
    for text in bad:
        with pytest.raises(ValueError):
            json.loads(text)
    refused = page.evaluate(
        """(texts) => texts.map((t) => { try { LedgerVerifier.parse(t); return false; } catch (e) { return e instanceof SyntaxError; } })""",
        bad,
    )
    assert refused == [True] * len(bad)


def test_commitments_and_leaf_hashes(page: Any) -> None:
    openings = [
        ("beneficiary", "王小明", "46eb0d5d373944f938fd18a0e3ef1b91"),
        ("footprint_travel_kg", 900, "00" * 16),
        ("year", 2026, "ab" * 16),
        ("message", 'quote " and \\ and \n', "cd" * 16),
    ]
    ours = page.evaluate(
        "async (os) => Promise.all(os.map(([n, v, s]) => LedgerVerifier.commitment(n, v, s)))",
        [list(o) for o in openings],
    )
    assert ours == [field_commitment(*o) for o in openings]
    # worked example: the commitment is sha256 of exactly these bytes
    assert (
        ours[1]
        == hashlib.sha256(b'{"field":"footprint_travel_kg","salt":"' + b"0" * 32 + b'","value":900}').hexdigest()
    )
    body = {"format": "sichuan-ccw/1", "id": "SCCW-31337-000001", "claim": {"quantity_kg": 6}, "fields": {"b": "碳"}}
    leaf = page.evaluate(
        "async (t) => LedgerVerifier.hex(await LedgerVerifier.leafHash(new TextEncoder().encode(t)))",
        leaf_entry(body).decode(),
    )
    assert leaf == leaf_hash(body).hex() == hashlib.sha256(b"\x00" + leaf_entry(body)).hexdigest()


INCLUSION_JS = """async (cases) => {
  const out = [];
  for (const [i, n, leaf, path] of cases) {
    const r = await LedgerVerifier.rootFromInclusion(i, n, LedgerVerifier.unhex(leaf), path.map(LedgerVerifier.unhex));
    out.push(r === null ? null : LedgerVerifier.hex(r));
  }
  return out;
}"""


def test_rfc9162_inclusion_paths(page: Any) -> None:
    cases: list[list[Any]] = []
    for n in range(1, 34):
        leaves = [rfc9162.leaf_hash(str(k).encode()) for k in range(n)]
        for i in range(n):
            path = rfc9162.inclusion_proof(i, leaves)
            cases.append([i, n, leaves[i].hex(), [p.hex() for p in path]])
            # wrong index, wrong size, a path one node too long or too short: what Python says of each
            cases.append([i + 1, n, leaves[i].hex(), [p.hex() for p in path]])
            cases.append([i, n + 1, leaves[i].hex(), [p.hex() for p in path]])
            cases.append([i, n, leaves[i].hex(), [p.hex() for p in path] + ["00" * 32]])
            cases.append([i, n, leaves[i].hex(), [p.hex() for p in path][:-1]])
    expected = []
    for i, n, leaf, path in cases:
        root = rfc9162.root_from_inclusion_proof(i, n, bytes.fromhex(leaf), [bytes.fromhex(p) for p in path])
        expected.append(None if root is None else root.hex())
    ours = page.evaluate(INCLUSION_JS, cases)
    assert ours == expected
    # the proofs of the genuine cases lead to the tree's root
    genuine = list(range(0, len(cases), 5))
    for k in genuine:
        n = cases[k][1]
        assert ours[k] == rfc9162.root_of([rfc9162.leaf_hash(str(j).encode()) for j in range(n)]).hex()


def test_the_tables_are_the_registrys(page: Any) -> None:
    tables = page.evaluate("() => ({s: LedgerVerifier.SCENARIOS, o: LedgerVerifier.ORDER, c: LedgerVerifier.CHECKS})")
    assert tables["o"] == list(ORDER)
    assert {k: (set(v[0]), set(v[1])) for k, v in tables["s"].items()} == {
        key: ({f.name for f in spec.fields}, claim_keys(spec)) for key, spec in SCENARIOS.items()
    }
    assert {k: tuple(v) for k, v in tables["c"].items()} == CHECKS
    assert list(tables["c"]) == list(CHECKS)
