"""Hostile and careless use of measurement (mrv/) and footprint accounting (footprint/): each test
here failed before its fix (task HA). What they pin: bad input is one line naming the problem and
the fix, never a traceback, a crash or a 5xx; nothing is issued or cancelled twice by a re-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

import footprint
import mrv
from api.app import create_app
from chain.rpc import JsonRpc
from mrv import store
from scripts.context import registry_client
from tests.api.conftest import Certified, api, certified, monkeypatch_module  # noqa: F401  # the fixtures
from tests.footprint.conftest import example
from tests.mrv.onchain import REPORT, issue_monitored
from tests.mrv.test_issue_cli import ledger, register_grassland_project  # noqa: F401  # ledger: a fixture

REPORTS = Path(__file__).resolve().parents[1] / "mrv" / "reports"
FOREST = (REPORTS / "forest.json").read_text()
LEDGER = Path(sys.executable).parent / "ledger"
V1 = "/api/v1"


def refused(data: str | bytes) -> list[str]:
    """The mistakes of a report, computed under the methodology it names."""
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(mrv.ReportErrors) as caught:
        report = mrv.parse_report(raw, "r.json")
        assert mrv.compute(report, mrv.reference(report.methodology or "SCFM-001-V01@1")).sha256  # as the CLI does
    return [str(e) for e in caught.value.errors]


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The installed `ledger` in a process of its own: a crash there is an exit code, not this run's."""
    return subprocess.run([str(LEDGER), *argv], capture_output=True, text=True, timeout=120, check=False)


# ---------------------------------------------------------------- monitoring reports


def test_a_deeply_nested_file_is_one_line_not_a_segfault(tmp_path: Path) -> None:
    # py_ecc (loaded with chain/) raises the recursion limit to 100,000, so json's C recursion
    # overflowed the stack: `ledger mrv compute` and `ledger footprint compute|recompute` died with
    # SIGSEGV (exit -11/139) and no message
    deep = tmp_path / "deep.json"
    deep.write_text('{"report": ' + "[" * 200_000 + "]" * 200_000 + "}")
    for argv in (
        ("mrv", "compute", str(deep)),
        ("footprint", "compute", str(deep)),
        ("footprint", "recompute", str(deep)),
    ):
        done = cli(*argv)
        assert done.returncode == 1, (argv, done.returncode, done.stderr[-300:])
        said = (done.stdout + done.stderr).strip()
        assert "nest" in said and "64 levels" in said and "Traceback" not in said, said
        assert len(said.splitlines()) == 1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('"area_ha": 200', '"area_ha": 1' + "0" * 400, "area_ha is infinite"),  # OverflowError
        ('"volume_m3_ha": 12}', '"volume_m3_ha": ' + "9" * 5000 + "}", "volume_m3_ha is infinite"),  # int() limit
        ('"baseline_kgco2e": 0', '"baseline_kgco2e": NaN', "baseline_kgco2e nan is not a number"),  # was 0
        ('"area_ha": 200', '"area_ha": NaN', "area_ha nan is not a number"),  # was a plot's wrong stratum
        ('"baseline_kgco2e": 0', '"baseline_kgco2e": 1e16', "over 10,000 t per hectare"),  # CanonicalJsonError
        ('"baseline_kgco2e": 0', '"baseline_kgco2e": -1e300', "over 10,000 t per hectare"),  # issued 1e300 kg
    ],
)
def test_numbers_no_float_holds_are_mistakes_on_their_line(old: str, new: str, expected: str) -> None:
    assert old in FOREST
    errors = refused(FOREST.replace(old, new, 1))
    assert expected in errors[0], errors


def test_true_is_not_a_number_in_any_row() -> None:
    # only the first cell of a column was checked for a boolean: a later `true` counted as 1
    doc = json.loads(FOREST)
    doc["visits"][3]["volume_m3_ha"] = True
    assert "volume_m3_ha True is not a number" in refused(json.dumps(doc))[0]


