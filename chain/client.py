"""A typed client for every operation and view of the registry contract.

Writes are simulated first (eth_estimateGas), so a refusal comes back as the registry's own
error name and arguments before anything is sent; a transaction that still reverts on chain is
replayed to decode its error the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypedDict, TypeVar, Unpack

from eth_account.signers.local import LocalAccount
from eth_utils import is_hex_address, to_checksum_address

from chain.abi import ContractAbi, DecodedEvent
from chain.errors import InvalidInputError, RegistryRevertError, TransactionFailedError
from chain.fees import FeeModelSetting
from chain.journal import Journal
from chain.roles import ROLES, role_id
from chain.rpc import JsonRpc, RpcError
from chain.transactions import GAS_HEADROOM, Transactor, revert_error
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


class SendOptions(TypedDict, total=False):
    """How a write is sent: by whom (default: the client's signer) and with what gas limit
    (default: the simulation's estimate with headroom)."""

    sender: LocalAccount | None
    gas: int | None


R = TypeVar("R", TxResult, Simulation)


class Writes(Generic[R]):
    """Every write of the registry, its arguments checked in one place: a RegistryClient sends
    them (each answers a TxResult), its `dry_run` only simulates them (each answers a Simulation)."""

    def _write(self, fn: str, args: tuple[Any, ...], **kw: Unpack[SendOptions]) -> R:
        raise NotImplementedError

    # ------------------------------------------------------------------ catalog

    def file_methodology(
        self,
        op_id: int,
        methodology_id: str,
        ecosystem: Ecosystem,
        version: int,
        document_hash: bytes | str,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (
            op_id,
            sid("methodology id", methodology_id),
            int(ecosystem),
            version,
            b32("document hash", document_hash),
        )
        return self._write("fileMethodology", args, **kw)

    def set_methodology_status(
        self,
        op_id: int,
        methodology_id: str,
        status: MethodologyStatus,
        successor_id: str | None = None,
        **kw: Unpack[SendOptions],
    ) -> R:
        successor = sid("successor id", successor_id) if successor_id else b"\0" * 32
        return self._write(
            "setMethodologyStatus", (op_id, sid("methodology id", methodology_id), int(status), successor), **kw
        )

    def register_participant(
        self,
        op_id: int,
        account: str,
        kind: ParticipantKind,
        reference_hash: bytes | str = b"\0" * 32,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (op_id, address("participant", account), int(kind), b32("reference hash", reference_hash))
        return self._write("registerParticipant", args, **kw)

    def set_participant_status(
        self,
        op_id: int,
        account: str,
        status: ParticipantStatus,
        reason_hash: bytes | str = b"\0" * 32,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (op_id, address("participant", account), int(status), b32("reason hash", reason_hash))
        return self._write("setParticipantStatus", args, **kw)

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
        **kw: Unpack[SendOptions],
    ) -> R:
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
        return self._write("registerProject", (op_id, registration), **kw)

    def review_project(
        self, op_id: int, project_id: str, approved: bool, review_report_hash: bytes | str, **kw: Unpack[SendOptions]
    ) -> R:
        if not isinstance(approved, bool):
            raise InvalidInputError(f"the review decision must be True or False, got {approved!r}")
        args = (op_id, sid("project id", project_id), approved, b32("review report hash", review_report_hash))
        return self._write("reviewProject", args, **kw)

    def set_project_status(
        self,
        op_id: int,
        project_id: str,
        status: ProjectStatus,
        reason_hash: bytes | str = b"\0" * 32,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (op_id, sid("project id", project_id), int(status), b32("reason hash", reason_hash))
        return self._write("setProjectStatus", args, **kw)

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

    def issue(self, op_id: int, *, sender: LocalAccount | None = None, gas: int | None = None, **request: Any) -> R:
        return self._write("issue", (op_id, self.issuance_request(**request)), sender=sender, gas=gas)

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
        **kw: Unpack[SendOptions],
    ) -> R:
        credit = (
            b32("origin key", origin_key),
            sid("origin registry", origin_registry),
            sid("project id", project_id),
            address("recipient", to),
            vintage,
            amount("quantity", quantity),
            b32("evidence hash", evidence_hash),
        )
        return self._write("importCredits", (op_id, credit), **kw)

    # ------------------------------------------------------------------ movements

    def transfer(self, from_: str, to: str, batch_id: int, quantity: int, **kw: Unpack[SendOptions]) -> R:
        args = (address("sender", from_), address("recipient", to), batch_id, amount("amount", quantity), b"")
        return self._write("safeTransferFrom", args, **kw)

    def transfer_batch(
        self, from_: str, to: str, batch_ids: list[int], quantities: list[int], **kw: Unpack[SendOptions]
    ) -> R:
        values = [amount("amount", q) for q in quantities]
        args = (address("sender", from_), address("recipient", to), batch_ids, values, b"")
        return self._write("safeBatchTransferFrom", args, **kw)

    def transfer_with_reference(
        self,
        op_id: int,
        from_: str,
        to: str,
        batch_id: int,
        quantity: int,
        trade_reference: bytes | str,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (
            op_id,
            address("sender", from_),
            address("recipient", to),
            batch_id,
            amount("amount", quantity),
            b32("trade reference", trade_reference),
        )
        return self._write("transferWithReference", args, **kw)

    def set_approval_for_all(self, operator: str, approved: bool, **kw: Unpack[SendOptions]) -> R:
        return self._write("setApprovalForAll", (address("operator", operator), approved), **kw)

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
        **kw: Unpack[SendOptions],
    ) -> R:
        tail: tuple[Any, ...] = (
            batch_id,
            amount("amount", quantity),
            int(scenario),
            b32("beneficiary commitment", beneficiary_commitment),
            b32("claim hash", claim_hash),
        )
        if holder is None:
            return self._write("retire", (op_id, *tail), **kw)
        return self._write("retireFor", (op_id, address("holder", holder), *tail), **kw)

    def cancel(
        self,
        op_id: int,
        holder: str,
        batch_id: int,
        quantity: int,
        reason: CancellationReason,
        evidence_hash: bytes | str,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (
            op_id,
            address("holder", holder),
            batch_id,
            amount("amount", quantity),
            int(reason),
            b32("evidence hash", evidence_hash),
        )
        return self._write("cancel", args, **kw)

    def request_export(
        self,
        op_id: int,
        holder: str,
        batch_id: int,
        quantity: int,
        destination_registry: str,
        destination_account: bytes | str,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (
            op_id,
            address("holder", holder),
            batch_id,
            amount("amount", quantity),
            sid("destination registry", destination_registry),
            b32("destination account", destination_account),
        )
        return self._write("requestExport", args, **kw)

    def confirm_export(
        self, op_id: int, export_id: int, destination_reference: bytes | str, **kw: Unpack[SendOptions]
    ) -> R:
        return self._write(
            "confirmExport", (op_id, export_id, b32("destination reference", destination_reference)), **kw
        )

    def abort_export(
        self, op_id: int, export_id: int, reason_hash: bytes | str = b"\0" * 32, **kw: Unpack[SendOptions]
    ) -> R:
        return self._write("abortExport", (op_id, export_id, b32("reason hash", reason_hash)), **kw)

    def pledge(
        self,
        op_id: int,
        batch_id: int,
        quantity: int,
        pledgee: str,
        registration_reference: bytes | str,
        **kw: Unpack[SendOptions],
    ) -> R:
        args = (
            op_id,
            batch_id,
            amount("amount", quantity),
            address("pledgee", pledgee),
            b32("registration reference", registration_reference),
        )
        return self._write("pledge", args, **kw)

    def release_pledge(self, op_id: int, pledge_id: int, **kw: Unpack[SendOptions]) -> R:
        return self._write("releasePledge", (op_id, pledge_id), **kw)

    def enforce_pledge(self, op_id: int, pledge_id: int, **kw: Unpack[SendOptions]) -> R:
        return self._write("enforcePledge", (op_id, pledge_id), **kw)

    # ------------------------------------------------------------------ administration

    def pause(self, **kw: Unpack[SendOptions]) -> R:
        return self._write("pause", (), **kw)

    def unpause(self, **kw: Unpack[SendOptions]) -> R:
        return self._write("unpause", (), **kw)

    def grant_role(self, role: str, account: str, **kw: Unpack[SendOptions]) -> R:
        return self._write("grantRole", (role_id(role), address("account", account)), **kw)

    def revoke_role(self, role: str, account: str, **kw: Unpack[SendOptions]) -> R:
        return self._write("revokeRole", (role_id(role), address("account", account)), **kw)

    def anchor_log_root(self, tree_size: int, root: bytes | str, **kw: Unpack[SendOptions]) -> R:
        return self._write("anchorLogRoot", (amount("tree size", tree_size), b32("root", root)), **kw)

    def upgrade_to(self, implementation: str, **kw: Unpack[SendOptions]) -> R:
        return self._write("upgradeToAndCall", (address("implementation", implementation), b""), **kw)


class DryRun(Writes[Simulation]):
    """A client's writes as dry runs (eth_estimateGas): the gas each would use, or its error."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def _write(self, fn: str, args: tuple[Any, ...], **kw: Unpack[SendOptions]) -> Simulation:
        return self.client.simulate(fn, args, sender=kw.get("sender"))


class RegistryClient(Transactor, Writes[TxResult]):
    """One contract (the registry, or its revocation list) through the transaction path of
    chain/transactions.py; open one from the settings with chain/registry.py."""

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
        super().__init__(rpc, chain_id=chain_id, receipt_timeout=receipt_timeout, journal=journal, fee_model=fee_model)
        self.address = to_checksum_address(contract_address)
        self.abi = abi
        self.signer = signer

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
        self, fn: str, args: tuple[Any, ...], *, sender: LocalAccount | None = None, gas: int | None = None
    ) -> TxResult:
        """Send `fn(*args)` and wait for it; a call that would revert is refused before it is sent."""
        account = self._sender(sender)
        if gas is None:
            simulation = self.simulate(fn, args, sender=account)
            if simulation.error is not None:
                raise simulation.error
            assert simulation.gas is not None
            gas = int(simulation.gas * GAS_HEADROOM) + 10_000
        data = self.abi.encode_call(fn, args)
        receipt = self.send(account, to=self.address, data=data, gas=gas)
        if int(receipt["status"], 16) != 1:
            call = {"from": account.address, "to": self.address, "data": "0x" + data.hex()}
            error = self.replay(call, int(receipt["blockNumber"], 16), self.abi)
            if error is not None:
                raise error
            raise TransactionFailedError(receipt["transactionHash"], "reverted on chain (out of gas or state changed)")
        return self._result(receipt)

    def _write(self, fn: str, args: tuple[Any, ...], **kw: Unpack[SendOptions]) -> TxResult:
        return self.transact(fn, args, **kw)

    @property
    def dry_run(self) -> DryRun:
        """The same writes, only simulated: each answers a Simulation and nothing is sent."""
        return DryRun(self)

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

    def revert_error(self, exc: RpcError) -> RegistryRevertError:
        return revert_error(exc, self.abi)

    def _sender(self, sender: LocalAccount | None) -> LocalAccount:
        account = sender or self.signer
        if account is None:
            raise InvalidInputError("no signing key configured; set LEDGER_KEYSTORE or LEDGER_PRIVATE_KEY")
        return account

    # ------------------------------------------------------------------ views

    def has_role(self, role: str, account: str) -> bool:
        return bool(self.view("hasRole", role_id(role), address("account", account)))

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
