"""Provenance across registries: an imported batch on the destination traced back to the export,
batch and serial range on the source it came from, from the two chains alone.

The destination's BatchImported names the origin registry and the origin key; the source's
ExportRequested events give the export whose key that is; the source batch gives its serial
range; the import's evidence hash (bridge/origin.py) must commit to exactly that batch and range,
so a relay (or an attacker) cannot name one batch and import another.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.origin import evidence_hash, origin_key
from bridge.relay import Endpoint
from chain.errors import InvalidInputError
from chain.types import from_short_id


@dataclass(frozen=True)
class Origin:
    destination_batch: int
    origin_registry: str  # the short id the import names, e.g. SC-LINCAO
    source_chain_id: int
    source_registry: str  # the source contract's address
    export_id: int
    source_batch: int
    source_project: str
    vintage: int
    first_serial: int  # the source batch's serial range (one serial is one kilogram)
    last_serial: int
    quantity: int  # kilograms this import carried
    import_tx: str
    evidence_matches: bool

    def serial_range(self) -> str:
        return f"{self.origin_registry}:{self.source_batch}:{self.first_serial}-{self.last_serial}"


def trace(source: Endpoint, destination: Endpoint, batch_id: int) -> Origin:
    """Where destination batch `batch_id` came from; InvalidInputError if it is not an import from `source`."""
    imports = [
        e
        for e in destination.events("BatchImported", destination.start_block, destination.head())
        if int(e.args["batchId"]) == batch_id
    ]
    if not imports:
        raise InvalidInputError(f"batch {batch_id} of {destination.name} is not an import; give an imported batch")
    imported = imports[0]
    key, credit = bytes(imported.args["originKey"]), imported.args["credit"]
    named = from_short_id(bytes(credit["originRegistry"]))
    if named != source.name:  # another registry's import: not the source's to deny, nor forged
        raise InvalidInputError(
            f"batch {batch_id} of {destination.name} was imported from {named}, not from {source.name}; trace it with "
            f"{named} as the source (LEDGER_BRIDGE_SOURCE_*)"
        )
    s = source.client
    for e in source.events("ExportRequested", source.start_block, source.head()):
        export_id = int(e.args["exportId"])
        if origin_key(s.chain_id, s.address, export_id) != key:
            continue
        source_batch = int(e.args["batchId"])
        b = s.batch(source_batch)
        last = b.first_serial + b.issued - 1
        return Origin(
            destination_batch=batch_id,
            origin_registry=from_short_id(bytes(credit["originRegistry"])),
            source_chain_id=s.chain_id,
            source_registry=s.address,
            export_id=export_id,
            source_batch=source_batch,
            source_project=b.project_id,
            vintage=b.vintage,
            first_serial=b.first_serial,
            last_serial=last,
            quantity=int(credit["quantity"]),
            import_tx=imported.tx_hash,
            evidence_matches=bytes(credit["evidenceHash"]) == evidence_hash(key, source_batch, b.first_serial, last),
        )
    raise InvalidInputError(
        f"batch {batch_id} of {destination.name} names origin key 0x{key.hex()}, which {source.name} never "
        "exported: a forged origin (run `ledger bridge audit`)"
    )
