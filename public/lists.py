"""The public lists (公示), read from the mirror: what each list shows, how it filters, its order.

Every list sorts by a unique key (an id, or (block, log index) for history), so keyset pagination
(`page`) is stable and an export (`stream`, public/export.py) is the same rows in the same order.
Only what the chain itself publishes is shown: account addresses, amounts, hashes. A retirement's
beneficiary is a salted commitment (a hash); no name, id number or account text of a person is
in the mirror, so none can reach a list."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Select, Table, func, literal, select, tuple_

from indexer.models import (
    BatchRow,
    Cancellation,
    ExportRow,
    MethodologyRow,
    ParticipantRow,
    ParticipantStatusChange,
    ProjectRow,
    Retirement,
)
from public import cursor
from public.errors import PublicQueryError
from public.filters import SANCTIONS, parse

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _table(model: type) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # SQLModel sets __table__ at run time


P, B, M = _table(ProjectRow), _table(BatchRow), _table(MethodologyRow)
R, C, E = _table(Retirement), _table(Cancellation), _table(ExportRow)
PA, SC = _table(ParticipantRow), _table(ParticipantStatusChange)


@dataclass(frozen=True)
class Column:
    name: str
    label: str  # Chinese and English, for the pages' table heads


@dataclass(frozen=True)
class ListSpec:
    name: str
    title: str  # Chinese and English
    record_type: str  # the `record_type` of its rows in exports (docs/public-registry.md)
    columns: tuple[Column, ...]
    filters: dict[str, str]  # query parameter -> parser (public/filters.py)
    build: Callable[[dict[str, Any]], Select[Any]]  # the select of `columns`, filtered, not yet ordered
    keys: tuple[str, ...]  # the unique sort key, a subset of `columns`
    key_types: tuple[type, ...]
    descending: bool = False
    key_columns: Callable[[], tuple[ColumnElement[Any], ...]] = field(default=lambda: ())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None


def _period(table: Table, f: dict[str, Any]) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if "from_block" in f:
        out.append(table.c.block_number >= f["from_block"])
    if "to_block" in f:
        out.append(table.c.block_number <= f["to_block"])
    return out


def _projects(f: dict[str, Any]) -> Select[Any]:
    q = select(
        P.c.id,
        P.c.methodology_id,
        M.c.ecosystem,
        P.c.county_code,
        P.c.owner,
        P.c.status,
        P.c.area_square_metres,
        P.c.crediting_start,
        P.c.crediting_end,
        P.c.batch_count,
        P.c.documents_hash,
        P.c.review_report_hash,
    ).select_from(P.outerjoin(M, M.c.id == P.c.methodology_id))
    equal = {
        "county": P.c.county_code,
        "ecosystem": M.c.ecosystem,
        "methodology": func.upper(P.c.methodology_id),  # one spelling (public/filters.py)
        "status": P.c.status,
        "owner": P.c.owner,
    }
    return q.where(*[equal[k] == v for k, v in f.items()])


def _batches(f: dict[str, Any]) -> Select[Any]:
    circulating = B.c.issued - B.c.retired - B.c.cancelled
    q = select(
        B.c.id,
        B.c.project_id,
        B.c.vintage,
        B.c.issued.label("issued_kg"),
        B.c.retired.label("retired_kg"),
        B.c.cancelled.label("cancelled_kg"),
        B.c.reserve_amount.label("reserve_kg"),
        circulating.label("circulating_kg"),
        B.c.first_serial,
        (B.c.first_serial + B.c.issued - 1).label("last_serial"),
        B.c.monitoring_start,
        B.c.monitoring_end,
        B.c.verification_report_hash,
        B.c.origin_registry,
        B.c.block_number,
        B.c.tx_hash,
    )
    if "supply" in f:
        q = q.where(circulating > 0 if f["supply"] == "circulating" else circulating <= 0)
    equal = {"project": B.c.project_id, "vintage": B.c.vintage}
    return q.where(*[equal[k] == v for k, v in f.items() if k in equal])


def _retirements(f: dict[str, Any]) -> Select[Any]:
    q = select(
        R.c.id,
        R.c.batch_id,
        B.c.project_id,
        B.c.vintage,
        R.c.amount.label("amount_kg"),
        R.c.scenario,
        R.c.holder,
        R.c.operator,
        R.c.beneficiary_commitment,
        R.c.claim_hash,
        R.c.block_number,
        R.c.log_index,
        R.c.tx_hash,
    ).select_from(R.outerjoin(B, B.c.id == R.c.batch_id))
    where = _period(R, f)
    if "scenario" in f:
        where.append(R.c.scenario == f["scenario"])
    if "batch" in f:
        where.append(R.c.batch_id == f["batch"])
    if "project" in f:  # through the batch index: a project has few batches
        where.append(R.c.batch_id.in_(select(B.c.id).where(B.c.project_id == f["project"])))
    return q.where(*where)


def _cancellations(f: dict[str, Any]) -> Select[Any]:
    q = select(
        C.c.id,
        C.c.batch_id,
        B.c.project_id,
        B.c.vintage,
        C.c.amount.label("amount_kg"),
        C.c.reason,
        C.c.evidence_hash,
        C.c.export_id,
        C.c.holder,
        C.c.block_number,
        C.c.log_index,
        C.c.tx_hash,
    ).select_from(C.outerjoin(B, B.c.id == C.c.batch_id))
    where = _period(C, f)
    if "reason" in f:
        where.append(C.c.reason == f["reason"])
    if "batch" in f:
        where.append(C.c.batch_id == f["batch"])
    if "project" in f:
        where.append(C.c.batch_id.in_(select(B.c.id).where(B.c.project_id == f["project"])))
    return q.where(*where)


def _exports(f: dict[str, Any]) -> Select[Any]:
    q = select(
        E.c.id,
        E.c.batch_id,
        B.c.project_id,
        E.c.amount.label("amount_kg"),
        E.c.holder,
        E.c.destination_registry,
        E.c.destination_account,
        E.c.status,
        E.c.destination_reference,
    ).select_from(E.outerjoin(B, B.c.id == E.c.batch_id))
    where = []
    if "status" in f:
        where.append(E.c.status == f["status"])
    if "batch" in f:
        where.append(E.c.batch_id == f["batch"])
    return q.where(*where)


def _reserve(f: dict[str, Any]) -> Select[Any]:
    q = select(
        B.c.id.label("batch_id"),
        B.c.project_id,
        B.c.vintage,
        B.c.reserve_amount.label("reserve_kg"),
        B.c.issued.label("issued_kg"),
        B.c.block_number,
        B.c.tx_hash,
    ).where(B.c.reserve_amount > 0)
    if "project" in f:
        q = q.where(B.c.project_id == f["project"])
    if "vintage" in f:
        q = q.where(B.c.vintage == f["vintage"])
    return q


def _methodologies(f: dict[str, Any]) -> Select[Any]:
    q = select(M.c.id, M.c.ecosystem, M.c.version, M.c.status, M.c.successor_id, M.c.document_hash)
    if "ecosystem" in f:
        q = q.where(M.c.ecosystem == f["ecosystem"])
    if "status" in f:
        q = q.where(M.c.status == f["status"])
    return q


def _participants(f: dict[str, Any]) -> Select[Any]:
    q = select(PA.c.address, PA.c.kind, PA.c.status, PA.c.reference_hash)
    if "kind" in f:
        q = q.where(PA.c.kind == f["kind"])
    if "status" in f:
        q = q.where(PA.c.status == f["status"])
    return q


def _status_changes(f: dict[str, Any], only: tuple[str, ...] = ()) -> Select[Any]:
    q = select(
        SC.c.address,
        PA.c.kind,
        SC.c.previous,
        SC.c.status,
        PA.c.status.label("current_status"),
        SC.c.reason_hash,
        SC.c.block_number,
        SC.c.log_index,
        SC.c.tx_hash,
    ).select_from(SC.outerjoin(PA, PA.c.address == SC.c.address))
    where = []
    if only:
        where.append(SC.c.status.in_(only))
    if "address" in f:
        where.append(SC.c.address == f["address"])
    if "status" in f:
        where.append(SC.c.status == f["status"])
    return q.where(*where)


def _c(*names: str) -> tuple[Column, ...]:
    """Columns from "name=标签 Label" pairs."""
    return tuple(Column(*pair.split("=", 1)) for pair in names)


BLOCK_KEY = ("block_number", "log_index")
SPECS: dict[str, ListSpec] = {
    s.name: s
    for s in [
        ListSpec(
            "projects",
            "项目 Projects",
            "project",
            _c(
                "id=项目 Project",
                "methodology_id=方法学 Methodology",
                "ecosystem=生态系统 Ecosystem",
                "county_code=县 County",
                "owner=业主 Owner",
                "status=状态 Status",
                "area_square_metres=面积 m²",
                "crediting_start=计入期始 Crediting start",
                "crediting_end=计入期止 Crediting end",
                "batch_count=批次数 Batches",
                "documents_hash=文件哈希 Documents hash",
                "review_report_hash=审核报告哈希 Review report hash",
            ),
            {"county": "county", "ecosystem": "ecosystem", "methodology": "methodology", "status": "project_status"}
            | {"owner": "owner"},
            _projects,
            ("id",),
            (str,),
            key_columns=lambda: (P.c.id,),
        ),
        ListSpec(
            "batches",
            "批次 Batches",
            "batch",
            _c(
                "id=批次 Batch",
                "project_id=项目 Project",
                "vintage=年份 Vintage",
                "issued_kg=签发 Issued kg",
                "retired_kg=注销 Retired kg",
                "cancelled_kg=作废 Cancelled kg",
                "reserve_kg=储备 Reserve kg",
                "circulating_kg=流通 Circulating kg",
                "first_serial=首序号 First serial",
                "last_serial=末序号 Last serial",
                "monitoring_start=监测期始 Monitoring start",
                "monitoring_end=监测期止 Monitoring end",
                "verification_report_hash=核证报告哈希 Verification report hash",
                "origin_registry=来源登记簿 Origin registry",
                "block_number=区块 Block",
                "tx_hash=交易 Transaction",
            ),
            {"project": "project", "vintage": "vintage", "supply": "supply"},
            _batches,
            ("id",),
            (int,),
            key_columns=lambda: (B.c.id,),
        ),
        ListSpec(
            "retirements",
            "注销 Retirements",
            "retirement",
            _c(
                "id=注销编号 Retirement id",
                "batch_id=批次 Batch",
                "project_id=项目 Project",
                "vintage=年份 Vintage",
                "amount_kg=数量 kg",
                "scenario=场景 Scenario",
                "holder=持有人 Holder",
                "operator=操作人 Operator",
                "beneficiary_commitment=受益人承诺(哈希) Beneficiary commitment",
                "claim_hash=声明哈希 Claim hash",
                "block_number=区块 Block",
                "log_index=日志序号 Log index",
                "tx_hash=交易 Transaction",
            ),
            {"scenario": "scenario", "batch": "batch", "project": "project"}
            | {"from_block": "from_block", "to_block": "to_block"},
            _retirements,
            BLOCK_KEY,
            (int, int),
            descending=True,
            key_columns=lambda: (R.c.block_number, R.c.log_index),
        ),
        ListSpec(
            "cancellations",
            "作废 Cancellations",
            "cancellation",
            _c(
                "id=作废编号 Cancellation id",
                "batch_id=批次 Batch",
                "project_id=项目 Project",
                "vintage=年份 Vintage",
                "amount_kg=数量 kg",
                "reason=原因 Reason",
                "evidence_hash=证据哈希 Evidence hash",
                "export_id=转出编号 Export id",
                "holder=持有人 Holder",
                "block_number=区块 Block",
                "log_index=日志序号 Log index",
                "tx_hash=交易 Transaction",
            ),
            {"reason": "reason", "batch": "batch", "project": "project"}
            | {"from_block": "from_block", "to_block": "to_block"},
            _cancellations,
            BLOCK_KEY,
            (int, int),
            descending=True,
            key_columns=lambda: (C.c.block_number, C.c.log_index),
        ),
        ListSpec(
            "exports",
            "转出 Exports",
            "export",
            _c(
                "id=转出编号 Export id",
                "batch_id=批次 Batch",
                "project_id=项目 Project",
                "amount_kg=数量 kg",
                "holder=持有人 Holder",
                "destination_registry=目的登记簿 Destination registry",
                "destination_account=目的账户(哈希) Destination account",
                "status=状态 Status",
                "destination_reference=目的登记簿回执 Destination reference",
            ),
            {"status": "export_status", "batch": "batch"},
            _exports,
            ("id",),
            (str,),
            key_columns=lambda: (E.c.id,),
        ),
        ListSpec(
            "reserve",
            "储备 Reserve (buffer)",
            "reserve_deposit",
            _c(
                "batch_id=批次 Batch",
                "project_id=项目 Project",
                "vintage=年份 Vintage",
                "reserve_kg=存入储备 Reserve kg",
                "issued_kg=签发 Issued kg",
                "block_number=区块 Block",
                "tx_hash=交易 Transaction",
            ),
            {"project": "project", "vintage": "vintage"},
            _reserve,
            ("batch_id",),
            (int,),
            key_columns=lambda: (B.c.id,),
        ),
        ListSpec(
            "methodologies",
            "方法学 Methodologies",
            "methodology",
            _c(
                "id=方法学 Methodology",
                "ecosystem=生态系统 Ecosystem",
                "version=版本 Version",
                "status=状态 Status",
                "successor_id=后继版本 Successor",
                "document_hash=文件哈希 Document hash",
            ),
            {"ecosystem": "ecosystem", "status": "methodology_status"},
            _methodologies,
            ("id",),
            (str,),
            key_columns=lambda: (M.c.id,),
        ),
        ListSpec(
            "participants",
            "参与方 Participants",
            "participant",
            _c(
                "address=账户 Account",
                "kind=类别 Kind",
                "status=状态 Status",
                "reference_hash=登记材料哈希 Reference hash",
            ),
            {"kind": "kind", "status": "participant_status"},
            _participants,
            ("address",),
            (str,),
            key_columns=lambda: (PA.c.address,),
        ),
        ListSpec(
            "status_changes",
            "参与方状态变更 Participant status changes",
            "participant_status_change",
            _c(
                "address=账户 Account",
                "kind=类别 Kind",
                "previous=原状态 Previous",
                "status=新状态 Status",
                "current_status=当前状态 Current status",
                "reason_hash=理由文件哈希 Reason document hash",
                "block_number=区块 Block",
                "log_index=日志序号 Log index",
                "tx_hash=交易 Transaction",
            ),
            {"address": "address", "status": "participant_status"},
            _status_changes,
            BLOCK_KEY,
            (int, int),
            descending=True,
            key_columns=lambda: (SC.c.block_number, SC.c.log_index),
        ),
        ListSpec(
            "sanctions",
            "处理通报 Sanctions notices",
            "sanction",
            _c(
                "address=账户 Account",
                "kind=类别 Kind",
                "previous=原状态 Previous",
                "status=处理 Sanction",
                "current_status=当前状态 Current status",
                "reason_hash=理由文件哈希 Reason document hash",
                "block_number=区块 Block",
                "log_index=日志序号 Log index",
                "tx_hash=交易 Transaction",
            ),
            {"address": "address", "status": "sanction"},
            lambda f: _status_changes(f, SANCTIONS),
            BLOCK_KEY,
            (int, int),
            descending=True,
            key_columns=lambda: (SC.c.block_number, SC.c.log_index),
        ),
    ]
}


def spec(name: str) -> ListSpec:
    found = SPECS.get(name)
    if found is None:
        raise PublicQueryError(f"no list {name[:40]!r}; the lists are {', '.join(SPECS)}")
    return found


def _after(s: ListSpec, key: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows after `key` in the list's order: a row-value comparison, (a, b) < (x, y), which both
    databases read as a range of the index on (a, b) (a OR of ANDs is not, on PostgreSQL)."""
    cols = s.key_columns()
    here: ColumnElement[Any] = cols[0] if len(cols) == 1 else tuple_(*cols)
    there: ColumnElement[Any] = literal(key[0]) if len(cols) == 1 else tuple_(*[literal(k) for k in key])
    return here < there if s.descending else here > there


