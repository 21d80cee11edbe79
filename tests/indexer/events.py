"""Registry events as `chain.abi.DecodedEvent` values, built by hand for the projection tests.

The argument dicts have the decoder's shapes (`indexer/decode.py`, `ContractAbi.decode_log(checksum=False)`):
lowercase 0x addresses, ints for uints and enums, bytes for bytes32, dicts for structs, lists for arrays.
`test_projections_truth.py` checks each builder against the real ABI by encoding and decoding it.
Pure: no node, no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chain.abi import DecodedEvent
from chain.types import short_id

Args = tuple[str, dict[str, Any]]  # an event's name and its decoded arguments

ZERO = "0x" + "00" * 20
REGISTRY = "0x" + "5c" * 20  # the contract that emits everything
REGISTRAR = "0x" + "e0" * 20  # the operator of mints and burns
HASH = b"\x42" * 32


def addr(n: int) -> str:
    """A lowercase address, as the decoder gives them."""
    return "0x" + f"{n:040x}"


def b32(n: int) -> bytes:
    return n.to_bytes(32, "big")


@dataclass
class Chain:
    """Blocks and transactions as a node numbers them: log indexes count up within a block."""

    block: int = 100
    next_log: int = 0
    tx_count: int = 0

    def tx(self, *, same_block: bool = False) -> Tx:
        if not same_block:
            self.block += 1
            self.next_log = 0
        self.tx_count += 1
        return Tx(self, self.block, "0x" + f"{self.tx_count:064x}")


@dataclass
class Tx:
    chain: Chain
    block: int
    hash: str
    events: list[DecodedEvent] = field(default_factory=list)

    def emit(self, event: Args) -> DecodedEvent:
        name, args = event
        e = DecodedEvent(
            name=name,
            args=args,
            address=REGISTRY,
            block_number=self.block,
            block_hash="0x" + f"{self.block:064x}",
            tx_hash=self.hash,
            log_index=self.chain.next_log,
        )
        self.chain.next_log += 1
        self.events.append(e)
        return e


# ---------------------------------------------------------------- ERC-1155


def transfer_single(frm: str, to: str, batch_id: int, value: int, operator: str = REGISTRAR) -> Args:
    return "TransferSingle", {"operator": operator, "from": frm, "to": to, "id": batch_id, "value": value}


def transfer_batch(frm: str, to: str, ids: list[int], values: list[int], operator: str = REGISTRAR) -> Args:
    return "TransferBatch", {"operator": operator, "from": frm, "to": to, "ids": list(ids), "values": list(values)}


# ---------------------------------------------------------------- catalog


def methodology_filed(
    methodology: str, op_id: int, ecosystem: int = 0, version: int = 1, document_hash: bytes = HASH
) -> Args:
    return "MethodologyFiled", {
        "methodologyId": short_id(methodology),
        "opId": op_id,
        "ecosystem": ecosystem,
        "version": version,
        "documentHash": document_hash,
    }


def methodology_status_changed(methodology: str, op_id: int, status: int, successor: str | None = None) -> Args:
    return "MethodologyStatusChanged", {
        "methodologyId": short_id(methodology),
        "opId": op_id,
        "status": status,
        "successorId": short_id(successor) if successor else b"\0" * 32,
    }


def participant_registered(account: str, op_id: int, kind: int, reference_hash: bytes = HASH) -> Args:
    return "ParticipantRegistered", {"account": account, "opId": op_id, "kind": kind, "referenceHash": reference_hash}


def participant_status_changed(account: str, op_id: int, previous: int, status: int, reason_hash: bytes = HASH) -> Args:
    return "ParticipantStatusChanged", {
        "account": account,
        "opId": op_id,
        "previous": previous,
        "status": status,
        "reasonHash": reason_hash,
    }


def project_submitted(
    project: str,
    op_id: int,
    *,
    methodology: str,
    owner: str,
    parcels: list[bytes],
    county_code: int = 511802,
    area: int = 2_000_000,
    crediting: tuple[int, int] = (1, 2),
    documents_hash: bytes = HASH,
) -> Args:
    registration = {
        "projectId": short_id(project),
        "methodologyId": short_id(methodology),
        "owner": owner,
        "countyCode": county_code,
        "areaSquareMetres": area,
        "creditingStart": crediting[0],
        "creditingEnd": crediting[1],
        "documentsHash": documents_hash,
        "parcels": list(parcels),
    }
    return "ProjectSubmitted", {"projectId": short_id(project), "opId": op_id, "project": registration}


def project_reviewed(project: str, op_id: int, approved: bool, report_hash: bytes = HASH) -> Args:
    return "ProjectReviewed", {
        "projectId": short_id(project),
        "opId": op_id,
        "approved": approved,
        "reviewReportHash": report_hash,
    }


def project_status_changed(project: str, op_id: int, previous: int, status: int, reason_hash: bytes = HASH) -> Args:
    return "ProjectStatusChanged", {
        "projectId": short_id(project),
        "opId": op_id,
        "previous": previous,
        "status": status,
        "reasonHash": reason_hash,
    }


# ---------------------------------------------------------------- issuance


def batch_issued(
    batch_id: int,
    project: str,
    op_id: int,
    *,
    owner: str,
    batch_seq: int,
    first_serial: int,
    quantity: int,
    reserve_amount: int,
    reserve_bps: int = 1000,
    vintage: int = 2024,
    monitoring: tuple[int, int] = (10, 20),
    report_hash: bytes = HASH,
) -> Args:
    request = {
        "projectId": short_id(project),
        "vintage": vintage,
        "monitoringStart": monitoring[0],
        "monitoringEnd": monitoring[1],
        "quantity": quantity,
        "reserveBps": reserve_bps,
        "verificationReportHash": report_hash,
        "reviewHash": HASH,
    }
    return "BatchIssued", {
        "batchId": batch_id,
        "projectId": short_id(project),
        "opId": op_id,
        "owner": owner,
        "batchSeq": batch_seq,
        "firstSerial": first_serial,
        "reserveAmount": reserve_amount,
        "request": request,
    }


def batch_imported(
    batch_id: int,
    op_id: int,
    *,
    origin_key: bytes,
    origin_registry: str,
    project: str,
    to: str,
    first_serial: int,
    quantity: int,
    vintage: int = 2023,
) -> Args:
    credit = {
        "originKey": origin_key,
        "originRegistry": short_id(origin_registry),
        "projectId": short_id(project),
        "to": to,
        "vintage": vintage,
        "quantity": quantity,
        "evidenceHash": HASH,
    }
    return "BatchImported", {
        "batchId": batch_id,
        "originKey": origin_key,
        "opId": op_id,
        "firstSerial": first_serial,
        "credit": credit,
    }


def credits_transferred(batch_id: int, frm: str, op_id: int, to: str, amount: int) -> Args:
    return "CreditsTransferred", {
        "batchId": batch_id,
        "from": frm,
        "opId": op_id,
        "to": to,
        "amount": amount,
        "tradeReference": HASH,
    }


# ---------------------------------------------------------------- retirement and cancellation


def credits_retired(
    batch_id: int,
    holder: str,
    op_id: int,
    amount: int,
    *,
    scenario: int = 7,
    commitment: bytes = b"\x11" * 32,
    claim_hash: bytes = HASH,
    operator: str | None = None,
) -> Args:
    return "CreditsRetired", {
        "batchId": batch_id,
        "holder": holder,
        "opId": op_id,
        "amount": amount,
        "scenario": scenario,
        "beneficiaryCommitment": commitment,
        "claimHash": claim_hash,
        "operator": operator or holder,
    }


def credits_cancelled(
    batch_id: int,
    holder: str,
    op_id: int,
    amount: int,
    *,
    reason: int = 2,
    evidence_hash: bytes = HASH,
    export_id: int = 0,
) -> Args:
    return "CreditsCancelled", {
        "batchId": batch_id,
        "holder": holder,
        "opId": op_id,
        "amount": amount,
        "reason": reason,
        "evidenceHash": evidence_hash,
        "exportId": export_id,
    }


# ---------------------------------------------------------------- exports and pledges


def export_requested(
    export_id: int,
    holder: str,
    batch_id: int,
    amount: int,
    *,
    destination: str = "CQ-TANHUITONG",
    account: bytes = b"\x33" * 32,
) -> Args:
    return "ExportRequested", {
        "exportId": export_id,
        "holder": holder,
        "batchId": batch_id,
        "amount": amount,
        "destinationRegistry": short_id(destination),
        "destinationAccount": account,
    }


def export_confirmed(export_id: int, op_id: int, reference: bytes = b"\x21" * 32) -> Args:
    return "ExportConfirmed", {"exportId": export_id, "opId": op_id, "destinationReference": reference}


def export_aborted(export_id: int, op_id: int, reason_hash: bytes = HASH) -> Args:
    return "ExportAborted", {"exportId": export_id, "opId": op_id, "reasonHash": reason_hash}


def credits_pledged(
    pledge_id: int, pledgor: str, pledgee: str, batch_id: int, amount: int, reference: bytes = b"\x44" * 32
) -> Args:
    return "CreditsPledged", {
        "pledgeId": pledge_id,
        "pledgor": pledgor,
        "pledgee": pledgee,
        "batchId": batch_id,
        "amount": amount,
        "registrationReference": reference,
    }


def pledge_released(pledge_id: int, op_id: int) -> Args:
    return "PledgeReleased", {"pledgeId": pledge_id, "opId": op_id}


def pledge_enforced(pledge_id: int, op_id: int) -> Args:
    return "PledgeEnforced", {"pledgeId": pledge_id, "opId": op_id}


# ---------------------------------------------------------------- anchors


def log_root_anchored(tree_size: int, root: bytes, anchored_at: int) -> Args:
    return "LogRootAnchored", {"treeSize": tree_size, "root": root, "anchoredAt": anchored_at}
