"""Where an imported batch came from, read from the mirror alone: the registry's BatchImported
(origin registry and key, on `batches`) and the import gate's ImportOrigin of the same transaction
(source chain, registry, export, batch and serial range, on `import_origins`). Provenance and
certificates name the origin from here, without the source registry's node."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from chain.errors import InvalidInputError
from indexer.models import BatchRow, ImportOriginRow

# the gate's record, in the order of its ImportOrigin event
GATE_FIELDS = (
    "source_chain_id",
    "source_registry",
    "export_id",
    "source_batch",
    "source_first_serial",
    "source_last_serial",
    "import_tx_hash",
)


def gate_address(setting: str) -> str:
    """LEDGER_IMPORT_GATE as the lower-case address whose logs the indexer reads, or "" for none.
    Not an address, the node refuses every eth_getLogs naming it, which the log fetcher takes for a
    range too wide and halves for ever: refused here in one line instead."""
    text = setting.strip()
    if text and re.fullmatch(r"0x[0-9a-fA-F]{40}", text) is None:
        raise InvalidInputError(
            f"LEDGER_IMPORT_GATE {text[:50]!r} is not an address (0x and 40 hex digits); set it to the import gate "
            "`ledger bridge deploy-recognitions` printed, or leave it empty"
        )
    return text.lower()


def import_origin(conn: Connection, batch_id: int, *, serial: int | None = None) -> dict[str, Any] | None:
    """None for a batch that is not an import. `attested` says whether the gate's record is there
    (an import made around the gate, or before the gate was mirrored, names only its registry and
    key). With `serial`, which kilogram of the import it is (1 .. imported_kg)."""
    if not 0 <= batch_id < 2**63:  # no batch has that id, and SQL integers stop at 2**63 - 1
        return None
    batch = conn.execute(
        select(
            col(BatchRow.origin_key),
            col(BatchRow.origin_registry),
            col(BatchRow.first_serial),
            col(BatchRow.issued),
            col(BatchRow.tx_hash),
        ).where(col(BatchRow.id) == batch_id)
    ).first()
    if batch is None or batch.origin_key is None:
        return None
    row = conn.execute(select(ImportOriginRow).where(col(ImportOriginRow.origin_key) == batch.origin_key)).first()
    # the gate's record is the one emitted in the importing transaction: an ImportOrigin-looking
    # log of another transaction (a wrong contract at LEDGER_IMPORT_GATE) names nothing
    if row is not None and (row.batch_id != batch_id or row.tx_hash.lower() != batch.tx_hash.lower()):
        row = None
    gate: tuple[Any, ...] = (None,) * 7
    if row is not None:
        gate = (
            row.source_chain_id,
            row.source_registry,
            row.export_id,
            row.source_batch,
            row.first_serial,
            row.last_serial,
            row.tx_hash,
        )
    found: dict[str, Any] = {
        "origin_registry": batch.origin_registry,
        "origin_key": batch.origin_key,
        "attested": row is not None,
        **dict(zip(GATE_FIELDS, gate, strict=True)),
        "imported_kg": batch.issued,
    }
    if serial is not None:
        found["kilogram_of_import"] = serial - batch.first_serial + 1
    return found
