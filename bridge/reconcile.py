"""The two-registry reconciliation (`ledger bridge audit`): from the two chains alone,

1. on the source, per batch: issued = circulating + retired + cancelled;
2. every export confirmed to the destination has exactly one import there, of the same amount,
   under its origin key, carrying its source batch's project and vintage and evidence committing to
   that batch and its serial range (an import around the gate may carry anything else); every import naming the source has exactly one confirmed export (an
   import under a key the source never exported is a forged origin);
3. combined: what the source issued = what remains or was retired or cancelled in the source,
   less what it exported, plus what the destination holds of the source's imports, less the
   imports whose export is still in flight (imported, not yet confirmed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.origin import evidence_hash, origin_key
from bridge.relay import Endpoint
from chain.types import ExportStatus, short_id

CARRIED = ("project", "vintage", "evidence")  # what an import carries from its export's source batch


@dataclass
class Reconciliation:
    source_issued: int = 0  # Σ issued over the source's batches
    source_exported: int = 0  # Σ confirmed exports to the destination
    destination_imported: int = 0  # Σ issued over the destination's imports naming the source
    in_flight: int = 0  # imported on the destination, export still pending on the source
    confirmed_exports: int = 0
    imports: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def combined(self) -> int:
        """What exists or was retired/cancelled of the source's issuance, counted on both chains."""
        return self.source_issued - self.source_exported + self.destination_imported - self.in_flight

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source_issued": self.source_issued,
            "source_exported": self.source_exported,
            "destination_imported": self.destination_imported,
            "in_flight": self.in_flight,
            "combined": self.combined,
            "confirmed_exports": self.confirmed_exports,
            "imports": self.imports,
            "problems": self.problems,
        }

    def lines(self) -> list[str]:
        out = [
            f"source issued {self.source_issued} kg; exported (confirmed) {self.source_exported} kg "
            f"in {self.confirmed_exports} exports",
            f"destination imported from the source {self.destination_imported} kg in {self.imports} imports "
            f"({self.in_flight} kg in flight)",
            f"combined {self.combined} kg against {self.source_issued} kg issued",
        ]
        out += [f"DIFFERENCE: {p}" for p in self.problems]
        out.append("reconciled: no difference" if self.ok else f"{len(self.problems)} difference(s)")
        return out


def reconcile(source: Endpoint, destination: Endpoint) -> Reconciliation:
    r = Reconciliation()
    s = source.client
    s_head, d_head = source.head(), destination.head()

    # 1. the source's batches, issued and imported, each balanced
    created = source.events("BatchIssued", source.start_block, s_head) + source.events(
        "BatchImported", source.start_block, s_head
    )
    batch_ids = sorted({int(e.args["batchId"]) for e in created})
    for batch_id, supply in zip(batch_ids, s.view_many("supply", [(i,) for i in batch_ids]), strict=True):
        issued, circulating, retired, cancelled = (int(v) for v in supply)
        r.source_issued += issued
        if issued != circulating + retired + cancelled:
            r.problems.append(
                f"source batch {batch_id}: issued {issued} != {circulating} circulating + {retired} retired + "
                f"{cancelled} cancelled"
            )

    # 2. exports to the destination against imports naming the source
    dest_id = short_id(destination.name)
    asked = [
        e
        for e in source.events("ExportRequested", source.start_block, s_head)
        if bytes(e.args["destinationRegistry"]) == dest_id
    ]
    requested = {int(e.args["exportId"]): int(e.args["amount"]) for e in asked}
    # what an import of each export carries: its source batch's project and vintage, and evidence
    # committing to its key, that batch and the batch's serial range
    ids = sorted({int(e.args["batchId"]) for e in asked})
    source_batches = dict(zip(ids, s.view_many("batch", [(i,) for i in ids]), strict=True))
    expected: dict[int, tuple[bytes, int, bytes]] = {}
    for e in asked:
        export_id, b = int(e.args["exportId"]), source_batches[int(e.args["batchId"])]
        first, last = int(b["firstSerial"]), int(b["firstSerial"]) + int(b["issued"]) - 1
        key = origin_key(s.chain_id, s.address, export_id)
        expected[export_id] = (
            bytes(b["projectId"]),
            int(b["vintage"]),
            evidence_hash(key, int(e.args["batchId"]), first, last),
        )
    confirmed = [
        int(e.args["exportId"])
        for e in source.events("ExportConfirmed", source.start_block, s_head)
        if int(e.args["exportId"]) in requested
    ]
    r.confirmed_exports = len(confirmed)
    keys = {origin_key(s.chain_id, s.address, i): i for i in requested}
    src_id = short_id(source.name)
    imports: dict[bytes, list[tuple[int, int]]] = {}
    carried: dict[bytes, tuple[bytes, int, bytes]] = {}
    for e in destination.events("BatchImported", destination.start_block, d_head):
        credit = e.args["credit"]
        key = bytes(e.args["originKey"])
        if bytes(credit["originRegistry"]) != src_id and key not in keys:
            continue  # another registry's import
        imports.setdefault(key, []).append((int(e.args["batchId"]), int(credit["quantity"])))
        carried[key] = (bytes(credit["projectId"]), int(credit["vintage"]), bytes(credit["evidenceHash"]))
    r.imports = sum(len(v) for v in imports.values())
    confirmed_set = set(confirmed)
    for export_id in confirmed:
        key = origin_key(s.chain_id, s.address, export_id)
        found = imports.get(key, [])
        if len(found) != 1:
            r.problems.append(f"confirmed export {export_id} has {len(found)} imports on the destination, not 1")
        elif found[0][1] != requested[export_id]:
            r.problems.append(
                f"confirmed export {export_id} of {requested[export_id]} kg was imported as {found[0][1]} kg"
            )
        r.source_exported += requested[export_id]
    for key, found in imports.items():
        quantity = sum(q for _, q in found)
        r.destination_imported += quantity
        exported = keys.get(key)
        if exported is not None and carried[key] != expected[exported]:
            differ = [n for n, a, b in zip(CARRIED, carried[key], expected[exported], strict=True) if a != b]
            r.problems.append(
                f"export {exported}'s origin key was imported with another {', '.join(differ)} than its source "
                "batch gives: imported around the gate"
            )
        if exported is None:
            batches = ", ".join(str(b) for b, _ in found)
            r.problems.append(
                f"destination batch {batches} ({quantity} kg) names the source under origin key 0x{key.hex()}, "
                "which the source never exported: a forged origin"
            )
        elif exported not in confirmed_set:
            r.in_flight += quantity  # the relay confirms it on its next pass (or it was aborted: see below)
            if quantity != requested[exported]:  # the relay holds it: the id was requested again after a reorg
                r.problems.append(
                    f"export {exported} asks {requested[exported]} kg but its origin key was imported as "
                    f"{quantity} kg on the destination"
                )
            if s.export_of(exported).status == ExportStatus.ABORTED:  # released on the source and imported
                r.problems.append(f"export {exported} was aborted on the source but imported on the destination")

    # 3. combined supply
    if r.combined != r.source_issued:
        r.problems.append(f"combined supply {r.combined} kg != {r.source_issued} kg issued in the source")
    return r
