"""`ledger mrv compute|methodologies` through CliRunner: the breakdown as a table and as JSON, the
illustrative values said aloud, and a bad report as one error line with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import mrv
from scripts.cli import app
from scripts.mrv_commands import illustrative_summary

runner = CliRunner()
REPORTS = Path(__file__).resolve().parent / "reports"


def flat(text: str) -> str:
    return " ".join(text.split())


def test_compute_as_json_binds_report_methodology_and_result() -> None:
    result = runner.invoke(
        app, ["mrv", "compute", str(REPORTS / "forest.json"), "--methodology", "SCFM-001-V01@1", "--json"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["totals"]["issuable_kg"] == 7_340_747 and shown["totals"]["quantity_kg"] == 8_156_385
    assert shown["methodology"] == {"id": "SCFM-001-V01", "version": 1, "sha256": mrv.bundle("SCFM-001-V01").sha256}
    expected = mrv.compute(mrv.load_report(REPORTS / "forest.json"), mrv.bundle("SCFM-001-V01"))
    assert shown["result_sha256"] == expected.sha256
    assert shown["report"]["sha256"] == expected.report_sha256
    # said on stderr, so a pipe of the JSON still shows it
    assert "warning: SCFM-001-V01@1 used illustrative values" in flat(result.stderr)
    assert "cupressus.D" in result.stderr


def test_compute_prints_the_breakdown_with_the_reports_own_methodology() -> None:
    result = runner.invoke(app, ["mrv", "compute", str(REPORTS / "grassland.csv")])
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    for shown in ("above_ground", "below_ground", "soil", "7,975,000", "797,500", "10.27 %", "6,397,430"):
        assert shown in out, shown
    assert "illustrative values" in result.stderr


def test_a_bad_report_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text((REPORTS / "grassland.csv").read_text().replace("Q2,2024-08-15,1.6,83", "Q2,2043-08-15,1.6,83"))
    result = runner.invoke(app, ["mrv", "compute", str(bad)])
    assert result.exit_code == 1
    said = flat(result.output)
    assert said.count("error:") == 1 and "Traceback" not in result.output
    assert "bad.csv:22: visit date 2043-08-15 is outside stratum G1's crediting period" in said
    assert "fix the date or the stratum's period" in said


def test_an_unknown_methodology_and_a_report_naming_none(tmp_path: Path) -> None:
    result = runner.invoke(app, ["mrv", "compute", str(REPORTS / "forest.json"), "--methodology", "SCXX-9"])
    assert result.exit_code == 1 and "methodology 'SCXX-9' has no bundle; use one of: SCFM-001-V01" in flat(
        result.output
    )
    unnamed = tmp_path / "unnamed.json"
    unnamed.write_text((REPORTS / "forest.json").read_text().replace('"methodology": "SCFM-001-V01@1", ', ""))
    result = runner.invoke(app, ["mrv", "compute", str(unnamed)])
    assert result.exit_code == 1 and "names no methodology; pass --methodology" in flat(result.output)
    result = runner.invoke(app, ["mrv", "compute", str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and "cannot read the report" in flat(result.output)


def test_methodologies_lists_hashes_and_what_is_illustrative() -> None:
    result = runner.invoke(app, ["mrv", "methodologies", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"SCFM-001-V01", "SCGM-001-V01", "SCWM-001-V01"}
    assert rows["SCWM-001-V01"]["sha256"] == mrv.bundle("SCWM-001-V01").sha256
    assert "rules.reserve" in rows["SCFM-001-V01"]["illustrative"]
    assert "rules.uncertainty" not in rows["SCFM-001-V01"]["illustrative"]  # it cites ART TREES
    table = runner.invoke(app, ["mrv", "methodologies"])
    assert table.exit_code == 0
    out = flat(table.stdout)
    assert "SCFM-001-V01@1" in out and mrv.bundle("SCFM-001-V01").sha256[:16] in out
    assert "illustrative: no public source is cited for the value" in out
    assert illustrative_summary(mrv.bundle("SCFM-001-V01")) == (
        "BEF, CF, D, F, R of every species group; rules: baseline, leakage, reserve"
    )


def test_a_loss_tells_the_registrar_what_to_cancel(tmp_path: Path) -> None:
    from tests.mrv.build import dumps, volume_report

    doc = volume_report([("A", 200, "cupressus", [(28, 18), (32, 22)])], report={
        "project": "P-TEST", "methodology": "SCFM-001-V01", "monitoring_start": "2025-01-01", "monitoring_end": "2029-12-31"
    })  # fmt: skip
    for visit in doc["visits"]:
        visit["date"] = visit["date"].replace("2020", "2025").replace("2024", "2029")
    (tmp_path / "p2.json").write_bytes(dumps(doc))
    result = runner.invoke(app, ["mrv", "compute", str(tmp_path / "p2.json")])
    assert result.exit_code == 0, result.output
    # 200 ha × 10 m³/ha lost × 1.851727 t/m³ = 3,703,454.8 kg: nothing issued, 3,703,455 to cancel
    out = flat(result.stdout)
    assert "net reduction │ -3,703,455" in out and "issued (quantity) │ 0" in out
    assert "reversal: cancel from the reserve (reason Reversal) │ 3,703,455" in out
