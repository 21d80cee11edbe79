"""The relay: carries an export requested on a source registry to an import on a destination
registry and confirms or aborts it, holding no state the two chains cannot give back.

One pass (`Relay.step`):
1. read the source's ExportRequested events up to its head less the confirmation depth, keep
   those addressed to the destination whose `exportOf` is still Pending;
2. ask the destination which origin keys it imported (`importedBatch`) and where (BatchImported);
3. refuse (abort on the source) an export the destination cannot take: methodology not
   recognised, account not an address, or an import the destination reverts;
4. import the rest in bulk (chain/sender.py), op ids derived from the origin key;
5. confirm on the source each export whose import is deep enough on the destination, with the
   import's transaction hash as the destination reference.
A kill -9 anywhere leaves the chains in a state step 1-2 reads back; a repeated step is refused
by the contract (origin key once, op id once), so every export ends imported-once-and-confirmed
or aborted-and-released.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount

from bridge.origin import abort_op_id, confirm_op_id, evidence_hash, import_op_id, origin_key, reason_hash
from bridge.recognition import REGISTRAR_ROLE, RELAYER_ROLE, Recognises, RecognitionContract
from chain.client import RegistryClient
from chain.errors import ChainError, InvalidInputError, RegistryRevertError, TransactionFailedError
from chain.logs import LogFetcher
from chain.rpc import RpcError
from chain.sender import BulkSender, Operation, OperationResult
from chain.types import ExportStatus, from_short_id, short_id

log = logging.getLogger(__name__)

# the destination's refusals that mean "this export can never be imported": abort it. Others
# (a node refusing, a transaction not yet mined) are retried on the next pass.
ALREADY_IMPORTED = "RegistryOriginAlreadyImported"
# the destination decided this origin key before: imported (confirm it) or refused by its gate (abort it)
DECIDED = {ALREADY_IMPORTED, "ImportOriginRefused", "ImportOriginImported"}
# the registry's refusals and the gate's (methodology not recognised, origin or evidence not the export's)
REFUSALS = ("Registry", "Import")
# refusals that pass: a paused destination resumes, and the export waits for it rather than aborting
TRANSIENT = {"RegistryPaused"}


@dataclass(frozen=True)
class Endpoint:
    """One registry as the relay sees it: its client (with the registrar key that signs), the
    short id other registries name it by, where its history starts, and how deep a block must be
    before the relay acts on it."""

    client: RegistryClient
    name: str
    start_block: int = 0
    depth: int = 0

    @property
    def signer(self) -> LocalAccount:
        if self.client.signer is None:
            raise InvalidInputError(f"no registrar key for {self.name}; set its LEDGER_BRIDGE_*_KEY")
        return self.client.signer

    def head(self) -> int:
        return int(self.client.rpc.call("eth_blockNumber"), 16)

    def events(self, name: str, first: int, last: int) -> list[Any]:
        if last < first:
            return []
        topic = "0x" + self.client.abi.event_topics[name].hex()
        logs = LogFetcher(self.client.rpc, self.client.address, topics=[topic], retries=5).fetch_all(first, last)
        return self.client.decode_events(logs)


@dataclass(frozen=True)
class Export:
    """An export addressed to the destination, as its ExportRequested event says."""

    export_id: int
    holder: str
    batch_id: int
    amount: int
    destination_account: bytes
    block_number: int
    key: bytes


# the registry's CreditImport, field by field, and the names a held export's line gives them
CREDIT_STRUCT = ("originKey", "originRegistry", "projectId", "to", "vintage", "quantity", "evidenceHash")
CREDIT_FIELDS = ("origin key", "origin registry", "project", "account", "vintage", "amount", "evidence")


def normalised(credit: tuple[Any, ...]) -> tuple[Any, ...]:
    """A credit comparable whether it was built here or decoded from an event (bytes, lower-case address)."""
    key, origin, project, to, vintage, quantity, evidence = credit
    return (bytes(key), bytes(origin), bytes(project), str(to).lower(), int(vintage), int(quantity), bytes(evidence))


@dataclass(frozen=True)
class Imported:
    """An import on the destination: where it was mined, and what it minted to whom."""

    tx_hash: str
    block: int
    quantity: int
    to: str  # lower-case hex address
    credit: tuple[Any, ...]  # the credit as imported, normalised as `credit_of` makes it

    def mismatch(self, export: Export, expected: tuple[Any, ...]) -> str | None:
        """Why this import is not the export's (None when it is); `expected` is the credit an import of
        the export carries (`Relay.credit_of`): project, vintage and evidence from its source batch."""
        account = "0x" + export.destination_account[12:].hex()
        if (self.quantity, self.to) == (export.amount, account):
            differ = [n for n, a, b in zip(CREDIT_FIELDS, self.credit, expected, strict=True) if a != b]
            if not differ:
                return None
            return (
                f"ImportNotTheExports: export {export.export_id}'s origin key was imported (in {self.tx_hash}) with "
                f"another {', '.join(differ)} than its source batch gives: imported around the gate; held, neither "
                "confirmed nor aborted: see `ledger bridge audit`"
            )
        return (
            f"ImportDoesNotMatchExport: export {export.export_id} asks {export.amount} kg for {account} but its "
            f"origin key was imported as {self.quantity} kg for {self.to} (in {self.tx_hash}), the id requested "
            "again after a source reorg; held, neither confirmed nor aborted: see `ledger bridge audit`"
        )


@dataclass
class PassReport:
    seen: int = 0  # pending exports addressed to the destination
    imported: int = 0
    confirmed: int = 0
    aborted: int = 0
    waiting: int = 0  # imported, not yet deep enough to confirm; or an import still unmined
    refusals: dict[int, str] = field(default_factory=dict)  # export id -> why it was aborted
    # export id -> why it is neither confirmed nor aborted: its origin key was imported with another
    # amount or account (a source reorg, then the id requested again); an operator decides
    held: dict[int, str] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        return self.seen == self.confirmed + self.aborted


Step = Callable[[str], None]


class Relay:
    def __init__(
        self,
        source: Endpoint,
        destination: Endpoint,
        recognition: Recognises,
        *,
        on_step: Step | None = None,
        settle_timeout: float = 60.0,
    ) -> None:
        self.source = source
        self.destination = destination
        self.recognition = recognition
        self.on_step = on_step or (lambda _step: None)
        self.settle_timeout = settle_timeout
        # the destination's recognitions contract is its import gate: imports go through it
        self.gate = recognition if isinstance(recognition, RecognitionContract) else None
        self._dest_id = short_id(destination.name)
        if (source.client.chain_id, source.client.address.lower()) == (
            destination.client.chain_id,
            destination.client.address.lower(),
        ):
            raise InvalidInputError(
                f"the source and the destination are the same registry ({source.client.address} on chain "
                f"{source.client.chain_id}); set LEDGER_BRIDGE_DESTINATION_REGISTRY to the other registry"
            )
        for side, end in (("source", source), ("destination", destination)):
            if end.client.rpc.call("eth_getCode", end.client.address, "latest") in ("0x", "0x0", None):
                raise InvalidInputError(
                    f"no contract at {end.client.address} on the {side} chain ({end.client.chain_id}); set "
                    f"LEDGER_BRIDGE_{side.upper()}_REGISTRY to the registry's address"
                )
        if self.gate is not None:
            self._check_gate_roles()
        # confirming and aborting need the source's REGISTRAR_ROLE: without it every import would
        # stay in flight (frozen there, circulating here), so no import is made
        mine = source.client.signer
        if mine is not None and not source.client.view("hasRole", REGISTRAR_ROLE, mine.address):
            raise InvalidInputError(
                f"the source key ({mine.address}) lacks REGISTRAR_ROLE on the source registry, so it could not confirm "
                "or abort an export; set LEDGER_BRIDGE_SOURCE_KEY to a registrar's key there, or have its admin grant it"
            )

    def _check_gate_roles(self) -> None:
        """Refuse to start a relay whose imports the gate would refuse for roles, in one line naming the fix."""
        assert self.gate is not None
        registry, gate = self.destination.client, self.gate.client.address
        # an account without the gate's code (or a gate of another registry) may well hold
        # REGISTRAR_ROLE by mistake: its answers decode to nothing, or its imports go elsewhere
        if registry.rpc.call("eth_getCode", gate, "latest") in ("0x", "0x0", None):
            raise InvalidInputError(
                f"no contract at {gate} on the destination chain; set LEDGER_BRIDGE_DESTINATION_RECOGNITIONS "
                "to the gate `ledger bridge deploy-recognitions` printed"
            )
        try:
            governs = str(self.gate.client.view("registry")).lower()
        except (ChainError, RpcError, ValueError, DecodingError):
            governs = ""
        if governs != registry.address.lower():
            raise InvalidInputError(
                f"{gate} is not an import gate of the destination registry {registry.address} (it is the gate of "
                f"another registry, or another contract); set LEDGER_BRIDGE_DESTINATION_RECOGNITIONS to its gate"
            )
        me = registry.signer.address if registry.signer is not None else None
        wanted = [("the gate", REGISTRAR_ROLE, gate, "REGISTRAR_ROLE")]
        if me is not None:
            wanted.append(("this relay's key", RELAYER_ROLE, me, "BRIDGE_RELAYER_ROLE"))
        for who, role, account, name in wanted:
            if not registry.view("hasRole", role, account):
                raise InvalidInputError(
                    f"{who} ({account}) lacks {name} on the destination registry; have its admin run "
                    "`ledger bridge grant-gate RELAY_ADDRESS`"
                )

    def key(self, export_id: int) -> bytes:
        return origin_key(self.source.client.chain_id, self.source.client.address, export_id)

    # ------------------------------------------------------------------ reading the two chains

    def pending(self) -> list[Export]:
        """Exports addressed to the destination, at least `depth` blocks deep, still Pending."""
        head = self.source.head()
        # settled exports are skipped by their events (two log reads), not by an exportOf each: a
        # pass cost one eth_call per export ever requested, 5,000 calls a pass after 5,000 exports
        settled = {
            int(e.args["exportId"])
            for name in ("ExportConfirmed", "ExportAborted")
            for e in self.source.events(name, self.source.start_block, head)
        }
        requested = [
            e
            for e in self.source.events("ExportRequested", self.source.start_block, head - self.source.depth)
            if bytes(e.args["destinationRegistry"]) == self._dest_id and int(e.args["exportId"]) not in settled
        ]
        if not requested:
            return []
        states = self.source.client.view_many("exportOf", [(e.args["exportId"],) for e in requested])
        return [
            Export(
                int(e.args["exportId"]),
                e.args["holder"],
                int(e.args["batchId"]),
                int(e.args["amount"]),
                bytes(e.args["destinationAccount"]),
                e.block_number,
                self.key(int(e.args["exportId"])),
            )
            for e, state in zip(requested, states, strict=True)
            if ExportStatus(state["status"]) == ExportStatus.PENDING
        ]

    def imports(self) -> dict[bytes, Imported]:
        """Origin key -> every import on the destination, as its BatchImported events say (the
        transaction hash is the reference a confirmation carries)."""
        found = self.destination.events("BatchImported", self.destination.start_block, self.destination.head())
        return {
            bytes(e.args["originKey"]): Imported(
                e.tx_hash,
                e.block_number,
                int(e.args["credit"]["quantity"]),
                str(e.args["credit"]["to"]).lower(),
                normalised(tuple(e.args["credit"][name] for name in CREDIT_STRUCT)),
            )
            for e in found
        }

    def _refusal(self, export: Export, methodologies: dict[int, str], unrecognised: dict[str, str]) -> str | None:
        if export.destination_account[:12] != b"\0" * 12:
            return "DestinationAccountNotAnAddress: the export's destination account is not a left-padded address"
        return unrecognised.get(methodologies[export.batch_id])

    def _source_batches(self, exports: Iterable[Export]) -> dict[int, Any]:
        ids = sorted({e.batch_id for e in exports})
        return dict(zip(ids, self.source.client.view_many("batch", [(i,) for i in ids]), strict=True))

    def _methodologies(self, batches: dict[int, Any]) -> dict[int, str]:
        projects = sorted({bytes(b["projectId"]) for b in batches.values()})
        found = self.source.client.view_many("project", [(p,) for p in projects])
        by_project = {p: from_short_id(f["methodologyId"]) for p, f in zip(projects, found, strict=True)}
        return {i: by_project[bytes(b["projectId"])] for i, b in batches.items()}

    # ------------------------------------------------------------------ one pass

    def step(self) -> PassReport:
        report = PassReport()
        exports = self.pending()
        report.seen = len(exports)
        if not exports:
            return report
        self.on_step("seen")
        imported = self.imports()
        refused_there = self._refused_on_destination()
        batches = self._source_batches(exports)
        methodologies = self._methodologies(batches)
        unrecognised = self.recognition.refusals(self.source.name, set(methodologies.values()))

        refused: dict[int, str] = {}
        to_import: list[Export] = []
        for e in exports:
            if e.key in imported or e.key in refused_there:
                continue
            why = self._refusal(e, methodologies, unrecognised)
            if why is None:
                to_import.append(e)
            else:
                refused[e.export_id] = why
        if to_import:
            for e, result in self._import(to_import, batches):
                if result.outcome in ("applied", "already_applied"):
                    report.imported += result.outcome == "applied"
                elif result.error is not None and result.error.name in DECIDED:
                    pass  # imported or refused before under the same origin key: the chain says which
                elif result.error is not None and result.error.name.startswith(REFUSALS):
                    if result.error.name not in TRANSIENT:
                        refused[e.export_id] = str(result.error)
                elif result.error is not None:  # not the registry's refusal (a role missing, the node): retried
                    log.warning("import for export %d not applied: %s", e.export_id, result.error)
            self.on_step("imported")
            imported = self.imports()
        if refused and self.gate is not None:
            self._refuse_on_destination([e for e in exports if e.export_id in refused], refused)
            refused_there = self._refused_on_destination()

        self._send_to_source(exports, imported, refused, refused_there, report, batches)
        return report

    def _refused_on_destination(self) -> dict[bytes, tuple[bytes, int]]:
        if self.gate is None:
            return {}
        return self.gate.refused(self.destination.start_block, self.destination.head())

    def _refuse_on_destination(self, exports: list[Export], refused: dict[int, str]) -> None:
        """Record each refusal on the destination's gate first: the gate takes an origin key as
        imported or as refused, never both, so whichever relay's transaction is mined first decides
        and the source is told only what the destination decided."""
        assert self.gate is not None
        for e in exports:
            try:
                self.gate.refuse(e.key, reason_hash(refused[e.export_id]))
            except RegistryRevertError as exc:
                if exc.name not in DECIDED:
                    log.warning("refusal of export %d not recorded: %s", e.export_id, exc)
            except TransactionFailedError:
                pass  # simulated fine, reverted when mined: another relay decided this key first
        self.on_step("refused")

    def credit_of(self, e: Export, batches: dict[int, Any]) -> tuple[Any, ...]:
        """The credit an import of `e` carries: its project and vintage are its source batch's, its
        evidence commits to the key, that batch and its serial range."""
        b = batches[e.batch_id]
        first = int(b["firstSerial"])
        last = first + int(b["issued"]) - 1
        return normalised(
            (
                e.key,
                short_id(self.source.name),
                bytes(b["projectId"]),
                "0x" + e.destination_account[12:].hex(),
                int(b["vintage"]),
                e.amount,
                evidence_hash(e.key, e.batch_id, first, last),
            )
        )

    def _import(self, exports: list[Export], batches: dict[int, Any]) -> list[tuple[Export, OperationResult]]:
        ops = []
        gate = self.gate
        client = self.destination.client if gate is None else gate.client
        s = self.source.client
        for e in exports:
            b = batches[e.batch_id]
            first = int(b["firstSerial"])
            last = first + int(b["issued"]) - 1
            credit = self.credit_of(e, batches)
            op = import_op_id(e.key)
            origin = (s.chain_id, s.address, e.export_id, e.batch_id, first, last)
            args = (op, credit) if gate is None else (op, credit, origin)
            ops.append(Operation(op, "importCredits", args, self.destination.signer, f"export {e.export_id}"))
        results = self._bulk(client).run(ops).results
        return list(zip(exports, results, strict=True))

    def _send_to_source(
        self,
        exports: list[Export],
        imported: dict[bytes, Imported],
        refused: dict[int, str],
        refused_there: dict[bytes, tuple[bytes, int]],
        report: PassReport,
        batches: dict[int, Any],
    ) -> None:
        deep_enough = self.destination.head() - self.destination.depth
        ops: list[Operation] = []
        me = self.source.signer
        aborts: dict[int, tuple[str, bytes]] = {}
        if self.gate is not None:
            # only what the destination recorded as refused, once that record is deep enough
            for e in exports:
                if e.key in refused_there and e.key not in imported:
                    hashed, block = refused_there[e.key]
                    if block > deep_enough:
                        report.waiting += 1
                        continue
                    told = refused.get(e.export_id) or f"RefusedOnDestination: reason hash 0x{hashed.hex()}"
                    aborts[e.export_id] = (told, hashed)
        elif self._destination_idle():
            # without a gate: abort only once no import of this relay's key is in the destination's pool
            aborts = {i: (why, reason_hash(why)) for i, why in refused.items()}
        for e in exports:
            if e.key in imported:
                found = imported[e.key]
                if (why := found.mismatch(e, self.credit_of(e, batches))) is not None:
                    log.warning("holding export %d: %s", e.export_id, why)
                    report.held[e.export_id] = why
                    continue
                if found.block > deep_enough:
                    report.waiting += 1
                    continue
                op = confirm_op_id(e.key)
                reference = bytes.fromhex(found.tx_hash[2:])
                ops.append(Operation(op, "confirmExport", (op, e.export_id, reference), me, "confirm"))
            elif e.export_id in aborts:
                op = abort_op_id(e.key)
                why, hashed = aborts[e.export_id]
                log.warning("aborting export %d: %s", e.export_id, why)
                ops.append(Operation(op, "abortExport", (op, e.export_id, hashed), me, "abort"))
                report.refusals[e.export_id] = why
            elif e.key not in refused_there:
                report.waiting += 1  # its import (or refusal) was not seen mined: the next pass tries again
        if not ops:
            return
        self.on_step("confirm ready")
        for result in self._bulk(self.source.client).run(ops).results:
            if result.outcome not in ("applied", "already_applied"):
                report.waiting += 1
                log.warning("%s not applied on the source: %s", result.op.label, result.error)
            elif result.op.fn == "confirmExport":
                report.confirmed += 1
            else:
                report.aborted += 1
        self.on_step("confirmed")

    def _destination_idle(self) -> bool:
        """True when the relay's key has no transaction pending on the destination."""
        me = self.destination.signer.address
        latest, pending = self.destination.client.rpc.batch(
            [("eth_getTransactionCount", [me, "latest"]), ("eth_getTransactionCount", [me, "pending"])]
        )
        return bool(latest == pending)

    def _bulk(self, client: RegistryClient) -> BulkSender:
        return BulkSender(client, settle_timeout=self.settle_timeout, stuck_after=10.0)

    # ------------------------------------------------------------------ the loop

    def run(self, *, poll: float = 2.0, stop: Callable[[], bool] = lambda: False) -> None:
        while not stop():
            try:
                report = self.step()
            except (ChainError, RpcError) as exc:  # a node away or refusing: nothing is lost, the next pass reads again
                log.warning("relay pass failed (%s); retrying in %.1f s", exc, poll)
                time.sleep(poll)
                continue
            if report.seen:
                log.info(
                    "relay pass",
                    extra={
                        "seen": report.seen,
                        "imported": report.imported,
                        "confirmed": report.confirmed,
                        "aborted": report.aborted,
                        "waiting": report.waiting,
                    },
                )
            time.sleep(poll)