def ordered(s: ListSpec, f: dict[str, Any]) -> Select[Any]:
    cols = s.key_columns()
    return s.build(f).order_by(*[c.desc() if s.descending else c.asc() for c in cols])


def query(name: str, given: Mapping[str, str | None]) -> tuple[ListSpec, dict[str, Any]]:
    """The list and its parsed filters: PublicQueryError before any SQL runs."""
    s = spec(name)
    return s, parse(s.filters, given)


def page(
    conn: Connection,
    name: str,
    given: Mapping[str, str | None],
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """One page of the list `name`, filtered by `given` (query parameter -> text), after the
    position `after` (a cursor from the previous page)."""
    s, f = query(name, given)
    if not 1 <= limit <= MAX_LIMIT:
        raise PublicQueryError(f"limit is 1..{MAX_LIMIT}, not {limit}")
    q = ordered(s, f)
    if after:
        q = q.where(_after(s, cursor.decode(s.name, after, s.key_types)))
    rows = [dict(r._mapping) for r in conn.execute(q.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = cursor.encode(s.name, tuple(rows[-1][k] for k in s.keys)) if more else None
    return Page(rows, nxt)


def rows(conn: Connection, s: ListSpec, f: dict[str, Any], *, chunk: int = 5000) -> Iterator[Sequence[Sequence[Any]]]:
    """Every row of the list in its order, in chunks (columns as `s.names`), for exports: a
    server-side cursor on PostgreSQL, SQLite's own stepping otherwise, so memory stays flat. The
    driver's cursor directly: SQLAlchemy's row objects cost as much as the database's own work
    (bench/public_registry.py)."""
    compiled = ordered(s, f).compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    conn.exec_driver_sql("SELECT 1")  # the connection's transaction, as SQLAlchemy begins it
    raw = conn.connection.driver_connection
    assert raw is not None
    params: Any
    if conn.dialect.name == "postgresql":
        cur = raw.cursor(name=f"public_export_{next(_cursor_names)}")
        cur.itersize = chunk
        params = compiled.params
    else:
        cur = raw.cursor()
        params = [compiled.params[n] for n in compiled.positiontup or []]
    try:
        cur.execute(str(compiled), params)
        while part := cur.fetchmany(chunk):
            yield part
    finally:
        cur.close()


_cursor_names = itertools.count()


def reserve_total(conn: Connection) -> int:
    """kg put into the reserve over every batch (the reserve list's total)."""
    return int(conn.execute(select(func.coalesce(func.sum(B.c.reserve_amount), 0))).scalar() or 0)
