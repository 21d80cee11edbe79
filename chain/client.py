"""A typed client for every operation and view of the registry contract.

Writes are simulated first (eth_estimateGas), so a refusal comes back as the registry's own
error name and arguments before anything is sent; a transaction that still reverts on chain is
replayed to decode its error the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import is_hex_address, keccak, to_checksum_address

from chain.abi import ContractAbi, DecodedEvent
from chain.errors import InvalidInputError, RegistryRevertError, TransactionFailedError
from chain.fees import FeeModel, FeeModelSetting, Fees, detect_fee_model, quote
from chain.journal import Journal, journal_for
from chain.revert import revert_data_from_rpc_error
from chain.rpc import JsonRpc, RpcError
from chain.settings import ChainSettings
from chain.signing import FastSigner
from chain.types import (
    Batch,
    CancellationReason,
    Ecosystem,
    ExportRequest,
    ExportStatus,
    Methodology,
    MethodologyStatus,
    Participant,
    ParticipantKind,
    ParticipantStatus,
    Pledge,
    PledgeStatus,
    Project,
    ProjectStatus,
    Scenario,
    Supply,
    from_short_id,
    short_id,
)

ROLES = {name: keccak(text=name) for name in ("REGISTRAR_ROLE", "REVIEWER_ROLE", "ANCHORER_ROLE", "PAUSER_ROLE")}
ROLES["DEFAULT_ADMIN_ROLE"] = b"\0" * 32
GAS_HEADROOM = 1.25


@dataclass(frozen=True)
class TxResult:
    """What a write did on chain."""

    tx_hash: str
    block_number: int
    gas_used: int
    events: list[DecodedEvent] = field(default_factory=list)

    def event(self, name: str) -> DecodedEvent:
        for e in self.events:
            if e.name == name:
                return e
        raise KeyError(f"no {name} event in {self.tx_hash}")


@dataclass(frozen=True)
class Simulation:
    """A dry run: the gas it would use, or the error it would revert with."""

    gas: int | None
    error: RegistryRevertError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def address(name: str, value: str) -> str:
    """An address as given: lowercase (or all-uppercase) hex is taken as is; mixed case must be its
    EIP-55 checksum, since a wrong one means a mistyped character. Returns the checksummed form."""
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not text.startswith("0x") or not is_hex_address(text):
        raise InvalidInputError(f"{name} {value!r} is not an address (0x followed by 40 hex digits)")
    digits, checksummed = text[2:], to_checksum_address(text)
    if digits != digits.lower() and digits != digits.upper() and digits != checksummed[2:]:
        raise InvalidInputError(
            f"{name} {text} has a wrong EIP-55 checksum (a mistyped character?); check it, or give it all in lowercase"
        )
    return checksummed


def amount(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInputError(f"{name} must be a whole number of kgCO2e above zero, got {value!r}")
    if value >= 2**128:
        raise InvalidInputError(f"{name} {value} is too large (at most 2**128 - 1 kgCO2e)")
    return value


def b32(name: str, value: bytes | str) -> bytes:
    raw = value
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise InvalidInputError(f"{name} must be 32 bytes of hex, got {value!r}") from None
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise InvalidInputError(f"{name} must be 32 bytes (64 hex digits)")
    return raw


def sid(name: str, value: str) -> bytes:
    try:
        return short_id(value)
    except ValueError as exc:
        raise InvalidInputError(f"{name}: {exc}") from None


# a node's words for "this nonce is taken": two writers with one key raced (geth, anvil, Besu, Hardhat)
NONCE_CLASHES = ("replacement transaction underpriced", "nonce too low", "already known", "nonce has already been used")


class RegistryClient:
    def __init__(
        self,
        rpc: JsonRpc,
        contract_address: str,
        abi: ContractAbi,
        *,
        chain_id: int,
        signer: LocalAccount | None = None,
        receipt_timeout: float = 120.0,
        journal: Journal | None = None,
        fee_model: FeeModelSetting | None = None,
    ) -> None:
        self.rpc = rpc
        # sent transactions are journaled when the node is the durable local node (chain/journal.py)
        self.journal = journal if journal is not None else journal_for(rpc.url)
        self.address = to_checksum_address(contract_address)
        self.abi = abi
        self.chain_id = chain_id
        self.signer = signer
        self.receipt_timeout = receipt_timeout
        self._fast: dict[str, FastSigner] = {}
        self._fee_setting = fee_model  # None: LEDGER_FEE_MODEL, read when first needed
        self._fee_model: FeeModel | None = None

    # ------------------------------------------------------------------ plumbing

    def view(self, fn: str, *args: Any, block: str = "latest") -> Any:
        data = self.abi.encode_call(fn, args)
        try:
            result = self.rpc.call("eth_call", {"to": self.address, "data": "0x" + data.hex()}, block)
        except RpcError as exc:
            raise self.revert_error(exc) from None
        return self.abi.decode_output(fn, bytes.fromhex(result[2:]))

    def view_many(self, fn: str, calls: list[tuple[Any, ...]], *, chunk: int = 500) -> list[Any]:
        """The same view for many arguments, in JSON-RPC batches rather than a call per row."""
        results: list[Any] = []
        for start in range(0, len(calls), chunk):
            batch = [
                ("eth_call", [{"to": self.address, "data": "0x" + self.abi.encode_call(fn, args).hex()}, "latest"])
                for args in calls[start : start + chunk]
            ]
            for reply in self.rpc.batch(batch):
                if isinstance(reply, RpcError):
                    raise self.revert_error(reply)
                results.append(self.abi.decode_output(fn, bytes.fromhex(reply[2:])))
        return results

    def simulate(self, fn: str, args: tuple[Any, ...], *, sender: LocalAccount | None = None) -> Simulation:
        account = self._sender(sender)
        data = self.abi.encode_call(fn, args)
        try:
            gas = self.rpc.call(
                "eth_estimateGas", {"from": account.address, "to": self.address, "data": "0x" + data.hex()}
            )
        except RpcError as exc:
            return Simulation(None, self.revert_error(exc))
        return Simulation(int(gas, 16), None)

    def transact(
        self,
        fn: str,
        args: tuple[Any, ...],
        *,
        sender: LocalAccount | None = None,
        gas: int | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Send `fn(*args)` and wait for it (a TxResult); with `dry_run`, only simulate (a Simulation)."""
        account = self._sender(sender)
        if dry_run:
            return self.simulate(fn, args, sender=account)
        if gas is None:
            simulation = self.simulate(fn, args, sender=account)
            if simulation.error is not None:
                raise simulation.error
            assert simulation.gas is not None
            gas = int(simulation.gas * GAS_HEADROOM) + 10_000
        data = self.abi.encode_call(fn, args)
        fees = self.fee_quote()
        nonce = int(self.rpc.call("eth_getTransactionCount", account.address, "pending"), 16)
        signed = self._fast_signer(account).sign_with(fees, nonce=nonce, to=self.address, data=data, gas=gas)
        tx_hash = "0x" + signed.tx_hash.hex()
        try:
            self.rpc.call("eth_sendRawTransaction", "0x" + signed.raw.hex())
        except RpcError as exc:  # a node's refusal may span lines (anvil's does); the user sees one
            detail = " ".join(str(exc).split())
            if any(clash in detail.lower() for clash in NONCE_CLASHES):
                # another process took this nonce between our count and our send; nothing of ours was sent
                detail += (
                    f" (another process is sending with {account.address} at the same time; nothing was sent: "
                    "run the command again)"
                )
            raise TransactionFailedError(tx_hash, detail) from None
        self.record_sent([(tx_hash, signed.raw)])
        receipt = self.wait_for_receipt(tx_hash)
        if int(receipt["status"], 16) != 1:
            raise self._replay_failure(account, data, receipt)
        return self._result(receipt)

    def record_sent(self, sent: list[tuple[str, bytes]]) -> None:
        """Journal (tx hash, signed raw transaction) pairs the node accepted, before anyone reports
        them sent or done: a restarted durable node re-sends those its restored chain lost."""
        if self.journal is not None:
            self.journal.record(sent)

    def fee_model(self) -> FeeModel:
        """The transaction type this chain takes (chain/fees.py), read from the node once."""
        if self._fee_model is None:
            setting = self._fee_setting if self._fee_setting is not None else ChainSettings().fee_model
            self._fee_model = detect_fee_model(self.rpc, setting)
        return self._fee_model

    def fee_quote(self) -> Fees:
        """What a transaction sent now offers, in the chain's fee model."""
        return quote(self.rpc, self.fee_model())

    def fees(self) -> tuple[int, int]:
        """(max fee, priority fee) per gas; for a legacy chain both are its gas price."""
        fees = self.fee_quote()
        return fees.max_fee, fees.priority

    def wait_for_receipt(self, tx_hash: str, *, poll: float = 0.02) -> dict[str, Any]:
        deadline = time.monotonic() + self.receipt_timeout
        while time.monotonic() < deadline:
            receipt = self.rpc.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return receipt
            time.sleep(poll)
        raise TransactionFailedError(tx_hash, f"no receipt after {self.receipt_timeout:.0f} s; it may still be mined")

    def decode_events(self, logs: list[dict[str, Any]]) -> list[DecodedEvent]:
        own = self.address.lower()
        decoded = (self.abi.decode_log(log) for log in logs if log["address"].lower() == own)
        return [e for e in decoded if e is not None]

    def _result(self, receipt: dict[str, Any]) -> TxResult:
        return TxResult(
            tx_hash=receipt["transactionHash"],
            block_number=int(receipt["blockNumber"], 16),
            gas_used=int(receipt["gasUsed"], 16),
            events=self.decode_events(receipt["logs"]),
        )

    def _replay_failure(self, account: LocalAccount, data: bytes, receipt: dict[str, Any]) -> Exception:
        call = {"from": account.address, "to": self.address, "data": "0x" + data.hex()}
        try:
            self.rpc.call("eth_call", call, hex(int(receipt["blockNumber"], 16) - 1))
        except RpcError as exc:
            return self.revert_error(exc)
        return TransactionFailedError(receipt["transactionHash"], "reverted on chain (out of gas or state changed)")

    def revert_error(self, exc: RpcError) -> RegistryRevertError:
        data = revert_data_from_rpc_error(exc.error)
        if data is None:
            return RegistryRevertError("NodeRefused", {"message": str(exc)}, "the node refused the call")
        return self.abi.reverts.decode(data)

    def _sender(self, sender: LocalAccount | None) -> LocalAccount:
        account = sender or self.signer
        if account is None:
            raise InvalidInputError("no signing key configured; set LEDGER_KEYSTORE or LEDGER_PRIVATE_KEY")
        return account

    def _fast_signer(self, account: LocalAccount) -> FastSigner:
        if account.address not in self._fast:
            self._fast[account.address] = FastSigner(bytes(account.key), self.chain_id)
        return self._fast[account.address]

    # ------------------------------------------------------------------ catalog

    def file_methodology(
        self, op_id: int, methodology_id: str, ecosystem: Ecosystem, version: int, document_hash: bytes | str, **kw: Any
    ) -> TxResult:
        args = (
            op_id,
            sid("methodology id", methodology_id),
            int(ecosystem),
            version,
            b32("document hash", document_hash),
        )
        return self.transact("fileMethodology", args, **kw)

    def set_methodology_status(
        self, op_id: int, methodology_id: str, status: MethodologyStatus, successor_id: str | None = None, **kw: Any
    ) -> TxResult:
        successor = sid("successor id", successor_id) if successor_id else b"\0" * 32
        return self.transact(
            "setMethodologyStatus", (op_id, sid("methodology id", methodology_id), int(status), successor), **kw
        )

    def register_participant(
        self, op_id: int, account: str, kind: ParticipantKind, reference_hash: bytes | str = b"\0" * 32, **kw: Any
    ) -> TxResult:
        args = (op_id, address("participant", account), int(kind), b32("reference hash", reference_hash))
        return self.transact("registerParticipant", args, **kw)

    def set_participant_status(
        self, op_id: int, account: str, status: ParticipantStatus, reason_hash: bytes | str = b"\0" * 32, **kw: Any
    ) -> TxResult:
        args = (op_id, address("participant", account), int(status), b32("reason hash", reason_hash))
        return self.transact("setParticipantStatus", args, **kw)

    def register_project(
        self,
        op_id: int,
        *,
        project_id: str,
        methodology_id: str,
        owner: str,
        county_code: int,
        area_square_metres: int,
        crediting_start: int,
        crediting_end: int,
        documents_hash: bytes | str,
        parcels: list[bytes],
        **kw: Any,
    ) -> TxResult:
        if not 110000 <= county_code <= 829999:
            raise InvalidInputError(f"county code {county_code} is not a GB/T 2260 code (six digits, e.g. 511802)")
        registration = (
            sid("project id", project_id),
            sid("methodology id", methodology_id),
            address("owner", owner),
            county_code,
            area_square_metres,
            crediting_start,
            crediting_end,
            b32("documents hash", documents_hash),
            [b32("parcel", p) for p in parcels],
        )
        return self.transact("registerProject", (op_id, registration), **kw)

    def review_project(
        self, op_id: int, project_id: str, approved: bool, review_report_hash: bytes | str, **kw: Any
    ) -> TxResult:
        if not isinstance(approved, bool):
            raise InvalidInputError(f"the review decision must be True or False, got {approved!r}")
        args = (op_id, sid("project id", project_id), approved, b32("review report hash", review_report_hash))
        return self.transact("reviewProject", args, **kw)

    def set_project_status(
        self, op_id: int, project_id: str, status: ProjectStatus, reason_hash: bytes | str = b"\0" * 32, **kw: Any
    ) -> TxResult:
        args = (op_id, sid("project id", project_id), int(status), b32("reason hash", reason_hash))
        return self.transact("setProjectStatus", args, **kw)

    # ------------------------------------------------------------------ issuance

    @staticmethod
    def issuance_request(
        *,
        project_id: str,
        vintage: int,
        monitoring_start: int,
        monitoring_end: int,
        quantity: int,
        reserve_bps: int,
        verification_report_hash: bytes | str,
        review_hash: bytes | str = b"\0" * 32,
    ) -> tuple[Any, ...]:
        if not 0 <= reserve_bps <= 10_000:
            raise InvalidInputError(f"reserve share {reserve_bps} must be 0-10000 basis points")
        return (
            sid("project id", project_id),
            vintage,
            monitoring_start,
            monitoring_end,
            amount("quantity", quantity),
            reserve_bps,
            b32("verification report hash", verification_report_hash),
            b32("review hash", review_hash),
        )

    def issue(self, op_id: int, **request: Any) -> TxResult:
        kw = {k: request.pop(k) for k in ("sender", "gas", "dry_run") if k in request}
        return self.transact("issue", (op_id, self.issuance_request(**request)), **kw)

    def import_credits(
        self,
        op_id: int,
        *,
        origin_key: bytes | str,
        origin_registry: str,
        project_id: str,
        to: str,
        vintage: int,
        quantity: int,
        evidence_hash: bytes | str,
        **kw: Any,
    ) -> TxResult:
        credit = (
            b32("origin key", origin_key),
            sid("origin registry", origin_registry),
            sid("project id", project_id),
            address("recipient", to),
            vintage,
            amount("quantity", quantity),
            b32("evidence hash", evidence_hash),
        )
        return self.transact("importCredits", (op_id, credit), **kw)

    # ------------------------------------------------------------------ movements

    def transfer(self, from_: str, to: str, batch_id: int, quantity: int, **kw: Any) -> TxResult:
        args = (address("sender", from_), address("recipient", to), batch_id, amount("amount", quantity), b"")
        return self.transact("safeTransferFrom", args, **kw)

    def transfer_batch(self, from_: str, to: str, batch_ids: list[int], quantities: list[int], **kw: Any) -> TxResult:
        values = [amount("amount", q) for q in quantities]
        args = (address("sender", from_), address("recipient", to), batch_ids, values, b"")
        return self.transact("safeBatchTransferFrom", args, **kw)

    def transfer_with_reference(
        self, op_id: int, from_: str, to: str, batch_id: int, quantity: int, trade_reference: bytes | str, **kw: Any
    ) -> TxResult:
        args = (
            op_id,
            address("sender", from_),
            address("recipient", to),
            batch_id,
            amount("amount", quantity),
            b32("trade reference", trade_reference),
        )
        return self.transact("transferWithReference", args, **kw)

    def set_approval_for_all(self, operator: str, approved: bool, **kw: Any) -> TxResult:
        return self.transact("setApprovalForAll", (address("operator", operator), approved), **kw)

    def retire(
        self,
        op_id: int,
        batch_id: int,
        quantity: int,
        scenario: Scenario,
        beneficiary_commitment: bytes | str,
        claim_hash: bytes | str,
        *,
        holder: str | None = None,
        **kw: Any,
    ) -> TxResult:
        tail = (
            batch_id,
            amount("amount", quantity),
            int(scenario),
            b32("beneficiary commitment", beneficiary_commitment),
            b32("claim hash", claim_hash),
        )
        if holder is None:
            return self.transact("retire", (op_id, *tail), **kw)
        return self.transact("retireFor", (op_id, address("holder", holder), *tail), **kw)

    def cancel(
        self,
        op_id: int,
        holder: str,
        batch_id: int,
        quantity: int,
        reason: CancellationReason,
        evidence_hash: bytes | str,
        **kw: Any,
    ) -> TxResult:
        args = (
            op_id,
            address("holder", holder),
            batch_id,
            amount("amount", quantity),
            int(reason),
            b32("evidence hash", evidence_hash),
        )
        return self.transact("cancel", args, **kw)

    def request_export(
        self,
        op_id: int,
        holder: str,
        batch_id: int,
        quantity: int,
        destination_registry: str,
        destination_account: bytes | str,
        **kw: Any,
    ) -> TxResult:
        args = (
            op_id,
            address("holder", holder),
            batch_id,
            amount("amount", quantity),
            sid("destination registry", destination_registry),
            b32("destination account", destination_account),
        )
        return self.transact("requestExport", args, **kw)

    def confirm_export(self, op_id: int, export_id: int, destination_reference: bytes | str, **kw: Any) -> TxResult:
        return self.transact(
            "confirmExport", (op_id, export_id, b32("destination reference", destination_reference)), **kw
        )

    def abort_export(self, op_id: int, export_id: int, reason_hash: bytes | str = b"\0" * 32, **kw: Any) -> TxResult:
        return self.transact("abortExport", (op_id, export_id, b32("reason hash", reason_hash)), **kw)

    def pledge(
        self, op_id: int, batch_id: int, quantity: int, pledgee: str, registration_reference: bytes | str, **kw: Any
    ) -> TxResult:
        args = (
            op_id,
            batch_id,
            amount("amount", quantity),
            address("pledgee", pledgee),
            b32("registration reference", registration_reference),
        )
        return self.transact("pledge", args, **kw)

    def release_pledge(self, op_id: int, pledge_id: int, **kw: Any) -> TxResult:
        return self.transact("releasePledge", (op_id, pledge_id), **kw)

    def enforce_pledge(self, op_id: int, pledge_id: int, **kw: Any) -> TxResult:
        return self.transact("enforcePledge", (op_id, pledge_id), **kw)

    # ------------------------------------------------------------------ administration

    def pause(self, **kw: Any) -> TxResult:
        return self.transact("pause", (), **kw)

    def unpause(self, **kw: Any) -> TxResult:
        return self.transact("unpause", (), **kw)

    def grant_role(self, role: str, account: str, **kw: Any) -> TxResult:
        return self.transact("grantRole", (self._role(role), address("account", account)), **kw)

    def revoke_role(self, role: str, account: str, **kw: Any) -> TxResult:
        return self.transact("revokeRole", (self._role(role), address("account", account)), **kw)

    def anchor_log_root(self, tree_size: int, root: bytes | str, **kw: Any) -> TxResult:
        return self.transact("anchorLogRoot", (amount("tree size", tree_size), b32("root", root)), **kw)

    def upgrade_to(self, implementation: str, **kw: Any) -> TxResult:
        return self.transact("upgradeToAndCall", (address("implementation", implementation), b""), **kw)

    @staticmethod
    def _role(role: str) -> bytes:
        if role not in ROLES:
            raise InvalidInputError(f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}")
        return ROLES[role]

    # ------------------------------------------------------------------ views

    def has_role(self, role: str, account: str) -> bool:
        return bool(self.view("hasRole", self._role(role), address("account", account)))

    def roles_of(self, account: str) -> list[str]:
        return [name for name in ROLES if self.has_role(name, account)]

    def balance_of(self, holder: str, batch_id: int) -> int:
        return int(self.view("balanceOf", address("holder", holder), batch_id))

    def free_balance_of(self, holder: str, batch_id: int) -> int:
        return int(self.view("freeBalanceOf", address("holder", holder), batch_id))

    def locked_of(self, holder: str, batch_id: int) -> tuple[int, int]:
        pledged, frozen = self.view("lockedOf", address("holder", holder), batch_id)
        return int(pledged), int(frozen)

    def supply(self, batch_id: int) -> Supply:
        return Supply(*(int(v) for v in self.view("supply", batch_id)))

    def batch(self, batch_id: int) -> Batch:
        b = self.view("batch", batch_id)
        return Batch(
            b["issued"],
            b["retired"],
            b["cancelled"],
            b["firstSerial"],
            from_short_id(b["projectId"]),
            b["originKey"],
            b["vintage"],
        )

    def participant(self, account: str) -> Participant:
        p = self.view("participant", address("account", account))
        return Participant(ParticipantKind(p["kind"]), ParticipantStatus(p["status"]), p["referenceHash"])

    def methodology(self, methodology_id: str) -> Methodology:
        m = self.view("methodology", sid("methodology id", methodology_id))
        return Methodology(Ecosystem(m["ecosystem"]), MethodologyStatus(m["status"]), m["version"], m["documentHash"])

    def project(self, project_id: str) -> Project:
        p = self.view("project", sid("project id", project_id))
        return Project(
            p["owner"],
            p["countyCode"],
            ProjectStatus(p["status"]),
            p["batchCount"],
            from_short_id(p["methodologyId"]),
            p["areaSquareMetres"],
            p["creditingStart"],
            p["creditingEnd"],
            p["documentsHash"],
            p["reviewReportHash"],
        )

    def pledge_of(self, pledge_id: int) -> Pledge:
        p = self.view("pledgeOf", pledge_id)
        return Pledge(
            p["pledgor"], PledgeStatus(p["status"]), p["pledgee"], p["amount"], p["batchId"], p["registrationReference"]
        )

    def export_of(self, export_id: int) -> ExportRequest:
        e = self.view("exportOf", export_id)
        return ExportRequest(
            e["holder"],
            ExportStatus(e["status"]),
            e["amount"],
            e["batchId"],
            from_short_id(e["destinationRegistry"]),
            e["destinationAccount"],
        )

    def is_operation_applied(self, op_id: int) -> bool:
        return bool(self.view("isOperationApplied", op_id))

    def paused(self) -> bool:
        return bool(self.view("paused"))

    def anchored_root(self, tree_size: int) -> bytes:
        return bytes(self.view("anchoredRoot", tree_size))

    def latest_anchor(self) -> tuple[int, bytes]:
        size, root = self.view("latestAnchor")
        return int(size), bytes(root)

    def verify_inclusion(self, tree_size: int, leaf_index: int, leaf_hash: bytes, proof: list[bytes]) -> bool:
        return bool(self.view("verifyInclusion", tree_size, leaf_index, leaf_hash, proof))

    def reserve_account(self) -> str:
        return str(self.view("RESERVE_ACCOUNT"))

    def registry_version(self) -> int:
        return int(self.view("registryVersion"))
