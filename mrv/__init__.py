"""Measurement and monitoring (计量监测): methodology versions as code plus cited parameter sets,
monitoring reports, and the recomputation of how many kilograms a batch may issue.

One call each for what sits above: `load_report(path)`, `bundle(id, version)` (or `reference("ID@V")`),
`compute(report, bundle) -> Result`; `Result.sha256` binds report, methodology and figures."""

from mrv.compute import Result, compute
from mrv.errors import MethodologyError, ReportError, ReportErrors
from mrv.methodology import Bundle, available, bundle, reference
from mrv.report import MonitoringReport, load_report, parse_report

__all__ = [
    "Bundle",
    "MethodologyError",
    "MonitoringReport",
    "ReportError",
    "ReportErrors",
    "Result",
    "available",
    "bundle",
    "compute",
    "load_report",
    "parse_report",
    "reference",
]
