"""`ledger retire … --certify` applies whole or tells how to finish (issue 12 item 6), and the
beneficiary's name need not be on the command line (item 9): a real anvil, a real SQLite mirror,
the CLI through CliRunner (and one run under a pseudo-terminal, for the prompt)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chain.deploy import record_path
from chain.node import LocalNode
from scripts.cli import app
from tests.conftest import World

runner = CliRunner()
Run = Callable[..., Any]


@pytest.fixture
def ledger(world: World, anvil: LocalNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The CLI against the session's registry, signing as its holder, with its own mirror and data key."""
    deployments = tmp_path / "deployments"
    deployments.mkdir()
    d = world.registry.deployment
    record_path(deployments, d.chain_id).write_text(d.to_json())
    env = {
        "LEDGER_RPC_URL": anvil.url,
        "LEDGER_DEPLOYMENTS_DIR": str(deployments),
        "LEDGER_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "LEDGER_DATA_KEY_FILE": str(tmp_path / "data.key"),
        "LEDGER_PRIVATE_KEY": "0x" + bytes(world.cast.holder.key).hex(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LEDGER_CONFIRMATIONS", raising=False)

    def run(*argv: str, ok: bool = True, input: str | None = None, extra: dict[str, str] | None = None) -> Any:
        result = runner.invoke(app, list(argv), input=input, env=extra)
        if ok:
            assert result.exit_code == 0, f"{argv}: {result.output}"
        assert "Traceback" not in result.output
        return result

    run.env = env  # type: ignore[attr-defined]
    run.db = tmp_path / "ledger.sqlite"  # type: ignore[attr-defined]
    return run


def balance(world: World) -> int:
    return world.client.balance_of(world.cast.holder.address, world.batch_id)


def head(world: World) -> int:
    return int(world.client.rpc.call("eth_blockNumber"), 16)


def sealed_rows(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM beneficiary_secrets").fetchone()[0])
        except sqlite3.OperationalError:  # the service never opened this database
            return 0


def flat(text: str) -> str:
    """The output without the terminal's line wrapping."""
    return " ".join(text.split())


def retire_args(world: World, amount: int, *extra: str) -> list[str]:
    return ["retire", "--batch", str(world.batch_id), "--amount", str(amount), *extra]


# ------------------------------------------------------------------ item 6: nothing half-applied


def test_a_missing_scenario_field_is_refused_before_anything_is_mined(ledger: Run, world: World) -> None:
    before, at = balance(world), head(world)
    bad = ledger(
        *retire_args(
            world,
            100,
            "--scenario",
            "organisation",
            "--beneficiary",
            "雅安茶业有限公司",
            "--certify",
            "--footprint",
            "50",
        ),
        ok=False,
    )
    assert bad.exit_code == 1 and "need subject" in flat(bad.output)
    assert (balance(world), head(world)) == (before, at)  # nothing mined
    assert sealed_rows(ledger.db) == 0  # type: ignore[attr-defined]


def test_a_retire_that_fails_in_simulation_leaves_no_sealed_beneficiary(ledger: Run, world: World) -> None:
    before = balance(world)
    bad = ledger(*retire_args(world, before + 1, "--scenario", "voluntary", "--beneficiary", "赵敏"), ok=False)
    assert bad.exit_code == 1 and "error" in bad.output
    assert balance(world) == before
    assert sealed_rows(ledger.db) == 0  # type: ignore[attr-defined]


def test_a_certificate_not_issued_after_mining_names_the_retirement_and_the_command_that_finishes(
    ledger: Run, world: World
) -> None:
    before = balance(world)
    command = retire_args(
        world, 40, "--scenario", "voluntary", "--beneficiary", "赵敏", "--certify", "--field", "message=hello"
    )
    first = ledger(*command, ok=False, extra={"LEDGER_CONFIRMATIONS": "2"})  # mined, but not final yet
    text = flat(first.output)
    assert first.exit_code == 1 and balance(world) == before - 40, text
    rid = re.search(r"retired as (31337-0x[0-9a-f]{64}-\d+)", text).group(1)  # type: ignore[union-attr]
    assert "has 0 of the 2 confirmations" in text
    finish = re.search(r"Finish with: (ledger certify .*?--wait)", text).group(1)  # type: ignore[union-attr]
    assert shlex.split(finish) == [
        "ledger",
        "certify",
        rid,
        "--scenario",
        "voluntary",
        "--field",
        "message=hello",
        "--wait",
    ]

    again = ledger(*command, ok=False, extra={"LEDGER_CONFIRMATIONS": "2"})  # the same retire, run again
    assert again.exit_code == 1 and f"already made: retirement {rid}" in flat(again.output)
    assert f"certify it with: {finish}" in flat(again.output)
    assert balance(world) == before - 40  # not retired twice

    world.client.rpc.call("anvil_mine", "0x2")
    done = ledger(*shlex.split(finish)[1:], "--json", extra={"LEDGER_CONFIRMATIONS": "2"})
    cert_id = json.loads(done.output)["certificate_id"]

    third = ledger(*command, ok=False)
    assert third.exit_code == 1 and f"already made and certified: retirement {rid}, certificate {cert_id}" in flat(
        third.output
    )
    assert balance(world) == before - 40


def test_personal_field_values_are_not_printed_back(ledger: Run, world: World) -> None:
    command = retire_args(
        world,
        30,
        "--scenario",
        "tree-planting-duty",
        "--beneficiary-file",
        "-",
        "--certify",
        "--field",
        "id_number=510104199001011234",
        "--field",
        "year=2026",
        "--trees",
        "1",
    )
    # (--beneficiary-file - is not stdin: it is refused as a file that does not exist, before anything is mined)
    bad = ledger(*command, ok=False)
    assert bad.exit_code == 1 and "cannot read --beneficiary-file" in flat(bad.output)
    command[command.index("--beneficiary-file")] = "--beneficiary"
    failed = ledger(*command, ok=False, input="张三丰\n", extra={"LEDGER_CONFIRMATIONS": "1"})
    text = flat(failed.output)
    assert "--field 'id_number=<id_number>' --field year=2026 --trees 1 --wait" in text, text
    assert "510104199001011234" not in failed.output and "张三丰" not in failed.output


# ------------------------------------------------------------------ item 9: the beneficiary off the command line


def holder_copy_beneficiary(path: Path) -> str:
    return str(json.loads(path.read_text())["disclosed"]["beneficiary"]["value"])


def test_the_beneficiary_from_a_file(ledger: Run, world: World, tmp_path: Path) -> None:
    source, out = tmp_path / "beneficiary.txt", tmp_path / "copy.json"
    source.write_text("成都绿色建材有限公司\n", encoding="utf-8")
    result = ledger(
        *retire_args(
            world,
            20,
            "--scenario",
            "organisation",
            "--beneficiary-file",
            str(source),
            "--certify",
            "--field",
            "subject=办公",
            "--footprint",
            "20",
            "--out",
            str(out),
        )
    )
    assert "visible to other users" not in result.output
    assert holder_copy_beneficiary(out) == "成都绿色建材有限公司"


def test_the_beneficiary_from_standard_input(ledger: Run, world: World, tmp_path: Path) -> None:
    out = tmp_path / "copy.json"
    result = ledger(
        *retire_args(world, 20, "--scenario", "voluntary", "--beneficiary", "-", "--certify", "--out", str(out)),
        input="王小明\n",
    )
    assert "visible to other users" not in result.output
    assert holder_copy_beneficiary(out) == "王小明"


def test_a_name_on_the_command_line_still_works_with_a_warning(ledger: Run, world: World, tmp_path: Path) -> None:
    out = tmp_path / "copy.json"
    result = ledger(
        *retire_args(world, 20, "--scenario", "voluntary", "--beneficiary", "李四", "--certify", "--out", str(out))
    )
    assert "visible to other users of this machine" in flat(result.output)
    assert holder_copy_beneficiary(out) == "李四"


def test_refusals_name_the_ways_to_give_the_beneficiary(ledger: Run, world: World, tmp_path: Path) -> None:
    none = ledger(*retire_args(world, 1, "--scenario", "voluntary"), ok=False)  # no terminal: no prompt
    assert none.exit_code == 1 and "--beneficiary-file PATH, --beneficiary - (standard input)" in flat(none.output)
    two = ledger(
        *retire_args(
            world, 1, "--scenario", "voluntary", "--beneficiary", "-", "--beneficiary-commitment", "0x" + "11" * 32
        ),
        ok=False,
    )
    assert two.exit_code == 1 and "give the beneficiary once" in two.output
    empty = ledger(*retire_args(world, 1, "--scenario", "voluntary", "--beneficiary", "-"), ok=False, input="\n")
    assert empty.exit_code == 1 and "empty beneficiary" in empty.output


def test_the_prompt_keeps_the_name_out_of_the_process_command_line(ledger: Run, world: World, tmp_path: Path) -> None:
    out = tmp_path / "copy.json"
    argv = [
        str(Path(sys.executable).parent / "ledger"),
        *retire_args(world, 20, "--scenario", "voluntary", "--certify", "--out", str(out)),
    ]
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        argv, stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True, env={**os.environ, **ledger.env}
    )  # type: ignore[attr-defined]
    os.close(secondary)
    try:
        seen = _read_until(primary, b"beneficiary", timeout=60)
        assert b"beneficiary" in seen, seen
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
        assert "--beneficiary" not in cmdline and "retire" in cmdline
        os.write(primary, "周八妹\n".encode())
        rest = _read_until(primary, b"verify:", timeout=60)
        assert process.wait(timeout=60) == 0, (seen + rest).decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    assert holder_copy_beneficiary(out) == "周八妹"


def _read_until(fd: int, marker: bytes, *, timeout: float) -> bytes:
    data, deadline = b"", time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            data += chunk
    return data
