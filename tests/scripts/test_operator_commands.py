"""The operator's command groups end to end against a real anvil, through CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chain.keys import dev_accounts
from scripts.cli import app
from scripts.context import registry_client
from tests.land.shapes import parcel_file

runner = CliRunner()
A = dev_accounts()
OWNER, HOLDER, PLEDGEE, OTHER = A[13], A[14], A[15], A[16]


@pytest.fixture
def ledger(anvil, tmp_path, monkeypatch):
    monkeypatch.setenv("LEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LEDGER_PRIVATE_KEY", raising=False)
    snapshot = registry_rpc_snapshot(anvil.url)
    assert runner.invoke(app, ["deploy", "--force"]).exit_code == 0

    def run(*argv: str, key=None, ok: bool = True, input: str | None = None):  # type: ignore[no-untyped-def]
        env = {"LEDGER_PRIVATE_KEY": key.key.hex()} if key is not None else {}
        result = runner.invoke(app, list(argv), env=env, input=input)
        if ok:
            assert result.exit_code == 0, f"{argv}: {result.output}"
        return result

    yield run
    from chain.rpc import JsonRpc

    JsonRpc(anvil.url).call("evm_revert", snapshot)


def registry_rpc_snapshot(url: str) -> str:
    from chain.rpc import JsonRpc

    return JsonRpc(url).call("evm_snapshot")


def js(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.output)


def test_an_operator_day_from_methodology_to_retirement(ledger, tmp_path) -> None:
    doc = tmp_path / "doc.pdf"
    doc.write_bytes(b"%PDF- methodology")
    parcels = tmp_path / "parcels.geojson"
    area = parcel_file(parcels, ["511802-LQ-0001", "511802-LQ-0002"], y=1_000)
    ledger("methodology", "add", "SCFM-001-V01", "--ecosystem", "forest", "--document", str(doc))
    for account, kind in [(OWNER, "project-owner"), (HOLDER, "enterprise"), (PLEDGEE, "pledgee")]:
        ledger("participant", "add", account.address, "--kind", kind)
    ledger(
        "project",
        "register",
        "P-511802-0001",
        "--methodology",
        "SCFM-001-V01",
        "--owner",
        OWNER.address,
        "--county",
        "511802",
        "--area-m2",
        area,
        "--crediting-start",
        "2020-01-01",
        "--crediting-end",
        "2039-12-31",
        "--parcels",
        str(parcels),
        "--document",
        str(doc),
    )
    ledger("project", "review", "P-511802-0001", "--approve", "--report", str(doc))
    issued = js(
        ledger(
            "issue",
            "--project",
            "P-511802-0001",
            "--vintage",
            "2024",
            "--monitoring-start",
            "2024-01-01",
            "--monitoring-end",
            "2024-12-31",
            "--quantity",
            "50000",
            "--verification-report",
            str(doc),
            "--json",
        )
    )
    assert issued["status"] == "applied"
    batch = next(e for e in issued["events"] if e["event"] == "BatchIssued")["args"]["batchId"]
    moved = js(
        ledger("transfer", "--to", HOLDER.address, "--batch", str(batch), "--amount", "3000", "--json", key=OWNER)
    )
    client = registry_client(signer_required=False)
    assert client.balance_of(HOLDER.address, batch) == 3000
    assert moved["events"][-1]["args"]["amount"] == 3000
    retired = js(
        ledger(
            "retire",
            "--batch",
            str(batch),
            "--amount",
            "120",
            "--scenario",
            "large-event",
            "--beneficiary-commitment",
            "0x" + "ab" * 32,
            "--json",
            key=HOLDER,
        )
    )
    event = next(e for e in retired["events"] if e["event"] == "CreditsRetired")["args"]
    assert event["amount"] == 120 and event["holder"] == HOLDER.address
    assert client.supply(batch).retired == 120
    projects = js(ledger("project", "list", "--json"))
    assert projects[0]["id"] == "P-511802-0001" and projects[0]["status"] == "registered"
    assert {p["account"] for p in js(ledger("participant", "list", "--json"))} >= {OWNER.address, HOLDER.address}
    assert js(ledger("methodology", "list", "--json"))[0]["status"] == "filed"

    # a dry run of a failing operation: the decoded reason, nothing sent
    nonce = client.rpc.call("eth_getTransactionCount", HOLDER.address, "latest")
    failing = ledger(
        "retire",
        "--batch",
        str(batch),
        "--amount",
        "999999",
        "--scenario",
        "personal",
        "--beneficiary-commitment",
        "0x" + "ab" * 32,
        "--dry-run",
        "--json",
        key=HOLDER,
        ok=False,
    )
    assert failing.exit_code == 1
    verdict = js(failing)
    assert verdict["status"] == "would-fail" and verdict["error"]["name"] == "RegistryInsufficientFreeBalance"
    assert verdict["error"]["args"]["free"] == 3000 - 120
    assert client.rpc.call("eth_getTransactionCount", HOLDER.address, "latest") == nonce
    ok = js(
        ledger(
            "retire",
            "--batch",
            str(batch),
            "--amount",
            "1",
            "--scenario",
            "personal",
            "--beneficiary-commitment",
            "0x" + "ab" * 32,
            "--dry-run",
            "--json",
            key=HOLDER,
        )
    )
    assert ok["status"] == "would-apply" and ok["gasEstimate"] > 21_000

    # pledges and exports
    pledged = js(
        ledger(
            "pledge",
            "create",
            "--batch",
            str(batch),
            "--amount",
            "500",
            "--pledgee",
            PLEDGEE.address,
            "--registration",
            "0x" + "cd" * 32,
            "--json",
            key=HOLDER,
        )
    )
    ledger("pledge", "release", str(pledged["opId"]), key=PLEDGEE)
    exported = js(
        ledger(
            "export",
            "request",
            "--holder",
            HOLDER.address,
            "--batch",
            str(batch),
            "--amount",
            "100",
            "--destination",
            "CQ-TANHUITONG",
            "--json",
        )
    )
    ledger("export", "abort", str(exported["opId"]))
    assert client.locked_of(HOLDER.address, batch) == (0, 0)


def test_destructive_actions_ask_first_and_errors_are_one_line(ledger) -> None:
    ledger("participant", "add", OTHER.address, "--kind", "enterprise")
    refused = ledger("participant", "revoke", OTHER.address, ok=False, input="n\n")
    assert refused.exit_code == 1 and "not confirmed" in refused.output
    assert registry_client(signer_required=False).participant(OTHER.address).status.name == "ACTIVE"
    ledger("participant", "suspend", OTHER.address)
    ledger("participant", "reinstate", OTHER.address)
    ledger("participant", "revoke", OTHER.address, "--yes")
    assert registry_client(signer_required=False).participant(OTHER.address).status.name == "REVOKED"
    ledger("pause", "--yes")
    assert registry_client(signer_required=False).paused()
    ledger("unpause")
    roles = js(ledger("roles", "list", "--json"))
    assert "REGISTRAR_ROLE" in roles[0]["roles"]
    bad = ledger("transfer", "--to", "0x1234", "--batch", "1", "--amount", "1", ok=False)
    assert bad.exit_code == 1 and "recipient '0x1234' is not an address" in bad.output and "Traceback" not in bad.output
    zero = ledger("transfer", "--to", OTHER.address, "--batch", "1", "--amount", "0", ok=False)
    assert zero.exit_code == 1 and "above zero" in zero.output
    unknown = ledger("participant", "add", OTHER.address, "--kind", "bank", ok=False)
    assert unknown.exit_code == 1 and "'bank' is not one of" in unknown.output
    stranger = ledger("methodology", "add", "X-1", "--ecosystem", "forest", key=OTHER, ok=False)
    assert stranger.exit_code == 1 and "AccessControlUnauthorizedAccount" in stranger.output


def test_keys_are_created_encrypted_and_listed_without_secrets(ledger, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_KEYSTORE_PASSWORD", "a long password")
    created = ledger("keys", "new", "registrar")
    listed = js(ledger("keys", "list", "--json"))
    assert listed[0]["name"] == "registrar" and listed[0]["address"].lower() in created.output.lower().replace("\n", "")
    assert "a long password" not in created.output


def test_cancel_import_supersede_enforce_and_geojson_parcels(ledger, tmp_path) -> None:
    geo = tmp_path / "parcels.geojson"
    geo.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"parcel_id": "511802-LQ-0009"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[103.0, 30.0], [103.005, 30.0], [103.005, 30.005], [103.0, 30.005]]],
                        },
                    },
                    {
                        "type": "Feature",
                        "properties": {"parcel_id": "511802-LQ-0010"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[103.01, 30.0], [103.015, 30.0], [103.015, 30.005], [103.01, 30.0]]],
                        },
                    },
                ],
            }
        )
    )
    ledger("methodology", "add", "SCGM-002-V01", "--ecosystem", "grassland")
    ledger("methodology", "add", "SCGM-002-V02", "--ecosystem", "grassland", "--version", "2")
    ledger("methodology", "supersede", "SCGM-002-V01", "--by", "SCGM-002-V02")
    assert {m["id"]: m["status"] for m in js(ledger("methodology", "list", "--json"))}["SCGM-002-V01"] == "superseded"
    for account, kind in [(OWNER, "project-owner"), (HOLDER, "enterprise"), (PLEDGEE, "pledgee")]:
        ledger("participant", "add", account.address, "--kind", kind)
    ledger(
        "project",
        "register",
        "P-GRASS",
        "--methodology",
        "SCGM-002-V02",
        "--owner",
        OWNER.address,
        "--county",
        "513200",
        "--area-m2",
        "401084",  # the parcels' geodesic area (land/): 267,387 + 133,697 m²
        "--crediting-start",
        "2021-01-01",
        "--crediting-end",
        "2040-12-31",
        "--parcels",
        str(geo),
    )
    clash = ledger(
        "project",
        "register",
        "P-CLASH",
        "--methodology",
        "SCGM-002-V02",
        "--owner",
        OWNER.address,
        "--county",
        "513200",
        "--area-m2",
        "401084",
        "--crediting-start",
        "2021-01-01",
        "--crediting-end",
        "2040-12-31",
        "--parcels",
        str(geo),
        ok=False,
    )
    assert clash.exit_code == 1 and "overlaps project P-GRASS's parcel" in " ".join(clash.output.split())
    ledger("project", "review", "P-GRASS", "--approve", "--report", str(geo))
    imported = js(
        ledger(
            "import",
            "--origin-registry",
            "CQ-TANHUITONG",
            "--origin",
            "CQCM-009-V001/1-500",
            "--project",
            "P-GRASS",
            "--to",
            HOLDER.address,
            "--vintage",
            "2023",
            "--quantity",
            "500",
            "--json",
        )
    )
    batch = next(e for e in imported["events"] if e["event"] == "BatchImported")["args"]["batchId"]
    twice = ledger(
        "import",
        "--origin-registry",
        "CQ-TANHUITONG",
        "--origin",
        "CQCM-009-V001/1-500",
        "--project",
        "P-GRASS",
        "--to",
        HOLDER.address,
        "--vintage",
        "2023",
        "--quantity",
        "500",
        ok=False,
    )
    assert twice.exit_code == 1 and "RegistryOriginAlreadyImported" in twice.output
    ledger("cancel", "--holder", HOLDER.address, "--batch", str(batch), "--amount", "40", "--reason", "fraud", "--yes")
    pledged = js(
        ledger(
            "pledge",
            "create",
            "--batch",
            str(batch),
            "--amount",
            "60",
            "--pledgee",
            PLEDGEE.address,
            "--registration",
            "0x" + "cd" * 32,
            "--json",
            key=HOLDER,
        )
    )
    ledger("pledge", "enforce", str(pledged["opId"]), "--yes", key=PLEDGEE)
    client = registry_client(signer_required=False)
    assert client.supply(batch).cancelled == 40
    assert client.balance_of(PLEDGEE.address, batch) == 60
    assert client.balance_of(HOLDER.address, batch) == 400


def test_keys_import_encrypts_a_typed_key(ledger, monkeypatch) -> None:
    monkeypatch.setenv("LEDGER_KEYSTORE_PASSWORD", "another long password")
    secret = OTHER.key.hex()
    result = ledger("keys", "import", "other", input=secret + "\n")
    assert OTHER.address in result.output and secret not in result.output
    assert js(ledger("keys", "list", "--json"))[0]["address"].lower() == OTHER.address.lower()


def test_project_show_reads_one_project(ledger, tmp_path) -> None:
    parcels = tmp_path / "p.geojson"
    area = parcel_file(parcels, ["X-1"], y=2_000)
    ledger("methodology", "add", "SCFM-009-V01", "--ecosystem", "wetland")
    ledger("participant", "add", OWNER.address, "--kind", "project-owner")
    ledger(
        "project",
        "register",
        "P-WET",
        "--methodology",
        "SCFM-009-V01",
        "--owner",
        OWNER.address,
        "--county",
        "510100",
        "--area-m2",
        area,
        "--crediting-start",
        "2020-01-01",
        "--crediting-end",
        "2030-01-01",
        "--parcels",
        str(parcels),
    )
    shown = js(ledger("project", "show", "P-WET", "--json"))
    assert (
        shown[0]["status"] == "submitted"
        and shown[0]["methodology"] == "SCFM-009-V01"
        and shown[0]["area m2"] == int(area)
    )
