"""Accounts of people: pseudonymous ids, personal data sealed in the vault, consent per source and
kind of data, export and deletion.

The account id says nothing about the person. Name, phone and ID number (each optional) are sealed
with certificates/vault.py into `account_vault`, the one table that holds them; they appear in no
other table, no log and no answer but the person's own export. Deleting an account destroys the
sealed row, the consents and the records' details; the points entries stay, pseudonymous (the
ledger is append-only and its log is anchored)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update

from accounts.errors import ConflictError, InputError, NotFoundError, ScopeError
from accounts.ledger_models import PointsEntry
from accounts.models import ACCOUNT_VAULT, ACCOUNTS, BEHAVIOUR_RECORDS, CONSENTS, SOURCES
from accounts.sources import Principal, require
from certificates.vault import Vault
from indexer.db import read_snapshot

PERSONAL_FIELDS = ("name", "phone", "id_number")
MAX_FIELD = 200
ENTRIES = getattr(PointsEntry, "__table__")  # noqa: B009  # set by SQLModel


@dataclass(frozen=True)
class ConsentInfo:
    account_id: str
    source_id: str
    data_kind: str
    granted_at: int
    revoked_at: int | None


def new_account_id() -> str:
    """ "acc_" + 26 base32 characters (130 random bits), lower case."""
    return "acc_" + base64.b32encode(secrets.token_bytes(20)).decode().lower()[:26]


def _check_personal(personal: dict[str, Any] | None) -> dict[str, str]:
    if personal is None:
        return {}
    if not isinstance(personal, dict):
        raise InputError(f"personal data is an object with some of {', '.join(PERSONAL_FIELDS)}")
    unknown = sorted(set(personal) - set(PERSONAL_FIELDS))
    if unknown:
        raise InputError(f"personal data takes only {', '.join(PERSONAL_FIELDS)}; remove {', '.join(unknown)}")
    out: dict[str, str] = {}
    for name, value in personal.items():
        if value is None:
            continue
        if not isinstance(value, str) or not 0 < len(value) <= MAX_FIELD or not value.isprintable():
            # the message names the field, never its value: this is personal data
            raise InputError(f"personal field {name} must be 1 to {MAX_FIELD} printable characters")
        out[name] = value
    return out


def open_account(
    engine: Engine,
    principal: Principal,
    now: int,
    personal: dict[str, Any] | None = None,
    vault: Vault | None = None,
    consents: Sequence[str] = (),
) -> str:
    """A new account opened by the principal's source (scope accounts:write), with the source's
    consents for `consents` (kinds of data); returns its id. All of it or nothing: an unknown kind
    refuses the whole, so no account is left holding sealed data its app was told was refused."""
    require(principal, "accounts:write")
    fields = _check_personal(personal)
    kinds = sorted(set(consents))
    for kind in kinds:
        _check_kind(kind)
    account_id = new_account_id()
    sealed = (vault or Vault()).seal(account_id, fields) if fields else None
    with engine.begin() as conn:
        conn.execute(insert(ACCOUNTS).values(id=account_id, created_by=principal.source_id, created_at=now))
        if sealed is not None:
            conn.execute(insert(ACCOUNT_VAULT).values(account_id=account_id, sealed=sealed))
        for kind in kinds:
            conn.execute(
                insert(CONSENTS).values(
                    account_id=account_id, source_id=principal.source_id, data_kind=kind, granted_at=now
                )
            )
    return account_id


def _account(conn: Connection, account_id: str) -> Any:
    row = conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.id == account_id)).first()
    if row is None:
        raise NotFoundError(f"no account {account_id}; accounts are opened with scope accounts:write")
    return row


def _live(conn: Connection, account_id: str) -> None:
    if _account(conn, account_id).deleted_at is not None:
        raise ConflictError(f"account {account_id} is deleted; open a new account")


def _check_kind(data_kind: str) -> None:
    from accounts.methodology import data_kinds  # here: methodology reads the shipped CSV once, lazily

    kinds = data_kinds()
    if data_kind not in kinds:
        raise InputError(f"data kind must be one of {', '.join(sorted(kinds))}, not {data_kind!r}")


def grant_consent(
    engine: Engine, principal: Principal, account_id: str, data_kind: str, now: int, for_source: str | None = None
) -> ConsentInfo:
    """Record the person's consent that `for_source` (default: the principal's own source) sends
    `data_kind` records (idempotent). Only the app that opened the account records consents: the
    person answers there, and a source that merely learnt an account id (every statement link holds
    one) must not be able to grant itself the person's statement."""
    require(principal, "accounts:write")
    _check_kind(data_kind)
    source = principal.source_id if for_source is None else for_source
    c = CONSENTS.c
    with engine.begin() as conn:
        _live(conn, account_id)
        opener = conn.execute(select(ACCOUNTS.c.created_by).where(ACCOUNTS.c.id == account_id)).scalar_one()
        if opener != principal.source_id:
            raise ScopeError(
                f"only the app that opened account {account_id} records the person's consents; ask it to record "
                f"consent for source {source}"
            )
        if (
            source != principal.source_id
            and conn.execute(select(SOURCES.c.id).where(SOURCES.c.id == source)).first() is None
        ):
            raise NotFoundError(f"no data source {source!r}; list them with `ledger accounts source list`")
        row = conn.execute(
            select(CONSENTS).where(
                c.account_id == account_id,
                c.source_id == source,
                c.data_kind == data_kind,
                c.revoked_at.is_(None),
            )
        ).first()
        if row is not None:
            return ConsentInfo(account_id, source, data_kind, row.granted_at, None)
        conn.execute(
            insert(CONSENTS).values(account_id=account_id, source_id=source, data_kind=data_kind, granted_at=now)
        )
    return ConsentInfo(account_id, source, data_kind, now, None)


