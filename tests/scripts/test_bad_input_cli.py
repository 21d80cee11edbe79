"""A careless operator's input, through CliRunner against a real anvil: every mistake is one line
naming the problem and the fix, exit code 1, no traceback, and nothing is sent (issue 12, item 7;
item 9's node URL in --verbose logs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from chain.keys import dev_accounts
from chain.rpc import JsonRpc
from scripts.cli import app
from scripts.context import registry_client
from tests.land.shapes import parcel_file

runner = CliRunner()
A = dev_accounts()
OWNER, HOLDER, OTHER = A[13], A[14], A[16]
HEADER = "project,vintage,monitoring_start,monitoring_end,quantity,reserve_bps,verification_report\n"
REPORT = "0x" + "ab" * 32
ROOT = Path(__file__).resolve().parents[2]


def row(start: str, end: str, vintage: int | None = None, quantity: int = 1000, project: str = "P-1") -> str:
    return f"{project},{vintage or start[:4]},{start},{end},{quantity},1000,{REPORT}\n"


def flat(text: str) -> str:
    return " ".join(text.split())


def refused(result, *said: str) -> str:  # type: ignore[no-untyped-def]
    """The command failed the way an operator's mistake should: exit 1, one error, no traceback."""
    out = flat(result.output)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "this is a bug" not in out, result.output
    assert out.count("error:") == 1, result.output
    for phrase in said:
        assert phrase in out, f"{phrase!r} not in {out!r}"
    return out


