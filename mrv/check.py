"""The checks of a report that need its methodology: species groups, measured variables and their
plausible ranges, trees where the method counts them, and the emissions the method requires."""

from __future__ import annotations

import numpy as np

from mrv.errors import ReportError, ReportErrors
from mrv.methodology import Bundle
from mrv.report import LIMIT, MonitoringReport


def check(report: MonitoringReport, bundle: Bundle) -> None:
    errors: list[ReportError] = []

    def add(line: int, message: str) -> None:
        if len(errors) < LIMIT:
            errors.append(ReportError(report.file, line, message))

    if report.methodology is not None and report.methodology not in (bundle.id, bundle.ref):
        add(
            report.line,
            f"the report names methodology {report.methodology} but is computed with {bundle.ref}; "
            "fix the report's methodology or the one asked for",
        )
    groups = ", ".join(sorted(bundle.groups))
    for s in report.strata:
        if s.species_group not in bundle.groups:
            add(s.line, f"species group {s.species_group!r} is not in {bundle.ref}; use one of: {groups}")
        kinds = {e.kind for e in report.emissions if e.stratum == s.id}
        for kind in bundle.required_emissions:
            if kind not in kinds:
                add(
                    s.line,
                    f"{bundle.ref} needs a {kind} emissions entry for stratum {s.id}; add one (0 if measured as none)",
                )
    for name, line in report.visit_value_line.items():
        if name not in bundle.variables:
            add(line, f"visits column {name!r} is not measured by {bundle.ref}; use {', '.join(bundle.variables)}")
    has_trees = np.zeros(len(report.visit_plot), dtype=bool)
    has_trees[report.tree_visit] = True
    if len(report.tree_line) and not bundle.trees:
        add(int(report.tree_line[0]), f"{bundle.ref} measures no trees; remove the trees section")
    nan = np.full(len(report.visit_plot), np.nan)
    for name, variable in bundle.variables.items():
        values = report.visit_values.get(name, nan)
        missing = np.isnan(values)
        if bundle.trees:  # a visit's stem volume may come from its trees instead
            for k in np.flatnonzero(~missing & has_trees)[:LIMIT]:
                add(int(report.visit_line[k]), f"this visit gives both trees and {name}; keep one of them")
            missing &= np.isnan(report.plot_area_m2[report.visit_plot])
        for k in np.flatnonzero(missing)[:LIMIT]:
            plot = report.plot_ids[report.visit_plot[k]]
            add(int(report.visit_line[k]), f"visit of plot {plot} has no {name} ({variable.unit}); measure it")
        for k in np.flatnonzero(values > variable.maximum)[:LIMIT]:
            add(int(report.visit_line[k]), f"{name} {values[k]:g}: {variable.mistake}")
    if errors:
        raise ReportErrors(errors)
