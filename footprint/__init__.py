"""Footprint accounting (碳核算): emission factors as a versioned, cited library
(footprint/factors/), and the reports of an event, an organisation or a person computed from
activity data with every factor pinned.

One call each for what sits above: `compute(data) -> FootprintReport`, `recompute(report_document)`, `check(output)`,
`load_input(path)`, `shipped()` (the factor library). Errors are FootprintError, one line each."""

from footprint.compute import (
    INPUT_FORMAT,
    REPORT_FORMAT,
    ROUNDING,
    FootprintReport,
    check,
    compute,
    load_input,
    recompute,
)
from footprint.errors import FootprintError
from footprint.library import Activity, Factor, Library, Region, load, shipped
from footprint.methods import METHODS, Method

__all__ = [
    "INPUT_FORMAT",
    "METHODS",
    "REPORT_FORMAT",
    "ROUNDING",
    "Activity",
    "Factor",
    "FootprintError",
    "FootprintReport",
    "Library",
    "Method",
    "Region",
    "check",
    "compute",
    "load",
    "load_input",
    "recompute",
    "shipped",
]