def test_a_csv_nan_is_not_an_empty_cell() -> None:
    grass = (
        (REPORTS / "grassland.csv")
        .read_text()
        .replace("G1,1000,alpine_meadow,2021-01-01,2040-12-31,50000", "G1,1000,alpine_meadow,2021-01-01,2040-12-31,nan")
    )
    assert "baseline_kgco2e 'nan' is not a number" in refused(grass)[0]


def test_a_csv_saved_with_cr_line_ends_reads_as_lines() -> None:
    # Excel's "CSV (Macintosh)" ends lines with CR alone: refused with Python's "open the file in
    # universal-newline mode?", which names no fix a registrar can make
    grass = (REPORTS / "grassland.csv").read_bytes()
    expected = mrv.compute(mrv.parse_report(grass, "g.csv"), mrv.bundle("SCGM-001-V01", 1))
    mac = mrv.parse_report(grass.replace(b"\n", b"\r"), "g.csv")
    assert mrv.compute(mac, mrv.bundle("SCGM-001-V01", 1)).figures() == expected.figures()


@pytest.mark.parametrize("plot", ["Q1\nerror: forged line", "Q1\u202e1Q", "Q\x1b[31m1"])
def test_an_id_with_a_control_character_is_refused(plot: str) -> None:
    # a quoted CSV id with a line break made a mistake two lines, the second posing as an error of
    # its own; a direction mark reorders what is shown
    grass = (REPORTS / "grassland.csv").read_text().replace("Q1,G1", f'"{plot}",G1').replace("Q1,20", f'"{plot}",20')
    errors = refused(grass)
    assert errors[0].startswith("r.json:1") and ": id 'Q" in errors[0] and "holds a control character" in errors[0], (
        errors
    )
    assert all("\n" not in e for e in errors)


def test_trees_that_overflow_the_exact_sums_are_refused() -> None:
    # 10 m² plots full of big trees: the per-hectare volume passed no limit (a measured one does),
    # the squares of the plots' changes overflowed int64 and the uncertainty deduction vanished:
    # 41.7 million tonnes issued from 200 ha with a 0 % half-width
    doc = json.loads(FOREST)
    for p in doc["plots"]:
        if p["stratum"] == "A":
            p["area_m2"] = 10
    doc["visits"] = [v for v in doc["visits"] if not v["plot"].startswith("A")]
    doc["trees"] = [
        tree
        for i, p in enumerate(["A1", "A2", "A3", "A4"])
        for tree in [{"plot": p, "date": "2020-06-01", "dbh_cm": 10, "height_m": 5}]
        + [{"plot": p, "date": "2024-06-01", "dbh_cm": 100 + i * 50, "height_m": 30}] * (1000 * (i + 1))
    ]
    errors = refused(json.dumps(doc))
    assert "the trees of plot A1 on 2024-06-01 give" in errors[0] and "check its area_m2" in errors[0], errors


@pytest.mark.parametrize("version", ["²", "١", "9" * 5000])
def test_a_version_int_cannot_read_is_a_methodology_error(version: str) -> None:
    # str.isdigit() let "²" and 5,000 digits through to int(): `ledger mrv compute --methodology
    # SCFM-001-V01@²` said "unexpected ValueError; this is a bug"
    with pytest.raises(mrv.MethodologyError, match="the version after @ must be a number"):
        mrv.reference(f"SCFM-001-V01@{version}")


# ---------------------------------------------------------------- POST /api/v1/footprints


@pytest.fixture(scope="module")
def bare() -> Any:
    with TestClient(create_app(None)) as client:  # type: ignore[arg-type]  # the route reads no registry
        yield client


