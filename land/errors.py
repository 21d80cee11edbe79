"""The land domain's refusals: one line naming the parcel, the problem and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chain.errors import InvalidInputError

if TYPE_CHECKING:
    from land.overlap import Conflict


class LandError(InvalidInputError):
    """A parcel file or a parcel refused before anything was sent or stored."""


class ParcelOverlapError(LandError):
    """Parcels overlapping other live projects' parcels (or each other) beyond the sliver tolerance."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        first = conflicts[0]
        more = f" (and {len(conflicts) - 1} more overlaps)" if len(conflicts) > 1 else ""
        super().__init__(f"{first.describe()}{more}; redraw the boundary or settle the land with that project first")
