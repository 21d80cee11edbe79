"""Data sources (apps, transit operators, merchants, platforms) and their scoped API keys.

A key is presented as `<key id>.<secret>`. Only the sha256 of the secret is stored; the secret is
shown once, when the key is made. Rotation makes a new key with the same scopes and revokes the old
one, at once or after an overlap during which both work."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, insert, select, update

from accounts.errors import ConflictError, InputError, KeyRefusedError, NotFoundError, ScopeError
from accounts.models import SOURCE_KEYS as K
from accounts.models import SOURCES as S
from accounts.models import Source

KINDS = ("app", "transit", "merchant", "platform")
SCOPES = ("accounts:write", "records:write", "statements:read", "rights:write", "redemptions:write")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
_KEY_ID = re.compile(r"k_[a-z2-7]{20}")
MAX_OVERLAP = 30 * 86400  # an old key outliving its rotation by more than a month defeats rotation


@dataclass(frozen=True)
class Principal:
    """Who is calling: the source behind a valid key, and what that key may do."""

    source_id: str
    kind: str
    key_id: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str  # shown once; never stored
    scopes: tuple[str, ...]

    @property
    def bearer(self) -> str:
        """The value to present: `Authorization: Bearer <key id>.<secret>`."""
        return f"{self.key_id}.{self.secret}"


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    source_id: str
    scopes: tuple[str, ...]
    created_at: int
    revoked_at: int | None
    replaced_by: str | None


def _b32(n: int) -> str:
    return base64.b32encode(secrets.token_bytes(n)).decode().lower().rstrip("=")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def add_source(engine: Engine, source_id: str, name: str, kind: str, now: int) -> Source:
    """Register a data source (the operator's act, before it may connect: Shenzhen's 登记)."""
    if not isinstance(source_id, str) or not _SLUG.fullmatch(source_id):
        raise InputError("a source id is 2 to 40 lower-case letters, digits and hyphens, e.g. tianfutong")
    if kind not in KINDS:
        raise InputError(f"source kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InputError("a source name is 1 to 200 printable characters")
    with engine.begin() as conn:
        if conn.execute(select(S.c.id).where(S.c.id == source_id)).first():
            raise ConflictError(f"source {source_id} exists already; choose another id")
        conn.execute(insert(S).values(id=source_id, name=name.strip(), kind=kind, created_at=now))
    return Source(id=source_id, name=name.strip(), kind=kind, created_at=now)


def get_source(engine: Engine, source_id: str) -> Source:
    """The source named, or NotFoundError."""
    with engine.connect() as conn:
        row = conn.execute(select(S).where(S.c.id == source_id)).first()
    if row is None:
        raise NotFoundError(f"no source {source_id}; list them with `ledger accounts sources`")
    return Source(id=row.id, name=row.name, kind=row.kind, created_at=row.created_at)


def list_sources(engine: Engine) -> list[Source]:
    """Every registered source, by id."""
    with engine.connect() as conn:
        rows = conn.execute(select(S).order_by(S.c.id)).all()
    return [Source(id=r.id, name=r.name, kind=r.kind, created_at=r.created_at) for r in rows]


def _check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InputError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(map(str, scopes)) or 'none'}")
    return tuple(sorted(set(scopes)))


def create_key(engine: Engine, source_id: str, scopes: list[str] | tuple[str, ...], now: int) -> IssuedKey:
    """A new key for the source; its secret is in the answer and nowhere else."""
    chosen = _check_scopes(scopes)
    get_source(engine, source_id)
    key = IssuedKey(key_id="k_" + _b32(15)[:20], secret=_b32(20), scopes=chosen)
    with engine.begin() as conn:
        conn.execute(
            insert(K).values(
                id=key.key_id,
                source_id=source_id,
                secret_sha256=_digest(key.secret),
                scopes=" ".join(chosen),
                created_at=now,
            )
        )
    return key


def _info(r: Any) -> KeyInfo:
    return KeyInfo(r.id, r.source_id, tuple(r.scopes.split()), r.created_at, r.revoked_at, r.replaced_by)


def _key_row(engine: Engine, key_id: str) -> KeyInfo:
    with engine.connect() as conn:
        row = conn.execute(select(K).where(K.c.id == key_id)).first()
    if row is None:
        raise NotFoundError(f"no key {key_id}; list a source's keys with `ledger accounts keys <source>`")
    return _info(row)


def revoke_key(engine: Engine, key_id: str, now: int) -> None:
    """Refuse the key from `now` on (a key already revoked earlier keeps its earlier instant)."""
    row = _key_row(engine, key_id)
    if row.revoked_at is not None and row.revoked_at <= now:
        return
    with engine.begin() as conn:
        conn.execute(update(K).where(K.c.id == key_id).values(revoked_at=now))


def rotate_key(engine: Engine, key_id: str, now: int, overlap_seconds: int = 0) -> IssuedKey:
    """A new key with the old one's scopes; the old one is refused after `overlap_seconds`."""
    if (
        isinstance(overlap_seconds, bool)
        or not isinstance(overlap_seconds, int)
        or not 0 <= overlap_seconds <= MAX_OVERLAP
    ):
        raise InputError(f"the overlap is 0 to {MAX_OVERLAP} seconds")
    old = _key_row(engine, key_id)
    if old.revoked_at is not None and old.revoked_at <= now:
        raise ConflictError(f"key {key_id} is revoked; create a new key for source {old.source_id} instead")
    if old.replaced_by is not None:
        # rotating it again would set its revocation to now + overlap once more: rotated every few weeks,
        # an old key would never lapse
        raise ConflictError(f"key {key_id} is already rotated; rotate its replacement {old.replaced_by} instead")
    new = create_key(engine, old.source_id, old.scopes, now)
    with engine.begin() as conn:
        conn.execute(update(K).where(K.c.id == key_id).values(revoked_at=now + overlap_seconds, replaced_by=new.key_id))
    return new


