"""`ledger issue --csv FILE`: many batches, validated whole before anything is sent.

Columns: project, vintage, monitoring_start, monitoring_end, quantity, reserve_bps,
verification_report (a 0x sha256, or a file path relative to the CSV), review_report (optional).

Operation ids are content-addressed: a row's id is keccak256("issue" ‖ its normalised fields).
A re-run of the same file — after a crash, renamed, reordered — therefore finds the rows already
on chain and applies only the others; two identical rows in one file are refused as a duplicate.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from chain.client import RegistryClient
from chain.errors import ChainError, InvalidInputError
from chain.opids import op_id_for
from chain.sender import BulkReport, BulkSender, Operation
from chain.types import MethodologyStatus, ParticipantStatus, Project, ProjectStatus, enum_name, from_short_id
from scripts.listing import list_events
from scripts.projects import unix_date

COLUMNS = ("project", "vintage", "monitoring_start", "monitoring_end", "quantity", "reserve_bps", "verification_report")


@dataclass(frozen=True)
class IssueRow:
    line: int
    request: tuple[Any, ...]
    op_id: int


class BadRowsError(ChainError):
    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} bad row(s), nothing was sent; fix them and run again:\n{listed}")


def read_rows(path: Path, client: RegistryClient, *, from_block: int = 0) -> list[IssueRow]:
    """Every row of the file, after checking each row and the file as a whole against the chain's
    state (see `check_rows`); any problem refuses the whole file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        raise InvalidInputError(f"cannot read {path} as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInputError(
            f"{path} lacks the column(s) {', '.join(missing)}; the header must name {', '.join(COLUMNS)}"
        )
    rows: list[IssueRow] = []
    problems: list[tuple[int, str]] = []
    seen: dict[int, int] = {}
    for line, raw in enumerate(reader, start=2):
        try:
            request = _request(raw, path.parent)
        except (InvalidInputError, ValueError) as exc:
            problems.append((line, str(exc)))
            continue
        op_id = op_id_for("issue", "|".join(_norm(v) for v in request))
        if op_id in seen:
            problems.append((line, f"repeats line {seen[op_id]} (the same issuance twice)"))
            continue
        seen[op_id] = line
        rows.append(IssueRow(line, request, op_id))
    if not rows and not problems:
        raise InvalidInputError(f"{path} has no rows")
    require_registrar(client)
    problems += check_rows(client, rows, from_block=from_block)
    if problems:
        by_line: dict[int, list[str]] = {}
        for line, problem in problems:
            by_line.setdefault(line, []).append(problem)
        raise BadRowsError(path, [f"line {line}: {'; '.join(said)}" for line, said in sorted(by_line.items())])
    return rows


def check_one(client: RegistryClient, request: tuple[Any, ...], op_id: int, *, from_block: int = 0) -> None:
    """The checks of a file's rows, for one issuance (`ledger issue` without --csv)."""
    require_registrar(client)
    problems = check_rows(client, [IssueRow(0, request, op_id)], from_block=from_block)
    if problems:
        raise InvalidInputError("; ".join(problem for _, problem in problems))


def require_registrar(client: RegistryClient) -> None:
    if client.signer is not None and not client.has_role("REGISTRAR_ROLE", client.signer.address):
        raise InvalidInputError(
            f"the signing key {client.signer.address} lacks REGISTRAR_ROLE, which issuing needs; "
            "use the registrar's key or ask the admin to grant the role"
        )


def check_rows(client: RegistryClient, rows: list[IssueRow], *, from_block: int = 0) -> list[tuple[int, str]]:
    """(line, problem) for every row the registry would refuse or should not get.

    The contract itself refuses a period that is empty or outside the crediting period, a project
    not registered, a withdrawn methodology and an owner who may not receive (here they are found
    before the first row is sent, so a file is never half-applied). Two rules are the registry's
    policy, checked only here: the vintage is a year the monitoring period touches (from the year
    of its start to the year of its end), and a project's monitoring periods do not overlap —
    neither one another within the file nor a batch already issued. Periods are instants (UTC
    midnight of each date): one ending on 2024-07-01 and the next starting on 2024-07-01 touch
    but do not overlap. A row already on chain (its content-addressed operation id applied) is
    its own batch, not an overlap: a re-run skips it."""
    problems: list[tuple[int, str]] = []
    projects: dict[bytes, Project | str] = {}
    periods: dict[bytes, list[Period]] = {}
    for row in rows:
        project_key, vintage, start, end = row.request[0], row.request[1], row.request[2], row.request[3]
        name = from_short_id(project_key)
        if start >= end:
            problems.append(
                (
                    row.line,
                    (f"monitoring_start {_day(start)} is not before monitoring_end {_day(end)}; swap or fix the dates"),
                )
            )
            continue
        if not _year(start) <= vintage <= _year(end):
            problems.append(
                (
                    row.line,
                    (
                        f"vintage {vintage} is not a year of the monitoring period {_day(start)} to "
                        f"{_day(end)}; give the period's year"
                    ),
                )
            )
        if project_key not in projects:
            projects[project_key] = _issuable_project(client, name)
        project = projects[project_key]
        if isinstance(project, str):
            problems.append((row.line, project))
            continue
        if start < project.crediting_start or end > project.crediting_end:
            problems.append(
                (
                    row.line,
                    (
                        f"the monitoring period {_day(start)} to {_day(end)} is outside project "
                        f"{name}'s crediting period {_day(project.crediting_start)} to "
                        f"{_day(project.crediting_end)}"
                    ),
                )
            )
            continue
        if project_key not in periods:
            periods[project_key] = _issued_periods(client, project_key, from_block)
        clash = next((p for p in periods[project_key] if p.op_id != row.op_id and p.overlaps(start, end)), None)
        if clash is not None:
            problems.append(
                (
                    row.line,
                    (
                        f"project {name}'s monitoring period {_day(start)} to {_day(end)} overlaps "
                        f"{clash.label} ({_day(clash.start)} to {_day(clash.end)}); one period, "
                        "one batch"
                    ),
                )
            )
            continue
        periods[project_key].append(Period(start, end, f"line {row.line}", row.op_id))
    return problems


