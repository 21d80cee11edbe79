"""A batch's monitoring report and breakdown, recomputed on request (docs/mrv.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import Connection, select
from sqlmodel import col

from api.problems import problem_responses
from api.routes.deps import connection, not_found
from api.schemas.monitoring import MonitoringHashes, MonitoringPublic
from indexer.models import BatchRow
from mrv import store
from mrv.errors import MethodologyError, ReportErrors

router = APIRouter(tags=["monitoring"], responses=problem_responses(503))


@router.get(
    "/batches/{batch_id}/monitoring",
    summary="The monitoring report a batch was issued from, its breakdown, and whether it recomputes",
    responses=problem_responses(404, 422),
)
def monitoring(
    batch_id: Annotated[int, Path(ge=0, le=2**62)], conn: Annotated[Connection, Depends(connection)]
) -> MonitoringPublic:
    row = conn.execute(
        select(col(BatchRow.project_id), col(BatchRow.issued), col(BatchRow.verification_report_hash)).where(
            col(BatchRow.id) == batch_id
        )
    ).first()
    if row is None:
        raise not_found(f"batch {batch_id}")
    stored = store.get(conn, row.verification_report_hash) if row.verification_report_hash else None
    if stored is None:
        raise not_found(
            f"monitoring report for batch {batch_id}",
            "it was imported or issued without one (its quantity cannot be recomputed here)",
        )
    problem, recomputed = None, None
    try:
        again = stored.recompute()
    except (store.StoreError, ReportErrors, MethodologyError) as exc:
        problem = str(exc)
    else:
        recomputed = again.quantity_kg
        if again.sha256 != stored.result_sha256:
            problem = f"the recomputed result's hash is 0x{again.sha256}, not the one issued with"
        elif again.quantity_kg != row.issued:
            problem = f"the batch was issued {row.issued} kg, the report recomputes to {again.quantity_kg} kg"
    doc = stored.document if isinstance(stored.document, dict) else {}
    report: dict[str, list[dict[str, Any]]] = {}
    if stored.report is not None:
        try:
            report = store.sections(stored.report)
        except ReportErrors as exc:  # bytes no longer a report (a damaged row): said, not a 500
            problem = problem or f"the stored report does not read ({exc}); restore it from a backup"
    return MonitoringPublic(
        batch_id=batch_id,
        project_id=row.project_id,
        methodology=stored.methodology,
        issued_kg=row.issued,
        recomputed_quantity_kg=recomputed,
        matches=problem is None,
        problem=problem,
        hashes=MonitoringHashes(
            verification_report_hash=row.verification_report_hash,
            result_sha256="0x" + stored.result_sha256,
            report_sha256="0x" + _member(doc, "report", "sha256"),
            methodology_sha256="0x" + _member(doc, "methodology", "sha256"),
        ),
        report=report,
        breakdown=doc,
    )


def _member(doc: dict[str, Any], section: str, key: str) -> str:
    """doc[section][key] as text, "" where a damaged result lacks it."""
    found = doc.get(section)
    value = found.get(key) if isinstance(found, dict) else None
    return value if isinstance(value, str) else ""
