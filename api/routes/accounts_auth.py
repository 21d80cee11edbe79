"""What every /api/v1/accounts route stands on: the caller's API key (Bearer `<key id>.<secret>`),
its scopes, a rate limit per key, the body read with a size limit, and the accounts domain's errors
as problem documents.

Rate limits are a token bucket per key held in each API worker's memory: with N workers behind one
address a key may make up to N times the configured rate (docs/accounts.md, "Limits"). Kept in
memory because a shared counter in the database would add a write to every request of the ingest
path the benchmark holds to 20,000 records/s."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import psycopg.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from accounts import sources
from accounts.errors import (
    AccountsError,
    BatchTooLargeError,
    ConflictError,
    KeyRefusedError,
    NotFoundError,
    ScopeError,
)
from accounts.links import LinkError
from accounts.models import ACCOUNTS, CONSENTS
from accounts.settings import AccountsSettings, link_key
from accounts.sources import Principal
from api.problems import PROBLEM, PROBLEM_SCHEMA, ApiProblem, problem
from certificates.errors import ServiceError
from footprint.jsonin import MAX_NESTING, too_deep

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
DESCRIPTIONS = {
    400: "Not JSON, or nested too deeply",
    401: "No API key, or one that is unknown, malformed, revoked or wrong (WWW-Authenticate: Bearer)",
    403: "The key lacks the scope, or its source may not act on this account or right",
    404: "Not found",
    409: "Conflicts with what is stored (a deleted account, a spent idempotency key, no stock left)",
    413: "Too large: the body, or a batch of more than 1,000 records",
    415: "Not application/json",
    422: "Invalid request",
    429: "Too many requests for this key; retry after Retry-After seconds",
    503: "Busy: every connection or admission slot stayed taken; retry after Retry-After seconds",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem answers of an accounts route: those of every route (401, 413, 415, 429, 503: the
    key and the body are checked first) and the route's own."""
    every = {401, 413, 415, 429, 503} | set(statuses)
    return {
        s: {"description": DESCRIPTIONS[s], "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}} for s in sorted(every)
    }


class AccountsProblem(ApiProblem):
    """A problem answer with headers (WWW-Authenticate on a 401, Retry-After on a 429)."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, title, detail)
        self.headers = headers or {}


STATUSES: list[tuple[type[Exception], int, str]] = [
    (KeyRefusedError, 401, "Unauthorized"),
    (ScopeError, 403, "Forbidden"),
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (BatchTooLargeError, 413, "Too large"),
    (AccountsError, 422, "Invalid request"),  # InputError and whatever the domain adds: the caller's to fix
]


def as_problem(exc: AccountsError) -> AccountsProblem:
    for cls, status, title in STATUSES:
        if isinstance(exc, cls):
            headers = {"WWW-Authenticate": 'Bearer realm="accounts"'} if status == 401 else None
            return AccountsProblem(status, title, str(exc), headers)
    raise AssertionError("AccountsError is the last entry")  # pragma: no cover


def _answer(exc: AccountsProblem) -> JSONResponse:
    response = problem(exc.status, exc.title, exc.detail)
    response.headers.update(exc.headers)
    return response


class Buckets:
    """A token bucket per API key: `burst` requests at once, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._held: dict[str, tuple[float, float]] = {}  # key id → (tokens, when counted)
        self._lock = threading.Lock()  # the routes run in a thread pool

    def take(self, key_id: str) -> float:
        """0 when the request may go ahead, else the seconds until a token is back."""
        now = self.clock()
        with self._lock:
            tokens, then = self._held.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._held[key_id] = (tokens - 1, now)
                return 0.0
            self._held[key_id] = (tokens, now)
            return (1 - tokens) / self.rate


def install(app: FastAPI) -> None:
    """The accounts API's state and error answers on `app`; with a registry behind it, the
    statement-link key is loaded (or generated, accounts/settings.py) now, so a bad key stops the
    start with one line instead of failing the first link."""
    settings = AccountsSettings()
    app.state.accounts_settings = settings
    app.state.accounts_buckets = Buckets(settings.rate_per_second, settings.rate_burst)
    app.state.accounts_link_key = None
    if getattr(app.state, "context", None) is not None:
        try:
            app.state.accounts_link_key = link_key(settings)
        except (LinkError, OSError) as exc:
            raise ServiceError(f"accounts: {exc}") from None

    @app.exception_handler(psycopg.errors.DeadlockDetected)
    @app.exception_handler(psycopg.errors.SerializationFailure)
    @app.exception_handler(OperationalError)
    async def _contention(request: Request, exc: Exception) -> JSONResponse:
        # concurrent writers that PostgreSQL made to give way after the domain's own retries: the
        # request changed nothing (its transaction was rolled back), so it may simply be sent again
        orig = getattr(exc, "orig", exc)
        contention = isinstance(orig, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure))
        if not contention or not request.url.path.startswith("/api/v1/accounts"):
            raise exc  # any other route's, or any other failure: the app's own answer to the unexpected
        log.warning("write contention on %s %s: %s", request.method, request.url.path, type(orig).__name__)
        retry = request.app.state.context.settings.retry_after
        response = problem(
            503, "Busy", f"concurrent requests held the same rows; nothing was applied, send it again in {retry} s"
        )
        response.headers["Retry-After"] = str(retry)
        return response

    @app.exception_handler(AccountsProblem)
    async def _accounts_problem(_: Request, exc: AccountsProblem) -> JSONResponse:
        return _answer(exc)

    @app.exception_handler(AccountsError)
    async def _accounts_error(_: Request, exc: AccountsError) -> JSONResponse:
        return _answer(as_problem(exc))


