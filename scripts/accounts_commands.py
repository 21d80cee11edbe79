"""`ledger accounts …`: the operator's side of the personal carbon accounts (docs/accounts.md):
data sources and merchants, their API keys, the behaviour methodology with its caps, a person's
statement, corrections, the expiry sweep, the points log, export and deletion.

Parse, call accounts/, print. No command takes a person's name, phone or ID number: accounts are
opened by sources through the API; an export (which unseals them) is written to a private file."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from accounts import ledger, methodology, people, pointslog, sources
from accounts.errors import AccountsError
from certificates.db import create_schema
from indexer.db import make_engine
from scripts.console import console, fail, operator_errors
from scripts.context import deployment, registry_client
from scripts.outfile import check_writable, write_whole
from scripts.output import JsonOption

app = typer.Typer(
    help="Personal carbon accounts (个人碳账户): sources, keys, methodology, statements, the points log.",
    no_args_is_help=True,
)
source_app = typer.Typer(help="Data sources (apps, transit operators, merchants, platforms).", no_args_is_help=True)
key_app = typer.Typer(help="A source's API keys: the secret is printed once, stored hashed.", no_args_is_help=True)
methodology_app = typer.Typer(
    help="The behaviour methodology: grams CO2e avoided per unit, caps, identity fields, sources.",
    no_args_is_help=True,
)
merchant_app = typer.Typer(help="Merchants: sources of kind merchant, which list rights.", no_args_is_help=True)
log_app = typer.Typer(help="The points log: append pending entries, anchor its root on chain.", no_args_is_help=True)
app.add_typer(source_app, name="source")
app.add_typer(key_app, name="key")
app.add_typer(methodology_app, name="methodology")
app.add_typer(merchant_app, name="merchant")
app.add_typer(log_app, name="log")

P = ParamSpec("P")
R = TypeVar("R")
MAX_CSV = 4 << 20


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="accounts")


def accounts_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """The domain's refusals as one red line (they name the fix); everything else as any command's."""

    @operator_errors
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except AccountsError as exc:
            fail(str(exc))

    return wrapper


def engine() -> Engine:
    found = make_engine()
    create_schema(found)
    return found


def now() -> int:
    return int(time.time())


def when(t: int | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def emit(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


# ------------------------------------------------------------------ sources and merchants


@source_app.command("add")
@accounts_errors
def source_add(
    source_id: Annotated[str, typer.Argument(help="a slug: 2-40 lower-case letters, digits, hyphens")],
    name: Annotated[str, typer.Option(help="the source's name, e.g. 天府通")],
    kind: Annotated[str, typer.Option(help="app | transit | merchant | platform")],
) -> None:
    """Register a data source (its 登记, before it may connect)."""
    s = sources.add_source(engine(), source_id, name, kind, now())
    console.print(f"source {escape(s.id)} ({s.kind}) registered; make it a key: ledger accounts key create {s.id}")


@source_app.command("list")
@accounts_errors
def source_list(as_json: JsonOption = False) -> None:
    """Every registered source."""
    found = sources.list_sources(engine())
    if as_json:
        emit([{"id": s.id, "name": s.name, "kind": s.kind, "created_at": s.created_at} for s in found])
        return
    table = Table("id", "name", "kind", "registered")
    for s in found:
        table.add_row(escape(s.id), escape(s.name), s.kind, when(s.created_at))
    console.print(table)


@merchant_app.command("add")
@accounts_errors
def merchant_add(
    merchant_id: Annotated[str, typer.Argument(help="a slug: 2-40 lower-case letters, digits, hyphens")],
    name: Annotated[str, typer.Option(help="the merchant's name")],
) -> None:
    """Register a merchant (a source of kind merchant); its key needs the scope rights:write."""
    s = sources.add_source(engine(), merchant_id, name, "merchant", now())
    console.print(
        f"merchant {escape(s.id)} registered; make it a key: ledger accounts key create {s.id} --scope rights:write"
    )


# ------------------------------------------------------------------ keys


def _print_issued(issued: sources.IssuedKey, as_json: bool) -> None:
    if as_json:
        emit({"key_id": issued.key_id, "scopes": list(issued.scopes), "bearer": issued.bearer})
        return
    console.print(f"key {issued.key_id}, scopes {' '.join(issued.scopes)}")
    console.print("the secret is shown this once and stored only hashed; give the source this header value:")
    console.print(f"Authorization: Bearer {issued.bearer}", markup=False, highlight=False, soft_wrap=True)


@key_app.command("create")
@accounts_errors
def key_create(
    source_id: Annotated[str, typer.Argument(help="the source")],
    scope: Annotated[list[str], typer.Option(help=f"repeat for each: {', '.join(sources.SCOPES)}")],
    as_json: JsonOption = False,
) -> None:
    """A new API key for a source; its secret is printed once."""
    _print_issued(sources.create_key(engine(), source_id, scope, now()), as_json)


@key_app.command("rotate")
@accounts_errors
def key_rotate(
    key_id: Annotated[str, typer.Argument(help="the key to replace")],
    overlap: Annotated[int, typer.Option(help="seconds the old key keeps working (at most 30 days)")] = 0,
    as_json: JsonOption = False,
) -> None:
    """A new key with the old one's scopes; the old one is revoked (after --overlap seconds)."""
    _print_issued(sources.rotate_key(engine(), key_id, now(), overlap), as_json)