def test_a_deeply_nested_body_is_a_problem_not_a_dead_worker() -> None:
    # in this process the segfault would end the test run: the request is made in a process of its own
    code = (
        "from fastapi.testclient import TestClient\n"
        "from api.app import create_app\n"
        "c = TestClient(create_app(None), raise_server_exceptions=False)\n"
        "r = c.post('/api/v1/footprints', content=b'{\"lines\":' + b'[' * 200000 + b']' * 200000 + b'}',"
        " headers={'content-type': 'application/json'})\n"
        "print(r.status_code, r.json()['title'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    assert done.stdout.strip() == "400 Nested too deeply"


def test_brackets_inside_strings_are_no_nesting(bare: TestClient) -> None:
    # the depth guard skips strings, escaped quotes included: only real nesting is refused
    body = example("chengdu_conference.json")
    body["lines"][0]["label"] = '\\"' + "[" * 150 + '\\"'
    assert bare.post(f"{V1}/footprints", json=body).status_code == 200
    doc = json.loads(FOREST)
    doc["strata"][0]["id"] = "{" * 100
    for p in doc["plots"]:
        p["stratum"] = "{" * 100 if p["stratum"] == "A" else p["stratum"]
    assert "{" * 100 in {s.id for s in mrv.parse_report(json.dumps(doc).encode(), "r.json").strata}


def test_a_huge_body_is_refused_before_it_is_read_whole(bare: TestClient) -> None:
    body = example("chengdu_conference.json")
    body["lines"] = body["lines"][:1] * 100_000  # 10 MB; a million lines held 860 MB for a second
    answer = bare.post(f"{V1}/footprints", json=body)
    assert answer.status_code == 413 and answer.headers["content-type"].startswith("application/problem+json")
    assert "at most 2,097,152 bytes" in answer.json()["detail"]


def test_the_api_computes_decimals_as_written_and_refuses_true(bare: TestClient) -> None:
    body = example("chengdu_conference.json")
    body["lines"][0]["quantity"] = "20000.1234567890123456789"  # went through a float: ...789013
    answer = bare.post(f"{V1}/footprints", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == footprint.compute(body).output()
    assert answer.json()["report"]["lines"][0]["quantity"] == "20000.1234567890123456789"
    body["lines"][0]["quantity"] = True  # pydantic's float took it for 1
    refused = bare.post(f"{V1}/footprints", json=body)
    assert refused.status_code == 422 and "lines[0].quantity must be a number" in refused.json()["detail"]


# ---------------------------------------------------------------- GET /api/v1/batches/{id}/monitoring


@pytest.fixture(scope="module")
def monitored(certified: Certified) -> int:  # noqa: F811
    return issue_monitored(certified.service, certified.world.cast)


def test_a_damaged_stored_report_is_said_not_a_500(api: TestClient, certified: Certified, monitored: int) -> None:  # noqa: F811
    # the route read the stored bytes for `report` outside its error handling: bytes that no longer
    # read as a report (a damaged row, a restore gone wrong) made every request for the batch a 500
    with certified.service.engine.begin() as conn:
        conn.execute(update(store.StoredReport).values(body=b"\xff\xfe damaged"))
    try:
        answer = api.get(f"{V1}/batches/{monitored}/monitoring")
    finally:
        with certified.service.engine.begin() as conn:
            conn.execute(update(store.StoredReport).values(body=REPORT.read_bytes()))
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert not shown["matches"] and shown["report"] == {} and "restore it from a backup" in shown["problem"]
    for batch in ("-1", str(2**256), "abc"):
        assert api.get(f"{V1}/batches/{batch}/monitoring").status_code == 422
    assert api.get(f"{V1}/batches/0/monitoring").status_code == 404


# ---------------------------------------------------------------- on chain


def file_and_register(ledger: Any, tmp_path: Path) -> None:  # noqa: F811
    ledger("methodology", "file", "SCGM-001-V01", "--ecosystem", "grassland", "--bundle", "SCGM-001-V01@1")
    register_grassland_project(ledger, tmp_path)


def pending(rpc: JsonRpc) -> int:
    return int(rpc.call("txpool_status")["pending"], 16)


def wait_for(condition: Any, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_rerun_after_kill_9_while_the_batch_was_pending_never_issues_twice(
    ledger: Any,  # noqa: F811
    anvil: Any,
    tmp_path: Path,
) -> None:
    # the operation id was random: `ledger issue --monitoring-report` killed after sending, then run
    # again before its transaction was mined, passed every check (no batch on chain yet) and sent a
    # second batch for the same report; the id is now the request's own, refused on chain the 2nd time
    file_and_register(ledger, tmp_path)
    client = registry_client(signer_required=False)
    rpc = JsonRpc(anvil.url)
    argv = [str(LEDGER), "issue", "--monitoring-report", str(REPORTS / "grassland.csv"), "--json"]
    rpc.call("evm_setAutomine", False)
    try:
        first = subprocess.Popen(argv, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: pending(rpc) == 1 or first.poll() is not None, "the first transaction")
        assert first.poll() is None, first.communicate()
        first.send_signal(signal.SIGKILL)  # after storing the report and sending, before the receipt
        first.wait()
        second = subprocess.Popen(argv, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: pending(rpc) == 2 or second.poll() is not None, "the re-run")
        rpc.call("evm_mine")
        rpc.call("evm_mine")
        out, err = second.communicate(timeout=120)
    finally:
        rpc.call("evm_setAutomine", True)
    assert client.project("P-513233-0001").batch_count == 1, (out, err)
    assert b"Traceback" not in out + err
    # a third run, the batch mined, sends nothing either and says why in one line
    third = ledger("issue", "--monitoring-report", str(REPORTS / "grassland.csv"), ok=False)
    assert third.exit_code == 1 and "already applied" in third.output, third.output
    assert client.project("P-513233-0001").batch_count == 1
    ledger("index", "--once")
    audited = json.loads(ledger("audit", "--json").stdout)
    assert audited["clean"] and audited["monitoring"]["recomputed"] == 1


def test_a_reversal_is_charged_once_and_cancelled_once(ledger: Any, tmp_path: Path) -> None:  # noqa: F811
    # re-running `ledger mrv reversal` after the cancellation said to cancel the loss a second time,
    # and the same loss run against a second batch was charged whole to that batch too
    file_and_register(ledger, tmp_path)
    later = tmp_path / "grassland-2029.csv"
    later.write_text(
        (REPORTS / "grassland.csv")
        .read_text()
        .replace("2021-01-01,2024-12-31", "2029-01-01,2032-12-31")
        .replace("2021-08-15", "2029-08-15")
        .replace("2024-08-15", "2032-08-15")
    )
    for report in (REPORTS / "grassland.csv", later):
        ledger("issue", "--monitoring-report", str(report))
    fire = str(REPORTS / "grassland_fire.csv")
    told = json.loads(ledger("mrv", "reversal", fire, "--batch", "1", "--json").stdout)
    assert told["cancel_kg"] == 278_500 and told["uncovered_kg"] == 0
    ledger(*told["command"].split()[1:], "--yes")
    again = json.loads(ledger("mrv", "reversal", fire, "--batch", "1", "--json").stdout)
    assert again["cancel_kg"] == 0 and again["command"] is None, again  # was: cancel 278,500 again
    assert again["reversal_cancelled_kg"] == again["charged_kg"] == 278_500
    other = json.loads(ledger("mrv", "reversal", fire, "--batch", "2", "--json").stdout)
    assert other["cancel_kg"] == 0 and other["uncovered_kg"] == 0, other  # was: all of it again, from batch 2
    assert other["charged_kg"] == 0 and other["charged_elsewhere_kg"] == 278_500
    ledger("index", "--once")
    audited = json.loads(ledger("audit", "--json").stdout)
    assert audited["clean"] and audited["monitoring"]["outstanding_reversals"] == []
