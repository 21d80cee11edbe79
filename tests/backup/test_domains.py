"""One backup holds every domain's data the chain cannot give back (backup/archive.py): a registry
with a monitoring report, its result and a reversal (mrv/), an imported emission factor
(footprint/) and footprint reports, one sealed (certificates/), goes through create → restore into
a fresh SQLite and a fresh PostgreSQL database with every row byte for byte the same; a backup of
another domain schema revision, or of the format before it, is refused with nothing written."""

from __future__ import annotations

import gzip
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select

from backup import archive as backup
from certificates import footprint_report
from certificates.db import create_schema
from certificates.vault import Vault
from chain.deploy import Deployment
from footprint import store as footprint_store
from footprint.library import COLUMNS
from indexer.db import make_engine
from land import store as land_store
from mrv import store as mrv_store
from offsets.purchases import purchase
from scripts.demo import demo_parcels
from tests.mrv.test_store import computed

ADDRESS = "0x" + "cd" * 20
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
KEY = secrets.token_bytes(32)
FACTOR = (
    ",".join(COLUMNS).encode() + b"\n"
    b"backup-test-meal-CN,1,meal,CN,2099,meal,2.4,CO2e,AR5,a menu study,https://example.org/meal,,2026-11-30,,,false,\n"
)
DOMAIN_TABLES = {
    "mrv_reports",
    "mrv_results",
    "mrv_reversals",
    "footprint_factors",
    "footprint_reports",
    "land_parcels",
    "offset_purchases",
}


def url(kind: str, tmp_path: Path, name: str, fresh_postgres: Callable[[], str]) -> str:
    return f"sqlite:///{tmp_path / name}.sqlite" if kind == "sqlite" else fresh_postgres()


def filled(engine: Engine) -> Engine:
    """A registry holding one of each thing the new domains keep."""
    create_schema(engine)
    data, result = computed("grassland_fire.csv")
    with engine.begin() as conn:
        mrv_store.put(conn, data, result)
        mrv_store.record_reversal(conn, 7, data, result)
        assert footprint_store.import_factors(conn, FACTOR, "factors.csv").added == ["backup-test-meal-CN@1"]
        vault = Vault(KEY)
        footprint_report.store(conn, vault, {"kind": "event", "total_kgco2e": 1234}, sealed=False)
        footprint_report.store(conn, vault, {"kind": "person", "total_kgco2e": 56}, sealed=True)
        land_store.save(conn, "P-511802-0001", demo_parcels("P-511802-0001"))  # land/: 3 parcels
    purchase(engine, "ab" * 32, 3, "backup-test-purchase")  # offsets/: a person's purchase, not yet retired
    return engine


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every backed-up table, in primary-key order, bytes as bytes."""
    with engine.connect() as conn:
        return {
            t.name: [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in conn.execute(select(t).order_by(*t.primary_key.columns))
            ]
            for t in backup.registry_tables()
        }


@pytest.mark.parametrize("into", ["sqlite", "postgresql"])
@pytest.mark.parametrize("source", ["sqlite", "postgresql"])
def test_every_domains_rows_round_trip_byte_for_byte(
    source: str, into: str, tmp_path: Path, fresh_postgres: Callable[[], str]
) -> None:
    origin = filled(make_engine(url(source, tmp_path, "source", fresh_postgres)))
    target = make_engine(url(into, tmp_path, "target", fresh_postgres))
    try:
        made = backup.create(origin, tmp_path / "registry.jsonl.gz", DEPLOYMENT)
        assert {name: made.rows[name] for name in sorted(DOMAIN_TABLES)} == {
            "footprint_factors": 1,
            "footprint_reports": 2,
            "land_parcels": 3,
            "offset_purchases": 1,
            "mrv_reports": 1,
            "mrv_results": 1,
            "mrv_reversals": 1,
        }
        assert set(made.header["schema_revisions"]) == {
            "certificates",
            "mrv",
            "footprint",
            "land",
            "offsets",
            "accounts",
        }
        backup.restore(target, made.path, DEPLOYMENT, key=KEY)
        before, after = dump(origin), dump(target)
        assert after == before and all(before[name] for name in DOMAIN_TABLES)
        # and so is the file: the restored database backs up to the same content hash
        again = backup.create(target, tmp_path / "again.jsonl.gz", DEPLOYMENT)
        assert again.header["sha256"] == made.header["sha256"]
        with target.connect() as conn:  # what was restored is usable: the result recomputes, the reversal counts
            stored = mrv_store.get(conn, "0x" + before["mrv_results"][0][0])
            assert stored is not None and stored.problem is None
            assert mrv_store.reversals(conn) == {7: 278_500}
            assert "backup-test-meal-CN@1" in footprint_store.imported_refs(conn)
    finally:
        origin.dispose()
        target.dispose()


def test_every_domains_version_table_is_checked(tmp_path: Path) -> None:
    """A domain added with its own migrations must be named in VERSION_TABLES, or its schema goes unchecked."""
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    create_schema(engine)
    with engine.connect() as conn:
        versions = {n for n in inspect(conn).get_table_names() if n.startswith("alembic_version")}
        revisions = backup.schema_revisions(conn)
    assert versions - set(backup.VERSION_TABLES.values()) == {"alembic_version"}  # the mirror's: rebuilt, not restored
    assert None not in revisions.values()


def rewritten(made: Path, out: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    lines = gzip.decompress(made.read_bytes()).split(b"\n")
    header = json.loads(lines[0])
    change(header)
    lines[0] = json.dumps(header).encode()
    out.write_bytes(gzip.compress(b"\n".join(lines)))
    return out


def test_a_backup_of_another_domain_revision_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    made = backup.create(filled(make_engine(f"sqlite:///{tmp_path / 'source.sqlite'}")), tmp_path / "b.gz", DEPLOYMENT)
    other = rewritten(made.path, tmp_path / "other.gz", lambda h: h["schema_revisions"].update(mrv="m0000"))
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(target, other, DEPLOYMENT, key=KEY)
    said = str(refused.value)
    assert "is of mrv schema revision m0000, this ledger's is m0001" in said and "\n" not in said, said
    assert all(not rows for rows in dump(target).values())


def test_a_backup_of_the_format_before_is_refused_in_one_line(tmp_path: Path) -> None:
    """Version 1 held the certificates and the log only: restoring it would silently drop MRV and factors."""
    made = backup.create(make_engine(f"sqlite:///{tmp_path / 'source.sqlite'}"), tmp_path / "b.gz", DEPLOYMENT)
    old = rewritten(made.path, tmp_path / "v1.gz", lambda h: h.update(version=1))
    target = make_engine(f"sqlite:///{tmp_path / 'target.sqlite'}")
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(target, old, DEPLOYMENT, key=KEY)
    said = str(refused.value)
    assert "is format version 1; this ledger reads version 2" in said and "\n" not in said, said
    assert not inspect(target).get_table_names()  # refused before even the schema was made