@key_app.command("revoke")
@accounts_errors
def key_revoke(key_id: Annotated[str, typer.Argument(help="the key")]) -> None:
    """Refuse the key from now on."""
    sources.revoke_key(engine(), key_id, now())
    console.print(f"key {escape(key_id)} revoked")


@key_app.command("list")
@accounts_errors
def key_list(source_id: Annotated[str, typer.Argument(help="the source")], as_json: JsonOption = False) -> None:
    """A source's keys (never their secrets: none is stored)."""
    found = sources.list_keys(engine(), source_id)
    if as_json:
        emit([k.__dict__ | {"scopes": list(k.scopes)} for k in found])
        return
    table = Table("key", "scopes", "created", "revoked", "replaced by")
    for k in found:
        table.add_row(k.key_id, " ".join(k.scopes), when(k.created_at), when(k.revoked_at), k.replaced_by or "-")
    console.print(table)


# ------------------------------------------------------------------ methodology and caps


@methodology_app.command("show")
@accounts_errors
def methodology_show(
    behaviour: Annotated[str | None, typer.Argument(help="one behaviour type; all when omitted")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every version of the behaviour types (shipped and imported): grams per unit, caps in points, source."""
    with engine().connect() as conn:
        rows = methodology.load(conn).all()
    if behaviour is not None:
        rows = [b for b in rows if b.type == behaviour]
        if not rows:
            fail(f"no behaviour type {behaviour}; `ledger accounts methodology show` lists them")
    if as_json:
        emit([methodology.as_row(b) | {"row_hash": b.row_hash} for b in rows])
        return
    table = Table("type", "v", "kind", "g/unit", "daily cap", "yearly cap", "source")
    for b in rows:
        factor = f"{b.g_per_unit} g/{b.unit}" + (" (illustrative)" if b.illustrative else "")
        caps = " (illustrative)" if b.caps_illustrative else ""
        table.add_row(
            b.type,
            str(b.version),
            b.data_kind,
            escape(factor),  # the unit is free text from an imported CSV: "[/km]" is a unit, not markup
            ("-" if b.daily_cap_points is None else f"{b.daily_cap_points:,}") + caps,
            ("-" if b.yearly_cap_points is None else f"{b.yearly_cap_points:,}") + caps,
            escape(b.source),
        )
    console.print(table)
    console.print("caps are in points per account (1 point = 1 g CO2e), per Asia/Shanghai day and calendar year")


@methodology_app.command("import")
@accounts_errors
def methodology_import(
    csv_file: Annotated[Path, typer.Argument(help="CSV in the shipped columns (accounts/behaviours/)")],
) -> None:
    """Import new versions of behaviour types (all rows or none)."""
    try:
        with csv_file.open("rb") as f:
            raw = f.read(MAX_CSV + 1)
    except OSError as exc:
        fail(f"cannot read {csv_file} ({exc.strerror or type(exc).__name__}); give a readable CSV file")
    if len(raw) > MAX_CSV:
        fail(f"{csv_file} is over {MAX_CSV:,} bytes; a methodology import is a few rows")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{csv_file} is not UTF-8; save it as UTF-8 CSV")
    rows = methodology.import_rows(engine(), text, now())
    for b in rows:
        console.print(f"imported {b.type} v{b.version}" + (" (illustrative)" if b.illustrative else ""))


# ------------------------------------------------------------------ a person's data


@app.command("export")
@accounts_errors
def export(
    account: Annotated[str, typer.Argument(help="the account id, acc_…")],
    out: Annotated[Path, typer.Option(help="write it to this file (mode 0600): it holds the person's data")],
) -> None:
    """Everything held about an account, personal data unsealed, for the person (written to a private file)."""
    check_writable(out)
    data = people.export_account(engine(), account)
    write_whole(out, json.dumps(data, ensure_ascii=False, indent=2, default=str).encode(), mode=0o600)
    console.print(f"account {account} exported to {escape(str(out))} (mode 0600: it holds personal data)")


@app.command("delete")
@accounts_errors
def delete(
    account: Annotated[str, typer.Argument(help="the account id, acc_…")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Destroy the person's data (sealed data, consents, records' details); the points entries stay."""
    if not yes and not (sys.stdin.isatty() and typer.confirm(f"destroy the personal data of {account}?")):
        fail("not deleted: confirm on a terminal, or pass --yes")
    people.delete_account(engine(), account, now())
    console.print(f"account {account}: personal data destroyed; its points entries stay, pseudonymous")


# ------------------------------------------------------------------ the ledger


@app.command("statement")
@accounts_errors
def statement(
    account: Annotated[str, typer.Argument(help="the account id, acc_…")],
    limit: Annotated[int, typer.Option(help="entries, newest first")] = 50,
    before: Annotated[int | None, typer.Option(help="the entry id the previous page ended before")] = None,
    as_json: JsonOption = False,
) -> None:
    """A person's balance, the points lapsing soonest and the entries with their place in the points log."""
    db = engine()
    at = now()
    people.is_deleted(db, account)  # NotFoundError names an unknown account
    found = ledger.statement(db, account, at, limit, before)
    proofs = pointslog.proofs(db, [e.id for e in found.entries])
    if as_json:
        emit(
            {
                "account": account,
                "at": at,
                "balance": found.balance,
                "next_lapse": {"points": found.next_lapse_amount, "at": found.next_lapse_at},
                "entries": [
                    e.__dict__ | {"proof": proofs[e.id].as_json() if e.id in proofs else None} for e in found.entries
                ],
                "next_before": found.next_before,
            }
        )
        return
    console.print(f"account {account}: balance {found.balance:,} points (= g CO2e avoided) at {when(at)}")
    if found.next_lapse_at is not None:
        console.print(f"{found.next_lapse_amount:,} points lapse soonest, at {when(found.next_lapse_at)}")
    table = Table("entry", "when", "kind", "points", "expires", "points log")
    for e in found.entries:
        p = proofs.get(e.id)
        logged = "-" if p is None or p.leaf_index is None else f"#{p.leaf_index} of {p.tree_size}"
        status = f"{logged}, anchored" if p is not None and p.anchored else f"{logged}, not anchored yet"
        expires = when(e.expires_at) if e.amount > 0 and e.expires_at is not None else "-"
        table.add_row(str(e.id), when(e.created_at), e.kind, f"{e.amount:+,}", expires, status)
    console.print(table)
    if found.next_before is not None:
        console.print(f"older entries: --before {found.next_before}")


@app.command("correct")
@accounts_errors
def correct(
    account: Annotated[str, typer.Argument(help="the account id, acc_…")],
    amount: Annotated[int, typer.Argument(help="points: positive to add, negative to take away")],
    reason: Annotated[str, typer.Option(help="why, 1-200 characters, no personal data (it is in the ledger for good)")],
) -> None:
    """An operator's correction: a new transaction, never an edit of an old one."""
    db = engine()
    people.is_deleted(db, account)
    txn = ledger.correct(db, account, amount, reason, now())
    console.print(f"account {account}: {amount:+,} points, transaction {txn}")


@app.command("expire")
@accounts_errors
def expire() -> None:
    """The expiry sweep: an "expire" transaction for every lot of points past its expiry (idempotent)."""
    done = ledger.expire_due(engine(), now())
    console.print(f"{done:,} lapsed lots expired" if done else "nothing to expire")


@log_app.command("append")
@accounts_errors
def log_append() -> None:
    """Append the entries not yet in the points log (proofs need them there)."""
    done = pointslog.append_pending(engine())
    console.print(f"{done:,} entries appended to the points log" if done else "the points log is up to date")


@log_app.command("anchor")
@accounts_errors
def log_anchor(force: Annotated[bool, typer.Option(help="anchor now, whatever the policy says")] = True) -> None:
    """Append pending entries, then anchor the points log's root in PointsLogAnchor on chain."""
    db = engine()
    pointslog.append_pending(db)
    client = pointslog.open_anchor(registry_client(), deployment())
    result = pointslog.anchor(client, db, force=force)
    console.print(
        "nothing to anchor" if result is None else f"anchored in tx {result.tx_hash} (block {result.block_number})"
    )
