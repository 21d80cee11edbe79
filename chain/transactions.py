"""The one transaction path: sign, send, wait for the receipt, and, when a transaction failed,
replay its call on the state before its block to name the revert. RegistryClient's writes,
deployments (chain/deploy.py), the bulk sender's failures (chain/sender.py) and the explorer's
failed transactions (api/explorer/node.py) all go through it.
"""

from __future__ import annotations

import time
from typing import Any

from eth_account.signers.local import LocalAccount

from chain.abi import ContractAbi
from chain.errors import RegistryRevertError, TransactionFailedError
from chain.fees import FeeModel, FeeModelSetting, Fees, detect_fee_model, quote
from chain.journal import Journal, journal_for
from chain.revert import decode_revert, revert_data_from_rpc_error
from chain.rpc import JsonRpc, RpcError
from chain.settings import ChainSettings
from chain.signing import FastSigner

GAS_HEADROOM = 1.25  # on top of a simulation's estimate: state may change before the block
# a node's words for "this nonce is taken": two writers with one key raced (geth, anvil, Besu, Hardhat)
NONCE_CLASHES = ("replacement transaction underpriced", "nonce too low", "already known", "nonce has already been used")
NO_ERRORS = ContractAbi([])  # only the built-in Error and Panic


class Transactor:
    """Sends transactions on one chain, in its fee model, journaling what the node accepted."""

    def __init__(
        self,
        rpc: JsonRpc,
        *,
        chain_id: int,
        receipt_timeout: float = 120.0,
        journal: Journal | None = None,
        fee_model: FeeModelSetting | None = None,
    ) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        # sent transactions are journaled when the node is the durable local node (chain/journal.py)
        self.journal = journal if journal is not None else journal_for(rpc.url)
        self.receipt_timeout = receipt_timeout
        self._fast: dict[str, FastSigner] = {}
        self._fee_setting = fee_model  # None: LEDGER_FEE_MODEL, read when first needed
        self._fee_model: FeeModel | None = None

    # ------------------------------------------------------------------ fees

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

    # ------------------------------------------------------------------ sign, send, wait

    def signer_for(self, account: LocalAccount) -> FastSigner:
        if account.address not in self._fast:
            self._fast[account.address] = FastSigner(bytes(account.key), self.chain_id)
        return self._fast[account.address]

    def send(self, account: LocalAccount, *, to: str | None, data: bytes, gas: int) -> dict[str, Any]:
        """Sign one transaction at the account's next nonce, send it, journal it and wait for its
        receipt (which may say it reverted: see `replay`)."""
        fees = self.fee_quote()
        nonce = int(self.rpc.call("eth_getTransactionCount", account.address, "pending"), 16)
        signed = self.signer_for(account).sign_with(fees, nonce=nonce, to=to, data=data, gas=gas)
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
        return self.wait_for_receipt(tx_hash)

    def record_sent(self, sent: list[tuple[str, bytes]]) -> None:
        """Journal (tx hash, signed raw transaction) pairs the node accepted, before anyone reports
        them sent or done: a restarted durable node re-sends those its restored chain lost."""
        if self.journal is not None:
            self.journal.record(sent)

    def wait_for_receipt(self, tx_hash: str, *, poll: float = 0.02) -> dict[str, Any]:
        deadline = time.monotonic() + self.receipt_timeout
        while time.monotonic() < deadline:
            receipt = self.rpc.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            time.sleep(poll)
        raise TransactionFailedError(tx_hash, f"no receipt after {self.receipt_timeout:.0f} s; it may still be mined")

    # ------------------------------------------------------------------ why it failed

    def replay(self, call: dict[str, Any], block: int, abi: ContractAbi | None = None) -> RegistryRevertError | None:
        """Replay a mined transaction's call (from, to, data[, gas, value]) on the state before its
        block: the contract's error it reverts with there, or None when the replay succeeds (an
        earlier transaction of the block changed the state, or it ran out of gas)."""
        try:
            self.rpc.call("eth_call", call, hex(max(block - 1, 0)))
        except RpcError as exc:
            return revert_error(exc, abi)
        return None


def revert_error(exc: RpcError, abi: ContractAbi | None = None) -> RegistryRevertError:
    """A refused call as the contract's own error when the node passed its revert data along."""
    data = revert_data_from_rpc_error(exc.error)
    if data is None:
        return RegistryRevertError("NodeRefused", {"message": str(exc)}, "the node refused the call")
    return decode_revert(abi or NO_ERRORS, data)


def replay_call(tx: dict[str, Any]) -> dict[str, Any]:
    """The eth_call that replays a transaction as the node returned it (eth_getTransactionByHash)."""
    call = {"from": tx["from"], "to": tx.get("to"), "data": tx.get("input", "0x"), "gas": tx["gas"]}
    if int(tx.get("value", "0x0"), 16):
        call["value"] = tx["value"]
    return call
