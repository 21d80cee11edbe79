"""The errors of measurement: a report's mistakes by file and line, and an unknown methodology."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportError:
    """One mistake in a monitoring report: where it is and how to fix it, on one line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ReportErrors(ValueError):
    """Every mistake found in a report (all are collected; nothing of the report is used)."""

    def __init__(self, errors: list[ReportError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line))
        more = len(self.errors) - 1
        super().__init__(str(self.errors[0]) + (f" (and {more} more mistake{'s' * (more > 1)})" if more else ""))


class MethodologyError(ValueError):
    """An unknown methodology or version, or a bundle that does not hold together."""
