"""The allocation tree of an aggregated retirement (docs/offsets.md): which serial numbers of one
`retireFor` belong to which person. Leaves are canonical JSON of one allocation, hashed as RFC 9162
leaves; the tree's root is the retirement's on-chain claim hash. Pure: no database, no node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from certificates.allocation import (
    CHECKS,
    HEX,
    MAX_SAFE,
    Allocation,
    Failure,
    Proof,
    check,
    is_int,
    parse_ranges,
    shape_failure,
)
from offsets.merkle import root_and_paths

__all__ = [
    "CHECKS",
    "HEX",
    "MAX_SAFE",
    "Allocation",
    "AllocationError",
    "AllocationTree",
    "Failure",
    "Proof",
    "Purchase",
    "allocate",
    "check",
    "overlaps",
]


class AllocationError(ValueError):
    """Allocations that cannot form a tree (overlap, gap, wrong total): nothing is built."""


@dataclass(frozen=True)
class Purchase:
    """What the batcher knows of a pending purchase before serials are assigned."""

    purchase_id: str
    account_commitment: str
    kg: int


class AllocationTree:
    def __init__(self, allocations: Sequence[Allocation], retired_ranges: Sequence[Sequence[int]]) -> None:
        ranges = parse_ranges(retired_ranges)
        if ranges is None:
            raise AllocationError("the retired range must be [first, last] pairs of serials, first ≤ last")
        ordered = sorted(allocations, key=lambda a: a.serial_first)
        for a in ordered:
            bad = shape_failure(a)
            if bad is not None:
                raise AllocationError(f"purchase {a.purchase_id!r}: {bad.detail}")
        _refuse_overlap_and_gaps(ordered, ranges)
        seen: set[str] = set()
        for a in ordered:
            if a.purchase_id in seen:
                raise AllocationError(f"purchase {a.purchase_id!r} is allocated twice; one purchase, one allocation")
            seen.add(a.purchase_id)
        self.allocations: tuple[Allocation, ...] = tuple(ordered)
        self.retired_ranges = ranges
        self._leaves = [a.leaf_hash() for a in ordered]
        self.root, self._paths = root_and_paths(self._leaves)  # every proof at once: O(n log n)
        self._index = {a.purchase_id: i for i, a in enumerate(ordered)}

    @property
    def claim_hash(self) -> str:
        """The root as the registry's `claimHash` argument and event field are written (0x + hex)."""
        return "0x" + self.root.hex()

    def proof(self, purchase_id: str) -> tuple[Allocation, Proof]:
        i = self._index[purchase_id]  # KeyError: not a purchase of this tree
        return self.allocations[i], Proof(index=i, size=len(self._leaves), path=tuple(self._paths[i]))


def allocate(purchases: Sequence[Purchase], retired_ranges: Sequence[Sequence[int]]) -> AllocationTree:
    """Gives each purchase the next `kg` serials of the retired ranges, both in the order given. The
    purchases must add up to the retired amount exactly, and no purchase may straddle a gap
    between two ranges (its serials must be consecutive): the batcher picks batches that fit."""
    ranges = parse_ranges(retired_ranges)
    if ranges is None:
        raise AllocationError("the retired range must be [first, last] pairs of serials, first ≤ last")
    for p in purchases:
        # a provisional allocation with the right serial count: its shape check is the purchase's
        bad = shape_failure(Allocation(p.account_commitment, p.kg, 0, max(p.kg - 1, 0), p.purchase_id))
        if bad is not None or not is_int(p.kg):
            detail = bad.detail if bad is not None else "kg must be a whole number"
            raise AllocationError(f"purchase {p.purchase_id!r}: {detail}")
    total = sum(last - first + 1 for first, last in ranges)
    wanted = sum(p.kg for p in purchases)
    if wanted != total:
        raise AllocationError(
            f"the purchases add up to {wanted} kg but the retired range holds {total}; retire the sum"
        )
    out: list[Allocation] = []
    queue = [(int(r[0]), int(r[1])) for r in retired_ranges]  # as given: the batcher's first-in-first-out order
    for p in purchases:
        if not queue:
            raise AllocationError("the retired range is used up")  # unreachable: the totals are equal
        first, last = queue[0]
        if p.kg > last - first + 1:
            raise AllocationError(
                f"purchase {p.purchase_id!r} ({p.kg} kg) would straddle the gap after serial {last}; "
                "batch it with a retirement whose range is contiguous"
            )
        out.append(Allocation(p.account_commitment, p.kg, first, first + p.kg - 1, p.purchase_id))
        if first + p.kg > last:
            queue.pop(0)
        else:
            queue[0] = (first + p.kg, last)
    return AllocationTree(out, ranges)


def overlaps(allocations: Sequence[Allocation]) -> list[tuple[str, str]]:
    """Pairs of purchase ids whose serials overlap, for a verifier who holds several personal
    certificates of one retirement (a single proof cannot show the others' serials)."""
    ordered = sorted(allocations, key=lambda a: a.serial_first)
    found: list[tuple[str, str]] = []
    for i, a in enumerate(ordered):
        j = i + 1  # indexes, not a slice: a slice would copy the rest of the list for every leaf
        while j < len(ordered) and ordered[j].serial_first <= a.serial_last:
            found.append((a.purchase_id, ordered[j].purchase_id))
            j += 1
    return found


def _refuse_overlap_and_gaps(ordered: Sequence[Allocation], ranges: list[tuple[int, int]]) -> None:
    clash = overlaps(ordered)
    if clash:
        first_id, second_id = clash[0]
        raise AllocationError(
            f"purchases {first_id!r} and {second_id!r} claim the same serial; two people never hold the same kilogram"
        )
    for a in ordered:
        if not any(first <= a.serial_first and a.serial_last <= last for first, last in ranges):
            raise AllocationError(
                f"purchase {a.purchase_id!r}: serials {a.serial_first}–{a.serial_last} are outside the retired range"
            )
    allocated = sum(a.kg for a in ordered)
    total = sum(last - first + 1 for first, last in ranges)
    if allocated != total:
        # disjoint and inside, so fewer kilograms means serials retired for nobody
        raise AllocationError(f"the allocations cover {allocated} of the {total} retired kilograms; cover them exactly")
