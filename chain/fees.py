"""Which kind of transaction a chain takes, and what one pays: EIP-1559 where blocks carry a base
fee, legacy (type 0, EIP-155) where they carry none (berlin-era EVMs, many consortium chains), and
nothing at all where the node's gas price is zero (Besu's free gas, `--min-gas-price=0`).

The model is read from the node once per client (LEDGER_FEE_MODEL overrides it); prices are read
at each quote, since a base fee moves from block to block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chain.rpc import JsonRpc, RpcError

FeeModel = Literal["eip1559", "legacy"]
FeeModelSetting = Literal["auto", "eip1559", "legacy"]
PRIORITY_FEE_FLOOR = 1_000_000_000  # 1 gwei; anvil and Hardhat accept it, public chains expect it
# geth's and anvil's pools take a same-nonce replacement only with every fee raised by >= 10 % (Besu: --tx-pool-price-bump, 10 %)
MIN_REPLACEMENT_BUMP = 1.10


@dataclass(frozen=True)
class Fees:
    """What one transaction offers per gas. A legacy transaction's gas price is both its cap and
    its tip, so it is kept as max_fee == priority: callers that only read (max fee, tip) stay right."""

    model: FeeModel
    max_fee: int
    priority: int

    @classmethod
    def legacy(cls, gas_price: int) -> Fees:
        return cls("legacy", gas_price, gas_price)

    @property
    def gas_price(self) -> int:
        return self.max_fee

    @property
    def free(self) -> bool:
        return self.max_fee == 0

    def bumped(self, factor: float, now: Fees) -> Fees:
        """The fees of a same-nonce replacement: every fee raised by `factor` (at least the pools'
        10 %, and one wei, so small values still rise), and no lower than what the chain asks now.
        A free transaction on a still-free chain stays free: raising 0 gives nothing a pool would
        order by, and a free chain's accounts often hold no coin to pay 1 wei (the sender
        re-broadcasts it unchanged instead, see chain/sender.py)."""
        if self.free and now.free:
            return self
        factor = max(factor, MIN_REPLACEMENT_BUMP)
        tip = max(int(self.priority * factor) + 1, now.priority)
        if self.model == "legacy":
            return Fees.legacy(tip)
        return Fees("eip1559", max(int(self.max_fee * factor) + 1, now.max_fee, tip), tip)


def detect_fee_model(rpc: JsonRpc, setting: FeeModelSetting = "auto") -> FeeModel:
    """The transaction type the chain takes: the setting if it names one, else EIP-1559 if the latest
    block has a base fee (a berlin rule set, or a chain without the London fork, refuses type 2)."""
    if setting != "auto":
        return setting
    block = rpc.call("eth_getBlockByNumber", "latest", False)
    return "eip1559" if block.get("baseFeePerGas") is not None else "legacy"


def quote(rpc: JsonRpc, model: FeeModel) -> Fees:
    """What to offer now. Legacy: the node's gas price (0 on a free chain). EIP-1559: twice the base
    fee plus a tip of at least PRIORITY_FEE_FLOOR, unless the base fee is 0 and the node's gas price
    is 0 (a free EIP-1559 chain): then nothing at all."""
    if model == "legacy":
        return Fees.legacy(int(rpc.call("eth_gasPrice"), 16))
    block, suggested, price = rpc.batch(
        [
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_maxPriorityFeePerGas", []),
            ("eth_gasPrice", []),
        ]
    )
    if isinstance(block, RpcError):
        raise block
    base = int(block.get("baseFeePerGas") or "0x0", 16)
    if base == 0 and not isinstance(price, RpcError) and int(price, 16) == 0:
        return Fees("eip1559", 0, 0)
    tip = PRIORITY_FEE_FLOOR
    if not isinstance(suggested, RpcError):  # some nodes lack eth_maxPriorityFeePerGas
        tip = max(int(suggested, 16), PRIORITY_FEE_FLOOR)
    return Fees("eip1559", 2 * base + tip, tip)
