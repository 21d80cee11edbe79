"""The public registry's read API (公示): lists with filters and keyset pagination, the sanctions
notices, statistics and the logged snapshots. The rows come from public/ (docs/public-registry.md);
the bulk exports and pages are in api/routes/registry_pages.py."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.routing import APIRoute
from sqlalchemy import Connection

from api.problems import ApiProblem, problem_responses
from api.routes.deps import connection, context
from api.schemas.registry import (
    BatchPage,
    BucketPublic,
    CancellationPage,
    ExportPage,
    ParticipantPage,
    ProjectPage,
    ReservePage,
    RetirementPage,
    SanctionPage,
    SnapshotPublic,
    SnapshotsPublic,
    StatisticsPublic,
)
from certificates.context import ServiceContext
from public import lists, snapshot, stats
from public.errors import PublicQueryError
from public.sanctions import PublicDocuments, block_dates

router = APIRouter(tags=["public registry"], responses=problem_responses(503))
INVALID = problem_responses(422)

After = Annotated[str | None, Query(max_length=512, description="the `next` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=lists.MAX_LIMIT)]


def _f(description: str) -> Any:
    return Query(max_length=80, description=description)


def invalid(exc: PublicQueryError) -> ApiProblem:
    return ApiProblem(422, "Invalid request", str(exc))


def page(conn: Connection, name: str, given: Mapping[str, str | None], after: str | None, limit: int) -> lists.Page:
    try:
        return lists.page(conn, name, given, after, limit)
    except PublicQueryError as exc:
        raise invalid(exc) from None


def published_documents() -> PublicDocuments:
    """Reason documents the registry publishes: LEDGER_PUBLIC_DOCUMENTS names their directory."""
    directory = os.environ.get("LEDGER_PUBLIC_DOCUMENTS")
    return PublicDocuments(Path(directory) if directory else None)


@router.get(
    "/projects", summary="Projects, filtered by county, ecosystem, methodology, status, owner", responses=INVALID
)
def projects(
    conn: Annotated[Connection, Depends(connection)],
    county: Annotated[str | None, _f("county code (GB/T 2260), e.g. 511802")] = None,
    ecosystem: Annotated[str | None, _f("forest, grassland or wetland")] = None,
    methodology: Annotated[str | None, _f("methodology id, any case or separator")] = None,
    status: Annotated[str | None, _f("submitted, registered, rejected, suspended, revoked, closed")] = None,
    owner: Annotated[str | None, _f("owner account address")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> ProjectPage:
    given = {"county": county, "ecosystem": ecosystem, "methodology": methodology, "status": status, "owner": owner}
    p = page(conn, "projects", given, after, limit)
    return ProjectPage.model_validate({"items": p.rows, "next": p.next_cursor})


@router.get("/batches", summary="Batches, filtered by project, vintage, supply", responses=INVALID)
def batches(
    conn: Annotated[Connection, Depends(connection)],
    project: Annotated[str | None, _f("project id")] = None,
    vintage: Annotated[str | None, _f("vintage year")] = None,
    supply: Annotated[str | None, _f("circulating (credits left) or exhausted")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> BatchPage:
    p = page(conn, "batches", {"project": project, "vintage": vintage, "supply": supply}, after, limit)
    return BatchPage.model_validate({"items": p.rows, "next": p.next_cursor})


@router.get(
    "/retirements",
    summary="Retirements (注销), newest first, by scenario, batch, project, period (blocks)",
    responses=INVALID,
)
def retirements(
    conn: Annotated[Connection, Depends(connection)],
    scenario: Annotated[str | None, _f("scenario, e.g. large_event, personal")] = None,
    batch: Annotated[str | None, _f("batch id")] = None,
    project: Annotated[str | None, _f("project id")] = None,
    from_block: Annotated[str | None, _f("first block of the period")] = None,
    to_block: Annotated[str | None, _f("last block of the period")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> RetirementPage:
    given = {"scenario": scenario, "batch": batch, "project": project, "from_block": from_block, "to_block": to_block}
    p = page(conn, "retirements", given, after, limit)
    return RetirementPage.model_validate({"items": p.rows, "next": p.next_cursor})


@router.get("/cancellations", summary="Cancellations (作废) with their reason, newest first", responses=INVALID)
def cancellations(
    conn: Annotated[Connection, Depends(connection)],
    reason: Annotated[str | None, _f("invalidation, fraud, reversal, correction, exported, other")] = None,
    batch: Annotated[str | None, _f("batch id")] = None,
    project: Annotated[str | None, _f("project id")] = None,
    from_block: Annotated[str | None, _f("first block of the period")] = None,
    to_block: Annotated[str | None, _f("last block of the period")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> CancellationPage:
    given = {"reason": reason, "batch": batch, "project": project, "from_block": from_block, "to_block": to_block}
    p = page(conn, "cancellations", given, after, limit)
    return CancellationPage.model_validate({"items": p.rows, "next": p.next_cursor})


@router.get("/exports", summary="Exports to other registries (转出)", responses=INVALID)
def exports(
    conn: Annotated[Connection, Depends(connection)],
    status: Annotated[str | None, _f("pending, confirmed or aborted")] = None,
    batch: Annotated[str | None, _f("batch id")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> ExportPage:
    p = page(conn, "exports", {"status": status, "batch": batch}, after, limit)
    return ExportPage.model_validate({"items": p.rows, "next": p.next_cursor})


@router.get("/reserve", summary="The reserve (buffer): each batch's deposit at issuance", responses=INVALID)
def reserve(
    conn: Annotated[Connection, Depends(connection)],
    project: Annotated[str | None, _f("project id")] = None,
    vintage: Annotated[str | None, _f("vintage year")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> ReservePage:
    p = page(conn, "reserve", {"project": project, "vintage": vintage}, after, limit)
    total = lists.reserve_total(conn)
    return ReservePage.model_validate({"items": p.rows, "total_reserve_kg": total, "next": p.next_cursor})


def history(conn: Connection, addresses: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every status change of the given participants, newest first (one query for a page)."""
    found: dict[str, list[dict[str, Any]]] = {a: [] for a in addresses}
    if not addresses:
        return found
    s = lists.SPECS["status_changes"]
    q = lists.ordered(s, {}).where(lists.SC.c.address.in_(addresses))
    for r in conn.execute(q):
        found[r.address].append(dict(r._mapping))
    return found


