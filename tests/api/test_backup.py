"""Backup and restore of the certificate service's data (issue 21), on SQLite and PostgreSQL: a
registry with certificates is backed up, restored into a fresh database, its mirror rebuilt from
the chain; then every certificate verifies against the node and the audit finds no difference.
Tampered files, non-empty databases and a wrong data key are refused before anything is written."""

from __future__ import annotations

import gzip
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select
from typer.testing import CliRunner

from api.app import create_app
from audit.chain_state import read_chain
from audit.reconcile import AuditReport, reconcile
from backup import archive as backup
from certificates.anchoring import AnchorRefusedError
from certificates.context import ServiceContext
from certificates.copies import document
from certificates.evidence import ChainEvidence
from certificates.models import BeneficiarySecret, CertificateRow
from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from certificates.translog.models import LogEntry
from certificates.verify import verify_document
from chain.types import Scenario
from indexer.db import make_engine
from indexer.sync import Indexer
from scripts.audit_commands import in_process_api
from scripts.cli import app
from tests.api.conftest import Certified, open_certified


@pytest.fixture(scope="module")
def on_postgres(
    certified: Certified,
    build: Any,
    cast: Any,
    fresh_postgres: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Certified]:
    """A second registry on the same node, its certificate service on PostgreSQL."""
    c = open_certified(tmp_path_factory.mktemp("pg-source"), build, cast, certified.node, database_url=fresh_postgres())
    yield c
    c.service.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def source(request: pytest.FixtureRequest) -> Certified:
    return request.getfixturevalue("certified" if request.param == "sqlite" else "on_postgres")


def target_url(kind: str, tmp_path: Path, fresh_postgres: Callable[[], str]) -> str:
    return f"sqlite:///{tmp_path / 'restored.sqlite'}" if kind == "sqlite" else fresh_postgres()


def rebuild_mirror(c: Certified, engine: Engine) -> int:
    d = c.service.context.deployment
    client = c.world.client
    return Indexer(
        client.rpc, engine, client.abi, chain_id=d.chain_id, address=d.address, start_block=d.block_number
    ).sync_once()


def audit(c: Certified, context: ServiceContext) -> AuditReport:
    chain = read_chain(c.world.client, context.deployment.block_number)
    with context.engine.connect() as conn:
        return reconcile(chain, conn, context.log, in_process_api(create_app(context)))


def assert_sound(c: Certified, engine: Engine) -> None:
    """Every certificate of the source, served from `engine`, verifies against the node (public and
    holder's copy), and the audit of `engine` against the chain finds no difference."""
    d = c.service.context.deployment
    context = ServiceContext(engine, d, ServiceSettings(public_url="http://testserver"), c.world.client.rpc)
    node = ChainEvidence(c.world.client.rpc, chain_id=d.chain_id, registry=d.address, revocations=d.revocations)
    with engine.connect() as conn:
        ids = list(conn.execute(select(CertificateRow.id)).scalars())
    assert sorted(ids) == sorted(c.ids.values())
    for cert_id in ids:
        with engine.connect() as conn:
            public = document(conn, context.log, cert_id)
            holder = document(conn, context.log, cert_id, vault=context.vault)
        for doc in (public, holder):
            verdict = verify_document(doc, node)
            assert verdict.status == "valid", (cert_id, verdict.failed)
        assert public == c.public(cert_id)  # the same document the source serves
    report = audit(c, context)
    assert report.clean, report.as_json()["differences"]
    assert report.checked["certificates"] == len(ids) and report.checked["anchors"] >= 1


