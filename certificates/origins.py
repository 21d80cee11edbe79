"""The origin of imported units on a certificate (docs/certificate-format.md, `origin`): for a
retirement of a batch imported from another registry, where the batch came from, as the mirror
holds the destination's import gate's record (indexer/import_origins.py). Informational: it is not
what the certificate proves (the retirement event is), but a verifier that reads the mirror checks
it against the gate's record and fails a certificate whose origin differs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from indexer.import_origins import import_origin

FIELDS = (
    "origin_registry",
    "origin_key",
    "attested",
    "source_chain_id",
    "source_registry",
    "export_id",
    "source_batch",
    "source_first_serial",
    "source_last_serial",
    "import_tx_hash",
)


def retirement_origin(conn: Connection, batch_id: int) -> dict[str, Any] | None:
    """The `origin` of a retirement block of batch `batch_id`, or None for a batch that is not an import."""
    found = import_origin(conn, batch_id)
    return None if found is None else {k: found[k] for k in FIELDS}


def add_origins(conn: Connection, body: dict[str, Any], known: dict[int, dict[str, Any] | None] | None = None) -> None:
    """Give each retirement block of a certificate body of imported units its `origin` (before the
    body is hashed into the log: the origin is part of what the leaf commits to). `known` caches the
    answers by batch across the bodies of one bulk issue, so thousands of shares ask once a batch."""
    known = {} if known is None else known
    for r in body["retirements"]:
        if r["batch_id"] not in known:
            known[r["batch_id"]] = retirement_origin(conn, r["batch_id"])
        origin = known[r["batch_id"]]
        if origin is not None:
            r["origin"] = origin


def origin_problem(rid: str, block: dict[str, Any], evidence: object) -> str | None:
    """Why a retirement block's `origin` is wrong, or None. Evidence that cannot tell (a node, which
    does not know the gate) leaves the shape checked only."""
    claimed = block["origin"]
    if not isinstance(claimed, dict) or set(claimed) != set(FIELDS):
        return f"{rid}: its origin must hold exactly {', '.join(FIELDS)}"
    read = getattr(evidence, "import_origin", None)
    if read is None:
        return None
    known = read(block["batch_id"])
    if known is None:
        return f"{rid}: names an origin, but batch {block['batch_id']} is not an import"
    differ = [k for k in FIELDS if claimed[k] != known[k]]
    if differ:
        return f"{rid}: its origin's {', '.join(differ)} differ(s) from the import gate's record"
    return None
