"""Fetching logs with adaptive block ranges: shrink on "range too large" or a timeout, back off
on rate limits, grow again on success; and cutting an answer into steps of about
`target_events` events at block boundaries."""

from __future__ import annotations

import logging
import time
from typing import Any

from chain.errors import NodeUnreachableError
from chain.rpc import JsonRpc, RpcError, loads_strings

log = logging.getLogger(__name__)

RANGE_HINTS = ("range", "too many", "limit", "exceed", "too large", "timeout", "timed out", "response size")


class LogFetcher:
    def __init__(
        self, rpc: JsonRpc, address: str, *, max_range: int = 5_000, min_range: int = 1, target_events: int = 5_000
    ) -> None:
        self.rpc = rpc
        self.address = address
        self.max_range = max_range
        self.min_range = min_range
        self.range = max(min_range, min(max_range, 8))  # then adapted to the events each range holds
        self.target_events = target_events  # ranges of about this many events keep the pipeline busy
        self.backoff = 0.0

    def fetch(self, first: int, last: int) -> tuple[int, list[dict[str, Any]]]:
        """Logs of blocks first..t for some t <= last (the range the node accepted); returns (t, logs)."""
        while True:
            to = min(last, first + self.range - 1)
            try:
                logs = self.rpc.call(
                    "eth_getLogs",
                    {"fromBlock": hex(first), "toBlock": hex(to), "address": self.address},
                    parse=loads_strings,
                )
            except RpcError as exc:
                if self._beyond_head(first):
                    # the chain got shorter while we read (a reorganisation, or a durable local node restarted
                    # from its last snapshot): no retry can succeed; the caller's next sync rolls back first
                    raise
                self._on_error(str(exc), first, to)
                continue
            except NodeUnreachableError as exc:  # its reason only: the URL may hold an API key, or a "429" in its port
                self._on_error(f"timeout/unreachable: {exc.reason}", first, to)
                continue
            if self.backoff:
                log.warning("node answers again after back-off", extra={"from_block": first, "to_block": to})
            self.backoff = 0.0
            if len(logs) > 2 * self.target_events:  # straight to the size that would have held target_events
                self.range = max(
                    self.min_range, min(self.range // 2, (to - first + 1) * self.target_events // len(logs))
                )
            elif len(logs) < self.target_events // 2:
                self.range = min(self.max_range, self.range * 2)
            return to, logs

    def _beyond_head(self, first: int) -> bool:
        try:
            return first > int(self.rpc.call("eth_blockNumber"), 16)
        except (RpcError, NodeUnreachableError):
            return False

    def _on_error(self, message: str, first: int, to: int) -> None:
        lowered = message.lower()
        if "429" in lowered or "rate" in lowered:
            self.backoff = min(30.0, max(0.25, self.backoff * 2))
            log.warning(
                "rate limited by the node; backing off %.2f s",
                self.backoff,
                extra={"from_block": first, "to_block": to},
            )
            time.sleep(self.backoff)
        elif any(h in lowered for h in RANGE_HINTS) and self.range > self.min_range:
            self.range = max(self.min_range, self.range // 2)
            log.warning(
                "log range refused (%s); shrinking to %d blocks",
                message[:80],
                self.range,
                extra={"from_block": first, "to_block": to},
            )
        else:
            self.backoff = min(30.0, max(0.25, self.backoff * 2))
            log.warning(
                "node error (%s); retrying in %.2f s",
                message[:80],
                self.backoff,
                extra={"from_block": first, "to_block": to},
            )
            time.sleep(self.backoff)


def split_at_blocks(
    first: int, last: int, logs: list[dict[str, Any]], size: int
) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """Blocks first..last and their logs as consecutive (first, last, logs) steps of about `size`
    logs each, cut only between blocks.

    Growing the range on a sparse stretch can bring a dense one in a single answer (16 nearly
    empty blocks, then 32 blocks with 106,000 events): as one step it stalls the pipeline, the
    writer idle while it is applied, the applier idle while it is written.
    """
    steps = []
    start, begin = first, 0
    cut = size = max(1, size)
    while cut < len(logs):
        end = int(logs[cut - 1]["blockNumber"], 16)
        while cut < len(logs) and int(logs[cut]["blockNumber"], 16) == end:
            cut += 1  # the rest of the block goes with it
        if cut >= len(logs):
            break
        steps.append((start, end, logs[begin:cut]))
        start, begin, cut = end + 1, cut, cut + size
    steps.append((start, last, logs[begin:]))
    return steps
