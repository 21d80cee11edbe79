"""Where an event becomes rows: each registry event's effect on the mirror's state.

Pure: `apply(state, event, chain_id)` changes only `state`. Addresses in an event's arguments
are lowercase already (`indexer/decode.py`). Serial ranges are traced first-in,
first-out: a holder's oldest lots of a batch leave first, split where a transfer takes part of
a lot, and every move is kept in `lot_moves` for provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chain.types import (
    CancellationReason,
    Ecosystem,
    MethodologyStatus,
    ParticipantKind,
    ParticipantStatus,
    ProjectStatus,
    RetirementId,
    Scenario,
    enum_name,
    from_short_id,
)
from indexer.state import Row, State

ZERO = "0x" + "00" * 20


class EventFields(Protocol):
    """What the projector reads of a decoded log: `chain.abi.EventFields` and the indexer's lighter
    `indexer.decode.IndexedEvent` both have it."""

    @property
    def name(self) -> str: ...
    @property
    def args(self) -> dict[str, Any]: ...
    @property
    def address(self) -> str: ...
    @property
    def block_number(self) -> int: ...
    @property
    def block_hash(self) -> str: ...
    @property
    def tx_hash(self) -> str: ...
    @property
    def log_index(self) -> int: ...


def hx(value: bytes) -> str:
    return "0x" + value.hex()


name = enum_name  # the one enum-to-name rule of the mirror, the API and the CLI (chain/types.py)


@dataclass
class TxContext:
    """Mints waiting for their BatchIssued/BatchImported, burns waiting for their label."""

    tx_hash: str = ""
    mints: list[tuple[str, int, int, int]] = field(default_factory=list)  # holder, batch, amount, log index
    burns: list[tuple[str, int, list[Row], int]] = field(default_factory=list)  # holder, batch, taken lots, log index
    parts: dict[int, int] = field(default_factory=dict)  # next lot-move number per log index


class Projector:
    def __init__(self, state: State, chain_id: int) -> None:
        self.state = state
        self.chain_id = chain_id
        self.tx = TxContext()
        # event name -> its handler; events without one (CreditsTransferred, roles...) change nothing
        self.handlers: dict[str, Callable[[EventFields, dict[str, Any], int], None]] = {
            attr[3:]: getattr(self, attr) for attr in dir(type(self)) if attr.startswith("on_")
        }

    def apply(self, e: EventFields) -> None:
        handler = self.handlers.get(e.name)
        if handler is not None:
            if e.tx_hash != self.tx.tx_hash:
                self.tx = TxContext(tx_hash=e.tx_hash)
            handler(e, e.args, e.block_number)

    # ------------------------------------------------------------ catalog

    def on_MethodologyFiled(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self.state.put(
            "methodologies",
            {
                "id": from_short_id(a["methodologyId"]),
                "ecosystem": name(Ecosystem, a["ecosystem"]),
                "version": a["version"],
                "document_hash": hx(a["documentHash"]),
                "status": "filed",
                "successor_id": None,
            },
            block=b,
        )

    def on_MethodologyStatusChanged(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        successor = from_short_id(a["successorId"]) or None
        self.state.update(
            "methodologies",
            (from_short_id(a["methodologyId"]),),
            block=b,
            status=name(MethodologyStatus, a["status"]),
            successor_id=successor,
        )

    def on_ParticipantRegistered(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self.state.put(
            "participants",
            {
                "address": a["account"],
                "kind": name(ParticipantKind, a["kind"]),
                "status": "active",
                "reference_hash": hx(a["referenceHash"]),
            },
            block=b,
        )

    def on_ParticipantStatusChanged(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        status = name(ParticipantStatus, a["status"])
        self.state.update("participants", (a["account"],), block=b, status=status)
        self.state.append(
            "participant_status_changes",
            {
                "block_number": b,
                "log_index": e.log_index,
                "address": a["account"],
                "previous": name(ParticipantStatus, a["previous"]),
                "status": status,
                "reason_hash": hx(a["reasonHash"]),
                "tx_hash": e.tx_hash,
            },
        )

    def on_ProjectSubmitted(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        p = a["project"]
        project_id = from_short_id(a["projectId"])
        self.state.put(
            "projects",
            {
                "id": project_id,
                "methodology_id": from_short_id(p["methodologyId"]),
                "owner": p["owner"],
                "county_code": p["countyCode"],
                "area_square_metres": p["areaSquareMetres"],
                "crediting_start": p["creditingStart"],
                "crediting_end": p["creditingEnd"],
                "documents_hash": hx(p["documentsHash"]),
                "status": "submitted",
                "review_report_hash": None,
                "batch_count": 0,
            },
            block=b,
        )
        for parcel in p["parcels"]:
            self.state.put("parcels", {"parcel": hx(parcel), "project_id": project_id}, block=b)

    def on_ProjectReviewed(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self.state.update(
            "projects",
            (from_short_id(a["projectId"]),),
            block=b,
            status="registered" if a["approved"] else "rejected",
            review_report_hash=hx(a["reviewReportHash"]),
        )

    def on_ProjectStatusChanged(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self.state.update(
            "projects", (from_short_id(a["projectId"]),), block=b, status=name(ProjectStatus, a["status"])
        )

    # ------------------------------------------------------------ issuance

    def on_BatchIssued(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        r = a["request"]
        project_id = from_short_id(a["projectId"])
        self._new_batch(
            e,
            a["batchId"],
            project_id,
            a["firstSerial"],
            r["quantity"],
            {
                "batch_seq": a["batchSeq"],
                "vintage": r["vintage"],
                "reserve_amount": a["reserveAmount"],
                "owner": a["owner"],
                "monitoring_start": r["monitoringStart"],
                "monitoring_end": r["monitoringEnd"],
                "verification_report_hash": hx(r["verificationReportHash"]),
                "op_id": hex(a["opId"]),
            },
        )
        self.state.update("projects", (project_id,), block=b, batch_count=a["batchSeq"])

    def on_BatchImported(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        c = a["credit"]
        self._new_batch(
            e,
            a["batchId"],
            from_short_id(c["projectId"]),
            a["firstSerial"],
            c["quantity"],
            {
                "batch_seq": None,
                "vintage": c["vintage"],
                "reserve_amount": 0,
                "owner": c["to"],
                "origin_key": hx(a["originKey"]),
                "origin_registry": from_short_id(c["originRegistry"]),
                "op_id": hex(a["opId"]),
            },
        )

    def on_ImportOrigin(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        """The import gate's record, fetched from the gate's address only (Indexer(gate=...))."""
        self.state.put(
            "import_origins",
            {
                "origin_key": hx(a["originKey"]),
                "batch_id": a["batchId"],
                "source_chain_id": a["sourceChainId"],
                "source_registry": a["sourceRegistry"],
                "export_id": hex(a["exportId"]),
                "source_batch": a["sourceBatch"],
                "first_serial": a["firstSerial"],
                "last_serial": a["lastSerial"],
                "block_number": b,
                "tx_hash": e.tx_hash,
            },
            block=b,
        )

    def _new_batch(self, e: EventFields, batch_id: int, project_id: str, first: int, quantity: int, extra: Row) -> None:
        row = {
            "id": batch_id,
            "project_id": project_id,
            "first_serial": first,
            "issued": quantity,
            "retired": 0,
            "cancelled": 0,
            "monitoring_start": None,
            "monitoring_end": None,
            "verification_report_hash": None,
            "origin_key": None,
            "origin_registry": None,
            "block_number": e.block_number,
            "tx_hash": e.tx_hash,
        }
        row.update(extra)
        self.state.put("batches", row, block=e.block_number)
        serial = first
        for holder, minted_batch, amount, log_index in self.tx.mints:
            if minted_batch != batch_id:
                continue
            lot = self._new_lot(batch_id, serial, serial + amount - 1, holder, e.block_number)
            self._move(e, log_index, lot, ZERO, holder, "issue")
            serial += amount
        if serial != first + quantity:
            raise ValueError(f"batch {batch_id}: minted {serial - first} of {quantity} in tx {e.tx_hash}")
        self.tx.mints = [m for m in self.tx.mints if m[1] != batch_id]

    # ------------------------------------------------------------ balances and lots

    def on_TransferSingle(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self._transfer(e, a["from"], a["to"], a["id"], a["value"])

    def on_TransferBatch(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        for batch_id, value in zip(a["ids"], a["values"], strict=True):
            self._transfer(e, a["from"], a["to"], batch_id, value)

    def _transfer(self, e: EventFields, frm: str, to: str, batch_id: int, value: int) -> None:
        b = e.block_number
        if frm != ZERO:
            self._add_balance(frm, batch_id, -value, b)
        if to != ZERO:
            self._add_balance(to, batch_id, value, b)
        if frm == ZERO:
            self.tx.mints.append((to, batch_id, value, e.log_index))
            return
        taken = self._take(frm, batch_id, value, b)
        if to == ZERO:
            self.tx.burns.append((frm, batch_id, taken, e.log_index))
            return
        for lot in taken:
            moved = self._new_lot(batch_id, lot["first_serial"], lot["last_serial"], to, b)
            self._move(e, e.log_index, moved, frm, to, "transfer")

    def _add_balance(self, holder: str, batch_id: int, delta: int, block: int, *, field: str = "amount") -> None:
        key = (holder, batch_id)
        row = self.state.tables["balances"].get(key)
        new: Row = (
            {"holder": holder, "batch_id": batch_id, "amount": 0, "pledged": 0, "frozen": 0}
            if row is None
            else row.copy()
        )
        value = new[field] + delta
        if value < 0:
            raise ValueError(f"{field} of {holder} in batch {batch_id} would go negative")
        new[field] = value
        empty = new["amount"] == 0 and new["pledged"] == 0 and new["frozen"] == 0
        self.state.put("balances", None if empty else new, key=key, block=block)

    def _new_lot(self, batch_id: int, first: int, last: int, holder: str, block: int) -> Row:
        lot = {
            "batch_id": batch_id,
            "first_serial": first,
            "last_serial": last,
            "holder": holder,
            "state": "held",
            "acquired": self.state.next_acquired,
            "retirement_id": None,
            "cancellation_id": None,
        }
        self.state.next_acquired += 1
        self.state.put("lots", lot, block=block)
        self.state.fifo[(holder, batch_id)].append(first)
        return lot

    def _take(self, holder: str, batch_id: int, amount: int, block: int) -> list[Row]:
        """Remove `amount` serials from the holder's oldest lots; returns the ranges taken."""
        queue = self.state.fifo[(holder, batch_id)]
        taken: list[Row] = []
        while amount > 0:
            if not queue:
                raise ValueError(f"{holder} holds no more lots of batch {batch_id}")
            lot = self.state.get("lots", (batch_id, queue[0]))
            assert lot is not None
            size = lot["last_serial"] - lot["first_serial"] + 1
            if size <= amount:
                queue.popleft()
                self.state.put("lots", None, key=(batch_id, lot["first_serial"]), block=block)
                taken.append(lot)
                amount -= size
            else:
                cut = lot["first_serial"] + amount
                taken.append({**lot, "last_serial": cut - 1})
                self.state.put("lots", None, key=(batch_id, lot["first_serial"]), block=block)
                self.state.put("lots", {**lot, "first_serial": cut}, block=block)
                queue[0] = cut
                amount = 0
        return taken

    def _move(self, e: EventFields, log_index: int, lot: Row, frm: str, to: str, kind: str) -> None:
        part = self.tx.parts.get(log_index, 0)
        self.tx.parts[log_index] = part + 1
        self.state.append(
            "lot_moves",
            {
                "block_number": e.block_number,
                "log_index": log_index,
                "part": part,
                "batch_id": lot["batch_id"],
                "first_serial": lot["first_serial"],
                "last_serial": lot["last_serial"],
                "from_holder": frm,
                "to_holder": to,
                "kind": kind,
                "tx_hash": e.tx_hash,
            },
        )

    def _label_burn(self, e: EventFields, holder: str, batch_id: int, state: str, ref: str) -> None:
        for i, (frm, burned_batch, lots, log_index) in enumerate(self.tx.burns):
            if frm == holder and burned_batch == batch_id:
                del self.tx.burns[i]
                for lot in lots:
                    ended = {
                        **lot,
                        "holder": holder,
                        "state": state,
                        "acquired": self.state.next_acquired,
                        f"{'retirement' if state == 'retired' else 'cancellation'}_id": ref,
                    }
                    self.state.next_acquired += 1
                    self.state.put("lots", ended, block=e.block_number)
                    self._move(e, log_index, ended, holder, ZERO, "retire" if state == "retired" else "cancel")
                return
        raise ValueError(f"no burn of batch {batch_id} by {holder} precedes {e.name} in {e.tx_hash}")

    # ------------------------------------------------------------ retirement and cancellation

    def event_id(self, e: EventFields) -> str:
        return RetirementId.of(self.chain_id, e.tx_hash, e.log_index)

    def on_CreditsRetired(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        holder, batch_id = a["holder"], a["batchId"]
        retirement_id = self.event_id(e)
        self._label_burn(e, holder, batch_id, "retired", retirement_id)
        batch = self.state.get("batches", (batch_id,))
        assert batch is not None
        self.state.update("batches", (batch_id,), block=b, retired=batch["retired"] + a["amount"])
        self.state.append(
            "retirements",
            {
                "id": retirement_id,
                "batch_id": batch_id,
                "holder": holder,
                "operator": a["operator"],
                "amount": a["amount"],
                "scenario": name(Scenario, a["scenario"]),
                "beneficiary_commitment": hx(a["beneficiaryCommitment"]),
                "claim_hash": hx(a["claimHash"]),
                "op_id": hex(a["opId"]),
                "block_number": b,
                "log_index": e.log_index,
                "tx_hash": e.tx_hash,
            },
        )

    def on_CreditsCancelled(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        holder, batch_id = a["holder"], a["batchId"]
        cancellation_id = self.event_id(e)
        self._label_burn(e, holder, batch_id, "cancelled", cancellation_id)
        batch = self.state.get("batches", (batch_id,))
        assert batch is not None
        self.state.update("batches", (batch_id,), block=b, cancelled=batch["cancelled"] + a["amount"])
        self.state.append(
            "cancellations",
            {
                "id": cancellation_id,
                "batch_id": batch_id,
                "holder": holder,
                "amount": a["amount"],
                "reason": name(CancellationReason, a["reason"]),
                "evidence_hash": hx(a["evidenceHash"]),
                "export_id": hex(a["exportId"]) if a["exportId"] else None,
                "op_id": hex(a["opId"]),
                "block_number": b,
                "log_index": e.log_index,
                "tx_hash": e.tx_hash,
            },
        )

    # ------------------------------------------------------------ exports and pledges

    def on_ExportRequested(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        holder = a["holder"]
        self.state.put(
            "exports",
            {
                "id": hex(a["exportId"]),
                "holder": holder,
                "batch_id": a["batchId"],
                "amount": a["amount"],
                "destination_registry": from_short_id(a["destinationRegistry"]),
                "destination_account": hx(a["destinationAccount"]),
                "status": "pending",
                "destination_reference": None,
            },
            block=b,
        )
        self._add_balance(holder, a["batchId"], a["amount"], b, field="frozen")

    def _end_export(self, a: dict[str, Any], b: int, status: str, reference: str | None) -> None:
        export = self.state.update(
            "exports", (hex(a["exportId"]),), block=b, status=status, destination_reference=reference
        )
        self._add_balance(export["holder"], export["batch_id"], -export["amount"], b, field="frozen")

    def on_ExportConfirmed(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self._end_export(a, b, "confirmed", hx(a["destinationReference"]))

    def on_ExportAborted(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self._end_export(a, b, "aborted", None)

    def on_CreditsPledged(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        pledgor = a["pledgor"]
        self.state.put(
            "pledges",
            {
                "id": hex(a["pledgeId"]),
                "pledgor": pledgor,
                "pledgee": a["pledgee"],
                "batch_id": a["batchId"],
                "amount": a["amount"],
                "registration_reference": hx(a["registrationReference"]),
                "status": "active",
            },
            block=b,
        )
        self._add_balance(pledgor, a["batchId"], a["amount"], b, field="pledged")

    def _end_pledge(self, a: dict[str, Any], b: int, status: str) -> None:
        pledge = self.state.update("pledges", (hex(a["pledgeId"]),), block=b, status=status)
        self._add_balance(pledge["pledgor"], pledge["batch_id"], -pledge["amount"], b, field="pledged")

    def on_PledgeReleased(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self._end_pledge(a, b, "released")

    def on_PledgeEnforced(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self._end_pledge(a, b, "enforced")

    # ------------------------------------------------------------ anchors

    def on_LogRootAnchored(self, e: EventFields, a: dict[str, Any], b: int) -> None:
        self.state.append(
            "anchored_roots",
            {
                "tree_size": a["treeSize"],
                "root": hx(a["root"]),
                "anchored_at": a["anchoredAt"],
                "block_number": b,
                "tx_hash": e.tx_hash,
            },
        )
