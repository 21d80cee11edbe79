"""Decoding logs for the indexer, straight from the node's hex strings.

The indexer decodes every registry event. For events whose fields are all static (every hot
one: TransferSingle, CreditsTransferred, CreditsRetired, BatchIssued...) a decoder is generated
per event that slices the hex text of the topics and data word by word: no bytes round trip, no
walk over the ABI per log. Its values are those of `ContractAbi.decode_log(log, checksum=False)`
(lowercase addresses, ints, bytes32 as bytes, bools); `tests/chain/test_abi_fast_paths.py` compares
them on random logs and on a registry transfer's logs. Anything else (dynamic fields, a malformed log) goes
through `ContractAbi.decode_log`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chain.abi import ContractAbi, _static_words


class IndexedEvent:
    """A decoded log as the indexer hands it to the projector: the fields of `chain.abi.DecodedEvent`
    in slots, cheaper to build per log."""

    __slots__ = ("address", "args", "block_hash", "block_number", "log_index", "name", "tx_hash")

    def __init__(
        self,
        name: str,
        args: dict[str, Any],
        address: str,
        block_number: int,
        block_hash: str,
        tx_hash: str,
        log_index: int,
    ) -> None:
        self.name = name
        self.args = args
        self.address = address
        self.block_number = block_number
        self.block_hash = block_hash
        self.tx_hash = tx_hash
        self.log_index = log_index


Decoder = Callable[[list[str], str], dict[str, Any]]  # (topics, data) as the node's hex -> the event's args


class EventSpec:
    """One event of the ABI: its name, and a generated decoder if all its fields are static."""

    __slots__ = ("data_len", "decode", "name", "topics")

    def __init__(self, name: str, decode: Decoder | None, topics: int, data_len: int) -> None:
        self.name = name
        self.decode = decode  # (topics, data) -> args, or None
        self.topics = topics  # how many topics the log has (the signature and the indexed fields)
        self.data_len = data_len  # len of the data's hex text, "0x" included


def _value(item: dict[str, Any], source: str, word: int) -> tuple[str, int]:
    """Python source reading the static value `item` at `word` of `source` (a 0x-hex string)."""
    t = item["type"]
    if t == "tuple":
        parts = []
        for c in item["components"]:
            expr, word = _value(c, source, word)
            parts.append(f"{c['name']!r}: {expr}")
        return "{" + ", ".join(parts) + "}", word
    start, end = 2 + 64 * word, 66 + 64 * word
    if t == "address":
        return f'"0x" + {source}[{start + 24}:{end}].lower()', word + 1
    if t == "bool":
        return f'{source}[{end - 2}:{end}] == "01"', word + 1
    if t == "bytes32":
        return f"bytes.fromhex({source}[{start}:{end}])", word + 1
    return f"int({source}[{start}:{end}], 16)", word + 1  # uint<N>


def _compile(item: dict[str, Any]) -> EventSpec:
    name = item["name"]
    if not all(_static_words(i) is not None for i in item["inputs"]):
        return EventSpec(name, None, 0, 0)
    fields, topic, word = [], 1, 0
    for i in item["inputs"]:
        if i["indexed"]:
            expr, _ = _value(i, f"t[{topic}]", 0)
            topic += 1
        else:
            expr, word = _value(i, "d", word)
        fields.append(f"{i['name']!r}: {expr}")
    source = "def decode(t, d):\n    return {" + ", ".join(fields) + "}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<decoder {name}>", "exec"), namespace)
    return EventSpec(name, namespace["decode"], topic, 2 + 64 * word)


class LogDecoder:
    def __init__(self, abi: ContractAbi) -> None:
        self.abi = abi
        self.specs: dict[str, EventSpec] = {
            "0x" + topic.hex(): _compile(item) for topic, item in abi.events_by_topic.items()
        }

    def spec(self, topic0: str) -> EventSpec | None:
        spec = self.specs.get(topic0)
        if spec is None and topic0 != topic0.lower():
            spec = self.specs.get(topic0.lower())
        return spec

    def args(self, spec: EventSpec, log: dict[str, Any]) -> dict[str, Any]:
        """The decoded arguments of a log whose first topic is `spec`'s."""
        topics, data = log["topics"], log["data"]
        if spec.decode is not None and len(topics) == spec.topics and len(data) == spec.data_len:
            try:
                return spec.decode(topics, data)
            except ValueError:
                pass  # not hex: let the general decoder say what is wrong
        event = self.abi.decode_log(log, checksum=False)
        assert event is not None
        return event.args
