"""Personal carbon accounts (/api/v1/accounts, docs/accounts.md): what sources, merchants and apps
send and what they get back. Points are integers (1 point = 1 g CO2e avoided), times unix seconds.
No answer carries a person's name, phone or ID number except the export the person's app asks for."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AccountId = Annotated[str, Field(pattern=r"^acc_[a-z2-7]{26}$", description="acc_ and 26 base32 characters")]
DataKind = Annotated[
    str, Field(min_length=1, max_length=40, description="a data kind of the methodology: transit, cycling ...")
]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ requests


class PersonalIn(Strict):
    """Sealed in the vault at once (certificates/vault.py); never stored elsewhere, logged or answered."""

    name: Annotated[str | None, Field(max_length=200)] = None
    phone: Annotated[str | None, Field(max_length=40)] = None
    id_number: Annotated[str | None, Field(max_length=40)] = None


class OpenAccountIn(Strict):
    personal: PersonalIn | None = None
    consents: Annotated[list[DataKind], Field(max_length=20, description="data kinds granted at opening")] = []


SourceId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$", description="a data source's id")]


class ConsentIn(Strict):
    kind: DataKind
    source: SourceId | None = Field(
        default=None,
        description="the source the person consents to (default: the caller); only the app that opened the "
        "account records consents",
    )


class RecordsIn(Strict):
    """At most 1,000 records; each is checked on its own (a bad record is refused with its reason,
    the others are applied), so a record's members are described, not enforced, here."""

    records: Annotated[list[dict[str, Any]], Field(description="behaviour records (docs/accounts.md)")]


class LinkIn(Strict):
    ttl: Annotated[
        int | None, Field(ge=60, description="seconds the link stays valid; default and maximum: settings")
    ] = None


class RightIn(Strict):
    name: Text
    kind: Literal["coupon", "ticket", "transit_credit", "other"]
    stock: Annotated[int, Field(ge=0, le=10**9)]
    price: Annotated[int, Field(ge=1, le=10**9, description="points")]
    reversal_window: Annotated[int, Field(ge=0, le=30 * 86400, description="seconds the merchant may reverse")] = 0


class StockIn(Strict):
    stock: Annotated[int, Field(ge=0, le=10**9, description="the stock the merchant counts as left")]


class RedemptionIn(Strict):
    right: Annotated[int, Field(ge=1, le=2**62, description="the right's id")]


# ------------------------------------------------------------------ answers


class AccountPublic(Strict):
    account: str
    created_by: str
    created_at: int
    consents: list[str]


class ConsentPublic(Strict):
    account: str
    source: str
    kind: str
    granted_at: int | None
    revoked_at: int | None


class OutcomePublic(Strict):
    """One record's outcome: credited (points, the ledger transaction, the behaviour's record key),
    duplicate (`record`: the key of the behaviour credited first, from whichever source, and `txn` its
    transaction; null when a concurrent batch credited it) or refused (`code` and a one-line `reason`
    naming the fix). A batch's credits are one ledger transaction: the source's total and each
    person's points."""

    index: int
    id: str | None
    status: Literal["credited", "duplicate", "refused"]
    points: int
    txn: str | None
    record: str | None
    code: str | None
    reason: str | None
    capped: bool
    type_version: int | None
    illustrative: bool


class BatchPublic(Strict):
    received: int
    credited: int
    duplicate: int
    refused: int
    points: int  # credited to this batch's records, each ledger transaction once
    illustrative: bool  # some points come from a factor without a public source (docs/accounts.md)
    outcomes: list[OutcomePublic]


class ProofPublic(Strict):
    """The entry's leaf in the points log and its RFC 9162 inclusion path to a root: the root
    anchored on chain (`anchored`), else the current root and a note saying why not yet."""

    entry_id: int
    leaf_format: str
    leaf_index: int | None
    tree_size: int
    root: str
    path: list[str]
    anchored: bool
    note: str | None
    anchor_tx: str | None


class EntryPublic(Strict):
    id: int
    txn: str
    kind: str
    amount: int
    ref: str
    created_at: int
    expires_at: int | None
    proof: ProofPublic | None


class ExpiringPublic(Strict):
    points: int
    expires_at: int


class AnchorPublic(Strict):
    tree_size: int
    root: str
    tx_hash: str


class StatementPublic(Strict):
    account: str
    at: int
    balance: int
    expiring: list[ExpiringPublic]
    entries: list[EntryPublic]
    next_before: int | None
    anchor: AnchorPublic | None


class LinkPublic(Strict):
    url: str
    expires_at: int


class ExportPublic(Strict):
    """Everything held about the account, for the person: the unsealed personal data too."""

    account: str
    export: dict[str, Any]


class DeletedPublic(Strict):
    account: str
    deleted_at: int
    kept: str


class RightPublic(Strict):
    id: int
    merchant: str
    name: str
    kind: str
    stock: int
    price: int
    reversal_window: int
    active: bool
    created_at: int
    updated_at: int


class RightListPublic(Strict):
    rights: list[RightPublic]


class RedemptionPublic(Strict):
    """`replayed`: a retry with the same Idempotency-Key, answered with the first redemption."""

    id: str
    account: str
    right: int
    points: int
    created_at: int
    reversed_at: int | None
    replayed: bool