def settings_of(request: Request) -> AccountsSettings:
    found: AccountsSettings = request.app.state.accounts_settings
    return found


def principal(request: Request) -> Principal:
    """The caller, from its Bearer key; 401 without a valid key, 429 past its rate. A body declared
    larger than the limit is refused first, before the key costs a database read."""
    limit = settings_of(request).max_body
    if _declared(request) > limit:
        raise too_large(limit)
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AccountsProblem(
            401,
            "Unauthorized",
            "no API key: send `Authorization: Bearer <key id>.<secret>` with a key the operator made",
            {"WWW-Authenticate": 'Bearer realm="accounts"'},
        )
    who = sources.authenticate(request.app.state.context.engine, presented.strip(), int(time.time()))
    wait = request.app.state.accounts_buckets.take(who.key_id)
    if wait > 0:
        after = max(1, int(wait + 0.999))
        raise AccountsProblem(
            429,
            "Too many requests",
            f"key {who.key_id} is over its rate; retry in {after} s (docs/accounts.md, Limits)",
            {"Retry-After": str(after)},
        )
    return who


def scoped(scope: str) -> Callable[[Request], Principal]:
    """A dependency: the caller, who must hold `scope` (403 otherwise)."""

    def dependency(request: Request) -> Principal:
        who = principal(request)
        sources.require(who, scope)
        return who

    return dependency


