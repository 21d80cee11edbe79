"""`ledger project register --parcels FILE.geojson` on a real anvil node: the land is checked before
anything is sent, a refusal names the other project, both parcels and the overlap in m², `--map`
draws the refused overlap in red, the land is stored once the chain accepted it, a rejected
project's land is free again, and the parcel hash on chain is the canonical one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.keys import dev_accounts
from chain.rpc import JsonRpc
from chain.types import from_short_id
from land.geometry import parse_parcels
from scripts.cli import app
from scripts.context import registry_client
from tests.land.shapes import collection, rect

runner = CliRunner()
OWNER = dev_accounts()[13]


@pytest.fixture
def ledger(anvil, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]  # the CLI against a fresh registry
    monkeypatch.setenv("LEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LEDGER_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    snapshot = JsonRpc(anvil.url).call("evm_snapshot")
    assert runner.invoke(app, ["deploy", "--force"]).exit_code == 0

    def run(*argv: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(argv))
        if ok:
            assert result.exit_code == 0, f"{argv}: {result.output}"
        return result

    run("methodology", "add", "SCFM-001-V01", "--ecosystem", "forest")
    run("participant", "add", OWNER.address, "--kind", "project-owner")
    yield run
    JsonRpc(anvil.url).call("evm_revert", snapshot)


def register(ledger, project_id: str, file: Path, area_m2: int, *extra: str, ok: bool = True):  # type: ignore[no-untyped-def]
    return ledger(
        "project", "register", project_id, "--methodology", "SCFM-001-V01", "--owner", OWNER.address,
        "--county", "511802", "--area-m2", str(area_m2), "--crediting-start", "2021-01-01",
        "--crediting-end", "2040-12-31", "--parcels", str(file), *extra, ok=ok,
    )  # fmt: skip


def test_an_overlapping_registration_is_refused_with_names_and_square_metres(ledger, tmp_path) -> None:
    first = tmp_path / "a.geojson"
    first.write_text(json.dumps(collection(("YA-0001", rect(0, 0, 100, 100)), ("YA-0002", rect(300, 0, 100, 50)))))
    register(ledger, "P-A", first, 15_000)  # 10,000 + 5,000 m²
    # the parcel hash on chain is sha256 of the canonical {id, geometry}
    canonical = bytes.fromhex(parse_parcels(first.read_text())[0].hash)
    assert from_short_id(registry_client(signer_required=False).view("parcelProject", canonical)) == "P-A"

    second = tmp_path / "b.geojson"
    # the same land as YA-0001 under another id, and a neighbour sharing YA-0001's east edge (allowed)
    second.write_text(json.dumps(collection(("LQ-7", rect(0, 0, 100, 100)), ("LQ-8", rect(100, 0, 100, 100)))))
    svg = tmp_path / "refused.svg"
    refused = register(ledger, "P-B", second, 20_000, "--map", str(svg), ok=False)
    assert refused.exit_code == 1
    line = " ".join(refused.output.split())
    assert "parcel LQ-7 overlaps project P-A's parcel YA-0001 by 9,999.8 m² (tolerance 10.0 m²)" in line
    assert "Traceback" not in refused.output
    drawn = svg.read_text()
    assert drawn.count('data-kind="overlap"') == 1 and 'stroke="#c62828"' in drawn  # the overlap in red
    assert "P-A YA-0001" in drawn and "LQ-8" in drawn
    # nothing was sent: the other project holds no parcel on chain
    assert ledger("project", "show", "P-B", ok=False).exit_code == 1

    # once P-A is rejected (and mirrored), its land is free for P-B
    ledger("project", "review", "P-A", "--reject", "--report", str(first))
    ledger("index", "--once")
    register(ledger, "P-B", second, 20_000)


def test_a_bad_parcel_file_is_one_line_naming_the_fix(ledger, tmp_path) -> None:
    small = tmp_path / "small.geojson"
    small.write_text(json.dumps(collection(("S-1", rect(0, 0, 10, 10)))))  # 10 m × 10 m = 100 m² (99.9 at 1 cm)
    out = register(ledger, "P-S", small, 100, ok=False)
    assert out.exit_code == 1 and "feature 1: parcel S-1 is 99.9 m², below the 400 m² minimum parcel" in " ".join(
        out.output.split()
    )
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(collection(("S-2", rect(0, 0, 100, 100)))))
    out = register(ledger, "P-S", area, 12_000, ok=False)
    assert "declare the parcels' area (--area-m2 10000)" in " ".join(out.output.split())
