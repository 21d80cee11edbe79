"""`ledger issue --csv`: validation first, then the bulk sender; a killed run re-run applies each row once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from chain.connection import connect
from chain.keys import dev_accounts
from chain.node import LocalNode
from scripts.cli import app
from scripts.context import registry_client
from tests.land.shapes import parcel_file

runner = CliRunner()
OWNER = dev_accounts()[13]
HEADER = "project,vintage,monitoring_start,monitoring_end,quantity,reserve_bps,verification_report\n"


def prepare(env: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    def ok(*argv: str) -> None:
        result = runner.invoke(app, list(argv), env=env)
        assert result.exit_code == 0, result.output

    ok("deploy", "--force")
    ok("methodology", "add", "SCFM-001-V01", "--ecosystem", "forest")
    ok("participant", "add", OWNER.address, "--kind", "project-owner")
    parcels = tmp_path / "parcels.geojson"
    area = parcel_file(parcels, ["LQ-1"], y=4_000)
    ok(
        "project",
        "register",
        "P-1",
        "--methodology",
        "SCFM-001-V01",
        "--owner",
        OWNER.address,
        "--county",
        "511802",
        "--area-m2",
        area,
        "--crediting-start",
        "2000-01-01",
        "--crediting-end",
        "2099-12-31",
        "--parcels",
        str(parcels),
    )
    ok("project", "review", "P-1", "--approve", "--report", str(parcels))


def rows(n: int) -> str:
    """n issuances of P-1, one per day from 2000-01-01 (a project's monitoring periods may not overlap)."""
    days = [date(2000, 1, 1) + timedelta(days=i) for i in range(n)]
    return HEADER + "".join(
        f"P-1,{d.year},{d},{d + timedelta(days=1)},{1000 + i},1000,0x{'ab' * 32}\n" for i, d in enumerate(days)
    )


@pytest.fixture
def env(anvil, tmp_path, monkeypatch) -> dict[str, str]:
    values = {"LEDGER_RPC_URL": anvil.url, "LEDGER_VAR_DIR": str(tmp_path / "var")}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    snapshot = connect(anvil.url, 31337).call("evm_snapshot")
    prepare(values, tmp_path)
    yield values
    connect(anvil.url, 31337).call("evm_revert", snapshot)


def test_a_file_with_bad_rows_sends_nothing_and_names_every_bad_line(env, tmp_path) -> None:
    path = tmp_path / "batches.csv"
    path.write_text(
        HEADER
        + "P-1,2024,2024-01-01,2024-12-31,1000,1000,0x"
        + "ab" * 32
        + "\n"
        + "P-1,2024,2024-01-01,2024-12-31,-5,1000,0x"
        + "ab" * 32
        + "\n"
        + "P-404,2024,2024-01-01,2024-12-31,10,1000,0x"
        + "ab" * 32
        + "\n"
        + "P-1,2024,2024-13-01,2024-12-31,10,1000,0x"
        + "ab" * 32
        + "\n"
        + "P-1,2024,2024-01-01,2024-12-31,1000,1000,0x"
        + "ab" * 32
        + "\n"
        + "P-1,2024,2024-01-01,2024-12-31,10,1000,missing.pdf\n"
    )
    client = registry_client(signer_required=False)
    block = client.rpc.call("eth_blockNumber")
    result = runner.invoke(app, ["issue", "--csv", str(path)])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "5 bad row(s), nothing was sent" in out
    for expected in [
        "line 3: quantity -5",
        "line 4: project 'P-404' is unknown",
        "line 5: '2024-13-01' is not a date",
        "line 6: repeats line 2",
        "line 7: verification_report 'missing.pdf'",
    ]:
        assert expected in out, expected
    assert client.rpc.call("eth_blockNumber") == block
    missing = tmp_path / "nocol.csv"
    missing.write_text("project,vintage\nP-1,2024\n")
    result = runner.invoke(app, ["issue", "--csv", str(missing)])
    assert result.exit_code == 1 and "lacks the column(s) monitoring_start" in " ".join(result.output.split())


def test_a_killed_bulk_issue_rerun_applies_each_row_once_and_says_which_were_on_chain(
    build, tmp_path, monkeypatch
) -> None:
    count = 3000
    with LocalNode(block_time=0.5) as node:
        env = {"LEDGER_RPC_URL": node.url, "LEDGER_VAR_DIR": str(tmp_path / "var")}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        prepare(env, tmp_path)
        path = tmp_path / "batches.csv"
        path.write_text(rows(count))
        client = registry_client(signer_required=False)
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.scripts.bulk_issue_run", str(path)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and client.project("P-1").batch_count == 0:
            assert child.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        before = client.project("P-1").batch_count
        assert 0 < before < count, "the kill must land mid-run"
        result = runner.invoke(app, ["issue", "--csv", str(path), "--json"])
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        assert len(lines) == count and {x["status"] for x in lines} <= {"applied", "already_applied"}
        assert sum(x["status"] == "already_applied" for x in lines) >= before
        assert client.project("P-1").batch_count == count  # every row exactly once
        again = runner.invoke(app, ["issue", "--csv", str(path)])
        assert again.exit_code == 0 and f"already on chain {count}" in again.output
