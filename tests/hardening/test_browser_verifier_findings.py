"""A hostile user of the verify page's in-browser verifier (api/templates/verify/inbrowser.js): a node
that lies in the shape of its answers. Each test runs the same document against the same lying node
through the browser (headless Chromium) and through Python (certificates/verify.py with
ChainEvidence), and holds the browser to Python's answer: where Python cannot read the evidence, the
browser must not read a valid answer into it.

The node here is a few lines of JSON-RPC that answer what a test tells them (with the CORS headers a
browser needs); the document is shaped as docs/certificate-format.md asks, so every check runs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from api.app import create_app
from certificates.evidence import ChainEvidence
from certificates.verify import verify_document
from chain.rpc import JsonRpc
from tests.api.browser import chromium_page
from tests.api.server import free_port, serve_thread

CHAIN_ID = 31337  # anvil's default chain id; illustrative, the lying node reports it
REGISTRY = "0x" + "11" * 20
REVOCATIONS = "0x" + "22" * 20
ROOT = "ab" * 32  # the proof's root; the lying node anchors it (or a word that only starts with it)
ZERO_WORD = "0x" + "00" * 32
SEL_ANCHORED_ROOT, SEL_REGISTRY, SEL_REVOKED_AT = "061c4a74", "7b103999", "098787ce"  # §8


class LyingNode:
    """JSON-RPC over HTTP: `answers[selector or method]` is the raw JSON body sent back."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        node = self

        class Handler(BaseHTTPRequestHandler):
            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "Content-Type")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")

            def do_OPTIONS(self) -> None:
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                method = request["method"]
                key = request["params"][0]["data"][2:10] if method == "eth_call" else method
                body = node.answers.get(key, json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": None}))
                data = body.replace('"id": 0', f'"id": {request["id"]}').encode()
                self.send_response(200)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def result(self, key: str, value: Any) -> None:
        self.answers[key] = json.dumps({"jsonrpc": "2.0", "id": 0, "result": value})

    def honest(self) -> None:
        """Answers a registry would give: chain id, code, the anchored root, its governor, not revoked."""
        self.answers.clear()
        self.result("eth_chainId", hex(CHAIN_ID))
        self.result("eth_getCode", "0x6080")
        self.result(SEL_ANCHORED_ROOT, "0x" + ROOT)
        self.result(SEL_REGISTRY, "0x" + "00" * 12 + REGISTRY[2:])
        self.result(SEL_REVOKED_AT, ZERO_WORD)
        self.result("eth_getTransactionReceipt", receipt())


CREDITS_RETIRED = "0x9aa2912b82e3e74edecf00e5e52093bdcaa6d7d1561f1f2cb4a3e38b766b3839"  # §8, the event's topic
HOLDER = "0x" + "33" * 20
VOLUNTARY = 8  # §8: Voluntary's place in the contract's enum


def word(n: int) -> str:
    return f"{n:064x}"


def receipt(*, log_index: str = "0xa", batch_topic: str = "0x" + word(1), tail: str = "") -> dict[str, Any]:
    """The registry's CreditsRetired for the document's retirement: batch 1, 1 kg, Voluntary, log 10;
    `tail` is hex the node appends to the event's data."""
    data = word(1) + word(VOLUNTARY) + "cd" * 32 + "00" * 32 + "00" * 12 + HOLDER[2:] + tail
    log = {
        "address": REGISTRY,
        "logIndex": log_index,
        "blockNumber": "0x5",
        "blockHash": "0x" + "44" * 32,
        "transactionHash": "0x" + "ef" * 32,
        "transactionIndex": "0x0",
        "topics": [CREDITS_RETIRED, batch_topic, "0x" + word(int(HOLDER, 16)), "0x" + word(7)],
        "data": "0x" + data,
    }
    return {"status": "0x1", "logs": [log]}


@pytest.fixture(scope="module")
def node() -> Iterator[LyingNode]:
    lying = LyingNode()
    thread = threading.Thread(target=lying.server.serve_forever, daemon=True)
    thread.start()
    yield lying
    lying.server.shutdown()
    lying.server.server_close()


@pytest.fixture(scope="module")
def page(node: LyingNode) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEDGER_VERIFY_NODES", node.url)  # the page's CSP lets it ask this node only
        app = create_app(None)  # type: ignore[arg-type]  # the verify page needs no registry behind it
        with serve_thread(app, free_port(), access_log=False) as url, chromium_page() as p:
            p.goto(f"{url}/verify")
            yield p


def document() -> dict[str, Any]:
    """A Voluntary certificate of one 1 kg retirement, in a log of one entry whose root is ROOT."""
    return {
        "format": "sichuan-ccw/1",
        "certificate": {
            "format": "sichuan-ccw/1",
            "id": "hostile-1",
            "scenario": "Voluntary",
            "issuer": {"name": "test", "chain_id": CHAIN_ID, "registry": REGISTRY, "revocations": REVOCATIONS},
            "issued_at": "2026-11-30T00:00:00Z",
            "claim": {"quantity_kg": 1},
            "fields": {"beneficiary": "cd" * 32},
            "retirements": [
                {
                    "id": "r1",
                    "tx_hash": "0x" + "ef" * 32,
                    "log_index": 10,
                    "batch_id": 1,
                    "amount_kg": 1,
                    "serial_ranges": [[1, 1]],
                    "chain_id": CHAIN_ID,
                    "registry": REGISTRY,
                    "holder": HOLDER,
                    "beneficiary_commitment": "0x" + "cd" * 32,
                }
            ],
        },
        "proof": {"leaf_index": 0, "tree_size": 1, "root": ROOT, "inclusion": []},
    }


def both(page: Any, node: LyingNode) -> tuple[dict[str, Any], dict[str, Any]]:
    """The browser's verdict (or the error it threw) and Python's, on the same document and node."""
    text = json.dumps(document())
    ours = page.evaluate(
        """async ([t, u, r]) => {
             try { return await LedgerVerifier.verify(t, u, r, {timeoutMs: 5000}); }
             catch (e) { return {thrown: String(e)}; }
           }""",
        [text, node.url, REGISTRY],
    )
    evidence = ChainEvidence(JsonRpc(node.url), registry=REGISTRY, revocations=REVOCATIONS)
    theirs = verify_document(json.loads(text), evidence).as_json()
    return ours, theirs


def check(verdict: dict[str, Any], name: str) -> bool:
    return bool(next(c["ok"] for c in verdict["checks"] if c["name"] == name))


def test_the_honest_node_passes_the_anchor_and_revocation_checks_in_both(page: Any, node: LyingNode) -> None:
    """The baseline the findings below lie against: both verifiers read the same answers alike."""
    node.honest()
    ours, theirs = both(page, node)
    for name in ("issuer", "anchor", "retirements", "revocation"):
        assert check(ours, name) is check(theirs, name) is True, (name, ours, theirs)


def test_an_eth_call_answer_of_an_odd_number_of_hex_digits_is_unreadable(page: Any, node: LyingNode) -> None:
    """Before: the browser took the first 64 hex digits of any answer of 64 or more, so a node answering
    the anchored root with one hex digit too many ("0x" + 65 digits, no whole number of bytes) passed
    `anchor`, where Python (bytes.fromhex) cannot read the answer and fails it."""
    node.honest()
    node.result(SEL_ANCHORED_ROOT, "0x" + ROOT + "0")
    ours, theirs = both(page, node)
    assert check(theirs, "anchor") is False
    assert check(ours, "anchor") is False, ours


def test_a_governor_address_with_dirty_padding_is_unreadable(page: Any, node: LyingNode) -> None:
    """Before: the browser read the revocation list's registry() as the word's last 20 bytes whatever the
    first 12 held, so a contract answering ff…ff ‖ registry passed `revocation` (the verdict valid),
    where Python's ABI decoder refuses the non-zero padding and fails the check as unreadable."""
    node.honest()
    node.result(SEL_REGISTRY, "0x" + "ff" * 12 + REGISTRY[2:])
    ours, theirs = both(page, node)
    assert check(theirs, "revocation") is False
    assert check(ours, "revocation") is False, ours


def test_a_node_answering_null_fails_the_check_instead_of_crashing_the_page(page: Any, node: LyingNode) -> None:
    """Before: a node whose reply to eth_getTransactionReceipt was the JSON `null` (not a JSON-RPC reply)
    made the browser's verify() throw a TypeError (the page: "This browser cannot verify"), where Python
    names the node's answer as not JSON-RPC and fails `retirements` alone."""
    node.honest()
    node.answers["eth_getTransactionReceipt"] = "null"
    ours, theirs = both(page, node)
    assert "thrown" not in ours, ours
    assert check(theirs, "retirements") is False
    assert check(ours, "retirements") is False
    # the same verdict; Python asks one check after another, so the node it has given up on by then
    # also fails `revocation`, which the browser asked at the same time and may have read already
    assert ours["verdict"] == theirs["verdict"] == "invalid"


def test_a_chain_id_in_decimal_is_read_as_json_rpc_hex(page: Any, node: LyingNode) -> None:
    """Before: the browser read eth_chainId's "31337" (decimal, not JSON-RPC's 0x hex) as chain 31337 and
    passed `issuer`; Python reads a quantity as hex (0x31337 = 201,527) and fails it. A quantity is hex."""
    node.honest()
    node.result("eth_chainId", str(CHAIN_ID))
    ours, theirs = both(page, node)
    assert check(theirs, "issuer") is False
    assert check(ours, "issuer") is False, ours


def test_a_log_index_in_decimal_is_read_as_json_rpc_hex(page: Any, node: LyingNode) -> None:
    """Before: a receipt's logIndex "10" (no 0x) was log 10 to the browser, the document's, so `retirements`
    passed; to Python it is 0x10 = 16, no such log, and the check fails."""
    node.honest()
    node.result("eth_getTransactionReceipt", receipt(log_index="10"))
    ours, theirs = both(page, node)
    assert check(theirs, "retirements") is False
    assert check(ours, "retirements") is False, ours


def test_event_data_of_an_odd_number_of_hex_digits_is_unreadable(page: Any, node: LyingNode) -> None:
    """Before: the browser read the event's words from its data whatever followed them, so data with one
    stray hex digit after the five words passed `retirements` (verdict valid); Python cannot turn
    half a byte into bytes and fails the check as unreadable."""
    node.honest()
    node.result("eth_getTransactionReceipt", receipt(tail="0"))
    ours, theirs = both(page, node)
    assert check(theirs, "retirements") is False
    assert check(ours, "retirements") is False, ours


def test_a_topic_shorter_than_a_word_is_unreadable(page: Any, node: LyingNode) -> None:
    """Before: the browser read the batch topic "0x1" as batch 1 and passed `retirements`; a topic is a
    32-byte word, and Python's ABI decoder refuses the short one (the check fails as unreadable)."""
    node.honest()
    node.result("eth_getTransactionReceipt", receipt(batch_topic="0x1"))
    ours, theirs = both(page, node)
    assert check(theirs, "retirements") is False
    assert check(ours, "retirements") is False, ours
