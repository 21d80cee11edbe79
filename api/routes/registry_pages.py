"""The public registry for people (公示, Chinese and English): a page per list with its filters,
the sanctions notices, the statistics dashboard with server-drawn SVG charts; and the downloads:
every list streamed as CSV or JSON Lines, each chart's numbers as CSV, published reason documents.

Pages get typed models built here; the templates (api/templates/registry/) only place them, and
autoescape every value. The one piece of markup passed in is a chart's SVG, which public/charts.py
builds with every label escaped."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy import Connection
from starlette.types import Message, Receive, Scope, Send

from api.admission import busy_response
from api.problems import ApiProblem
from api.routes.deps import connection, context
from api.routes.registry import answer_head, history, published_documents, sanction_rows
from api.templates import render
from certificates.context import ServiceContext
from public import charts, export, lists, snapshot, stats
from public.errors import PublicQueryError
from public.filters import PARSERS

router = APIRouter(prefix="/registry", tags=["public registry pages"])
log = logging.getLogger(__name__)

# full exports streaming at once per process: each holds a pooled connection for as long as its client
# reads, and the /registry paths are not under admission control (api/admission.py), so without a
# bound 20 slow downloads would hold the whole pool the API answers from. Illustrative: a quarter
# of the default pool of 16 (certificates/db.py `api_engine`).
EXPORTS_AT_ONCE = 4
EXPORT_SLOTS = threading.BoundedSemaphore(EXPORTS_AT_ONCE)
# seconds an export waits for its client to take the next chunk: a client that stops reading (or
# reads a byte a minute) would otherwise hold a slot and a connection for as long as it likes, and
# four such clients would close the downloads to everyone. A send waits for the client to drain its
# chunk (5,000 rows, ~1 MB) and room in the kernel's send buffer: with a 1 s limit a client reading
# steadily at 1 MB/s was cut off (tests/hardening/test_review_20261201.py), so 120 s asks for
# roughly 10-20 KB/s, a slow mobile line
EXPORT_STALL_SECONDS = 120.0

PAGES = ("projects", "batches", "retirements", "cancellations", "exports", "reserve", "methodologies", "participants")
NAV = [(f"/registry/{n}", lists.SPECS[n].title) for n in PAGES] + [
    ("/registry/sanctions", lists.SPECS["sanctions"].title),
    ("/registry/statistics", "统计 Statistics"),
]
HASHES = {"documents_hash", "review_report_hash", "verification_report_hash", "tx_hash", "beneficiary_commitment"} | {
    "claim_hash",
    "evidence_hash",
    "reason_hash",
    "document_hash",
    "reference_hash",
    "destination_account",
    "holder",
    "operator",
    "owner",
    "address",
}


@dataclass(frozen=True)
class Cell:
    text: str
    cls: str = ""
    href: str = ""


@dataclass(frozen=True)
class Row:
    key: str
    cells: list[Cell]


@dataclass(frozen=True)
class FilterField:
    name: str
    value: str
    help: str


@dataclass(frozen=True)
class ListPage:
    title: str
    path: str
    labels: list[str]
    rows: list[Row]
    filters: list[FilterField]
    csv_url: str
    jsonl_url: str
    next_url: str | None = None
    error: str = ""
    note: str = ""


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: Markup
    rows: list[stats.Bucket]
    csv_url: str


@dataclass(frozen=True)
class StatisticsPage:
    title: str
    tip_block: int
    totals: stats.Bucket
    charts: list[Chart]


@dataclass(frozen=True)
class Notice:
    address: str
    kind: str
    previous: str
    status: str
    status_label: str
    current_status: str
    date: str | None
    block_number: int
    tx_hash: str
    reason_hash: str
    document_url: str | None


@dataclass(frozen=True)
class SanctionsPage:
    title: str
    notices: list[Notice]
    csv_url: str
    jsonl_url: str
    next_url: str | None


@dataclass(frozen=True)
class HomePage:
    title: str
    snapshots: list[snapshot.SnapshotProof] = field(default_factory=list)


SANCTION_LABELS = {"restricted": "限制 Restricted", "suspended": "暂停 Suspended", "revoked": "撤销 Revoked"}


def _html(template: str, page: Any, status: int = 200) -> HTMLResponse:
    return HTMLResponse(render(f"registry/{template}", page=page, nav=NAV), status_code=status)


def _given(request: Request) -> dict[str, str | None]:
    """The filters of the query string (one this list does not know is reported by public.filters)."""
    return {k: v for k, v in request.query_params.items() if k not in ("after", "limit")}


def _limit(request: Request) -> int:
    text = request.query_params.get("limit") or str(lists.DEFAULT_LIMIT)
    # ASCII digits only, and few: "²".isdigit() is true yet int("²") raises, as does a 5,000-digit limit
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise PublicQueryError(f"limit is a whole number 1..{lists.MAX_LIMIT}, not {text[:20]!r}")
    return int(text)


def _cell(name: str, value: Any) -> Cell:
    if value is None:
        return Cell("—", "muted")
    if isinstance(value, int):
        return Cell(f"{value:,}" if name.endswith("_kg") or name == "area_square_metres" else str(value), "num")
    text = str(value)
    if name == "tx_hash":
        return Cell(text, "mono", f"/explorer/tx/{text}")
    return Cell(text, "mono" if name in HASHES or (name == "id" and len(text) > 40) else "")


def _url(path: str, params: dict[str, str | None]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


@router.get("", response_class=HTMLResponse, summary="The public registry's home page")
def home(
    conn: Annotated[Connection, Depends(connection)], ctx: Annotated[ServiceContext, Depends(context)]
) -> HTMLResponse:
    return _html("home.html", HomePage("公示 Public registry", snapshot.proofs(conn, ctx.log)))


@router.get("/statistics", response_class=HTMLResponse, summary="The statistics dashboard")
def statistics_page(conn: Annotated[Connection, Depends(connection)]) -> HTMLResponse:
    s = stats.statistics(conn)
    shown = []
    for name, title in stats.BREAKDOWNS.items():
        rows = s.by[name]
        series: dict[str, list[int | None]] = {
            key: [getattr(b, key) for b in rows] for key in ("issued_kg", "retired_kg", "cancelled_kg", "reserve_kg")
        }
        svg = Markup(charts.bar_chart(title, [b.key for b in rows], series))  # escaped by public/charts.py
        shown.append(Chart(name, title, svg, rows, f"/registry/statistics/{name}.csv"))
    return _html("statistics.html", StatisticsPage("统计 Statistics", s.tip_block, s.totals, shown))


@router.get("/statistics/{breakdown}.csv", summary="One chart's numbers as CSV")
def statistics_csv(breakdown: str, conn: Annotated[Connection, Depends(connection)]) -> Response:
    if breakdown not in stats.BREAKDOWNS:
        raise ApiProblem(404, "Not found", f"no breakdown {breakdown[:40]!r}; one of {', '.join(stats.BREAKDOWNS)}")
    body = stats.statistics(conn).csv(breakdown)
    headers = {"Content-Disposition": f'attachment; filename="statistics-{breakdown}.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/sanctions", response_class=HTMLResponse, summary="Sanctions notices (处理通报)")
def sanctions_page(
    request: Request,
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
) -> HTMLResponse:
    given = _given(request)
    after = request.query_params.get("after")
    try:
        p = lists.page(conn, "sanctions", given, after)
    except PublicQueryError as exc:
        return _error("sanctions", str(exc))
    notices = [
        Notice(
            address=r["address"],
            kind=r["kind"] or "—",
            previous=r["previous"],
            status=r["status"],
            status_label=SANCTION_LABELS.get(r["status"], r["status"]),
            current_status=r["current_status"] or "—",
            date=r["date"],
            block_number=r["block_number"],
            tx_hash=r["tx_hash"],
            reason_hash=r["reason_hash"],
            document_url=r["document_url"],
        )
        for r in sanction_rows(conn, ctx, p.rows)
    ]
    page = SanctionsPage(
        "处理通报 Sanctions notices",
        notices,
        _url("/registry/export/sanctions.csv", given),
        _url("/registry/export/sanctions.jsonl", given),
        _url("/registry/sanctions", {**given, "after": p.next_cursor}) if p.next_cursor else None,
    )
    return _html("sanctions.html", page)


def _error(name: str, message: str) -> HTMLResponse:
    s = lists.SPECS[name]
    page = ListPage(s.title, f"/registry/{name}", [], [], [], "", "", error=message)
    return _html("list.html", page, 422)


@router.get("/documents/{reason_hash}", summary="A published reason document, by its sha256")
def document(reason_hash: Annotated[str, Path(max_length=66)]) -> FileResponse:
    found = published_documents().find(reason_hash)
    if found is None:
        raise ApiProblem(404, "Not found", f"no published document with sha256 {reason_hash[:66]}")
    return FileResponse(found, media_type="application/octet-stream", filename=found.name)


@router.get("/export/{name}.{fmt}", summary="A whole list, streamed as CSV or JSON Lines")
def export_file(name: str, fmt: str, request: Request, ctx: Annotated[ServiceContext, Depends(context)]) -> Response:
    given: dict[str, str | None] = dict(request.query_params.items())
    try:
        ex = export.prepare(name, fmt, given)
    except PublicQueryError as exc:
        raise ApiProblem(422, "Invalid request", str(exc)) from None

    # a moment's burst of downloads waits its turn as admitted requests do (api/admission.py); only
    # one still without a slot after the queue timeout is told to come back
    if not EXPORT_SLOTS.acquire(timeout=ctx.settings.api_queue_timeout):
        busy: Response = busy_response(ctx.settings.retry_after)
        return busy
    try:
        # its own connection, taken before the 200 is sent: with none free the client gets 503 and
        # Retry-After (api/problems.py), not a 200 cut off when the body finds no connection
        conn = ctx.engine.connect()
    except BaseException:
        EXPORT_SLOTS.release()
        raise

    def body() -> Generator[bytes]:
        try:
            yield from ex.chunks(conn)
        finally:  # the end, an error, or the client gone (the generator is closed): give both back
            conn.close()
            EXPORT_SLOTS.release()

    stream = body()
    try:  # started here, so that closing it (even before its first chunk is sent) runs its finally
        first = next(stream)
    except BaseException:
        stream.close()
        raise
    headers = {"Content-Disposition": f'attachment; filename="{ex.filename}"'}
    return ExportResponse(stream, first, media_type=ex.media_type, headers=headers)


class _Stalled(Exception):
    """The client took no part of an export for EXPORT_STALL_SECONDS."""


class ExportResponse(StreamingResponse):
    """A streamed export that closes its generator however the answer ends. Starlette cancels the
    streaming when the client goes, but leaves the generator to the garbage collector, so its
    connection and export slot stayed taken after a client hung up mid-download."""

    def __init__(self, stream: Generator[bytes], first: bytes, **kw: Any) -> None:
        super().__init__(itertools.chain([first], stream), **kw)
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def paced(message: Message) -> None:
            # the server's send waits while the client's buffers are full
            try:
                with anyio.fail_after(EXPORT_STALL_SECONDS):
                    await send(message)
            except TimeoutError:
                raise _Stalled from None

        try:
            if scope["method"] == "HEAD":  # the headers only: the rest of the file is not read
                await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await super().__call__(scope, receive, paced)
        except _Stalled:
            # the answer ends without HTTP's last chunk: every HTTP client reports the download
            # incomplete (the rows it holds are whole rows). The server closes the connection once
            # its buffer drains, which a client that reads nothing never lets happen: only a proxy's
            # send timeout ends that socket (docs/public-registry.md)
            log.warning("an export was cut off: its client took nothing for %.0f s", EXPORT_STALL_SECONDS)
        finally:
            # the worker thread running the generator has returned (anyio waits for it on cancel)
            await run_in_threadpool(self.stream.close)


@router.get("/{name}", response_class=HTMLResponse, summary="A public list, with its filters")
def list_page(name: str, request: Request, conn: Annotated[Connection, Depends(connection)]) -> HTMLResponse:
    if name not in PAGES:
        raise ApiProblem(404, "Not found", f"no list {name[:40]!r}; the lists are {', '.join(PAGES)}")
    s = lists.SPECS[name]
    given = _given(request)
    fields = [FilterField(k, given.get(k) or "", PARSERS[v][1]) for k, v in s.filters.items()]
    path = f"/registry/{name}"
    downloads = (_url(f"/registry/export/{name}.csv", given), _url(f"/registry/export/{name}.jsonl", given))
    try:
        limit = _limit(request)
        p = lists.page(conn, name, given, request.query_params.get("after"), limit)
    except PublicQueryError as exc:
        page = ListPage(s.title, path, [c.label for c in s.columns], [], fields, *downloads, error=str(exc))
        return _html("list.html", page, 422)
    labels = [c.label for c in s.columns]
    extra: dict[str, list[dict[str, Any]]] = {}
    if name == "participants":
        extra = history(conn, [r["address"] for r in p.rows])
        labels.append("状态历史 Status history")
    rows = []
    for r in p.rows:
        cells = [_cell(c.name, r[c.name]) for c in s.columns]
        if name == "participants":
            changes = extra[r["address"]]
            text = "; ".join(f"{h['previous']}→{h['status']} @{h['block_number']}" for h in changes) or "—"
            cells.append(Cell(text))
        rows.append(Row("|".join(str(r[k]) for k in s.keys), cells))
    note = ""
    if name == "reserve":
        note = f"储备合计 Total in reserve: {lists.reserve_total(conn):,} kg"
    kept = {"limit": str(limit)} if limit != lists.DEFAULT_LIMIT else {}
    nxt = _url(path, {**given, **kept, "after": p.next_cursor}) if p.next_cursor else None
    return _html("list.html", ListPage(s.title, path, labels, rows, fields, *downloads, next_url=nxt, note=note))


answer_head(router)
