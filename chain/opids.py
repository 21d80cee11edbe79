"""Operation ids: the exactly-once keys every registry operation carries.

The contract keeps applied ids in a bitmap: id >> 8 selects a storage word, id & 0xff a bit.
Ids that share a word cost ~5,000 gas to mark instead of ~22,000 for a fresh word.
"""

from __future__ import annotations

import secrets

from eth_utils import keccak

from chain.errors import InvalidInputError

RUN_CAPACITY = 2**32


def random_op_id() -> int:
    """A fresh id for a one-off operation (a re-run with the same id is refused, not repeated)."""
    return secrets.randbits(256)


def op_id_for(namespace: str, key: str) -> int:
    """A deterministic id for the operation named `key` within `namespace`."""
    return int.from_bytes(keccak(text=f"{namespace}\x1f{key}"), "big")


def sequential_op_ids(namespace: str, count: int, *, start: int = 0) -> list[int]:
    """Deterministic ids for a run of operations: the top 224 bits from the run's namespace, the
    low 32 bits the operation's position, so consecutive operations share bitmap words."""
    if start < 0 or start + count > RUN_CAPACITY:
        raise InvalidInputError(f"a run holds positions 0 to {RUN_CAPACITY - 1}")
    base = int.from_bytes(keccak(text=namespace), "big") >> 32 << 32
    return [base + start + i for i in range(count)]
