"""One person's share of an aggregated retirement (docs/offsets.md): an allocation, a leaf of the
retirement's allocation tree, and its RFC 9162 proof to the retirement's on-chain claim hash. The
pure check every verifier runs (certificates/verify.py); offsets/allocation.py builds the trees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chain import rfc9162
from chain.canonical import canonical_json

HEX = frozenset("0123456789abcdef")
MAX_PURCHASE_ID = 64  # long enough for a UUID or a prefixed database id; bounds the leaf size
MAX_SAFE = 2**53 - 1  # canonical JSON keeps integers within ±2^53 − 1 (docs/certificate-format.md §2)

# name → (zh, en): the checks `check` runs, in order; a failure names one of them
CHECKS: dict[str, tuple[str, str]] = {
    "allocation": ("分配记录格式", "Allocation record shape"),
    "account commitment": ("账户承诺", "Account commitment"),
    "kilograms": ("千克数与序列号数量一致", "Kilograms match the serial count"),
    "serials": ("序列号在注销范围内", "Serials inside the retired range"),
    "sibling hashes": ("分配证明到链上声明哈希", "Allocation proof to the on-chain claim hash"),
}


@dataclass(frozen=True)
class Allocation:
    account_commitment: str  # 64 lowercase hex: a salted sha256 of the account, never the account
    kg: int
    serial_first: int
    serial_last: int
    purchase_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "account_commitment": self.account_commitment,
            "kg": self.kg,
            "serial_first": self.serial_first,
            "serial_last": self.serial_last,
            "purchase_id": self.purchase_id,
        }

    def leaf(self) -> bytes:
        return canonical_json(self.as_json())

    def leaf_hash(self) -> bytes:
        return rfc9162.leaf_hash(self.leaf())


@dataclass(frozen=True)
class Proof:
    index: int
    size: int
    path: tuple[bytes, ...]

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "path": [p.hex() for p in self.path]}


@dataclass(frozen=True)
class Failure:
    check: str  # a key of CHECKS
    detail: str


def check(allocation: Any, proof: Any, claim_hash: str, retired_range: Sequence[Sequence[int]]) -> Failure | None:
    """Whether `allocation` (its JSON) is a leaf of the tree whose root is the retirement's
    `claim_hash` (0x + 64 hex, as the event carries it), with serials inside `retired_range`
    (the retirement's [first, last] pairs). None when it holds; otherwise the first failing check."""
    a = _parse_allocation(allocation)
    if isinstance(a, Failure):
        return a
    bad = shape_failure(a)
    if bad is not None:
        return bad
    ranges = parse_ranges(retired_range)
    if ranges is None:
        return Failure("serials", "the retirement's serial range is not [first, last] pairs")
    if not any(first <= a.serial_first and a.serial_last <= last for first, last in ranges):
        return Failure(
            "serials",
            f"serials {a.serial_first}–{a.serial_last} are not inside the retired range "
            + ", ".join(f"{f}–{t}" for f, t in ranges),
        )
    p = _parse_proof(proof)
    if p is None:
        return Failure("sibling hashes", "the proof must be {index, size, path: [64-hex …]} with index < size")
    root = _parse_claim_hash(claim_hash)
    if root is None:
        return Failure("sibling hashes", "the retirement's claim hash is not 0x + 64 hex digits")
    if not rfc9162.verify_inclusion(p.index, p.size, a.leaf_hash(), list(p.path), root):
        return Failure(
            "sibling hashes",
            f"the allocation and its {len(p.path)} sibling hashes do not lead to the claim hash {claim_hash}",
        )
    return None


def shape_failure(a: Allocation) -> Failure | None:
    if not (len(a.account_commitment) == 64 and set(a.account_commitment) <= HEX):
        return Failure("account commitment", "the account commitment must be 64 lowercase hex digits")
    if not 0 < a.kg <= MAX_SAFE:
        return Failure("kilograms", f"kg must be a whole number of kilograms from 1 to {MAX_SAFE}")
    if not 0 <= a.serial_first <= a.serial_last <= MAX_SAFE:
        return Failure("serials", "serial_first and serial_last must be serials with serial_first ≤ serial_last")
    if a.kg != a.serial_last - a.serial_first + 1:
        return Failure(
            "kilograms",
            f"{a.kg} kg but serials {a.serial_first}–{a.serial_last} are {a.serial_last - a.serial_first + 1} kilograms",
        )
    if not (0 < len(a.purchase_id) <= MAX_PURCHASE_ID and a.purchase_id.isascii() and a.purchase_id.isprintable()):
        return Failure("allocation", f"the purchase id must be 1 to {MAX_PURCHASE_ID} printable ASCII characters")
    return None


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_allocation(v: Any) -> Allocation | Failure:
    keys = {"account_commitment", "kg", "serial_first", "serial_last", "purchase_id"}
    if not isinstance(v, dict) or set(v) != keys:
        return Failure("allocation", "the allocation must be an object with exactly " + ", ".join(sorted(keys)))
    if not isinstance(v["account_commitment"], str):
        return Failure("account commitment", "the account commitment must be 64 lowercase hex digits")
    if not is_int(v["kg"]):
        return Failure("kilograms", "kg must be a whole number")
    if not (is_int(v["serial_first"]) and is_int(v["serial_last"])):
        return Failure("serials", "serial_first and serial_last must be whole numbers")
    if not isinstance(v["purchase_id"], str):
        return Failure("allocation", "the purchase id must be text")
    return Allocation(v["account_commitment"], v["kg"], v["serial_first"], v["serial_last"], v["purchase_id"])


def _parse_proof(v: Any) -> Proof | None:
    if not isinstance(v, dict) or set(v) != {"index", "size", "path"}:
        return None
    index, size, path = v["index"], v["size"], v["path"]
    if not (is_int(index) and is_int(size) and 0 <= index < size and isinstance(path, list)):
        return None
    if len(path) > 64 or not all(isinstance(h, str) and len(h) == 64 and set(h) <= HEX for h in path):
        return None
    return Proof(index=index, size=size, path=tuple(bytes.fromhex(h) for h in path))


def _parse_claim_hash(v: Any) -> bytes | None:
    if not (isinstance(v, str) and len(v) == 66 and v.startswith("0x") and set(v[2:].lower()) <= HEX):
        return None
    return bytes.fromhex(v[2:])


def parse_ranges(v: Any) -> list[tuple[int, int]] | None:
    if not isinstance(v, (list, tuple)) or not v:
        return None
    out: list[tuple[int, int]] = []
    for r in v:
        if not (isinstance(r, (list, tuple)) and len(r) == 2 and is_int(r[0]) and is_int(r[1])):
            return None
        if not 0 <= r[0] <= r[1]:
            return None
        out.append((r[0], r[1]))
    out.sort()
    if any(b[0] <= a[1] for a, b in zip(out, out[1:], strict=False)):
        return None  # the lots of one retirement never share a serial
    return out
