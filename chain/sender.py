"""The bulk transaction sender: many registry operations, each applied exactly once.

How it gets there:
1. settle: wait for the signers' transactions still pending from an earlier (crashed) run;
2. skip: read the applied-operation bitmap words in JSON-RPC batches; operations already on chain
   are reported as such and not sent;
3. send: sign locally (coincurve) with locally managed nonces, in the chain's fee model (EIP-1559,
   legacy or free: chain/fees.py), and send the raw transactions in JSON-RPC batches;
4. await: poll receipts in batches; a transaction pending longer than `stuck_after` is replaced
   (same nonce, every fee raised by `fee_bump`, at least the pools' 10 %); on a chain whose gas
   price is zero there is no fee to raise, so it is re-broadcast unchanged instead;
5. repeat 1-4 for operations whose transaction never made it (a refused send, a nonce gap), so a
   run converges even after faults. A crash anywhere followed by a re-run applies each operation
   once: the contract refuses a repeated operation id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_account.signers.local import LocalAccount

from chain.client import RegistryClient
from chain.errors import InvalidInputError, RegistryRevertError
from chain.fees import Fees
from chain.logs import LogFetcher
from chain.rpc import RpcError
from chain.signing import FastSigner, SignedTx

log = logging.getLogger(__name__)

DEFAULT_GAS = {
    "issue": 400_000,
    "importCredits": 400_000,
    "registerProject": 1_000_000,
    "transferWithReference": 150_000,
    "retire": 150_000,
    "retireFor": 150_000,
    "cancel": 150_000,
    "pledge": 200_000,
}
FALLBACK_GAS = 300_000
# a node's answer to a transaction it already holds (geth, anvil, Besu): the send did what it should
ALREADY_HELD = ("already known", "already imported", "known transaction")
NONCE_GAP = "nonce too high"  # a transaction that arrived before its predecessor, at a node that will not queue it

# applied: by this run; already_applied: before this run; failed: refused (error says why);
# unconfirmed: sent, never seen in a block, may still be mined: run the same operations again
Outcome = Literal["applied", "already_applied", "failed", "unconfirmed"]


@dataclass(frozen=True)
class Operation:
    """One registry operation: `fn(*args)` sent by `sender`; `args[0]` is `op_id` for every
    registry function that takes one."""

    op_id: int
    fn: str
    args: tuple[Any, ...]
    sender: LocalAccount
    label: str = ""
    gas: int | None = None


@dataclass(frozen=True)
class OperationResult:
    op: Operation
    outcome: Outcome
    tx_hash: str | None = None
    block_number: int | None = None
    gas_used: int | None = None
    error: RegistryRevertError | None = None


@dataclass
class BulkReport:
    results: list[OperationResult] = field(default_factory=list)
    elapsed: float = 0.0
    rounds: int = 0
    replaced: int = 0  # same-nonce replacements with higher fees
    rebroadcast: int = 0  # stuck free transactions sent again unchanged (a zero gas price chain)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def applied(self) -> int:
        return self.count("applied")

    @property
    def already_applied(self) -> int:
        return self.count("already_applied")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def unconfirmed(self) -> int:
        return self.count("unconfirmed")


@dataclass
class _InFlight:
    op: Operation
    signed: SignedTx
    data: bytes
    gas: int
    sent_at: float
    hashes: list[str]


class BulkSender:
    def __init__(
        self,
        client: RegistryClient,
        *,
        batch_size: int = 500,
        receipt_batch: int = 1000,
        stuck_after: float = 30.0,
        fee_bump: float = 1.15,
        max_rounds: int = 5,
        settle_timeout: float = 60.0,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.client = client
        self.rpc = client.rpc
        self.batch_size = batch_size
        self.receipt_batch = receipt_batch
        self.stuck_after = stuck_after
        self.fee_bump = fee_bump
        self.max_rounds = max_rounds
        self.settle_timeout = settle_timeout
        self.on_progress = on_progress

    # ------------------------------------------------------------------ the run

    def run(self, ops: Sequence[Operation]) -> BulkReport:
        started = time.monotonic()
        self._check(ops)
        self._sent: set[int] = set()
        self._sent_earlier: set[int] = set()
        self._send_errors: dict[int, str] = {}
        report = BulkReport()
        done: dict[int, OperationResult] = {}
        todo = list(ops)
        while todo and report.rounds < self.max_rounds:
            report.rounds += 1
            self.settle({op.sender.address for op in todo})
            applied = self.applied_ids([op.op_id for op in todo])
            for op in todo:
                if op.op_id in applied:  # by a transaction of an earlier round, or before this run
                    done[op.op_id] = OperationResult(op, "applied" if op.op_id in self._sent else "already_applied")
            todo = [op for op in todo if op.op_id not in applied]
            self._progress(len(done), len(ops))
            if todo:
                for result in self._send_round(todo, report, done_before=len(done), total=len(ops)):
                    done[result.op.op_id] = result
                todo = [op for op in todo if op.op_id not in done]
        for op in todo:
            if op.op_id in self._sent:
                error = RegistryRevertError(
                    "Unconfirmed",
                    {"label": op.label},
                    "sent but not seen in a block; it may still be mined: run the same operations again to settle",
                )
                done[op.op_id] = OperationResult(op, "unconfirmed", error=error)
            else:
                reason = self._send_errors.get(op.op_id, f"not sent after {self.max_rounds} rounds")
                error = RegistryRevertError("NotSent", {"label": op.label}, f"the node refused it: {reason}")
                done[op.op_id] = OperationResult(op, "failed", error=error)
        report.results = [done[op.op_id] for op in ops]
        report.elapsed = time.monotonic() - started
        log.info(
            "bulk run finished",
            extra={
                "applied": report.applied,
                "already": report.already_applied,
                "failed": report.failed,
                "seconds": round(report.elapsed, 2),
            },
        )
        return report

    def _check(self, ops: Sequence[Operation]) -> None:
        """Only operations the contract applies once may be sent in bulk: their function takes an
        operation id first, and it is the operation's own."""
        ids = [op.op_id for op in ops]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("two operations share an operation id; each operation needs its own")
        for op in ops:
            inputs = self.client.abi.functions.get(op.fn, {}).get("inputs", [])
            if not inputs or inputs[0]["name"] != "opId":
                raise InvalidInputError(f"{op.fn} takes no operation id, so it cannot be sent exactly once in bulk")
            if not op.args or op.args[0] != op.op_id:
                raise InvalidInputError(
                    f"operation {op.label or op.op_id}: its first argument must be its operation id"
                )

    def settle(self, senders: set[str]) -> None:
        """Wait until none of `senders` has a transaction pending (from this run or a crashed one)."""
        deadline = time.monotonic() + self.settle_timeout
        while time.monotonic() < deadline:
            calls = [("eth_getTransactionCount", [a, tag]) for a in sorted(senders) for tag in ("latest", "pending")]
            counts = self.rpc.batch(calls)
            if all(counts[i] == counts[i + 1] for i in range(0, len(counts), 2)):
                return
            time.sleep(0.25)
        log.warning("transactions still pending after settling; continuing", extra={"senders": len(senders)})

    def applied_ids(self, op_ids: Sequence[int]) -> set[int]:
        """The subset of `op_ids` already applied on chain, read one bitmap word per 256 ids."""
        words = sorted({i >> 8 for i in op_ids})
        bits: dict[int, int] = {}
        for start in range(0, len(words), self.receipt_batch):
            chunk = words[start : start + self.receipt_batch]
            calls = [("eth_call", [self._call("appliedOperationBits", (w,)), "latest"]) for w in chunk]
            for word, result in zip(chunk, self.rpc.batch(calls), strict=True):
                if isinstance(result, RpcError):
                    raise result
                bits[word] = int(result, 16)
        return {i for i in op_ids if bits[i >> 8] >> (i & 0xFF) & 1}

    # ------------------------------------------------------------------ one round

    def _send_round(
        self, todo: list[Operation], report: BulkReport, *, done_before: int, total: int
    ) -> list[OperationResult]:
        start_block = int(self.rpc.call("eth_blockNumber"), 16)
        self._sent_earlier = set(self._sent)
        fees = self.client.fee_quote()
        nonces = self._pending_nonces({op.sender.address for op in todo})
        inflight: dict[str, _InFlight] = {}
        refused: set[str] = set()
        # sign the next batch while the previous one is on the wire (the socket wait frees the GIL)
        with ThreadPoolExecutor(max_workers=1) as wire:
            pending = []
            for start in range(0, len(todo), self.batch_size):
                signed = [self._sign(op, nonces, fees) for op in todo[start : start + self.batch_size]]
                calls = [("eth_sendRawTransaction", ["0x" + f.signed.raw.hex()]) for f in signed]
                pending.append((signed, wire.submit(self.rpc.batch, calls)))
            gapped: list[_InFlight] = []
            for signed, future in pending:
                accepted: list[tuple[str, bytes]] = []
                for f, reply in zip(signed, future.result(), strict=True):
                    if isinstance(reply, RpcError) and not already_held(reply):
                        if NONCE_GAP in str(reply).lower():
                            gapped.append(f)
                        else:
                            self._refuse(f, reply, refused)
                        continue
                    self._sent.add(f.op.op_id)
                    inflight[f.hashes[0]] = f
                    accepted.append((f.hashes[0], f.signed.raw))
                self.client.record_sent(accepted)  # journaled before any of them is reported applied
        if gapped:
            self._send_in_order(gapped, inflight, refused)
        return self._await(inflight, report, start_block=start_block, fees=fees, done_before=done_before, total=total)

    def _refuse(self, f: _InFlight, reply: RpcError, refused: set[str]) -> None:
        if f.op.sender.address not in refused:
            log.warning(
                "send refused for %s: %s; its operations go to the next round", f.op.sender.address, str(reply)[:200]
            )
        refused.add(f.op.sender.address)
        self._send_errors[f.op.op_id] = str(reply)[:200]

    def _send_in_order(self, gapped: list[_InFlight], inflight: dict[str, _InFlight], refused: set[str]) -> None:
        """A node that runs a batch's requests out of order and keeps no queue for later nonces (Hardhat 2
        while automining) refuses those that overtook their predecessor: send them again one at a time,
        in nonce order. A sender's first refusal here sends the rest of its transactions to the next round."""
        accepted: list[tuple[str, bytes]] = []
        for f in sorted(gapped, key=lambda f: (f.op.sender.address, f.signed.nonce)):
            if f.op.sender.address in refused:
                self._send_errors[f.op.op_id] = "an earlier transaction of its sender was refused"
                continue
            try:
                self.rpc.call("eth_sendRawTransaction", "0x" + f.signed.raw.hex())
            except RpcError as exc:
                if not already_held(exc):
                    self._refuse(f, exc, refused)
                    continue
            self._sent.add(f.op.op_id)
            inflight[f.hashes[0]] = f
            accepted.append((f.hashes[0], f.signed.raw))
        self.client.record_sent(accepted)

    def _sign(self, op: Operation, nonces: dict[str, int], fees: Fees) -> _InFlight:
        data = self.client.abi.encode_call(op.fn, op.args)
        gas = op.gas or DEFAULT_GAS.get(op.fn, FALLBACK_GAS)
        nonce = nonces[op.sender.address]
        nonces[op.sender.address] = nonce + 1
        tx = self._signer(op.sender).sign_with(fees, nonce=nonce, to=self.client.address, data=data, gas=gas)
        return _InFlight(op, tx, data, gas, time.monotonic(), ["0x" + tx.tx_hash.hex()])

    def _await(
        self,
        inflight: dict[str, _InFlight],
        report: BulkReport,
        *,
        start_block: int,
        fees: Fees,
        done_before: int,
        total: int,
    ) -> list[OperationResult]:
        """Follow new blocks: a transaction included with a log of ours was applied; one included
        without is fetched and decoded. (Per-transaction receipts cost a node like anvil time
        quadratic in the block's size; block bodies and logs do not.)"""
        results: list[OperationResult] = []
        by_hash = dict(inflight)  # every hash (originals and replacements) -> its in-flight record
        open_ops = {id(f): f for f in inflight.values()}
        op_fees = {id(f): fees for f in inflight.values()}
        next_block = start_block + 1
        last_progress = time.monotonic()
        while open_ops:
            head = int(self.rpc.call("eth_blockNumber"), 16)
            if head >= next_block:
                included = self._included(by_hash, open_ops, next_block, head)
                for f, tx_hash, block, applied in included:
                    del open_ops[id(f)]
                    results.append(
                        OperationResult(f.op, "applied", tx_hash, block) if applied else self._failed(f, block)
                    )
                next_block = head + 1
                if included:  # progress is ours being mined, not the chain making (empty) blocks
                    last_progress = time.monotonic()
                    self._progress(done_before + len(results), total)
                continue
            now = time.monotonic()
            stuck = [f for f in open_ops.values() if now - f.sent_at > self.stuck_after]
            if stuck:
                self._replace(stuck, op_fees, by_hash, report)
            if now - last_progress > self.stuck_after * 4:
                log.warning("giving up on %d unmined transactions this round", len(open_ops))
                break
            time.sleep(0.05)
        return results

    def _included(
        self, by_hash: dict[str, _InFlight], open_ops: dict[int, _InFlight], first: int, last: int
    ) -> list[tuple[_InFlight, str, int, bool]]:
        """Our open transactions included in blocks first..last: (record, hash, block, has our logs)."""
        found: dict[str, int] = {}
        for start in range(first, last + 1, 100):
            numbers = range(start, min(last, start + 99) + 1)
            for n, block in zip(
                numbers, self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers]), strict=True
            ):
                if isinstance(block, RpcError) or block is None:
                    raise RpcError({"message": f"block {n} unavailable"})
                for h in block["transactions"]:
                    if h in by_hash and id(by_hash[h]) in open_ops:
                        found[h] = n
        if not found:
            return []
        # the blocks just read, usually in one answer; a node that refuses so large a range is asked for less
        logs = LogFetcher(
            self.rpc, self.client.address, max_range=last - first + 1, start_range=last - first + 1, retries=3
        )
        logged = {entry["transactionHash"] for entry in logs.fetch_all(first, last)}
        return [(by_hash[h], h, n, h in logged) for h, n in found.items()]

    def _replace(
        self, stuck: list[_InFlight], fees: dict[int, Fees], by_hash: dict[str, _InFlight], report: BulkReport
    ) -> None:
        """Re-sign stuck transactions with the same nonce and higher fees (a legacy gas price, or both
        EIP-1559 fees). A free transaction on a still-free chain has no fee to raise, and a pool
        refuses a same-priced twin ("replacement transaction underpriced"): the very same signed
        transaction is sent again, which a node that dropped it takes back and one that holds it
        answers with "already known"."""
        now = self.client.fee_quote()
        replacements = []
        for f in stuck:
            new = fees[id(f)].bumped(self.fee_bump, now)
            if new == fees[id(f)]:
                tx = f.signed  # unchanged: a re-broadcast
            else:
                tx = self._signer(f.op.sender).sign_with(
                    new, nonce=f.signed.nonce, to=self.client.address, data=f.data, gas=f.gas
                )
            fees[id(f)] = new
            f.sent_at = time.monotonic()
            replacements.append((f, tx))
        replies: list[Any] = []
        for start in range(0, len(replacements), self.batch_size):
            chunk = replacements[start : start + self.batch_size]
            replies += self.rpc.batch([("eth_sendRawTransaction", ["0x" + tx.raw.hex()]) for _, tx in chunk])
        accepted: list[tuple[str, bytes]] = []
        for (f, tx), reply in zip(replacements, replies, strict=True):
            if tx is f.signed:
                report.rebroadcast += 1  # its hash is followed already, and journaled when first sent
            elif not isinstance(reply, RpcError):
                h = "0x" + tx.tx_hash.hex()
                f.hashes.append(h)
                by_hash[h] = f
                report.replaced += 1
                accepted.append((h, tx.raw))
        self.client.record_sent(accepted)
        log.info("replaced stuck transactions", extra={"count": len(replacements)})

    def _failed(self, f: _InFlight, block: int) -> OperationResult:
        receipts = [self.rpc.call("eth_getTransactionReceipt", h) for h in f.hashes]
        receipt = next((r for r in receipts if r is not None), None)
        tx_hash = receipt["transactionHash"] if receipt else f.hashes[0]
        gas_used = int(receipt["gasUsed"], 16) if receipt else None
        error = self._replay(f, block)
        outcome: Outcome = "failed"
        if error.name == "RegistryOperationAlreadyApplied":
            # applied by a transaction of an earlier round of this run, or before the run
            outcome = "applied" if f.op.op_id in self._sent_earlier else "already_applied"
        return OperationResult(f.op, outcome, tx_hash, block, gas_used, error)

    def _replay(self, f: _InFlight, block: int) -> RegistryRevertError:
        """Why a mined transaction reverted: the client's replay on the state before its block
        (chain/transactions.py), else whether another transaction applied the operation first."""
        call = {"from": f.op.sender.address, "to": self.client.address, "data": "0x" + f.data.hex(), "gas": hex(f.gas)}
        error = self.client.replay(call, block, self.client.abi)
        if error is not None:
            return error
        if self.client.is_operation_applied(f.op.op_id):
            return RegistryRevertError(
                "RegistryOperationAlreadyApplied", {"opId": f.op.op_id}, "applied by another transaction"
            )
        return RegistryRevertError(
            "RevertedInBlock",
            {"block": block},
            "reverted on the state inside its block (out of gas, or an earlier transaction changed it)",
        )

    # ------------------------------------------------------------------ helpers

    def _pending_nonces(self, senders: set[str]) -> dict[str, int]:
        ordered = sorted(senders)
        counts = self.rpc.batch([("eth_getTransactionCount", [a, "pending"]) for a in ordered])
        nonces: dict[str, int] = {}
        for a, c in zip(ordered, counts, strict=True):
            if isinstance(c, RpcError):
                raise c
            nonces[a] = int(c, 16)
        return nonces

    def _signer(self, account: LocalAccount) -> FastSigner:
        return self.client.signer_for(account)

    def _call(self, fn: str, args: tuple[Any, ...]) -> dict[str, str]:
        return {"to": self.client.address, "data": "0x" + self.client.abi.encode_call(fn, args).hex()}

    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)


def already_held(reply: RpcError) -> bool:
    return any(marker in str(reply).lower() for marker in ALREADY_HELD)