def content(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


def write(path: Path, lines: list[bytes]) -> None:
    with gzip.open(path, "wb") as f:
        f.write(b"".join(lines))


def rows_in(engine: Engine) -> int:
    """Rows in the service's tables (0 when a refusal came before it made them)."""
    with engine.connect() as conn:
        present = [t for t in backup.registry_tables() if inspect(conn).has_table(t.name)]
        return sum(conn.execute(select(func.count()).select_from(t)).scalar() or 0 for t in present)


@pytest.mark.parametrize("into", ["sqlite", "postgresql"])
def test_a_backup_restores_into_a_fresh_database_where_everything_verifies(
    source: Certified, into: str, tmp_path: Path, fresh_postgres: Callable[[], str]
) -> None:
    made = backup.create(source.service.engine, tmp_path / "certs.jsonl.gz", source.service.context.deployment)
    h = made.header
    assert (h["chain_id"], h["registry"]) == (31337, source.service.context.deployment.address.lower())
    with source.service.engine.connect() as conn:
        revisions = backup.schema_revisions(conn)
    assert h["schema_revisions"] == revisions and set(revisions) == {
        "certificates",
        "mrv",
        "footprint",
        "land",
        "offsets",
        "accounts",
    }
    assert None not in revisions.values()
    assert h["source"] == source.service.engine.url.get_backend_name()
    assert made.rows["certificates"] == len(source.ids) == 6
    assert made.rows["log_entries"] >= 6 and made.rows["log_nodes"] >= 1
    assert made.path.stat().st_mode & 0o777 == 0o600

    engine = make_engine(target_url(into, tmp_path, fresh_postgres))
    try:
        backup.restore(engine, made.path, source.service.context.deployment)
        assert rebuild_mirror(source, engine) > 0
        assert_sound(source, engine)
        # what was restored is the same data, byte for byte: its own backup has the same content hash
        again = backup.create(engine, tmp_path / "again.jsonl.gz", source.service.context.deployment)
        assert again.header["sha256"] == h["sha256"] and again.rows == made.rows
    finally:
        engine.dispose()


def test_the_backup_is_one_moment_even_while_the_service_writes(source: Certified, tmp_path: Path) -> None:
    """A row committed by another connection while the backup is being read is not in it, and the
    file still checks: the whole backup is read in one transaction."""
    engine = source.service.engine
    late = "0x" + secrets.token_hex(32)

    def meanwhile(table: str, rows: int) -> None:
        if table == "certificates":  # read already; beneficiary_secrets is read after this commit
            with engine.begin() as conn:
                conn.execute(
                    BeneficiarySecret.__table__.insert().values(  # type: ignore[attr-defined]
                        commitment=late, sealed=b"\0" * 40, created_at=0
                    )
                )

    try:
        made = backup.create(
            engine, tmp_path / "moment.jsonl.gz", source.service.context.deployment, on_table=meanwhile
        )
        with engine.connect() as conn:
            now = conn.execute(select(func.count()).select_from(BeneficiarySecret)).scalar()
    finally:
        with engine.begin() as conn:
            conn.execute(
                BeneficiarySecret.__table__.delete().where(  # type: ignore[attr-defined]
                    BeneficiarySecret.commitment == late
                )
            )
    assert made.rows["beneficiary_secrets"] == now - 1
    assert late.encode() not in b"".join(content(made.path))
    backup.verify(made.path, source.service.context.deployment)  # hash and counts agree


def test_a_tampered_backup_is_refused_and_nothing_is_written(certified: Certified, tmp_path: Path) -> None:
    d = certified.service.context.deployment
    made = backup.create(certified.service.engine, tmp_path / "good.jsonl.gz", d)
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")

    raw = bytearray(made.path.read_bytes())  # one byte of the file itself, in the compressed stream
    raw[len(raw) // 2] ^= 0x01
    flipped = tmp_path / "flipped.jsonl.gz"
    flipped.write_bytes(bytes(raw))
    with pytest.raises(backup.BackupError, match="damaged"):
        backup.restore(target, flipped, d)

    lines = content(made.path)  # one digit of a row, the file recompressed: only the hash can tell
    row = next(i for i, line in enumerate(lines) if line.startswith(b'["certificates"'))
    at = max(i for i, byte in enumerate(lines[row]) if chr(byte).isdigit())
    lines[row] = lines[row][:at] + (b"1" if lines[row][at : at + 1] != b"1" else b"2") + lines[row][at + 1 :]
    edited = tmp_path / "edited.jsonl.gz"
    write(edited, lines)
    with pytest.raises(backup.BackupError, match="does not match the SHA-256"):
        backup.restore(target, edited, d)

    original = content(made.path)  # a row dropped and the header's count lowered to match
    header = json.loads(original[0])
    header["tables"]["certificates"]["rows"] -= 1
    dropped = tmp_path / "dropped.jsonl.gz"
    write(dropped, [json.dumps(header).encode() + b"\n"] + original[1:row] + original[row + 1 :])
    with pytest.raises(backup.BackupError, match="SHA-256"):
        backup.restore(target, dropped, d)

    plain = tmp_path / "plain.jsonl.gz"  # not gzip at all
    plain.write_bytes(b"".join(original))
    with pytest.raises(backup.BackupError, match="damaged or not a ledger backup"):
        backup.restore(target, plain, d)
    assert rows_in(target) == 0
    target.dispose()


def test_restore_refuses_a_database_that_holds_certificates(certified: Certified, tmp_path: Path) -> None:
    d = certified.service.context.deployment
    made = backup.create(certified.service.engine, tmp_path / "b.jsonl.gz", d)
    with pytest.raises(backup.BackupError, match=r"already holds registry data .*certificates"):
        backup.restore(certified.service.engine, made.path, d)  # the live database itself
    target = make_engine(f"sqlite:///{tmp_path / 'once.sqlite'}")
    backup.restore(target, made.path, d)
    before = rows_in(target)
    with pytest.raises(backup.BackupError, match="restore only into an empty database"):
        backup.restore(target, made.path, d)
    assert rows_in(target) == before == sum(made.rows.values())
    target.dispose()


def test_restore_refuses_a_data_key_that_does_not_open_the_sealed_rows(
    certified: Certified, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = certified.service.context.deployment
    made = backup.create(certified.service.engine, tmp_path / "b.jsonl.gz", d)
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")
    monkeypatch.setenv("LEDGER_DATA_KEY", secrets.token_hex(32))
    with pytest.raises(backup.BackupError, match="data key in use does not open") as refused:
        backup.restore(target, made.path, d)
    assert "\n" not in str(refused.value)
    monkeypatch.delenv("LEDGER_DATA_KEY")
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "absent.key"))
    with pytest.raises(Exception, match="no data key"):
        backup.restore(target, made.path, d)
    assert not (tmp_path / "absent.key").exists()  # a restore never makes up a key
    assert rows_in(target) == 0
    target.dispose()


def test_restore_refuses_another_registrys_backup(certified: Certified, on_postgres: Certified, tmp_path: Path) -> None:
    made = backup.create(
        on_postgres.service.engine, tmp_path / "other.jsonl.gz", on_postgres.service.context.deployment
    )
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")
    with pytest.raises(backup.BackupError, match="not the configured"):
        backup.restore(target, made.path, certified.service.context.deployment)
    assert rows_in(target) == 0
    target.dispose()


def test_the_commands_back_up_restore_reindex_and_audit_clean(
    certified: Certified, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    source = Path(str(certified.service.engine.url.database))
    monkeypatch.setenv("LEDGER_RPC_URL", certified.node.url)
    monkeypatch.setenv("LEDGER_DEPLOYMENTS_DIR", str(source.parent / "deployments"))
    monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{source}")
    out = tmp_path / "certificates.jsonl.gz"
    made = runner.invoke(app, ["backup", "create", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert (
        "backed up 6 certificates" in " ".join(made.output.split()) and "data key is not in the backup" in made.output
    )

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'restored.sqlite'}")
    restored = runner.invoke(app, ["backup", "restore", str(out)])
    assert restored.exit_code == 0, restored.output
    assert "restored 6 certificates" in " ".join(restored.output.split()) and "events indexed" in restored.output
    audited = runner.invoke(app, ["audit"])
    assert audited.exit_code == 0, audited.output
    assert "no difference" in audited.output

    again = runner.invoke(app, ["backup", "restore", str(out)])
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert "restore only into an empty database" in " ".join(again.output.split())
    (tmp_path / "a-file").write_text("")
    unwritable = runner.invoke(app, ["backup", "create", "--out", str(tmp_path / "a-file" / "b.jsonl.gz")])
    assert unwritable.exit_code == 1 and "cannot write the backup" in " ".join(unwritable.output.split())


def test_a_backup_older_than_the_chain_is_named_after_the_restore(on_postgres: Certified, tmp_path: Path) -> None:
    """Certificates issued after the backup are lost with it; the log the chain anchors is then
    longer than the restored one, and the restore says so (run last: it adds a certificate)."""
    d = on_postgres.service.context.deployment
    made = backup.create(on_postgres.service.engine, tmp_path / "old.jsonl.gz", d)
    on_postgres.certify_new(Scenario.VOLUNTARY, 7, "钱七", fields={"message": "后来的"})
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")
    backup.restore(target, made.path, d)
    rebuild_mirror(on_postgres, target)
    with target.connect() as conn:
        size = conn.execute(select(func.count()).select_from(LogEntry)).scalar()
    assert backup.log_behind_chain(target) == (size, size + 1)
    assert not audit(on_postgres, ServiceContext(target, d, ServiceSettings(), on_postgres.world.client.rpc)).clean
    assert backup.log_behind_chain(on_postgres.service.engine) is None
    # nor will the restored service anchor a log that is not the one the chain vouches for, now or once it grows
    stale = CertificateService(
        ServiceContext(target, d, ServiceSettings(), on_postgres.world.client.rpc), on_postgres.service.client
    )
    with pytest.raises(AnchorRefusedError, match=r"anchored a log of .* fewer entries"):
        stale.anchor(force=True)
    with pytest.raises(AnchorRefusedError, match="fewer entries"):
        stale.anchor()  # not due by policy, but the operator is still told
    target.dispose()
