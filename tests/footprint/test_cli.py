"""`ledger factors list|show` and `ledger footprint compute|recompute` through CliRunner: tables and
JSON, illustrative factors said on stderr, a bad input as one error line with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import footprint
from scripts.cli import app
from tests.footprint.conftest import INPUTS, example

runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped library alone: never a ledger.sqlite another test or run left in var/."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.sqlite'}")


CONFERENCE = str(INPUTS / "chengdu_conference.json")


def flat(text: str) -> str:
    return " ".join(text.split())


def test_factors_list_as_json_and_filtered() -> None:
    result = runner.invoke(app, ["factors", "list", "--region", "510000", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [(f["ref"], f["kgco2e_per_unit"]) for f in shown] == [
        ("cn-grid-2021-510000@1", "0.1255"),
        ("cn-grid-2022-510000@1", "0.1404"),
    ]
    assert shown[1]["source_url"].startswith("https://") and shown[1]["illustrative"] is False
    every = json.loads(runner.invoke(app, ["factors", "list", "--json"]).stdout)
    assert len(every) == len(footprint.shipped().factors) == 101


def test_factors_list_table_marks_illustrative_rows() -> None:
    result = runner.invoke(app, ["factors", "list", "--activity", "meal"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "ill-meal-CN@1*" in result.stdout and "illustrative: no public source cited" in flat(result.stdout)
    bad = runner.invoke(app, ["factors", "list", "--activity", "banquet"])
    assert bad.exit_code == 1 and "error: unknown activity 'banquet'; use one of" in flat(bad.stderr)


def test_factors_show_one_row_and_warn_when_illustrative() -> None:
    result = runner.invoke(app, ["factors", "show", "cn-grid-2022-510000@1", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (
        shown["kgco2e_per_unit"] == "0.1404"
        and shown["sha256"] == footprint.shipped().factor("cn-grid-2022-510000@1").sha256
    )
    illustrative = runner.invoke(app, ["factors", "show", "ill-meal-CN"])
    assert illustrative.exit_code == 0 and "warning: ill-meal-CN@1 is illustrative" in flat(illustrative.stderr)
    missing = runner.invoke(app, ["factors", "show", "nope@1"])
    assert missing.exit_code == 1 and "error: no factor 'nope@1' in the library" in flat(missing.stderr)


def test_compute_as_json_is_the_report_and_its_hash() -> None:
    result = runner.invoke(app, ["footprint", "compute", CONFERENCE, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    expected = footprint.compute(example("chengdu_conference.json"))
    assert shown == expected.output() and shown["report"]["total_kgco2e"] == 67_808
    # said on stderr, so a pipe of the JSON still shows it
    assert "warning: line 2: ill-flight-economy-CN@1 is illustrative" in flat(result.stderr)


def test_compute_prints_the_lines_and_total() -> None:
    result = runner.invoke(app, ["footprint", "compute", CONFERENCE], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "cn-grid-2022-510000@1 × 0.1404" in out and "46,500" in out
    assert "total 67,808 kgCO2e (67.808 tCO2e); aviation multiplier not applied (CO2 only)" in out


def test_recompute_agrees_and_notices_a_changed_line(tmp_path: Path) -> None:
    saved = tmp_path / "report.json"
    saved.write_text(runner.invoke(app, ["footprint", "compute", CONFERENCE, "--json"]).stdout, encoding="utf-8")
    ok = runner.invoke(app, ["footprint", "recompute", str(saved)])
    assert ok.exit_code == 0 and "recomputes: sha256" in flat(ok.stdout) and "total 67,808 kgCO2e" in flat(ok.stdout)
    output = json.loads(saved.read_text(encoding="utf-8"))
    output["report"]["lines"][0]["kgco2e"] = 1  # the line's figure edited, its quantity left alone
    saved.write_text(json.dumps(output), encoding="utf-8")
    changed = runner.invoke(app, ["footprint", "recompute", str(saved)])
    assert changed.exit_code == 1 and "error: the report's sha256 is not" in flat(changed.stderr)


def test_bad_input_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(example("chengdu_conference.json") | {"region": "540000"}), encoding="utf-8")
    result = runner.invoke(app, ["footprint", "compute", str(bad)])
    assert result.exit_code == 1 and result.stdout == ""
    assert flat(result.stderr).startswith("error: lines[0]: no grid-electricity factor for 540000 (西藏自治区)")
    assert len(result.stderr.strip().splitlines()) <= 3  # one line, wrapped only by the terminal's width
