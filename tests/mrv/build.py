"""Reports built in memory for the tests: a forest report from plain numbers, as JSON bytes."""

from __future__ import annotations

import json
from typing import Any

import mrv

START, END = "2020-01-01", "2024-12-31"
T1, T2 = "2020-06-01", "2024-06-01"


def stratum(sid: str, area: float, group: str = "cupressus", **extra: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "area_ha": area,
        "species_group": group,
        "crediting_start": "2020-01-01",
        "crediting_end": "2039-12-31",
        **extra,
    }


def volume_report(strata: list[tuple[str, float, str, list[tuple[float, float]]]], **extra: Any) -> dict[str, Any]:
    """strata: (id, area_ha, group, [(V t1, V t2) per plot]) → a report document."""
    doc: dict[str, Any] = {
        "format": "ledger-monitoring-report/1",
        "report": {"project": "P-TEST", "monitoring_start": START, "monitoring_end": END},
        "strata": [],
        "plots": [],
        "visits": [],
    }
    for sid, area, group, plots in strata:
        doc["strata"].append(stratum(sid, area, group))
        for k, (v1, v2) in enumerate(plots):
            pid = f"{sid}-{k}"
            doc["plots"].append({"id": pid, "stratum": sid})
            doc["visits"] += [
                {"plot": pid, "date": T1, "volume_m3_ha": v1},
                {"plot": pid, "date": T2, "volume_m3_ha": v2},
            ]
    doc.update(extra)
    return doc


def dumps(doc: dict[str, Any]) -> bytes:
    """One record a line, so each record's line is known."""
    lines = ["{"]
    items = list(doc.items())
    for n, (key, value) in enumerate(items):
        end = "," if n < len(items) - 1 else ""
        if isinstance(value, list):
            lines.append(f"  {json.dumps(key)}: [")
            lines += [
                f"    {json.dumps(v, ensure_ascii=False)}{',' if i < len(value) - 1 else ''}"
                for i, v in enumerate(value)
            ]
            lines.append(f"  ]{end}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{end}")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode()


def compute(doc: dict[str, Any], methodology: str = "SCFM-001-V01") -> mrv.Result:
    return mrv.compute(mrv.parse_report(dumps(doc), "report.json"), mrv.reference(methodology))


def to_csv(doc: dict[str, Any]) -> bytes:
    """The same report as sectioned CSV: a section's columns are the union of its records' keys."""
    out = ["# written by tests/mrv/build.py"]
    for name, value in doc.items():
        if name == "format":
            continue
        records = [value] if isinstance(value, dict) else value
        columns = list(dict.fromkeys(k for r in records for k in r))
        out += ["", f"[{name}]", ",".join(columns)]
        out += [",".join("" if r.get(c) is None else str(r[c]) for c in columns) for r in records]
    return ("\n".join(out) + "\n").encode()
