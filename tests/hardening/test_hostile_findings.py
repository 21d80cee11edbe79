"""What a hostile or careless operator found by running the product (issue 12): each test is a
finding, reproduced against a real anvil and a real SQLite mirror, then fixed."""

from __future__ import annotations

import os
import re
import resource
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import World
from tests.scripts.test_retire_certify import Run, balance, flat, head, retire_args

LEDGER = str(Path(sys.executable).parent / "ledger")


def one_line_refusal(output: str, *said: str) -> str:
    text = flat(output)
    assert "Traceback" not in output and "this is a bug" not in text, output
    assert text.count("error:") == 1, output
    for phrase in said:
        assert phrase in text, f"{phrase!r} not in {text!r}"
    return text


def certified(ledger: Run, world: World, amount: int, *extra: str) -> str:
    done = ledger(
        *retire_args(
            world,
            amount,
            "--scenario",
            "voluntary",
            "--beneficiary",
            "钱测试",
            "--certify",
            "--field",
            "message=hello",
            *extra,
        )
    )
    found = re.search(r"certificate (SCCW-\d+-\d+)", flat(done.output))
    assert found is not None, flat(done.output)
    return found.group(1)


# ------------------------------------------------------- --out is checked before anything is signed


def test_retire_certify_to_an_out_path_that_cannot_be_written_sends_nothing(
    ledger: Run, world: World, tmp_path: Path
) -> None:
    before, at = balance(world), head(world)
    for out in (tmp_path / "no-such-dir" / "copy.json", tmp_path):
        bad = ledger(
            *retire_args(
                world,
                25,
                "--scenario",
                "voluntary",
                "--beneficiary",
                "钱测试",
                "--certify",
                "--field",
                "message=hello",
                "--out",
                str(out),
            ),
            ok=False,
        )
        assert bad.exit_code == 1
        one_line_refusal(bad.output, f"--out {out}")
    assert (balance(world), head(world)) == (before, at)  # nothing mined, so nothing to finish later


def test_certify_and_show_refuse_an_out_path_that_is_a_directory(ledger: Run, world: World, tmp_path: Path) -> None:
    cert = certified(ledger, world, 26)
    bad = ledger("certificate", "show", cert, "--holder-copy", "--out", str(tmp_path), ok=False)
    assert bad.exit_code == 1
    one_line_refusal(bad.output, f"--out {tmp_path}")


def test_the_holder_copy_is_private_from_its_first_byte(ledger: Run, world: World, tmp_path: Path) -> None:
    out = tmp_path / "holder.json"
    certified(ledger, world, 27, "--out", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "钱测试" in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".holder.json")] == []  # no temporary left


# ------------------------------------------------------- a full disk leaves no truncated file


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_pdf_that_does_not_fit_on_disk_leaves_no_truncated_file(ledger: Run, world: World, tmp_path: Path) -> None:
    cert = certified(ledger, world, 28)
    out = tmp_path / "out" / "certificate.pdf"
    out.parent.mkdir()
    done = subprocess.run(
        [LEDGER, "certificate", "pdf", cert, "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **ledger.env, "COLUMNS": "200"},  # type: ignore[attr-defined]  # the runner carries its env
        preexec_fn=_file_size_limit(4096),
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    one_line_refusal(done.stderr, f"--out {out}", "File too large")
    assert list(out.parent.iterdir()) == []  # neither the truncated PDF nor a temporary file


def test_standard_output_on_a_full_disk_is_one_line_not_a_bug(ledger: Run, world: World, tmp_path: Path) -> None:
    cert = certified(ledger, world, 29)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [LEDGER, "certificate", "show", cert, "--holder-copy"],
            check=False,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **ledger.env},  # type: ignore[attr-defined]  # the runner carries its env
            timeout=120,
        )
    assert done.returncode == 1
    one_line_refusal(done.stderr, "No space left on device")


# ------------------------------------------------------- arguments that are not text


