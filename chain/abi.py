"""Encoding calls and decoding results and events of a contract ABI, with eth_abi directly.

Pure and fast: the bulk sender encodes thousands of calls and the indexer decodes every event here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address


def abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


def signature(item: dict[str, Any]) -> str:
    """A function's, event's or error's canonical signature, e.g. "retire(uint256,uint256,...)"."""
    return f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"


# the errors every contract may revert with besides its own: require(…, "message") and a failed check
BUILTIN_ERRORS: tuple[dict[str, Any], ...] = (
    {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
)


_HEX = frozenset("0123456789abcdefABCDEF")
Encoder = Callable[[Any], bytes]  # one static value -> its ABI words


def _static_encoder(t: str) -> Encoder | None:
    """A hand-written encoder for a static type (elementary, or a tuple of static types), or None.

    The bulk sender encodes thousands of calls; eth_abi's general encoder is 4-5x slower for
    these one-word-per-field layouts. Outputs are compared with eth_abi in tests/chain/test_abi_fast_paths.py.
    """
    if t.endswith("]"):
        return None
    if t.startswith("(") and t.endswith(")"):
        parts = _split_tuple(t[1:-1])
        found = [_static_encoder(p) for p in parts]
        encoders = [e for e in found if e is not None]
        if len(encoders) != len(found):
            return None
        return lambda v: b"".join(e(x) for e, x in zip(encoders, v, strict=True))
    if (t.startswith("uint") and t[4:].isdigit()) or t == "uint":
        bits = int(t[4:] or 256)

        def enc_uint(v: int) -> bytes:
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 1 << bits:
                raise ValueError(f"{v!r} is not a {t}")
            return v.to_bytes(32, "big")

        return enc_uint
    if t == "address":

        def enc_address(v: str | bytes) -> bytes:
            if isinstance(v, str) and len(v) == 42 and v[:2] == "0x" and all(c in _HEX for c in v[2:]):
                return bytes.fromhex(v[2:]).rjust(32, b"\0")
            if isinstance(v, bytes) and len(v) == 20:
                return v.rjust(32, b"\0")
            raise ValueError(f"{v!r} is not a 20-byte address")

        return enc_address
    if t == "bytes32":

        def enc_b32(v: bytes) -> bytes:
            if not isinstance(v, bytes | bytearray) or len(v) != 32:
                raise ValueError("bytes32 needs 32 bytes")
            return bytes(v)

        return enc_b32
    if t == "bool":

        def enc_bool(v: bool) -> bytes:
            if not isinstance(v, bool):
                raise ValueError(f"{v!r} is not a bool")
            return (b"\0" * 31) + (b"\1" if v else b"\0")

        return enc_bool
    return None


def _split_tuple(inner: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        parts.append(current)
    return parts


def _static_words(item: dict[str, Any]) -> int | None:
    """How many 32-byte words a static type takes, or None if it is dynamic or not handled."""
    t = item["type"]
    if t == "tuple":
        sizes = [_static_words(c) for c in item["components"]]
        known = [s for s in sizes if s is not None]
        return sum(known) if len(known) == len(sizes) else None
    if t.endswith("]"):
        return None
    if (t.startswith("uint") and (t == "uint" or t[4:].isdigit())) or t in ("address", "bool", "bytes32"):
        return 1
    return None


def _read_static(item: dict[str, Any], data: bytes, offset: int) -> tuple[Any, int]:
    """One static value at word `offset` of `data`; addresses as lowercase 0x-hex."""
    t = item["type"]
    if t == "tuple":
        value = {}
        for c in item["components"]:
            value[c["name"]], offset = _read_static(c, data, offset)
        return value, offset
    word = data[offset * 32 : offset * 32 + 32]
    if t == "address":
        return "0x" + word[12:].hex(), offset + 1
    if t == "bool":
        return word[31] == 1, offset + 1
    if t == "bytes32":
        return word, offset + 1
    return int.from_bytes(word, "big"), offset + 1


def _checksummed(item: dict[str, Any], value: Any) -> Any:
    """A value `_read_static` gave (tuples already dicts), with every address in it checksummed."""
    if item["type"] == "address":
        return to_checksum_address(value)
    if item["type"] == "tuple":
        return {c["name"]: _checksummed(c, value[c["name"]]) for c in item["components"]}
    return value


def named(item: dict[str, Any], value: Any) -> Any:
    """An eth_abi value with tuples turned into dicts by component name, addresses checksummed."""
    t = item["type"]
    if t == "tuple":
        return {c["name"]: named(c, v) for c, v in zip(item["components"], value, strict=True)}
    if t.endswith("[]"):
        inner = {**item, "type": t[:-2]}
        return [named(inner, v) for v in value]
    if t == "address":
        return to_checksum_address(value)
    return value


def lowercase_named(item: dict[str, Any], value: Any) -> Any:
    """Like `named`, with lowercase addresses."""
    t = item["type"]
    if t == "tuple":
        return {c["name"]: lowercase_named(c, v) for c, v in zip(item["components"], value, strict=True)}
    if t.endswith("[]"):
        inner = {**item, "type": t[:-2]}
        return [lowercase_named(inner, v) for v in value]
    if t == "address":
        return str(value).lower()
    return value


@dataclass(frozen=True)
class DecodedEvent:
    name: str
    args: dict[str, Any]
    address: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


class ContractAbi:
    """A contract's ABI and its selector tables: the one place a 4-byte selector or an event topic
    is computed (calls, events and errors, the built-in Error and Panic included)."""

    def __init__(self, abi: list[dict[str, Any]]) -> None:
        self.abi = abi
        self.functions: dict[str, dict[str, Any]] = {}
        self._selectors: dict[str, bytes] = {}
        self.functions_by_selector: dict[bytes, dict[str, Any]] = {}
        self.errors_by_selector: dict[bytes, dict[str, Any]] = {}
        self._input_types: dict[str, list[str]] = {}
        self._static_encoders: dict[str, list[Encoder]] = {}
        self.events_by_topic: dict[bytes, dict[str, Any]] = {}
        self._static_events: set[bytes] = set()
        self.event_topics: dict[str, bytes] = {}
        for item in (*BUILTIN_ERRORS, *abi):
            if item["type"] == "function":
                name = item["name"]
                types = [abi_type(i) for i in item["inputs"]]
                self.functions[name] = item
                self._input_types[name] = types
                found = [_static_encoder(t) for t in types]
                encoders = [e for e in found if e is not None]
                if len(encoders) == len(found):
                    self._static_encoders[name] = encoders
                self._selectors[name] = keccak(text=signature(item))[:4]
                self.functions_by_selector[self._selectors[name]] = item
            elif item["type"] == "event":
                topic = keccak(text=signature(item))
                self.events_by_topic[topic] = item
                self.event_topics[item["name"]] = topic
                if all(_static_words(i) is not None for i in item["inputs"]):
                    self._static_events.add(topic)
            elif item["type"] == "error":
                self.errors_by_selector[keccak(text=signature(item))[:4]] = item

    def encode_call(self, fn: str, args: tuple[Any, ...] | list[Any]) -> bytes:
        encoders = self._static_encoders.get(fn)
        if encoders is not None and len(encoders) == len(args):
            try:
                return self._selectors[fn] + b"".join(e(a) for e, a in zip(encoders, args, strict=True))
            except (ValueError, TypeError):
                pass  # let eth_abi say precisely what is wrong
        return self._selectors[fn] + abi_encode(self._input_types[fn], list(args))

    def decode_call(self, data: bytes) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The function a call's data names and its arguments by name (lowercase addresses), or None
        for a selector not in this ABI. Raises eth_abi's error for arguments that do not decode."""
        item = self.functions_by_selector.get(data[:4])
        if item is None:
            return None
        values = abi_decode([abi_type(i) for i in item["inputs"]], data[4:])
        pairs = zip(item["inputs"], values, strict=True)
        return item, {i["name"] or f"arg{n}": lowercase_named(i, v) for n, (i, v) in enumerate(pairs)}

    def decode_output(self, fn: str, data: bytes) -> Any:
        outputs = self.functions[fn]["outputs"]
        values = abi_decode([abi_type(o) for o in outputs], data)
        decoded = [named(o, v) for o, v in zip(outputs, values, strict=True)]
        return decoded[0] if len(decoded) == 1 else tuple(decoded)

    def decode_log(self, log: dict[str, Any], *, checksum: bool = True) -> DecodedEvent | None:
        """Decode a raw JSON-RPC log (hex strings); None for an event not in this ABI.

        Events whose fields are all static are read word by word (the indexer decodes every
        event, and eth_abi with checksummed addresses costs ~20x more); `checksum=False` gives
        lowercase addresses, as the mirror stores them.
        """
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if not topics or topics[0] not in self.events_by_topic:
            return None
        item = self.events_by_topic[topics[0]]
        data = bytes.fromhex(log["data"][2:])
        args: dict[str, Any] = {}
        if topics[0] in self._static_events:
            offset, topic_no = 0, 1
            for i in item["inputs"]:
                if i["indexed"]:
                    args[i["name"]], _ = _read_static(i, topics[topic_no], 0)
                    topic_no += 1
                else:
                    args[i["name"]], offset = _read_static(i, data, offset)
            if checksum:
                args = {i["name"]: _checksummed(i, args[i["name"]]) for i in item["inputs"]}
        else:
            args = self._decode_general(item, topics, data, checksum=checksum)
        return DecodedEvent(
            name=item["name"],
            args=args,
            address=to_checksum_address(log["address"]) if checksum else log["address"].lower(),
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"],
            tx_hash=log["transactionHash"],
            log_index=int(log["logIndex"], 16),
        )

    def _decode_general(
        self, item: dict[str, Any], topics: list[bytes], data: bytes, *, checksum: bool
    ) -> dict[str, Any]:
        indexed = [i for i in item["inputs"] if i["indexed"]]
        plain = [i for i in item["inputs"] if not i["indexed"]]
        plain_values = abi_decode([abi_type(i) for i in plain], data) if plain else ()
        args: dict[str, Any] = {}
        for i, topic in zip(indexed, topics[1:], strict=True):
            args[i["name"]] = abi_decode([i["type"]], topic)[0]
        for i, v in zip(plain, plain_values, strict=True):
            args[i["name"]] = v
        present = named if checksum else lowercase_named
        return {i["name"]: present(i, args[i["name"]]) for i in item["inputs"]}
