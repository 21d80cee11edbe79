"""A portable backup of the registry's own data, every domain's: the certificates, their claims,
the sealed beneficiaries, the footprint reports and the transparency log (certificates/); the
monitoring reports, results and reversals (mrv/); the imported emission factors (footprint/); the
parcels' geometry (land/).
None of it can be rebuilt from the chain (the mirror can: `ledger index`), so it is what an
operator must keep.

The file is gzip'd JSON Lines: a header (format, chain id, registry, each domain's schema
revision, every table's columns and row count, the SHA-256 of the rest), then one line per row, table by table,
in primary-key order. It is read in one transaction (REPEATABLE READ on PostgreSQL, one read
transaction on SQLite), so it is one moment of the registry; rows are written in the same form
from either database, so a backup restores into SQLite or PostgreSQL alike.

The data key is not in it: the sealed rows stay sealed, and a restore checks that the key in use
opens them before it writes anything.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, LargeBinary, Table, func, inspect, select, text

from accounts import tables as accounts_tables
from certificates import models as certificate_models
from certificates.db import create_schema
from certificates.errors import ServiceError
from certificates.translog import models as log_models
from certificates.translog.models import LogEntry
from certificates.vault import Vault, VaultError, load_key
from chain.deploy import Deployment
from footprint import store as footprint_store
from indexer.db import read_snapshot
from indexer.models import AnchoredRoot
from land import models as land_models
from mrv import store as mrv_store
from offsets import models as offsets_models

FORMAT = "sichuan-ledger-certificate-backup"
VERSION = 2  # 2: every domain's tables and schema revision (1 held the certificates' and the log's only)
BATCH = 1_000
# the rows whose sealed column a restore tries to open with the key in use: (table, sealed column, record id column)
SEALED = [
    ("certificates", "sealed_fields", "id"),
    ("beneficiary_secrets", "sealed", "commitment"),
    ("footprint_reports", "sealed", "sha256"),
]


class BackupError(ServiceError):
    pass


# each domain's alembic version table (named in its migrations/env.py; certificates/db.py runs them all):
# a backup restores only into the schema it was read from, every domain's
VERSION_TABLES = {
    "certificates": "alembic_version_api",
    "mrv": "alembic_version_mrv",
    "footprint": "alembic_version_footprint",
    "land": "alembic_version_land",
    "offsets": "alembic_version_offsets",
    "accounts": "alembic_version_accounts",
}


def registry_tables() -> list[Table]:
    """Every table of the registry's own data, in the order a backup holds them."""
    return (
        list(certificate_models.TABLES)
        + list(log_models.TABLES)
        + list(mrv_store.TABLES)
        + list(footprint_store.TABLES)
        + list(land_models.TABLES)
        + list(offsets_models.TABLES)
        + list(accounts_tables.ALL)
    )


@dataclass(frozen=True)
class Summary:
    path: Path
    header: dict[str, Any]

    @property
    def rows(self) -> dict[str, int]:
        return {name: spec["rows"] for name, spec in self.header["tables"].items()}


# ------------------------------------------------------------------ create


def create(
    engine: Engine, out: Path, deployment: Deployment, *, on_table: Callable[[str, int], None] | None = None
) -> Summary:
    """Write a backup of the registry's tables to `out` (mode 0600, replaced atomically).
    `on_table(name, rows)` is called as each table is read (the command line's progress)."""
    _check_out(out)
    create_schema(engine)  # a database that never had a domain's data backs up as empty tables, not an error
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent) as body:
            header = _dump(engine, body, on_table)
            header.update(
                chain_id=deployment.chain_id,
                registry=deployment.address.lower(),
                revocations=deployment.revocations.lower(),
                deployment_block=deployment.block_number,
            )
            body.seek(0)
            _write(out, header, body)
    except OSError as exc:
        raise BackupError(
            f"cannot write the backup {out} ({exc.strerror or type(exc).__name__}); choose a writable file with --out"
        ) from None
    return Summary(out, header)


def _check_out(out: Path) -> None:
    """Refuse, before reading anything, an `out` with no file name (`.`, `/`) and an existing file
    that is not a ledger backup (the database itself, a key file): only an older backup is replaced."""
    if out.name in ("", ".", ".."):
        raise BackupError(f"cannot write the backup {out} (it names no file); choose a writable file with --out")
    if out.exists() and not out.is_dir():
        try:
            if not out.is_file():  # a device or a FIFO: never read (a FIFO would block), never replaced
                raise BackupError("not a regular file")
            read_header(out)
        except BackupError:
            raise BackupError(
                f"{out} exists and is not a ledger backup: it is never replaced by one; "
                "choose a writable file with --out (a new name, or an older backup's)"
            ) from None