def test_an_argument_that_is_not_utf8_is_refused_by_position_without_echoing_it(tmp_path: Path) -> None:
    for argv in (
        [b"certificate", b"show", b"SCCW-\xed\xb3\xbf"],
        [b"certify", b"\xff", b"--scenario", b"voluntary"],
        [
            b"retire",
            b"--batch",
            b"1",
            b"--amount",
            b"5",
            b"--scenario",
            b"voluntary",
            b"--beneficiary",
            "张三".encode("gbk"),
        ],
    ):
        done = subprocess.run(
            [LEDGER.encode(), *argv],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "LEDGER_VAR_DIR": str(tmp_path / "var"), "COLUMNS": "200"},
        )
        assert done.returncode == 1, done.stderr
        text = one_line_refusal(done.stderr, "not valid UTF-8")
        assert "\ufffd" not in text and "\\udc" not in text  # the bytes are not echoed (they may be a name)


# ------------------------------------------------------- a dead node under `ledger up` comes back


def _anvil_pids(port: int) -> list[int]:
    """The anvil processes of the `ledger up` whose node listens on `port`: anvil itself runs behind
    the node's front on a private port, so it is known by the environment it inherited."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"anvil") and f"LEDGER_NODE_PORT={port}".encode() in environ:
                pids.append(int(entry.name))
    return pids


def _health(api_port: int) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v1/health", timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def test_ledger_up_restarts_its_node_after_a_kill_9_and_keeps_what_was_acknowledged(tmp_path: Path) -> None:
    """kill -9 of anvil under the main job: `ledger node start`'s supervisor restarts it, and so
    must `ledger up`, from its last snapshot plus the journal, rather than serve a dead node forever."""
    import signal
    import time

    from chain.node import free_port
    from chain.rpc import JsonRpc

    root = Path(__file__).resolve().parents[2]
    api_port, node_port = free_port(), free_port()
    env = {
        **os.environ,
        "LEDGER_VAR_DIR": str(tmp_path / "var"),
        "LEDGER_NODE_PORT": str(node_port),
        "LEDGER_API_PORT": str(api_port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'ledger.sqlite'}",
        "LEDGER_CONFIG": str(tmp_path / "no.toml"),
        "LEDGER_DATA_KEY_FILE": str(tmp_path / "data.key"),
        "COLUMNS": "400",
    }
    env.pop("LEDGER_RPC_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "up", "--no-demo"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _health(api_port) != 200:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "ledger up did not serve in 120 s"
            time.sleep(0.3)
        rpc = JsonRpc(f"http://127.0.0.1:{node_port}")
        added = subprocess.run(
            [LEDGER, "methodology", "add", "SCFM-KILL-9", "--ecosystem", "forest"],
            check=False,
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert added.returncode == 0, added.stdout + added.stderr
        [first] = _anvil_pids(node_port)
        os.kill(first, signal.SIGKILL)  # at once: the keeper's snapshot may not hold it yet, the journal does
        block = int(added.stdout.split("block", 1)[1].split()[0].replace(",", ""))
        deadline = time.monotonic() + 60
        while not (_anvil_pids(node_port) not in ([], [first]) and _health(api_port) == 200):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the node did not come back in 60 s"
            time.sleep(0.3)
        assert int(rpc.call("eth_blockNumber"), 16) >= block  # the same chain, from its snapshot
        listed = subprocess.run(
            [LEDGER, "methodology", "list"], check=False, cwd=root, env=env, capture_output=True, text=True, timeout=120
        )
        assert "SCFM-KILL-9" in listed.stdout, listed.stdout + listed.stderr  # acknowledged, so still there
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output  # Ctrl-C's exit code: it did not die of the node
    assert "restarted" in output and "Traceback" not in output, output
    assert _anvil_pids(node_port) == []  # and it went with the main job


# ------------------------------------------------------- a full disk under the durable node


def test_a_snapshot_that_does_not_fit_leaves_the_old_one_whole_and_no_temporary(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(b'{"old": true}')
    code = (
        "import sys; from pathlib import Path; from chain.snapshot import write_atomically\n"
        "try:\n    write_atomically(Path(sys.argv[1]), b'x' * 100_000)\n"
        "except OSError as exc:\n    print(exc.strerror)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(state)],
        check=False,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        preexec_fn=_file_size_limit(4096),
        timeout=60,
    )
    assert done.stdout.strip() == "File too large", done.stdout + done.stderr
    assert state.read_bytes() == b'{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]  # no .tmp filling the disk further


def test_the_keeper_reports_snapshots_it_cannot_write_once_instead_of_swallowing_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import time

    from chain.journal import Journal
    from chain.keeper import Keeper
    from chain.node import LocalNode
    from chain.rpc import JsonRpc

    blocker = tmp_path / "a-file"
    blocker.write_text("")  # the state's directory cannot be made: every snapshot fails with an OSError
    with LocalNode(block_time=None) as node, caplog.at_level(logging.WARNING, logger="chain.keeper"):
        keeper = Keeper(
            JsonRpc(node.url),
            blocker / "anvil" / "state.json",
            Journal(tmp_path / "sent.jsonl"),
            snapshot_interval=0.05,
        )
        keeper.start()
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # several more failed attempts
        keeper.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "chain.keeper" and r.levelno >= logging.WARNING]
    assert len(said) == 1, said  # once, not twenty times a second
    assert "snapshot" in said[0] and "journal" in said[0] and "\n" not in said[0]
    assert keeper.snapshots == 0 and keeper.snapshotted_block == -1


# ------------------------------------------------------- one durable node per state directory


def test_a_second_durable_node_on_the_same_state_is_refused_and_leaves_the_first_one_journaled(tmp_path: Path) -> None:
    """A second `ledger up` with another LEDGER_NODE_PORT but the same LEDGER_VAR_DIR started a second
    anvil on the first one's snapshots and journal, and on its way out deleted the first one's
    node.json: the CLI then stopped journaling and certify stopped waiting for snapshots."""
    import pytest

    from chain.errors import NodeStartError
    from chain.journal import MARKER_NAME, journal_for
    from chain.node import LocalNode

    state = tmp_path / "anvil" / "state.json"
    with LocalNode(state_file=state) as first:
        second = LocalNode(state_file=state)
        with pytest.raises(NodeStartError) as refused:
            second.start()
        message = str(refused.value)
        assert "another node" in message and str(state.parent) in message and "LEDGER_VAR_DIR" in message
        assert second.process is None  # no second anvil was launched
        second.stop()  # what `ledger up`'s cleanup does after a failed start
        assert (state.parent / MARKER_NAME).exists()
        assert journal_for(first.url) is not None
    with LocalNode(state_file=state) as again:  # once the first has stopped, the state is free
        assert again.process is not None


# ------------------------------------------------------- a schema creation cut short (a full disk)


def test_a_certificate_schema_creation_cut_short_leaves_no_half_made_schema(tmp_path: Path) -> None:
    """On SQLite, Python's driver ran the migration's CREATE TABLEs outside any transaction: a full
    disk midway left some tables and no version stamp, and every later start failed with "table
    beneficiary_secrets already exists" (reported as a bug) until the file was deleted by hand."""
    import sqlite3

    import pytest
    from sqlalchemy.exc import OperationalError

    from certificates.db import create_schema
    from indexer.db import make_engine

    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE log_nodes (x INTEGER)")  # the migration's last table: it fails there
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(OperationalError):
        create_schema(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        conn.execute("DROP TABLE log_nodes")  # the cause goes away (space is freed) ...
    assert "beneficiary_secrets" not in tables and "certificates" not in tables, tables
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)  # ... and the next start simply creates the schema
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"beneficiary_secrets", "certificates", "log_nodes", "alembic_version_api"} <= tables
    engine.dispose()


def test_a_mirror_schema_creation_cut_short_leaves_no_half_made_schema(tmp_path: Path) -> None:
    import sqlite3

    import pytest
    from sqlalchemy.exc import OperationalError

    from indexer.db import create_schema, make_engine

    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sync_cursor (x INTEGER)")  # the first migration's last table
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(OperationalError):
        create_schema(engine)
    engine.dispose()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        conn.execute("DROP TABLE sync_cursor")
    assert tables == {"sync_cursor"}, tables
    engine = make_engine(f"sqlite:///{path}")
    create_schema(engine)
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"anchored_roots", "sync_cursor", "journal", "alembic_version"} <= tables
    engine.dispose()
