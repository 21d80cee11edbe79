"""A JSON-RPC client that asks again when a node fails a read: a public node refusing every other
call (rate limits, a 502 from its load balancer) must slow the relay down, not stop it. A pass
makes some twenty reads; failing the whole pass on any one of them meant no pass ever finished
against a node failing half its calls. Writes are not repeated here: the bulk sender owns them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chain.errors import NodeUnreachableError
from chain.rpc import JsonRpc, RpcError

# reads only: asking again changes nothing on the chain
READS = frozenset(
    {
        "eth_blockNumber",
        "eth_call",
        "eth_chainId",
        "eth_estimateGas",
        "eth_feeHistory",
        "eth_gasPrice",
        "eth_getBlockByNumber",
        "eth_getCode",
        "eth_getLogs",
        "eth_getTransactionByHash",
        "eth_getTransactionCount",
        "eth_getTransactionReceipt",
        "eth_maxPriorityFeePerGas",
    }
)
ATTEMPTS = 8  # at half the calls failing, 0.5^8: one read in 256 still fails, and its pass is retried
FIRST_WAIT = 0.05  # seconds, doubling up to MAX_WAIT
MAX_WAIT = 1.0


def transient(error: RpcError) -> bool:
    """A node's refusal, not the contract's: a revert carries data or says so, and asking again
    would only repeat it."""
    return "data" not in error.error and "revert" not in str(error).lower()


class RetryingRpc(JsonRpc):
    def __init__(self, url: str, *, timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(url, timeout=timeout)
        self._sleep = sleep

    def _wait(self, attempt: int) -> None:
        self._sleep(min(MAX_WAIT, FIRST_WAIT * 2**attempt))

    def call(self, method: str, *params: Any, parse: Callable[[bytes], Any] | None = None) -> Any:
        kwargs = {} if parse is None else {"parse": parse}
        for attempt in range(ATTEMPTS):
            try:
                return super().call(method, *params, **kwargs)
            except NodeUnreachableError as exc:
                # a node that let a whole timeout pass is hanging, not rate-limiting: eight more
                # timeouts only keep the operator waiting minutes for the line naming it
                if method not in READS or attempt == ATTEMPTS - 1 or "Timeout" in exc.reason:
                    raise
            except RpcError as exc:
                if method not in READS or not transient(exc) or attempt == ATTEMPTS - 1:
                    raise
            self._wait(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any | RpcError]:
        out: list[Any | RpcError] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(ATTEMPTS):
            try:
                replies = super().batch([calls[i] for i in todo])
            except (NodeUnreachableError, RpcError):  # the whole batch refused
                if attempt == ATTEMPTS - 1:
                    raise
                self._wait(attempt)
                continue
            again = []
            for i, reply in zip(todo, replies, strict=True):
                out[i] = reply
                if isinstance(reply, RpcError) and calls[i][0] in READS and transient(reply):
                    again.append(i)
            if not again:
                break
            todo = again
            if attempt < ATTEMPTS - 1:
                self._wait(attempt)
        return out
