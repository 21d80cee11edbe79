"""The one error of footprint accounting: a line naming the problem and the fix."""

from __future__ import annotations


class FootprintError(ValueError):
    """Bad activity data, an unknown factor or region, or a factor library that does not hold
    together. The message is one line: what is wrong, where, and what to do instead."""
