"""Monitoring reports and their results, stored content-addressed in the registry's database (the
same one as the mirror and the certificates; tables migrated by mrv/migrations/).

A report is kept as its file's bytes under their sha256; a result as its canonical JSON under its
sha256, which is the batch's verification-report hash on chain. So a batch finds its result by the
hash the chain holds, and the result names its report and methodology bundle by theirs: nothing
here needs a batch id, and a put of what is already stored changes nothing.

A report holds no personal data: its sections and columns are fixed (docs/mrv.md), a loaded
report has been checked against them, and what is served is its parsed records (`sections`),
never its bytes (a CSV comment line stays in the stored bytes, for the hash, and is not published)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Connection, LargeBinary, Text, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col

import mrv
from chain.canonical import sha256_hex
from mrv.compute import Result
from mrv.readers import read


class StoredReport(SQLModel, table=True):
    __tablename__ = "mrv_reports"
    sha256: str = Field(primary_key=True)  # hex, of `body`
    body: bytes = Field(sa_type=LargeBinary)  # the report file's bytes, JSON or sectioned CSV


class StoredResult(SQLModel, table=True):
    __tablename__ = "mrv_results"
    sha256: str = Field(primary_key=True)  # hex, of `body`: the batch's verification-report hash
    report_sha256: str = Field(index=True)
    methodology_id: str
    methodology_version: int
    bundle_sha256: str
    quantity_kg: int = Field(sa_type=BigInteger)
    reversal_kg: int = Field(sa_type=BigInteger)
    body: str = Field(sa_type=Text)  # the result's canonical JSON


class StoredReversal(SQLModel, table=True):
    """A later report's loss charged to a batch's reserve (`ledger mrv reversal`)."""

    __tablename__ = "mrv_reversals"
    batch_id: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False})
    result_sha256: str = Field(primary_key=True)
    reversal_kg: int = Field(sa_type=BigInteger)


TABLES = [StoredReport.__table__, StoredResult.__table__, StoredReversal.__table__]  # type: ignore[attr-defined]  # SQLModel sets __table__ at class creation


class StoreError(ValueError):
    """Stored bytes that no longer hash to their key, or a result that does not recompute."""


@dataclass(frozen=True)
class Stored:
    """A stored result with its report's bytes; `problem` says why it cannot be trusted, if so."""

    result_sha256: str
    document: dict[str, Any]
    report: bytes | None
    quantity_kg: int
    reversal_kg: int
    methodology: str  # ID@VERSION
    problem: str | None = None

    def recompute(self) -> Result:
        """The result again from the stored report and the shipped bundle it names (StoreError,
        ReportErrors or MethodologyError when it cannot be)."""
        if self.problem is not None:
            raise StoreError(self.problem)
        if self.report is None:
            raise StoreError(f"result {self.result_sha256[:16]}…: its report is not stored; restore it from a backup")
        return _recompute(self.report, self.methodology)


@functools.lru_cache(maxsize=256)
def _recompute(report_bytes: bytes, methodology: str) -> Result:
    """A report's result is a function of its bytes and its methodology version (both immutable,
    the code fixed for the process), so a page asked for again is not recomputed: the monitoring
    route answered each request with a full recomputation. Keyed by the bytes, not the row's
    hash, so a damaged row is recomputed, never answered from before the damage."""
    report = mrv.parse_report(report_bytes, f"report {sha256_hex(report_bytes)[:16]}")
    return mrv.compute(report, mrv.reference(methodology))


def _put(conn: Connection, table: Any, key: str, row: dict[str, Any]) -> None:
    """Insert unless present; a key already stored must hold the same bytes (content addressing)."""
    found = conn.execute(select(table.body).where(table.sha256 == key)).scalar()
    if found is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(sha256=key, **row))
            return
        except IntegrityError:  # stored meanwhile by another process: compare with theirs
            found = conn.execute(select(table.body).where(table.sha256 == key)).scalar()
    if not _same(found, row["body"]):
        raise StoreError(f"{table.__tablename__} {key[:16]}… holds other bytes than its hash; restore it from a backup")


def _same(found: Any, body: bytes | str) -> bool:
    return (bytes(found) if isinstance(found, memoryview) else found) == body


def put(conn: Connection, report: bytes, result: Result) -> str:
    """Store a report and its result (idempotent); returns the result's sha256."""
    if sha256_hex(report) != result.report_sha256:
        raise StoreError("the result was computed from another report than the bytes given; recompute it")
    _put(conn, StoredReport, result.report_sha256, {"body": report})
    _put(
        conn,
        StoredResult,
        result.sha256,
        {
            "report_sha256": result.report_sha256,
            "methodology_id": result.methodology_id,
            "methodology_version": result.methodology_version,
            "bundle_sha256": result.methodology_sha256,
            "quantity_kg": result.quantity_kg,
            "reversal_kg": result.reversal_kg,
            "body": result.canonical().decode(),
        },
    )
    return result.sha256