def _dump(engine: Engine, body: IO[bytes], on_table: Callable[[str, int], None] | None) -> dict[str, Any]:
    """Every row of the registry's tables into `body`, read in one snapshot; the header (without the
    registry's identity) describing them."""
    digest = hashlib.sha256()
    tables: dict[str, dict[str, Any]] = {}
    with read_snapshot(engine) as conn:
        revisions = schema_revisions(conn)
        for table in registry_tables():
            count = 0
            for row in _rows(conn, table):
                line = _line(table.name, [_encode(v) for v in row])
                digest.update(line)
                body.write(line)
                count += 1
            tables[table.name] = {
                "columns": [c.name for c in table.columns],
                "binary": [c.name for c in table.columns if isinstance(c.type, LargeBinary)],
                "rows": count,
            }
            if on_table is not None:
                on_table(table.name, count)
    return {
        "format": FORMAT,
        "version": VERSION,
        "created_at": int(time.time()),
        "schema_revisions": revisions,
        "source": engine.url.get_backend_name(),
        "tables": tables,
        "sha256": digest.hexdigest(),
    }


def _write(out: Path, header: dict[str, Any], body: IO[bytes]) -> None:
    """Header and body, gzip'd, into `out` by way of a partial file: a crash leaves the previous
    backup of that name whole."""
    partial = out.with_name(out.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
                packed.write(_line(None, header))
                while chunk := body.read(1 << 20):
                    packed.write(chunk)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def _rows(conn: Connection, table: Table) -> Iterator[tuple[Any, ...]]:
    """The table in primary-key order, byte order for text on both databases (PostgreSQL would
    otherwise sort by its collation), so the same data always makes the same file body."""
    postgres = conn.dialect.name == "postgresql"
    order = [c.collate("C") if postgres and c.type.python_type is str else c for c in table.primary_key.columns]
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(select(table).order_by(*order))
    for row in result:
        yield tuple(row)


def schema_revisions(conn: Connection) -> dict[str, str | None]:
    """Each domain's schema revision (None where its migrations never ran)."""
    present = set(inspect(conn).get_table_names())
    return {
        domain: conn.execute(text(f"SELECT version_num FROM {table}")).scalar() if table in present else None
        for domain, table in VERSION_TABLES.items()
    }


def _encode(value: Any) -> Any:
    return base64.b64encode(value).decode() if isinstance(value, bytes | memoryview) else value


def _line(table: str | None, values: Any) -> bytes:
    item = values if table is None else [table, values]
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# ------------------------------------------------------------------ read and check


def read_header(path: Path) -> dict[str, Any]:
    with _open(path) as f:
        return _header(path, f)


def _open(path: Path) -> gzip.GzipFile:
    try:
        return gzip.GzipFile(path, "rb")
    except OSError as exc:
        raise BackupError(
            f"cannot read the backup {path} ({exc.strerror or type(exc).__name__}); check the path"
        ) from None


def _damaged(path: Path, why: str) -> BackupError:
    return BackupError(f"the backup {path} is damaged or not a ledger backup ({why}); use another copy")


def _header(path: Path, f: gzip.GzipFile) -> dict[str, Any]:
    try:
        header = json.loads(f.readline())
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise _damaged(path, type(exc).__name__) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _damaged(path, "no backup header")
    if header.get("version") != VERSION:
        raise BackupError(
            f"the backup {path} is format version {header.get('version')}; this ledger reads version "
            f"{VERSION}: restore it with the ledger version that wrote it"
        )
    tables = header.get("tables")
    if (
        not isinstance(tables, dict)
        or not isinstance(header.get("schema_revisions"), dict)
        or not isinstance(header.get("sha256"), str)
        or not all(
            isinstance(t, dict)
            and isinstance(t.get("columns"), list)
            and isinstance(t.get("binary"), list)
            and isinstance(t.get("rows"), int)
            for t in tables.values()
        )
    ):
        raise _damaged(path, "a malformed header")
    return header


def _entries(
    path: Path, header_check: Callable[[dict[str, Any]], None] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every row of the backup as (table, {column: value}), bytes decoded; the file's hash and row
    counts are checked when the last row has been read (a consumer commits only after that)."""
    tables = {t.name: t for t in registry_tables()}
    with _open(path) as f:
        header = _header(path, f)
        if header_check is not None:
            header_check(header)
        specs: dict[str, Any] = header["tables"]
        digest = hashlib.sha256()
        counts = dict.fromkeys(specs, 0)
        try:
            for line in f:
                digest.update(line)
                table, values = json.loads(line)
                spec = specs.get(table)
                if spec is None or table not in tables or len(values) != len(spec["columns"]):
                    raise _damaged(path, f"an unexpected row of {table!r}")
                row = dict(zip(spec["columns"], values, strict=True))
                for name in spec["binary"]:
                    if row[name] is not None:
                        row[name] = base64.b64decode(row[name], validate=True)
                counts[table] += 1
                yield table, row
        except (OSError, EOFError, zlib.error, ValueError, TypeError, KeyError) as exc:
            raise _damaged(path, type(exc).__name__) from None
    if digest.hexdigest() != header.get("sha256"):
        raise _damaged(path, "its content does not match the SHA-256 in its header")
    expected = {name: spec["rows"] for name, spec in specs.items()}
    if counts != expected:
        raise _damaged(path, f"row counts {counts} differ from its header's {expected}")


def check_identity(header: dict[str, Any], deployment: Deployment, path: Path) -> None:
    if header.get("chain_id") != deployment.chain_id or header.get("registry") != deployment.address.lower():
        raise BackupError(
            f"the backup {path} is of registry {header.get('registry')} on chain {header.get('chain_id')}, "
            f"not the configured {deployment.address.lower()} on chain {deployment.chain_id}: set "
            "LEDGER_CHAIN_ID and LEDGER_DEPLOYMENTS_DIR to the registry it belongs to"
        )


def check_schema(header: dict[str, Any], revisions: dict[str, str | None], path: Path) -> None:
    tables = {t.name: [c.name for c in t.columns] for t in registry_tables()}
    shown = {name: spec.get("columns") for name, spec in header.get("tables", {}).items()}
    theirs = header.get("schema_revisions", {})
    for domain, revision in revisions.items():
        if theirs.get(domain) != revision:
            raise BackupError(
                f"the backup {path} is of {domain} schema revision {theirs.get(domain)}, this ledger's "
                f"is {revision}: restore it with the ledger version that wrote it, then upgrade"
            )
    if shown != tables:  # same schema, other columns or tables: an edited header
        raise _damaged(path, "its header's tables differ from its schema revisions'")


def verify(path: Path, deployment: Deployment, *, key: bytes | None = None) -> dict[str, Any]:
    """Read the whole backup without writing anything: its header, that it is this registry's, its
    hash and row counts; then open one sealed row of each kind with the key in use (LEDGER_DATA_KEY
    or its file unless `key` is given). Returns the header; refuses with one line."""
    wanted = {table: (column, ident) for table, column, ident in SEALED}
    samples: list[tuple[str, bytes]] = []
    for table, row in _entries(path, lambda h: check_identity(h, deployment, path)):
        if table in wanted and row[wanted[table][0]] is not None:
            column, ident = wanted.pop(table)
            samples.append((row[ident], row[column]))
    if samples:  # only now: a damaged sealed value would otherwise pass for a wrong key
        vault = Vault(key if key is not None else load_key(create=False))
        for record_id, sealed in samples:
            try:
                vault.open(record_id, sealed)
            except VaultError:
                raise BackupError(
                    f"the data key in use does not open the sealed personal data in {path}: set "
                    "LEDGER_DATA_KEY or LEDGER_DATA_KEY_FILE to the key of the registry that wrote it"
                ) from None
    return read_header(path)


# ------------------------------------------------------------------ restore


def restore(engine: Engine, path: Path, deployment: Deployment, *, key: bytes | None = None) -> Summary:
    """Load a backup into a database whose registry tables are empty: the whole file is checked
    first (header, identity, schema, the data key, hash and counts), then written in one transaction
    whose counts are checked again before it commits. The mirror is not touched: index the chain
    next (`ledger index --once`)."""
    header = read_header(path)
    check_identity(header, deployment, path)
    create_schema(engine)
    with engine.connect() as conn:
        check_schema(header, schema_revisions(conn), path)
        _require_empty(conn)
    verify(path, deployment, key=key)  # all of it, before anything is written
    tables = {t.name: t for t in registry_tables()}
    with engine.begin() as conn:
        _require_empty(conn)
        batch: list[dict[str, Any]] = []
        current = ""  # the table of the rows in `batch` (none yet)
        for table, row in _entries(path, lambda h: check_identity(h, deployment, path)):
            if table != current or len(batch) >= BATCH:
                if batch:
                    conn.execute(tables[current].insert(), batch)
                batch, current = [], table
            batch.append(row)
        if batch:
            conn.execute(tables[current].insert(), batch)
        counts = {name: conn.execute(select(func.count()).select_from(t)).scalar() for name, t in tables.items()}
        expected = {name: spec["rows"] for name, spec in header["tables"].items()}
        if counts != expected:
            raise BackupError(
                f"after loading {path} the database holds {counts} rows, not {expected}; nothing was kept"
            )
    return Summary(path, header)


def _require_empty(conn: Connection) -> None:
    filled = [t.name for t in registry_tables() if conn.execute(select(1).select_from(t).limit(1)).first() is not None]
    if filled:
        url = conn.engine.url.render_as_string(hide_password=True)
        raise BackupError(
            f"the database {url} already holds registry data ({', '.join(filled)}); restore only "
            "into an empty database (a new SQLite file or PostgreSQL database in DATABASE_URL)"
        )


def log_behind_chain(engine: Engine) -> tuple[int, int] | None:
    """(entries in the restored log, largest tree size anchored on chain) when the chain has anchored
    more of the log than the database holds: certificates issued after the backup are missing.
    Needs the mirror caught up with the chain."""
    with engine.connect() as conn:
        size = conn.execute(select(func.count()).select_from(LogEntry)).scalar() or 0
        anchored = conn.execute(select(func.max(AnchoredRoot.tree_size))).scalar() or 0
    return (size, anchored) if anchored > size else None