@router.get("/participants", summary="Participants with their status history", responses=INVALID)
def participants(
    conn: Annotated[Connection, Depends(connection)],
    kind: Annotated[str | None, _f("project_owner, enterprise, individual, platform, pledgee, registry")] = None,
    status: Annotated[str | None, _f("active, restricted, suspended or revoked")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> ParticipantPage:
    p = page(conn, "participants", {"kind": kind, "status": status}, after, limit)
    changes = history(conn, [r["address"] for r in p.rows])
    items = [{**r, "history": changes[r["address"]]} for r in p.rows]
    return ParticipantPage.model_validate({"items": items, "next": p.next_cursor})


def sanction_rows(conn: Connection, ctx: ServiceContext, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    dates = block_dates(ctx.rpc, [r["block_number"] for r in rows])
    docs = published_documents()
    return [
        {
            **r,
            "date": dates.get(r["block_number"]),
            "document_url": f"/registry/documents/{r['reason_hash'].removeprefix('0x')}"
            if docs.find(r["reason_hash"])
            else None,
        }
        for r in rows
    ]


@router.get(
    "/sanctions",
    summary="Sanctions notices (处理通报): participants restricted, suspended or revoked, newest first",
    responses=INVALID,
)
def sanctions(
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
    status: Annotated[str | None, _f("restricted, suspended or revoked")] = None,
    address: Annotated[str | None, _f("account address")] = None,
    after: After = None,
    limit: Limit = lists.DEFAULT_LIMIT,
) -> SanctionPage:
    p = page(conn, "sanctions", {"status": status, "address": address}, after, limit)
    return SanctionPage.model_validate({"items": sanction_rows(conn, ctx, p.rows), "next": p.next_cursor})


@router.get("/statistics", summary="Issued, retired, cancelled, in reserve: totals and breakdowns")
def statistics(conn: Annotated[Connection, Depends(connection)]) -> StatisticsPublic:
    s = stats.statistics(conn)

    def rows(name: str) -> list[BucketPublic]:
        return [BucketPublic.model_validate(b, from_attributes=True) for b in s.by[name]]

    return StatisticsPublic(
        tip_block=s.tip_block,
        totals=BucketPublic.model_validate(s.totals, from_attributes=True),
        by_ecosystem=rows("ecosystem"),
        by_county=rows("county"),
        by_vintage=rows("vintage"),
        by_scenario=rows("scenario"),
        over_blocks=rows("blocks"),
    )


@router.get(
    "/snapshots",
    summary="The daily snapshots: sha256, log entry and inclusion proof to the anchored root",
    responses=INVALID,
)
def snapshots(
    conn: Annotated[Connection, Depends(connection)],
    ctx: Annotated[ServiceContext, Depends(context)],
    date: Annotated[str | None, Query(max_length=10, description="one day, YYYY-MM-DD")] = None,
) -> SnapshotsPublic:
    try:
        found = snapshot.proofs(conn, ctx.log, date or None)
    except PublicQueryError as exc:
        raise invalid(exc) from None
    return SnapshotsPublic(snapshots=[SnapshotPublic.model_validate(p, from_attributes=True) for p in found])


def answer_head(router: APIRouter) -> None:
    """HEAD beside every GET of `router` (RFC 9110 §9.1: a server supports GET and HEAD; the API's
    CORS answer names HEAD too): the same route, left out of the OpenAPI document, whose body the
    server drops. Called once its GET routes are all declared."""
    for route in list(router.routes):
        if isinstance(route, APIRoute) and route.methods == {"GET"}:
            router.add_api_route(
                route.path.removeprefix(router.prefix),
                route.endpoint,
                methods=["HEAD"],
                response_class=route.response_class,
                include_in_schema=False,
            )


answer_head(router)