def record_reversal(conn: Connection, batch_id: int, report: bytes, result: Result, kg: int | None = None) -> int:
    """Store a later report and charge `kg` of its loss (all of it by default) to a batch's reserve;
    a charge already recorded for this batch and report stands (a re-run changes nothing). Returns
    the kilograms charged to the batch for this report."""
    put(conn, report, result)
    exists = conn.execute(
        select(col(StoredReversal.reversal_kg)).where(
            col(StoredReversal.batch_id) == batch_id, col(StoredReversal.result_sha256) == result.sha256
        )
    ).scalar()
    if exists is not None:
        return int(exists)
    charge = result.reversal_kg if kg is None else kg
    conn.execute(insert(StoredReversal).values(batch_id=batch_id, result_sha256=result.sha256, reversal_kg=charge))
    return charge


def charged(conn: Connection, result_sha256: str) -> dict[int, int]:
    """batch id → kilograms of this result's loss charged to its reserve (the loss may be spread
    over several batches when one reserve does not hold it all)."""
    rows = conn.execute(
        select(col(StoredReversal.batch_id), col(StoredReversal.reversal_kg)).where(
            col(StoredReversal.result_sha256) == result_sha256
        )
    )
    return {int(b): int(kg) for b, kg in rows}


def reversals(conn: Connection) -> dict[int, int]:
    """batch id → kilograms of reversal charged to its reserve, over every recorded later report."""
    out: dict[int, int] = {}
    for batch_id, kg in conn.execute(select(col(StoredReversal.batch_id), col(StoredReversal.reversal_kg))):
        out[batch_id] = out.get(batch_id, 0) + kg
    return out


def _hex(verification_hash: str) -> str:
    return verification_hash.lower().removeprefix("0x")


def get(conn: Connection, verification_hash: str) -> Stored | None:
    """The stored result whose sha256 is this (0x-)hex hash, with its report; None if none is."""
    return found(conn, [verification_hash]).get(_hex(verification_hash))


def found(conn: Connection, hashes: Iterable[str]) -> dict[str, Stored]:
    """Stored results among these hashes (key: lowercase hex without 0x), each checked against its key."""
    keys = sorted({_hex(h) for h in hashes})
    out: dict[str, Stored] = {}
    for start in range(0, len(keys), 500):  # bound the IN list
        chunk = keys[start : start + 500]
        rows: list[Any] = conn.execute(
            select(
                col(StoredResult.sha256),
                col(StoredResult.body),
                col(StoredResult.report_sha256),
                col(StoredResult.methodology_id),
                col(StoredResult.methodology_version),
                col(StoredResult.quantity_kg),
                col(StoredResult.reversal_kg),
                col(StoredReport.body).label("report"),
            )
            .join(StoredReport, col(StoredReport.sha256) == col(StoredResult.report_sha256), isouter=True)
            .where(col(StoredResult.sha256).in_(chunk))
        ).all()  # type: ignore[assignment]  # Row is a tuple subclass
        for row in rows:
            out[row.sha256] = _stored(row)
    return out


def _stored(row: Any) -> Stored:
    key, body, report = row.sha256, row.body, row.report
    data = bytes(report) if report is not None else None
    problem = None
    if sha256_hex(body.encode()) != key:
        problem = f"stored result {key[:16]}… no longer hashes to its key; restore it from a backup"
    elif data is not None and sha256_hex(data) != row.report_sha256:
        problem = f"stored report {row.report_sha256[:16]}… no longer hashes to its key; restore it from a backup"
    try:
        document = json.loads(body)
    except ValueError:
        document, problem = {}, problem or f"stored result {key[:16]}… is not JSON; restore it from a backup"
    return Stored(
        result_sha256=key,
        document=document,
        report=data,
        quantity_kg=row.quantity_kg,
        reversal_kg=row.reversal_kg,
        methodology=f"{row.methodology_id}@{row.methodology_version}",
        problem=problem,
    )


def sections(report: bytes) -> dict[str, list[dict[str, Any]]]:
    """A stored report in parsed form: each section's records as objects (the columns docs/mrv.md fixes)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, section in read(report, "report").items():
        keys = list(section.columns)
        out[name] = [
            {k: section.columns[k][i] for k in keys if section.columns[k][i] is not None} for i in range(len(section))
        ]
    return out
