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
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from chain.client import RegistryClient
from chain.errors import ChainError, InvalidInputError
from chain.opids import op_id_for
from chain.sender import BulkReport, BulkSender, Operation
from chain.types import ProjectStatus
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


def read_rows(path: Path, client: RegistryClient) -> list[IssueRow]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        raise InvalidInputError(f"cannot read {path} as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInputError(f"{path} lacks the column(s) {', '.join(missing)}; the header must name {', '.join(COLUMNS)}")
    rows, problems, seen = [], [], {}
    registered: dict[str, bool] = {}
    for line, raw in enumerate(reader, start=2):
        try:
            request = _request(raw, path.parent)
            project = raw["project"].strip()
            if project not in registered:
                registered[project] = client.project(project).status == ProjectStatus.REGISTERED
            if not registered[project]:
                raise InvalidInputError(f"project {project!r} is unknown or not registered")
        except (InvalidInputError, ValueError) as exc:
            problems.append(f"line {line}: {exc}")
            continue
        op_id = op_id_for("issue", "|".join(_norm(v) for v in request))
        if op_id in seen:
            problems.append(f"line {line}: repeats line {seen[op_id]} (the same issuance twice)")
            continue
        seen[op_id] = line
        rows.append(IssueRow(line, request, op_id))
    if problems:
        raise BadRowsError(path, problems)
    if not rows:
        raise InvalidInputError(f"{path} has no rows")
    return rows


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
    columns = (TextColumn("issuing"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
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
            console.print(json.dumps({
                "line": int(r.op.label.split()[-1]), "opId": r.op.op_id, "status": r.outcome, "txHash": r.tx_hash,
                "block": r.block_number, "error": str(r.error) if r.error else None,
            }), highlight=False, soft_wrap=True)
        return
    console.print(f"applied {report.applied}, already on chain {report.already_applied}, "
                  f"failed {report.failed}, unconfirmed {report.unconfirmed} ({report.elapsed:.1f} s)")
    already = [r.op.label for r in report.results if r.outcome == "already_applied"]
    if already:
        console.print("already on chain (not sent again): " + ", ".join(already), highlight=False)
    for r in report.results:
        if r.outcome in ("failed", "unconfirmed"):
            console.print(f"{r.op.label}: {r.outcome}: {r.error}", highlight=False)