@dataclass(frozen=True)
class Period:
    start: int
    end: int
    label: str  # "batch 7" or "line 12"
    op_id: int

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and self.start < end


def _issuable_project(client: RegistryClient, name: str) -> Project | str:
    """The project, or why it cannot issue now."""
    project = client.project(name)
    if project.status != ProjectStatus.REGISTERED:
        state = "unknown" if project.status == ProjectStatus.NONE else enum_name(ProjectStatus, project.status)
        return f"project {name!r} is unknown or not registered ({state}); register and review it first"
    methodology = client.methodology(project.methodology_id)
    if methodology.status == MethodologyStatus.WITHDRAWN:
        return f"project {name!r} follows the withdrawn methodology {project.methodology_id}; it cannot issue"
    owner = client.participant(project.owner).status
    if owner != ParticipantStatus.ACTIVE:
        return f"project {name!r}'s owner {project.owner} is {enum_name(ParticipantStatus, owner)}; reinstate the owner first"
    return project


def _issued_periods(client: RegistryClient, project_key: bytes, from_block: int) -> list[Period]:
    """The monitoring period of every batch the project has on chain (the BatchIssued events)."""
    periods = []
    for event in list_events(client, "BatchIssued", indexed=[None, "0x" + project_key.hex()], from_block=from_block):
        request = event.args["request"]
        periods.append(
            Period(
                int(request["monitoringStart"]),
                int(request["monitoringEnd"]),
                f"batch {event.args['batchId']}",
                int(event.args["opId"]),
            )
        )
    return periods


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def _year(timestamp: int) -> int:
    return datetime.fromtimestamp(timestamp, UTC).year


def _request(raw: dict[str, str], base: Path) -> tuple[Any, ...]:
    def integer(column: str, low: int, high: int) -> int:
        text = (raw.get(column) or "").strip()
        if not text.lstrip("-").isdigit():
            raise InvalidInputError(f"{column} {text!r} is not a whole number")
        value = int(text)
        if not low <= value <= high:
            raise InvalidInputError(f"{column} {value} is outside {low}..{high}")
        return value

    return RegistryClient.issuance_request(
        project_id=raw["project"].strip(),
        vintage=integer("vintage", 1990, 2100),
        monitoring_start=unix_date((raw.get("monitoring_start") or "").strip()),
        monitoring_end=unix_date((raw.get("monitoring_end") or "").strip()),
        quantity=integer("quantity", 1, 2**128 - 1),
        reserve_bps=integer("reserve_bps", 0, 10_000),
        verification_report_hash=_hash(raw.get("verification_report", ""), base, "verification_report"),
        review_hash=_hash(raw.get("review_report", "") or "", base, "review_report", optional=True),
    )


def _hash(value: str, base: Path, column: str, *, optional: bool = False) -> bytes:
    value = value.strip()
    if not value:
        if optional:
            return b"\0" * 32
        raise InvalidInputError(f"{column} is empty")
    if value.startswith("0x") and len(value) == 66:
        return bytes.fromhex(value[2:])
    path = (base / value) if not Path(value).is_absolute() else Path(value)
    if not path.is_file():
        raise InvalidInputError(f"{column} {value!r} is neither a 0x sha256 nor a readable file")
    return hashlib.sha256(path.read_bytes()).digest()


def _norm(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def send_rows(client: RegistryClient, rows: list[IssueRow], *, show_progress: bool) -> BulkReport:
    assert client.signer is not None
    ops = [Operation(r.op_id, "issue", (r.op_id, r.request), client.signer, f"line {r.line}") for r in rows]
    if not show_progress:
        return BulkSender(client).run(ops)
    columns = (
        TextColumn("issuing"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("issue", total=len(ops), rate="")

        def update(done: int, total: int) -> None:
            speed = progress.tasks[0].speed
            progress.update(task, completed=done, rate=f"{speed:,.0f}/s" if speed else "")

        return BulkSender(client, on_progress=update).run(ops)


def print_report(report: BulkReport, *, as_json: bool) -> None:
    """One JSON object per row with --json; otherwise a summary naming the lines."""
    import json

    from scripts.console import console

    if as_json:
        for r in report.results:
            console.print(
                json.dumps(
                    {
                        "line": int(r.op.label.split()[-1]),
                        "opId": r.op.op_id,
                        "status": r.outcome,
                        "txHash": r.tx_hash,
                        "block": r.block_number,
                        "error": str(r.error) if r.error else None,
                    }
                ),
                highlight=False,
                soft_wrap=True,
            )
        return
    console.print(
        f"applied {report.applied}, already on chain {report.already_applied}, "
        f"failed {report.failed}, unconfirmed {report.unconfirmed} ({report.elapsed:.1f} s)"
    )
    already = [r.op.label for r in report.results if r.outcome == "already_applied"]
    if already:
        console.print("already on chain (not sent again): " + ", ".join(already), highlight=False)
    for r in report.results:
        if r.outcome in ("failed", "unconfirmed"):
            console.print(f"{r.op.label}: {r.outcome}: {r.error}", highlight=False)
