"""The SQL mirror's tables.

Three kinds of table, and how a reorganisation undoes each:
- raw events, append-only, keyed by (chain id, block number, log index): rows above the common
  ancestor are deleted;
- history (status changes, retirements, cancellations, anchors, lot moves): append-only with
  their block number, deleted the same way;
- current state (methodologies, participants, projects, parcels, batches, balances, pledges,
  exports, lots): overwritten in place; for blocks inside the unfinalised window every change
  also writes its previous value to the journal, which a rollback replays backwards.

Amounts and serials are kilograms in BIGINT (up to 9.2e18 kg, far above any registry's supply);
256-bit values (operation ids, hashes) are 0x-hex text; addresses are lowercase.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Text
from sqlmodel import Field, SQLModel, col


class RawEvent(SQLModel, table=True):
    __tablename__ = "raw_events"
    chain_id: int = Field(primary_key=True)
    block_number: int = Field(sa_column_kwargs={"primary_key": True}, sa_type=BigInteger)
    log_index: int = Field(primary_key=True)
    block_hash: str
    tx_hash: str = Field(index=True)
    tx_index: int
    address: str
    name: str = Field(index=True)
    topics: str  # the raw topics, comma-separated hex: with `data`, the event as the node gave it
    data: str = Field(sa_type=Text)


class Block(SQLModel, table=True):
    """Blocks of the unfinalised window, to detect a reorganisation by parent hash."""

    __tablename__ = "blocks"
    chain_id: int = Field(primary_key=True)
    number: int = Field(sa_column_kwargs={"primary_key": True}, sa_type=BigInteger)
    hash: str
    parent_hash: str


class SyncCursor(SQLModel, table=True):
    __tablename__ = "sync_cursor"
    chain_id: int = Field(primary_key=True)
    address: str = Field(primary_key=True)
    block_number: int = Field(sa_type=BigInteger)
    block_hash: str


class JournalRow(SQLModel, table=True):
    """Previous values of current-state rows changed inside the unfinalised window: one row per
    block (a block of thousands of changes is one JSON text, not thousands of rows)."""

    __tablename__ = "journal"
    id: int | None = Field(default=None, primary_key=True)
    block_number: int = Field(sa_type=BigInteger, index=True)
    # JSON list of [table, [primary key values], row before the block, or null when it did not exist]
    entries: str = Field(sa_type=Text)


# ---------------------------------------------------------------- current state


class MethodologyRow(SQLModel, table=True):
    __tablename__ = "methodologies"
    id: str = Field(primary_key=True)
    ecosystem: str
    version: int
    document_hash: str
    status: str
    successor_id: str | None = None


class ParticipantRow(SQLModel, table=True):
    __tablename__ = "participants"
    address: str = Field(primary_key=True)
    kind: str
    status: str
    reference_hash: str


class ProjectRow(SQLModel, table=True):
    __tablename__ = "projects"
    id: str = Field(primary_key=True)
    methodology_id: str
    owner: str
    county_code: int
    area_square_metres: int = Field(sa_type=BigInteger)
    crediting_start: int = Field(sa_type=BigInteger)
    crediting_end: int = Field(sa_type=BigInteger)
    documents_hash: str
    status: str
    review_report_hash: str | None = None
    batch_count: int = 0


class Parcel(SQLModel, table=True):
    __tablename__ = "parcels"
    parcel: str = Field(primary_key=True)
    project_id: str = Field(index=True)


class BatchRow(SQLModel, table=True):
    __tablename__ = "batches"
    id: int = Field(primary_key=True)
    project_id: str = Field(index=True)
    batch_seq: int | None = None
    vintage: int
    first_serial: int = Field(sa_type=BigInteger)
    issued: int = Field(sa_type=BigInteger)
    retired: int = Field(sa_type=BigInteger, default=0)
    cancelled: int = Field(sa_type=BigInteger, default=0)
    reserve_amount: int = Field(sa_type=BigInteger, default=0)
    owner: str
    monitoring_start: int | None = Field(default=None, sa_type=BigInteger)
    monitoring_end: int | None = Field(default=None, sa_type=BigInteger)
    verification_report_hash: str | None = None
    origin_key: str | None = None
    origin_registry: str | None = None
    op_id: str
    block_number: int = Field(sa_type=BigInteger)
    tx_hash: str


class ImportOriginRow(SQLModel, table=True):
    """Where an imported batch came from, as the destination's import gate said in the importing
    transaction (its ImportOrigin event; contracts/MethodologyRecognitions.sol)."""

    __tablename__ = "import_origins"
    origin_key: str = Field(primary_key=True)
    batch_id: int = Field(index=True)
    source_chain_id: int = Field(sa_type=BigInteger)
    source_registry: str
    export_id: str  # a 256-bit id in hex, as `exports.id`
    source_batch: int = Field(sa_type=BigInteger)
    first_serial: int = Field(sa_type=BigInteger)  # the source batch's serial range
    last_serial: int = Field(sa_type=BigInteger)
    block_number: int = Field(sa_type=BigInteger)
    tx_hash: str


class Balance(SQLModel, table=True):
    __tablename__ = "balances"
    holder: str = Field(primary_key=True)
    batch_id: int = Field(primary_key=True)
    amount: int = Field(sa_type=BigInteger)
    pledged: int = Field(sa_type=BigInteger, default=0)
    frozen: int = Field(sa_type=BigInteger, default=0)


class PledgeRow(SQLModel, table=True):
    __tablename__ = "pledges"
    id: str = Field(primary_key=True)
    pledgor: str
    pledgee: str
    batch_id: int
    amount: int = Field(sa_type=BigInteger)
    registration_reference: str
    status: str


class ExportRow(SQLModel, table=True):
    __tablename__ = "exports"
    id: str = Field(primary_key=True)
    holder: str
    batch_id: int
    amount: int = Field(sa_type=BigInteger)
    destination_registry: str
    destination_account: str
    status: str
    destination_reference: str | None = None


class Lot(SQLModel, table=True):
    """A serial range of one batch and where it is now: held by `holder`, or retired/cancelled."""

    __tablename__ = "lots"
    batch_id: int = Field(primary_key=True)
    first_serial: int = Field(sa_column_kwargs={"primary_key": True}, sa_type=BigInteger)
    last_serial: int = Field(sa_type=BigInteger)
    holder: str
    state: str  # held | retired | cancelled
    acquired: int = Field(sa_type=BigInteger)  # ordering key for first-in-first-out
    retirement_id: str | None = None
    cancellation_id: str | None = None


# ---------------------------------------------------------------- history (append-only)


class ParticipantStatusChange(SQLModel, table=True):
    __tablename__ = "participant_status_changes"
    block_number: int = Field(sa_column_kwargs={"primary_key": True}, sa_type=BigInteger)
    log_index: int = Field(primary_key=True)
    address: str = Field(index=True)
    previous: str
    status: str
    reason_hash: str
    tx_hash: str


class Retirement(SQLModel, table=True):
    __tablename__ = "retirements"
    id: str = Field(primary_key=True)  # <chainId>-<txHash>-<logIndex>
    batch_id: int = Field(index=True)
    holder: str = Field(index=True)
    operator: str
    amount: int = Field(sa_type=BigInteger)
    scenario: str
    beneficiary_commitment: str
    claim_hash: str
    op_id: str
    block_number: int = Field(sa_type=BigInteger, index=True)
    log_index: int
    tx_hash: str


class Cancellation(SQLModel, table=True):
    __tablename__ = "cancellations"
    id: str = Field(primary_key=True)
    batch_id: int = Field(index=True)
    holder: str
    amount: int = Field(sa_type=BigInteger)
    reason: str
    evidence_hash: str
    export_id: str | None = None
    op_id: str
    block_number: int = Field(sa_type=BigInteger, index=True)
    log_index: int
    tx_hash: str


class AnchoredRoot(SQLModel, table=True):
    __tablename__ = "anchored_roots"
    tree_size: int = Field(primary_key=True, sa_type=BigInteger)
    root: str
    anchored_at: int = Field(sa_type=BigInteger)
    block_number: int = Field(sa_type=BigInteger, index=True)
    tx_hash: str


class LotMove(SQLModel, table=True):
    """One serial range changing hands: issue, transfer, retire, cancel (provenance)."""

    __tablename__ = "lot_moves"
    block_number: int = Field(sa_column_kwargs={"primary_key": True}, sa_type=BigInteger)
    log_index: int = Field(primary_key=True)
    part: int = Field(primary_key=True)
    batch_id: int
    first_serial: int = Field(sa_type=BigInteger)
    last_serial: int = Field(sa_type=BigInteger)
    from_holder: str
    to_holder: str
    kind: str
    tx_hash: str


Index("ix_lot_moves_range", col(LotMove.batch_id), col(LotMove.first_serial))
Index("ix_lots_retirement_id", col(Lot.retirement_id))  # provenance, certificates, verification
# the public registry's lists (public/lists.py): newest first, by scenario or batch, with a unique tiebreak
Index("ix_retirements_keyset", col(Retirement.block_number), col(Retirement.log_index))
Index(  # and the amount: the statistics sum retirements from this index alone (public/stats.py)
    "ix_retirements_scenario_keyset",
    col(Retirement.scenario),
    col(Retirement.block_number),
    col(Retirement.log_index),
    col(Retirement.amount),
)
Index("ix_retirements_batch_keyset", col(Retirement.batch_id), col(Retirement.block_number), col(Retirement.log_index))


# the mirror's own tables: the domain packages (certificates/) keep theirs in the same metadata and database
TABLES = [
    cls.__table__
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, SQLModel) and cls.__module__ == __name__ and hasattr(cls, "__table__")
]
