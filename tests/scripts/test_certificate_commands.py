"""The certificate commands end to end through CliRunner: the main job's demo, certify, show,
verify against the node (good, tampered, revoked), the log, and clear errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.keys import dev_accounts
from chain.node import free_port
from scripts.cli import app

runner = CliRunner()


def run(*argv: str, ok: bool = True, input: str | None = None):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(argv), input=input)
    if ok:
        assert result.exit_code == 0, f"{argv}: {result.output}"
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A background local node (1 s blocks, as in the main job) with the demo loaded by `ledger up`."""
    tmp = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {
            "LEDGER_VAR_DIR": str(tmp / "var"),
            "LEDGER_NODE_PORT": str(free_port()),
            "LEDGER_API_PORT": str(free_port()),
            "DATABASE_URL": f"sqlite:///{tmp / 'var' / 'l.sqlite'}",
            "LEDGER_ANCHOR_EVERY": "1",
        }.items():
            mp.setenv(key, value)
        mp.delenv("LEDGER_RPC_URL", raising=False)
        mp.delenv("LEDGER_PRIVATE_KEY", raising=False)
        run("node", "start")
        try:
            yield tmp
        finally:
            run("node", "stop")


def test_the_main_job_loads_the_demo_once_and_names_a_verified_certificate(demo: Path) -> None:
    first = run("up", "--no-wait")
    assert "demo: 6 certificates issued and anchored" in first.output
    assert "verified certificate SCCW-31337-000001" in " ".join(first.output.split())
    again = run("up", "--no-wait")
    assert "demo:" not in again.output and "verified certificate" in again.output
    listed = json.loads(run("certificate", "list", "--json").output)
    assert [c["scenario"] for c in listed] == [
        "LargeEvent",
        "Organisation",
        "TreePlantingDuty",
        "EcologicalJustice",
        "Personal",
        "Voluntary",
    ]


def test_retire_and_certify_then_verify_against_the_node(demo: Path) -> None:
    run("up", "--no-wait")
    company = dev_accounts()[3]  # the demo's company holds batch 1
    holder, key = company.address, "0x" + bytes(company.key).hex()
    out = demo / "holder-copy.json"
    result = runner.invoke(
        app,
        [
            "retire",
            "--batch",
            "1",
            "--amount",
            "500",
            "--scenario",
            "organisation",
            "--beneficiary",
            "成都绿色建材有限公司",
            "--certify",
            "--field",
            "subject=2026 年办公",
            "--footprint",
            "400",
            "--out",
            str(out),
            "--json",
        ],
        env={"LEDGER_PRIVATE_KEY": key},
    )
    assert result.exit_code == 0, result.output
    cert_id = re.search(r'"certificate_id": "(SCCW-[0-9-]+)"', result.output).group(1)  # type: ignore[union-attr]
    assert (
        "not anchored yet" in result.output or '"anchored": false' in result.output
    )  # the holder's key may not anchor
    run("log", "anchor")  # the operator's key does
    run("certificate", "show", cert_id, "--holder-copy", "--out", str(out))
    doc = json.loads(out.read_text())
    assert doc["disclosed"]["beneficiary"]["value"] == "成都绿色建材有限公司"
    assert doc["certificate"]["retirements"][0]["holder"] == holder.lower()
    assert doc["certificate"]["claim"]["carbon_neutral"] is True
    verified = run("verify", str(out), "--json")
    assert json.loads(verified.output)["verdict"] == "valid"

    public = demo / "public.json"
    run("certificate", "show", cert_id, "--out", str(public))
    assert "beneficiary" in json.loads(public.read_text())["disclosed"]  # an organisation's name is not personal
    run("certificate", "show", cert_id, "--holder-copy", "--hide", "beneficiary", "--out", str(public))
    assert "beneficiary" not in json.loads(public.read_text())["disclosed"]
    assert "valid" in run("verify", str(public)).output

    tampered = json.loads(out.read_text())
    tampered["certificate"]["retirements"][0]["amount_kg"] = 5_000
    (demo / "tampered.json").write_text(json.dumps(tampered))
    bad = run("verify", str(demo / "tampered.json"), ok=False)
    assert bad.exit_code == 1 and "invalid" in bad.output and "✘" in bad.output

    run("certificate", "revoke", cert_id, "--reason", "issued in error", "--yes")
    revoked = run("verify", str(out), ok=False)
    assert revoked.exit_code == 1 and "revoked" in revoked.output


def test_the_log_commands_and_the_printable_certificate(demo: Path) -> None:
    run("up", "--no-wait")
    status = run("log", "status").output
    assert "entries" in status and "anchored on chain: tree size" in status
    pdf = demo / "c.pdf"
    run("certificate", "pdf", "SCCW-31337-000001", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")


def test_certify_refusals_are_one_line(demo: Path) -> None:
    run("up", "--no-wait")
    bad = run("certify", "31337-0x" + "ab" * 32 + "-0", "--scenario", "voluntary", ok=False)
    assert bad.exit_code == 1 and "the mirror has no retirement" in " ".join(bad.output.split())
    bad = run("certify", "x", "--scenario", "banquet", ok=False)
    assert bad.exit_code == 1 and "unknown scenario" in bad.output
    bad = run("verify", str(demo / "missing.json"), ok=False)
    assert bad.exit_code == 1 and "no file" in bad.output
    bad = run("retire", "--batch", "1", "--amount", "1", "--scenario", "voluntary", ok=False)
    assert bad.exit_code == 1 and "--beneficiary" in bad.output


def test_ledger_audit_passes_a_clean_registry_and_fails_on_a_difference(demo: Path) -> None:
    import sqlite3

    run("up", "--no-wait")
    report = json.loads(run("audit", "--json").output)
    assert report["clean"] is True and report["checked"]["certificates"] >= 6
    db = sqlite3.connect(demo / "var" / "l.sqlite")
    with db:
        db.execute("UPDATE balances SET frozen = frozen + 5 WHERE rowid = (SELECT min(rowid) FROM balances)")
    try:
        failed = run("audit", ok=False)
        assert failed.exit_code == 1 and "1 difference" in failed.output and "balance" in failed.output
    finally:
        with db:
            db.execute("UPDATE balances SET frozen = frozen - 5 WHERE rowid = (SELECT min(rowid) FROM balances)")
        db.close()