def _declared(request: Request) -> int:
    """The Content-Length the client declares (0 when none or not a number: the stream is counted anyway)."""
    text = request.headers.get("content-length", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else 0


MAX_EXPONENT = 64  # no field comes near: a quantity is at most 10,000,000 with 6 decimals (accounts/ingest.py)


class _OutOfRange(ValueError):
    pass


def _decimal(text: str) -> Decimal:
    """A JSON number with a fraction or exponent, read as written. Decimal("1e999999999") costs
    nothing, but an int field made of it builds the whole integer: seconds to hours of CPU for a
    few bytes, on the event loop. Such exponents are refused while parsing."""
    found = Decimal(text)
    if abs(found.adjusted()) > MAX_EXPONENT:
        raise _OutOfRange(text[:20])
    return found


def too_large(limit: int) -> AccountsProblem:
    return AccountsProblem(413, "Too large", f"the body is at most {limit:,} bytes; send fewer records at once")


async def read_json(request: Request, limit: int) -> Any:
    """The body as JSON (decimals as Decimal; None for an empty body), read no further than `limit`
    bytes: 413 past it, 415 for another media type, 400 for what is not JSON or nests too deeply."""
    if _declared(request) > limit:
        raise too_large(limit)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ("application/json", ""):
        raise AccountsProblem(415, "Unsupported media type", "send the body as application/json")
    chunks, size = [], 0
    async for chunk in request.stream():  # never hold more than the limit, whatever the client sends
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    try:
        # UTF-8 only (RFC 8259 §8.1), decoded before anything is parsed: json.loads(bytes) would also
        # read UTF-16 and UTF-32, whose bytes the depth check below cannot read (a character such as
        # 丢, bytes 22 4E, looks like a quote to it), so a nesting it missed could overflow the C stack
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AccountsProblem(400, "Not JSON", "the body is not UTF-8; send application/json in UTF-8") from None
    if too_deep(raw):
        raise AccountsProblem(400, "Nested too deeply", f"the body nests at most {MAX_NESTING} levels")
    try:
        return json.loads(text, parse_float=_decimal)
    except _OutOfRange:
        raise AccountsProblem(
            400, "Number out of range", f"a number in the body has an exponent past ±{MAX_EXPONENT}; write it plainly"
        ) from None
    except (ValueError, RecursionError):
        raise AccountsProblem(400, "Not JSON", "the body is not JSON; send application/json in UTF-8") from None


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that reads its body itself (so FastAPI does not)."""
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": walk(schema)}}}}


async def body(request: Request, model: type[M], *, optional: bool = False) -> M:
    """The body read (size-limited) and checked against `model`; a 422 names the fields, never their
    values. An empty body is the model's defaults when `optional`, else a 400."""
    data = await read_json(request, settings_of(request).max_body)
    if data is None:
        if optional:
            return model()
        raise AccountsProblem(400, "Not JSON", "the body is empty; send the request as application/json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        ) from None


def engine_of(request: Request) -> Engine:
    found: Engine = request.app.state.context.engine
    return found


def now() -> int:
    return int(time.time())


def _relation(engine: Engine, who: Principal, account: str) -> tuple[bool, bool]:
    """(the source opened the account, the source holds a live consent for it); 404 for no account."""
    c = CONSENTS.c
    with engine.connect() as conn:
        row = conn.execute(select(ACCOUNTS.c.created_by).where(ACCOUNTS.c.id == account)).first()
        if row is None:
            raise AccountsProblem(404, "Not found", f"no account {account}")
        live = conn.execute(
            select(c.id).where(c.account_id == account, c.source_id == who.source_id, c.revoked_at.is_(None)).limit(1)
        ).first()
    return row.created_by == who.source_id, live is not None


def require_consent(engine: Engine, who: Principal, account: str) -> None:
    """403 unless the person's consent to this source is live: what reads the person's points needs it."""
    if not _relation(engine, who, account)[1]:
        raise AccountsProblem(
            403, "Forbidden", f"source {who.source_id} holds no live consent for account {account}; ask the person"
        )


def require_opener(engine: Engine, who: Principal, account: str) -> None:
    """403 unless the source opened the account (export, delete, redemption). A consent is not enough:
    a source records its own consent, so any source that learnt an account id (every statement link
    holds it) could grant itself one; the opener is the app the person gave their name, phone and ID
    number to."""
    if not _relation(engine, who, account)[0]:
        raise AccountsProblem(
            403,
            "Forbidden",
            f"source {who.source_id} did not open account {account}; the person exports, deletes or spends "
            "through the app that opened it",
        )
