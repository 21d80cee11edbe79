"""Issuance tied to measurement, end to end against anvil through CliRunner: a methodology filed
with its bundle's hash, a batch issued from a monitoring report (a typed quantity that differs is
refused, nothing sent), the report served and recomputed by `ledger audit`, and a later report's
loss charged to the reserve with `ledger mrv reversal` until it is cancelled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import mrv
from chain.keys import dev_accounts
from scripts.cli import app
from scripts.context import registry_client
from tests.land.shapes import parcel_file

runner = CliRunner()
REPORTS = Path(__file__).resolve().parent / "reports"
OWNER = dev_accounts()[17]
PID = "P-513233-0001"


@pytest.fixture
def ledger(anvil: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from chain.rpc import JsonRpc

    monkeypatch.setenv("LEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.delenv("LEDGER_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    snapshot = JsonRpc(anvil.url).call("evm_snapshot")
    assert runner.invoke(app, ["deploy", "--force"]).exit_code == 0

    def run(*argv: str, ok: bool = True) -> Any:
        result = runner.invoke(app, list(argv))
        if ok:
            assert result.exit_code == 0, f"{argv}: {result.output}"
        return result

    yield run
    JsonRpc(anvil.url).call("evm_revert", snapshot)


def register_grassland_project(ledger: Any, tmp_path: Path) -> None:
    doc = tmp_path / "doc.pdf"
    doc.write_bytes(b"%PDF- project")
    parcels = tmp_path / "parcels.geojson"
    area = parcel_file(parcels, ["513233-HY-0001"], y=5_000)
    ledger("participant", "add", OWNER.address, "--kind", "project-owner")
    ledger(
        "project", "register", PID, "--methodology", "SCGM-001-V01", "--owner", OWNER.address, "--county", "513233",
        "--area-m2", area, "--crediting-start", "2021-01-01", "--crediting-end", "2040-12-31",
        "--parcels", str(parcels), "--document", str(doc),
    )  # fmt: skip
    ledger("project", "review", PID, "--approve", "--report", str(doc))


def test_a_batch_issued_from_its_report_is_served_audited_and_its_loss_reversed(ledger: Any, tmp_path: Path) -> None:
    grass = mrv.bundle("SCGM-001-V01", 1)
    # a bundle of another methodology or ecosystem is refused before anything is sent
    wrong = ledger(
        "methodology", "add", "SCGM-001-V01", "--ecosystem", "forest", "--bundle", "SCGM-001-V01@1", ok=False
    )
    assert wrong.exit_code == 1 and "give --ecosystem grassland" in wrong.output
    ledger("methodology", "file", "SCGM-001-V01", "--ecosystem", "grassland", "--bundle", "SCGM-001-V01@1")
    [filed] = json.loads(ledger("methodology", "list", "--json").output)
    assert filed["document sha256"] == "0x" + grass.sha256
    register_grassland_project(ledger, tmp_path)
    client = registry_client(signer_required=False)

    report = str(REPORTS / "grassland.csv")
    refused = ledger("issue", "--monitoring-report", report, "--quantity", "7200000", ok=False)
    assert refused.exit_code == 1
    assert "--quantity 7,200,000 kg differs from the 7,108,255 kg" in " ".join(refused.output.split())
    both = ledger("issue", "--monitoring-report", report, "--csv", report, ok=False)
    assert both.exit_code == 1 and "give it without --csv" in both.output
    assert client.project(PID).batch_count == 0  # nothing sent

    issued = json.loads(ledger("issue", "--monitoring-report", report, "--json").stdout)
    assert issued["status"] == "applied"
    event = next(e for e in issued["events"] if e["event"] == "BatchIssued")["args"]
    batch = event["batchId"]
    expected = mrv.compute(mrv.load_report(report), grass)
    assert client.supply(batch).issued == expected.quantity_kg == 7_108_255
    assert event["request"]["verificationReportHash"] == "0x" + expected.sha256
    assert event["reserveAmount"] == expected.reserve_kg == 710_825

    ledger("index", "--once")
    from scripts.audit_commands import in_process_api

    status, served = in_process_api()(f"/api/v1/batches/{batch}/monitoring")
    assert status == 200 and served["matches"] and served["recomputed_quantity_kg"] == 7_108_255
    assert served["hashes"]["verification_report_hash"] == "0x" + expected.sha256
    assert served["report"]["strata"][0]["id"] == "G1" and served["breakdown"] == expected.document()

    audited = ledger("audit", "--json")
    monitoring = json.loads(audited.stdout)["monitoring"]
    assert monitoring["recomputed"] == 1 and monitoring["unverifiable"] == {"count": 0, "batches": []}
    assert monitoring["outstanding_reversals"] == []

    # the next period burnt: 278,500 kg lost, charged to this batch's reserve
    fire = str(REPORTS / "grassland_fire.csv")
    told = json.loads(ledger("mrv", "reversal", fire, "--batch", str(batch), "--json").stdout)
    reserve = client.reserve_account()
    assert told["reversal_kg"] == told["cancel_kg"] == 278_500 and told["uncovered_kg"] == 0
    assert told["command"] == (
        f"ledger cancel --holder {reserve} --batch {batch} --amount 278500 --reason reversal --evidence {fire}"
    )
    shown = ledger("audit", "--json", ok=False)  # a clean audit otherwise; the reversal is shown, not a difference
    assert json.loads(shown.stdout)["monitoring"]["outstanding_reversals"] == [
        {"batch_id": batch, "reversal_kg": 278_500, "cancelled_kg": 0, "outstanding_kg": 278_500}
    ]
    ledger(*told["command"].split()[1:], "--yes")
    ledger("index", "--once")
    after = json.loads(ledger("audit", "--json").stdout)
    assert after["clean"] and after["monitoring"]["outstanding_reversals"] == []
