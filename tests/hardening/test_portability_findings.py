"""What a hostile or careless operator found by running the portability work (issue 21): the EVM
target, the fee model, the confirmations and `ledger backup`. Each test is a finding, then fixed."""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError

from backup import archive as backup
from chain.deploy import Deployment
from scripts.console import database_busy, operator_errors
from tests.conftest import World
from tests.hardening.test_hostile_findings import one_line_refusal
from tests.scripts.test_retire_certify import Run, balance, head, retire_args

ADDRESS = "0x" + "ab" * 20
DEPLOYMENT = Deployment(
    chain_id=31337,
    address=ADDRESS,
    implementation=ADDRESS,
    admin=ADDRESS,
    block_number=1,
    block_hash="0x" + "00" * 32,
    tx_hash="0x" + "00" * 32,
    implementation_tx_hash="0x" + "00" * 32,
    compiler_version="0.8.28",
    compiler_backend="solcx",
    bytecode_hash="0x",
    deployed_at=0,
    revocations=ADDRESS,
    evm_version="berlin",
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    yield made
    made.dispose()


# ------------------------------------------------------- backup create --out onto what is not a backup


@pytest.mark.parametrize("existing", ["database", "other"])
def test_backup_create_refuses_to_replace_a_file_that_is_not_a_backup(
    engine: Engine, tmp_path: Path, existing: str
) -> None:
    """`--out` naming the live SQLite database replaced it with the backup (the registry was gone);
    any other file (a key file, ledger.toml, /dev/null as root) was replaced the same way."""
    if existing == "database":
        backup.create(engine, tmp_path / "first.gz", DEPLOYMENT)  # makes the database file
        target = tmp_path / "ledger.sqlite"
    else:
        target = tmp_path / "data.key"
        target.write_bytes(b"precious")
    before = target.read_bytes()
    with pytest.raises(backup.BackupError, match="not a ledger backup") as refused:
        backup.create(engine, target, DEPLOYMENT)
    assert str(target) in str(refused.value) and "\n" not in str(refused.value)
    assert target.read_bytes() == before


def test_backup_create_still_replaces_an_older_backup(engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "nightly.gz"
    backup.create(engine, out, DEPLOYMENT)
    backup.create(engine, out, DEPLOYMENT)  # the documented cron use: the same name, replaced atomically
    assert backup.read_header(out)["format"] == backup.FORMAT


@pytest.mark.parametrize("out", [".", "/", ""])
def test_backup_create_to_a_path_without_a_file_name_is_refused_in_one_line(engine: Engine, out: str) -> None:
    """`--out .` and `--out /` raised ValueError from Path.with_name: "this is a bug"."""
    with pytest.raises(backup.BackupError, match="choose a writable file with --out"):
        backup.create(engine, Path(out), DEPLOYMENT)


def test_a_header_whose_columns_were_changed_is_not_called_another_schema_revision(
    engine: Engine, tmp_path: Path
) -> None:
    """Columns edited in the header, same revision: "is of certificates schema revision a0001, this ledger's is a0001"."""
    good = tmp_path / "good.gz"
    backup.create(engine, good, DEPLOYMENT)
    lines = gzip.decompress(good.read_bytes()).split(b"\n")
    header = json.loads(lines[0])
    header["tables"]["certificates"]["columns"] = ["id"]
    lines[0] = json.dumps(header).encode()
    bad = tmp_path / "edited.gz"
    bad.write_bytes(gzip.compress(b"\n".join(lines)))
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(create_engine(f"sqlite:///{tmp_path / 'new.sqlite'}"), bad, DEPLOYMENT)
    said = str(refused.value)
    assert "this ledger's is" not in said and "damaged or not a ledger backup" in said, said


def test_a_database_url_naming_a_file_that_is_not_a_database_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """DATABASE_URL at a file that is not SQLite (e.g. overwritten by a backup): "this is a bug"."""
    db = tmp_path / "not.sqlite"
    db.write_bytes(b"\x1f\x8b" + b"not a database" * 100)

    @operator_errors
    def command() -> None:
        engine = create_engine(f"sqlite:///{db}")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT * FROM sqlite_master").all()
        finally:
            engine.dispose()

    with pytest.raises(typer.Exit):
        command()
    said = " ".join(capsys.readouterr().err.split())
    assert "this is a bug" not in said and "not a database" in said and "DATABASE_URL" in said, said


# ------------------------------------------------------- a busy SQLite database


def test_a_locked_database_is_named_not_called_a_bug(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`ledger backup restore` (and create) while another process holds SQLite's write lock (a
    sqlite3 shell, a service mid-transaction) said "unexpected OperationalError; this is a bug"."""
    db = tmp_path / "busy.sqlite"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:

        @operator_errors
        def command() -> None:
            engine = create_engine(f"sqlite:///{db}", connect_args={"timeout": 0.1})
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql("CREATE TABLE t (x)")
            finally:
                engine.dispose()

        with pytest.raises(typer.Exit) as stopped:
            command()
    finally:
        holder.rollback()
        holder.close()
    assert stopped.value.exit_code == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "this is a bug" not in said and "locked" in said and "run again" in said, said


def test_the_lock_check_reads_sqlalchemys_wrapper() -> None:
    assert database_busy(OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))) is not None
    assert database_busy(ValueError("database is locked")) is None


# ------------------------------------------------------- LEDGER_CONFIRMATIONS is checked before anything is sent


@pytest.mark.parametrize("value", ["abc", "-1", "POA-ish", "100000"])
def test_retire_certify_with_a_bad_confirmations_setting_sends_nothing(
    ledger: Run, world: World, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A bad LEDGER_CONFIRMATIONS was found only after the retirement was mined: units retired, no
    certificate, the operator told to fix a setting but not that a retirement now waits for `certify`."""
    before, at = balance(world), head(world)
    monkeypatch.setenv("LEDGER_CONFIRMATIONS", value)
    bad = ledger(
        *retire_args(
            world, 5, "--scenario", "voluntary", "--beneficiary", "钱测试", "--certify", "--field", "message=hello"
        ),
        ok=False,
    )
    assert bad.exit_code == 1
    one_line_refusal(bad.output, "LEDGER_CONFIRMATIONS")
    assert (balance(world), head(world)) == (before, at)


# ------------------------------------------------------- a damaged or misplaced deployment record


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("", "is damaged"),
        ('{"chain_id": 31337, "address"', "is damaged"),
        ('{"chain_id": 31337}', "is damaged"),
        (DEPLOYMENT.to_json().replace('"chain_id": 31337', '"chain_id": 5'), "is for chain 5, not 31337"),
    ],
)
def test_a_damaged_or_misplaced_deployment_record_is_named(tmp_path: Path, content: str, said: str) -> None:
    """An empty or cut-short record printed "unexpected JSONDecodeError; this is a bug"; a record of
    chain 5 filed as chain 31337's was taken as is (and a backup stamped with chain 5)."""
    from chain.deploy import load_deployment, record_path
    from chain.errors import ChainError

    record_path(tmp_path, 31337).write_text(content)
    with pytest.raises(ChainError, match=said) as refused:
        load_deployment(tmp_path, 31337)
    assert "\n" not in str(refused.value) and str(record_path(tmp_path, 31337)) in str(refused.value)