def list_keys(engine: Engine, source_id: str) -> list[KeyInfo]:
    """A source's keys, oldest first, without secrets (none is stored)."""
    get_source(engine, source_id)
    with engine.connect() as conn:
        rows = conn.execute(select(K).where(K.c.source_id == source_id).order_by(K.c.created_at, K.c.id)).all()
    return [_info(r) for r in rows]


_REFUSED = "API key refused: present `Authorization: Bearer <key id>.<secret>` with a live key of a registered source"


def authenticate(engine: Engine, presented: str, now: int) -> Principal:
    """The principal behind a presented `<key id>.<secret>`, or KeyRefusedError (never echoing it)."""
    key_id, _, secret = presented.partition(".") if isinstance(presented, str) else ("", "", "")
    if not _KEY_ID.fullmatch(key_id) or not secret or len(secret) > 100:
        raise KeyRefusedError(_REFUSED)
    with engine.connect() as conn:
        row = conn.execute(
            select(K.c.secret_sha256, K.c.scopes, K.c.revoked_at, K.c.source_id, S.c.kind)
            .join(S, S.c.id == K.c.source_id)
            .where(K.c.id == key_id)
        ).first()
    # compare even when the key is unknown, so timing says nothing about which key ids exist
    stored = row.secret_sha256 if row is not None else "0" * 64
    good = hmac.compare_digest(stored, _digest(secret))
    if row is None or not good:
        raise KeyRefusedError(_REFUSED)
    if row.revoked_at is not None and row.revoked_at <= now:
        raise KeyRefusedError(f"API key {key_id} is revoked; ask the operator for a new key")
    return Principal(source_id=row.source_id, kind=row.kind, key_id=key_id, scopes=frozenset(row.scopes.split()))


def require(principal: Principal, scope: str) -> None:
    """ScopeError unless the principal's key carries `scope`."""
    if scope not in principal.scopes:
        raise ScopeError(f"API key {principal.key_id} lacks the scope {scope}; ask the operator for a key with it")