def revoke_consent(
    engine: Engine, principal: Principal, account_id: str, data_kind: str, now: int, for_source: str | None = None
) -> int:
    """Withdraw a live consent for `data_kind` of `for_source` (default: the principal's own); returns
    how many were withdrawn (0 or 1). A source always drops its own; the opening app, where the person
    answers, drops any source's."""
    require(principal, "accounts:write")
    _check_kind(data_kind)
    source = principal.source_id if for_source is None else for_source
    c = CONSENTS.c
    with engine.begin() as conn:
        acc = _account(conn, account_id)
        if source != principal.source_id and acc.created_by != principal.source_id:
            raise ScopeError(f"source {principal.source_id} may withdraw only its own consents on account {account_id}")
        done = conn.execute(
            update(CONSENTS)
            .where(
                c.account_id == account_id,
                c.source_id == source,
                c.data_kind == data_kind,
                c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    return int(done.rowcount)


def list_consents(engine: Engine, account_id: str) -> list[ConsentInfo]:
    """Every consent of the account, live and withdrawn, oldest first."""
    with engine.connect() as conn:
        _account(conn, account_id)
        return _consents(conn, account_id)


def _consents(conn: Connection, account_id: str) -> list[ConsentInfo]:
    rows = conn.execute(select(CONSENTS).where(CONSENTS.c.account_id == account_id).order_by(CONSENTS.c.id)).all()
    return [ConsentInfo(r.account_id, r.source_id, r.data_kind, r.granted_at, r.revoked_at) for r in rows]


def export_account(engine: Engine, account_id: str, vault: Vault | None = None) -> dict[str, Any]:
    """Everything held about the account: personal data unsealed, consents, records, points entries."""
    e = ENTRIES.c
    with read_snapshot(engine) as conn:  # records, entries and consents of one moment
        acc = _account(conn, account_id)
        sealed = conn.execute(
            select(ACCOUNT_VAULT.c.sealed).where(ACCOUNT_VAULT.c.account_id == account_id)
        ).scalar_one_or_none()
        records = conn.execute(
            select(BEHAVIOUR_RECORDS)
            .where(BEHAVIOUR_RECORDS.c.key.in_(_record_keys(account_id)))
            .order_by(BEHAVIOUR_RECORDS.c.received_at, BEHAVIOUR_RECORDS.c.key)
        ).all()
        entries = conn.execute(select(ENTRIES).where(e.account == f"person:{account_id}").order_by(e.id)).all()
        consents = _consents(conn, account_id)
    personal = (vault or Vault()).open(account_id, bytes(sealed)) if sealed is not None else {}
    return {
        "account": account_id,
        "created_by": acc.created_by,
        "created_at": acc.created_at,
        "deleted_at": acc.deleted_at,
        "personal": personal,
        "consents": [c.__dict__ for c in consents],
        "records": [
            {
                "key": r.key,
                "key2": r.key2,
                "source": r.source_id,
                "source_record_id": r.source_record_id,
                "type": r.type,
                "version": r.version,
                "occurred_at": r.occurred_at,
                "quantity": r.quantity,
                "points": r.points,
                "capped": r.capped,
                "received_at": r.received_at,
            }
            for r in records
        ],
        "entries": [
            {
                "id": x.id,
                "txn": x.txn,
                "amount": x.amount,
                "kind": x.kind,
                "ref": x.ref,
                "created_at": x.created_at,
                "expires_at": x.expires_at,
            }
            for x in entries
        ],
    }


def _record_keys(account_id: str) -> Any:
    """The keys of the account's behaviour records, read through its points entries (the index the
    statement uses): each stored record was credited to its person once, by an entry whose ref names
    it. behaviour_records has no index by account, which ingest would write 1,000 times a batch."""
    e = ENTRIES.c
    return select(func.substr(e.ref, len("record:") + 1)).where(
        e.account == f"person:{account_id}", e.kind == "credit", e.ref.like("record:%")
    )


def delete_account(engine: Engine, account_id: str, now: int) -> None:
    """Destroy the personal data (vault row, consents, records' details); keep the points entries."""
    r = BEHAVIOUR_RECORDS.c
    with engine.begin() as conn:
        _account(conn, account_id)
        # the mark first: its row lock makes a concurrent deletion wait here, and only where no mark
        # is, so the first deletion's time stays (a second one read "not deleted" before the first
        # committed); what reads the account with a lock waits for the whole deletion
        conn.execute(
            update(ACCOUNTS).where(ACCOUNTS.c.id == account_id, ACCOUNTS.c.deleted_at.is_(None)).values(deleted_at=now)
        )
        conn.execute(delete(ACCOUNT_VAULT).where(ACCOUNT_VAULT.c.account_id == account_id))
        conn.execute(delete(CONSENTS).where(CONSENTS.c.account_id == account_id))
        # the record rows stay, stripped: their keys keep the same behaviour from earning twice
        # and the entries' refs resolve; when and how much the person travelled goes
        conn.execute(
            update(BEHAVIOUR_RECORDS)
            .where(
                r.key.in_(_record_keys(account_id)),
                or_(r.occurred_at.is_not(None), r.quantity.is_not(None), r.key2.is_not(None)),
            )
            # the second key goes too: it places the behaviour within a quarter bucket of an edge, and
            # a deleted account takes no record it could meet
            .values(occurred_at=None, quantity=None, key2=None)
        )


def is_deleted(engine: Engine, account_id: str) -> bool:
    """True once the account is deleted (NotFoundError if it never existed)."""
    with engine.connect() as conn:
        return _account(conn, account_id).deleted_at is not None
