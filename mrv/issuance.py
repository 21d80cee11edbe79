"""A batch issued from a monitoring report: the report computed under the methodology its project
is registered under, that methodology's filed document hash checked against the bundle's, and the
request's quantity, period and reserve share taken from the result (never typed over it).

The result's sha256 becomes the batch's verification-report hash on chain (`verificationReportHash`),
so the batch names the stored result, which names its report and bundle (mrv/store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chain.errors import InvalidInputError
from chain.types import Methodology, Project
from mrv.compute import Result, compute
from mrv.methodology import Bundle, bundle, reference
from mrv.report import MonitoringReport


@dataclass(frozen=True)
class Issuance:
    """What to send: the request's fields that come from the report, and the result to store."""

    result: Result
    bundle: Bundle
    vintage: int
    monitoring_start: int  # unix seconds, UTC midnight
    monitoring_end: int

    @property
    def verification_report_hash(self) -> bytes:
        return bytes.fromhex(self.result.sha256)

    def request(self, project_id: str) -> dict[str, object]:
        """The keyword arguments of RegistryClient.issue (and issuance_request) for this batch."""
        return {
            "project_id": project_id,
            "vintage": self.vintage,
            "monitoring_start": self.monitoring_start,
            "monitoring_end": self.monitoring_end,
            "quantity": self.result.quantity_kg,
            "reserve_bps": self.result.reserve_bps,
            "verification_report_hash": self.verification_report_hash,
        }


def unix(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def filed_bundle(project_id: str, project: Project, filed: Methodology, asked: str | None) -> Bundle:
    """The bundle to compute with: the one asked for (ID or ID@VERSION), else the version filed for
    the project's methodology; refused unless it is that methodology and version, and hashes to the
    document hash filed on chain."""
    mid = project.methodology_id
    chosen = reference(asked) if asked else bundle(mid, filed.version)
    if chosen.id != mid:
        raise InvalidInputError(
            f"project {project_id} is registered under methodology {mid}, not {chosen.id}; "
            f"compute the report with {mid}@{filed.version}"
        )
    if chosen.version != filed.version:
        raise InvalidInputError(
            f"{mid} is filed on chain as version {filed.version}, not {chosen.version}; "
            f"use --methodology {mid}@{filed.version} or file version {chosen.version} first"
        )
    on_chain = filed.document_hash.hex()
    if chosen.sha256 != on_chain:
        raise InvalidInputError(
            f"{chosen.ref}'s bundle hashes to 0x{chosen.sha256}, but {mid} was filed with document hash "
            f"0x{on_chain}; file the bundle (`ledger methodology add {mid} --bundle {chosen.ref} ...`) as a new "
            "version, or compute with the bundle that was filed"
        )
    return chosen


def prepare(
    report: MonitoringReport,
    project_id: str,
    project: Project,
    filed: Methodology,
    *,
    methodology: str | None = None,
    quantity: int | None = None,
    vintage: int | None = None,
    monitoring_start: int | None = None,
    monitoring_end: int | None = None,
    reserve_bps: int | None = None,
) -> Issuance:
    """The issuance a report allows for a project; every field given by hand must agree with it."""
    if report.project != project_id:
        raise InvalidInputError(
            f"the report is for project {report.project}, not {project_id}; give the project's own report"
        )
    chosen = filed_bundle(project_id, project, filed, methodology or report.methodology)
    result = compute(report, chosen)
    if result.reversal_kg:
        raise InvalidInputError(
            f"the report shows a loss of {result.reversal_kg:,} kg, nothing to issue; "
            "charge it to the reserve with `ledger mrv reversal REPORT --batch ID`"
        )
    if result.quantity_kg == 0:
        raise InvalidInputError("the report yields 0 kg to issue; nothing to send")
    if quantity is not None and quantity != result.quantity_kg:
        raise InvalidInputError(
            f"--quantity {quantity:,} kg differs from the {result.quantity_kg:,} kg the report computes to under "
            f"{chosen.ref}; drop --quantity (or give {result.quantity_kg})"
        )
    if reserve_bps is not None and reserve_bps != result.reserve_bps:
        raise InvalidInputError(
            f"--reserve-bps {reserve_bps} differs from {chosen.ref}'s reserve share of {result.reserve_bps} bps; "
            f"drop it (or give {result.reserve_bps})"
        )
    start, end = unix(result.monitoring_start), unix(result.monitoring_end)
    for flag, given, computed, day in (
        ("--monitoring-start", monitoring_start, start, result.monitoring_start),
        ("--monitoring-end", monitoring_end, end, result.monitoring_end),
    ):
        if given is not None and given != computed:
            raise InvalidInputError(f"{flag} differs from the report's monitoring period ({day}); drop it")
    return Issuance(
        result=result,
        bundle=chosen,
        vintage=vintage if vintage is not None else int(result.monitoring_end[:4]),
        monitoring_start=start,  # UTC midnight of each date, as `ledger issue` reads --monitoring-start/-end
        monitoring_end=end,
    )