def run(*argv: str, key=None, ok: bool = True, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    extra = {"LEDGER_PRIVATE_KEY": key.key.hex()} if key is not None else {}
    result = runner.invoke(app, list(argv), env={**extra, **(env or {})})
    if ok:
        assert result.exit_code == 0, f"{argv}: {result.output}"
    return result


@pytest.fixture(scope="module")
def registry(anvil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A registry with project P-1 (crediting 2020-01-01 to 2030-12-31) and its batch 1 for 2024,
    set up once for the module; each test starts from it (evm_snapshot / evm_revert)."""
    tmp = tmp_path_factory.mktemp("bad-input")
    rpc = JsonRpc(anvil.url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEDGER_RPC_URL", anvil.url)
        mp.setenv("LEDGER_VAR_DIR", str(tmp / "var"))
        for name in ("LEDGER_PRIVATE_KEY", "LEDGER_KEYSTORE", "LEDGER_KEYSTORE_PASSWORD", "LEDGER_CHAIN_ID"):
            mp.delenv(name, raising=False)
        snapshot = rpc.call("evm_snapshot")
        parcels = tmp / "parcels.geojson"
        area = parcel_file(parcels, ["LQ-1"], y=3_000)
        run("deploy", "--force")
        run("methodology", "add", "SCFM-001-V01", "--ecosystem", "forest")
        run("participant", "add", OWNER.address, "--kind", "project-owner")
        run("participant", "add", HOLDER.address, "--kind", "enterprise")
        run(
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
            "2020-01-01",
            "--crediting-end",
            "2030-12-31",
            "--parcels",
            str(parcels),
        )
        run("project", "review", "P-1", "--approve", "--report", str(parcels))
        run(
            "issue",
            "--project",
            "P-1",
            "--vintage",
            "2024",
            "--monitoring-start",
            "2024-01-01",
            "--monitoring-end",
            "2024-12-31",
            "--quantity",
            "5000",
            "--verification-report",
            str(parcels),
        )
        run("transfer", "--to", HOLDER.address, "--batch", "1", "--amount", "1000", key=OWNER)
        try:
            yield
        finally:
            rpc.call("evm_revert", snapshot)


@pytest.fixture
def ledger(registry, anvil):  # type: ignore[no-untyped-def]
    rpc = JsonRpc(anvil.url)
    snapshot = rpc.call("evm_snapshot")
    yield run
    rpc.call("evm_revert", snapshot)


def head() -> str:
    return registry_client(signer_required=False).rpc.call("eth_blockNumber")


def nonce(account) -> str:  # type: ignore[no-untyped-def]
    return registry_client(signer_required=False).rpc.call("eth_getTransactionCount", account.address, "latest")


def csv_file(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "batches.csv"
    path.write_text(HEADER + "".join(rows))
    return str(path)


# ---------------------------------------------------------------- issuance: the whole file is checked first


def test_a_period_that_ends_before_it_starts_fails_the_dry_run(ledger, tmp_path) -> None:
    path = csv_file(tmp_path, row("2025-01-01", "2025-06-30"), row("2025-12-31", "2025-07-01"))
    result = ledger("issue", "--csv", path, "--dry-run", ok=False)
    out = flat(result.output)
    assert result.exit_code == 1 and "1 bad row(s), nothing was sent" in out
    assert "line 3: monitoring_start 2025-12-31 is not before monitoring_end 2025-07-01" in out
    assert "all rows are valid" not in out


def test_rows_outside_the_crediting_period_send_nothing_at_all(ledger, tmp_path) -> None:
    path = csv_file(
        tmp_path,
        row("2025-01-01", "2025-12-31"),
        row("2031-01-01", "2031-12-31"),
        row("2019-06-01", "2020-06-01", vintage=2019),
    )
    before = head()
    result = ledger("issue", "--csv", path, ok=False)
    out = flat(result.output)
    assert result.exit_code == 1 and "2 bad row(s), nothing was sent" in out
    assert (
        "line 3: the monitoring period 2031-01-01 to 2031-12-31 is outside project P-1's crediting period "
        "2020-01-01 to 2030-12-31" in out
    )
    assert "line 4: the monitoring period 2019-06-01 to 2020-06-01 is outside" in out
    assert head() == before  # not even the good first row went out
    assert registry_client(signer_required=False).project("P-1").batch_count == 1


def test_a_second_batch_for_the_same_period_is_refused(ledger, tmp_path) -> None:
    before = head()
    again = ledger(
        "issue",
        "--project",
        "P-1",
        "--vintage",
        "2024",
        "--monitoring-start",
        "2024-06-01",
        "--monitoring-end",
        "2025-03-31",
        "--quantity",
        "7",
        "--verification-report",
        csv_file(tmp_path),
        ok=False,
    )
    refused(
        again, "project P-1's monitoring period 2024-06-01 to 2025-03-31 overlaps batch 1 (2024-01-01 to 2024-12-31)"
    )
    same = csv_file(tmp_path, row("2024-01-01", "2024-12-31", quantity=4999))
    assert "line 2: project P-1's monitoring period 2024-01-01 to 2024-12-31 overlaps batch 1" in flat(
        ledger("issue", "--csv", same, "--dry-run", ok=False).output
    )
    inside = csv_file(tmp_path, row("2025-01-01", "2025-12-31"), row("2025-07-01", "2026-06-30", vintage=2026))
    result = ledger("issue", "--csv", inside, ok=False)
    assert "line 3: project P-1's monitoring period 2025-07-01 to 2026-06-30 overlaps line 2" in flat(result.output)
    assert head() == before


def test_periods_that_touch_are_fine_and_a_rerun_finds_its_own_batches(ledger, tmp_path) -> None:
    path = csv_file(tmp_path, row("2024-12-31", "2025-07-01", vintage=2025), row("2025-07-01", "2025-12-31"))
    assert "would" not in ledger("issue", "--csv", path, "--dry-run").output
    assert "applied 2" in ledger("issue", "--csv", path).output
    again = ledger("issue", "--csv", path)  # its rows are on chain now: not an overlap with themselves
    assert "already on chain 2" in again.output
    assert registry_client(signer_required=False).project("P-1").batch_count == 3


def test_a_vintage_must_be_a_year_of_the_period(ledger, tmp_path) -> None:
    path = csv_file(tmp_path, row("2022-01-01", "2022-12-31", vintage=2099), row("2023-01-01", "2023-12-31"))
    out = flat(ledger("issue", "--csv", path, "--dry-run", ok=False).output)
    assert "1 bad row(s)" in out
    assert "line 2: vintage 2099 is not a year of the monitoring period 2022-01-01 to 2022-12-31" in out
    single = ledger(
        "issue",
        "--project",
        "P-1",
        "--vintage",
        "2099",
        "--monitoring-start",
        "2022-01-01",
        "--monitoring-end",
        "2022-12-31",
        "--quantity",
        "7",
        "--verification-report",
        path,
        ok=False,
    )
    refused(single, "vintage 2099 is not a year of the monitoring period")
    huge = ledger(
        "issue",
        "--project",
        "P-1",
        "--vintage",
        "70000",
        "--monitoring-start",
        "2022-01-01",
        "--monitoring-end",
        "2022-12-31",
        "--quantity",
        "7",
        "--verification-report",
        path,
        ok=False,
    )
    refused(huge, "--vintage 70000 is not a plausible vintage")


def test_the_dry_run_of_a_file_says_so_in_json_with_json(ledger, tmp_path) -> None:
    result = ledger("issue", "--csv", csv_file(tmp_path, row("2025-01-01", "2025-12-31")), "--dry-run", "--json")
    assert json.loads(result.stdout) == {"status": "valid", "rows": 1, "file": str(tmp_path / "batches.csv")}


# ---------------------------------------------------------------- addresses and whole numbers


def test_an_address_with_a_wrong_checksum_is_refused_by_name(ledger) -> None:
    good = OTHER.address
    i = next(i for i in range(len(good) - 1, 1, -1) if good[i].isalpha())
    typo = good[:i] + good[i].swapcase() + good[i + 1 :]  # one letter in the wrong case: a wrong checksum
    before = nonce(A[0])
    refused(
        ledger("participant", "add", typo, "--kind", "enterprise", ok=False),
        f"participant {typo} has a wrong EIP-55 checksum",
    )
    refused(ledger("participant", "suspend", typo, ok=False), f"participant {typo} has a wrong EIP-55 checksum")
    refused(ledger("roles", "grant", "PAUSER_ROLE", typo, ok=False), f"account {typo} has a wrong EIP-55 checksum")
    refused(
        ledger("transfer", "--to", typo, "--batch", "1", "--amount", "1", key=HOLDER, ok=False),
        f"recipient {typo} has a wrong EIP-55 checksum",
    )
    refused(
        ledger(
            "project",
            "register",
            "P-2",
            "--methodology",
            "SCFM-001-V01",
            "--owner",
            typo,
            "--county",
            "511802",
            "--area-m2",
            "1",
            "--crediting-start",
            "2020-01-01",
            "--crediting-end",
            "2021-01-01",
            "--parcels",
            "x.csv",
            ok=False,
        ),
        "owner",
        "wrong EIP-55 checksum",
    )
    refused(
        ledger(
            "retire",
            "--holder",
            typo,
            "--batch",
            "1",
            "--amount",
            "1",
            "--scenario",
            "personal",
            "--beneficiary-commitment",
            "0x" + "11" * 32,
            ok=False,
        ),
        f"holder {typo} has a wrong EIP-55 checksum",
    )
    assert nonce(A[0]) == before
    ledger("participant", "add", good.lower(), "--kind", "enterprise")  # lowercase has no checksum to get wrong
    assert registry_client(signer_required=False).participant(good).status.name == "ACTIVE"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["transfer", "--to", "{holder}", "--batch", "-1", "--amount", "1"], "--batch -1 is out of range"),
        (
            ["cancel", "--holder", "{holder}", "--batch", "-1", "--amount", "1", "--reason", "fraud", "--yes"],
            "--batch -1 is out of range",
        ),
        (
            ["pledge", "create", "--batch", "-1", "--amount", "1", "--pledgee", "{holder}", "--registration", REPORT],
            "--batch -1 is out of range",
        ),
        (
            ["export", "request", "--holder", "{holder}", "--batch", "-1", "--amount", "1", "--destination", "CQ"],
            "--batch -1 is out of range",
        ),
        (
            ["methodology", "add", "X-2", "--ecosystem", "forest", "--version", "70000"],
            "--version 70000 is out of range",
        ),
        (
            [
                "project",
                "register",
                "P-2",
                "--methodology",
                "SCFM-001-V01",
                "--owner",
                "{holder}",
                "--county",
                "511802",
                "--area-m2",
                "-5",
                "--crediting-start",
                "2020-01-01",
                "--crediting-end",
                "2021-01-01",
                "--parcels",
                "x.csv",
            ],
            "--area-m2 -5 is out of range",
        ),
        (
            [
                "project",
                "register",
                "P-2",
                "--methodology",
                "SCFM-001-V01",
                "--owner",
                "{holder}",
                "--county",
                "511802",
                "--area-m2",
                "5",
                "--crediting-start",
                "1960-01-01",
                "--crediting-end",
                "2021-01-01",
                "--parcels",
                "x.csv",
            ],
            "'1960-01-01' is before 1970-01-01",
        ),
        (
            [
                "import",
                "--origin-registry",
                "CQ",
                "--origin",
                "o-1",
                "--project",
                "P-1",
                "--to",
                "{holder}",
                "--vintage",
                "70000",
                "--quantity",
                "5",
            ],
            "--vintage 70000 is not a plausible vintage",
        ),
    ],
)
def test_whole_numbers_out_of_the_contract_s_range_are_named(ledger, argv, said) -> None:
    before = nonce(A[0])
    refused(ledger(*(a.format(holder=HOLDER.address) for a in argv), ok=False), said)
    assert nonce(A[0]) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["transfer", "--to", "{owner}", "--batch", "999", "--amount", "1"],
        ["retire", "--batch", "999", "--amount", "1", "--scenario", "personal", "--beneficiary-commitment", REPORT],
        ["cancel", "--holder", "{holder}", "--batch", "999", "--amount", "1", "--reason", "fraud", "--yes"],
        ["pledge", "create", "--batch", "999", "--amount", "1", "--pledgee", "{owner}", "--registration", REPORT],
        ["export", "request", "--holder", "{holder}", "--batch", "999", "--amount", "1", "--destination", "CQ"],
    ],
)
def test_an_unknown_batch_is_named_before_anything_is_signed(ledger, argv) -> None:
    before = nonce(HOLDER), nonce(A[0])
    result = ledger(*(a.format(holder=HOLDER.address, owner=OWNER.address) for a in argv), key=HOLDER, ok=False)
    out = refused(result, "batch 999 does not exist")
    assert "InsufficientFreeBalance" not in out
    assert (nonce(HOLDER), nonce(A[0])) == before


def test_show_of_an_unknown_id_fails(ledger) -> None:
    refused(ledger("participant", "show", OTHER.address, ok=False), f"no participant {OTHER.address}")
    refused(ledger("project", "show", "P-404", ok=False), "no project 'P-404'")
    assert json.loads(ledger("project", "show", "P-1", "--json").stdout)[0]["status"] == "registered"


def test_retire_certify_json_prints_only_json(ledger, tmp_path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'mirror.sqlite'}", "LEDGER_DATA_KEY": "11" * 32}
    result = ledger(
        "retire",
        "--batch",
        "1",
        "--amount",
        "10",
        "--scenario",
        "voluntary",
        "--beneficiary",
        "Zhang San",
        "--certify",
        "--json",
        key=HOLDER,
        env=env,
    )
    shown = json.loads(result.stdout)  # one JSON object and nothing else (no table of the transaction before it)
    assert shown["certificate_id"].startswith("SCCW-31337-")


# ---------------------------------------------------------------- settings, node and key


def test_a_setting_that_is_not_a_number_is_named(ledger) -> None:
    refused(ledger("status", env={"LEDGER_CHAIN_ID": "abc"}, ok=False), "setting LEDGER_CHAIN_ID='abc' is invalid")
    refused(ledger("status", env={"LEDGER_NODE_PORT": "eighty"}, ok=False), "LEDGER_NODE_PORT")
    refused(
        ledger("status", env={"LEDGER_RPC_URL": "", "LEDGER_NODE_PORT": "99999"}, ok=False),
        "setting LEDGER_NODE_PORT='99999' is invalid: Input should be less than or equal to 65535",
    )
    refused(
        ledger("status", env={"LEDGER_RPC_URL": "http://[::1:8545/s3cr3t"}, ok=False),
        "LEDGER_RPC_URL (an invalid URL) is not a valid URL",
    )


class NotANode(BaseHTTPRequestHandler):
    """Answers every POST like a web server, a REST API or a half-right proxy would."""

    replies: ClassVar[dict[str, tuple[int, bytes]]] = {
        "/page": (200, b"<html><body>welcome</body></html>"),
        "/rest": (200, b'{"hello": "world"}'),
        "/odd": (200, b'{"jsonrpc": "2.0", "id": 1, "result": {"chain": "main"}}'),
    }

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body = self.replies.get(self.path.split("?")[0], (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_a_node() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotANode)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/page", "/rest", "/odd"])
def test_a_url_that_does_not_speak_json_rpc_is_named(ledger, not_a_node, path) -> None:
    result = ledger("status", env={"LEDGER_RPC_URL": not_a_node + path + "?apikey=s3cr3t"}, ok=False)
    out = refused(result, f"the node at {not_a_node}/…", "did not answer JSON-RPC", "LEDGER_RPC_URL")
    assert "s3cr3t" not in out


def test_a_keystore_without_its_crypto_part_is_one_line(ledger, tmp_path) -> None:
    keystore = tmp_path / "operator.json"
    keystore.write_text(json.dumps({"address": OTHER.address[2:].lower(), "version": 3, "id": "x"}))
    result = ledger(
        "participant",
        "add",
        OTHER.address,
        "--kind",
        "enterprise",
        ok=False,
        env={"LEDGER_KEYSTORE": str(keystore), "LEDGER_KEYSTORE_PASSWORD": "long enough"},
    )
    refused(result, f"keystore {keystore} is damaged or not an Ethereum keystore (it has no 'crypto' part)")


def test_verbose_logs_never_show_the_node_url_s_path_or_query(ledger, anvil) -> None:
    secret_url = f"{anvil.url}/v3/0123456789abcdef0123?apikey=s3cr3t"  # anvil answers 404 there
    env = {**os.environ, "LEDGER_RPC_URL": secret_url}
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "--verbose", "status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 1, said
    assert "urllib3" in said  # the log it was about: the request line is there ...
    assert "0123456789abcdef" not in said and "s3cr3t" not in said  # ... without the key
    assert '"POST /… HTTP/1.1" 404' in said
