"""The one log-range fetcher: eth_getLogs over a block range in adaptive ranges, for the indexer,
the audit, the explorer and the bulk sender alike.

A range shrinks on "range too large" (or a timeout), the fetcher backs off on rate limits and
other errors, and the range grows again on success, aiming at about `target_events` logs per
answer. A follower retries for ever (`retries=None`); a reader answering a person gives up after
`retries` failures in a row.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chain.errors import NodeUnreachableError
from chain.rpc import JsonRpc, RpcError, loads_strings

log = logging.getLogger(__name__)

# how nodes and providers say a range holds too much (geth and Infura: "query returned more than 10000 results")
RANGE_HINTS = (
    "range",
    "too many",
    "more than",
    "limit",
    "exceed",
    "too large",
    "timeout",
    "timed out",
    "response size",
)


class LogFetcher:
    def __init__(
        self,
        rpc: JsonRpc,
        address: str | list[str],
        *,
        topics: list[Any] | None = None,
        max_range: int = 5_000,
        min_range: int = 1,
        start_range: int | None = None,
        target_events: int = 5_000,
        retries: int | None = None,
    ) -> None:
        self.rpc = rpc
        self.address = address
        self.topics = topics
        self.max_range = max_range
        self.min_range = min_range
        # then adapted to the events each range holds
        self.range = max(min_range, min(max_range, start_range if start_range is not None else 8))
        self.target_events = target_events  # ranges of about this many events keep the pipeline busy
        self.retries = retries
        self.backoff = 0.0

    def fetch(self, first: int, last: int) -> tuple[int, list[dict[str, Any]]]:
        """Logs of blocks first..t for some t <= last (the range the node accepted); returns (t, logs)."""
        failures = 0
        query: dict[str, Any] = {"address": self.address}
        if self.topics is not None:
            query["topics"] = self.topics
        while True:
            to = min(last, first + self.range - 1)
            try:
                logs = self.rpc.call(
                    "eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(to), **query}, parse=loads_strings
                )
            except RpcError as exc:
                if self._beyond_head(first):
                    # the chain got shorter while we read (a reorganisation, or a durable local node restarted
                    # from its last snapshot): no retry can succeed; the caller's next sync rolls back first
                    raise
                if not self._shrink(str(exc), first, to):
                    failures += 1
                    if self.retries is not None and failures > self.retries:
                        raise
                    self._back_off(str(exc), first, to)
                continue
            except NodeUnreachableError as exc:  # its reason only: the URL may hold an API key, or a "429" in its port
                if not self._shrink(f"timeout/unreachable: {exc.reason}", first, to):
                    failures += 1
                    if self.retries is not None and failures > self.retries:
                        raise
                    self._back_off(f"timeout/unreachable: {exc.reason}", first, to)
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

    def fetch_all(self, first: int, last: int) -> list[dict[str, Any]]:
        """Every log of blocks first..last, in as many ranges as the node needs."""
        out: list[dict[str, Any]] = []
        while first <= last:
            to, logs = self.fetch(first, last)
            out.extend(logs)
            first = to + 1
        return out

    def _beyond_head(self, first: int) -> bool:
        try:
            return first > int(self.rpc.call("eth_blockNumber"), 16)
        except (RpcError, NodeUnreachableError):
            return False

    def _shrink(self, message: str, first: int, to: int) -> bool:
        """Halve the range when the node refused it as too large; False if that is not why (or it cannot)."""
        lowered = message.lower()
        if "429" in lowered or "rate" in lowered:
            return False
        if not any(h in lowered for h in RANGE_HINTS) or self.range <= self.min_range:
            return False
        self.range = max(self.min_range, self.range // 2)
        log.warning(
            "log range refused (%s); shrinking to %d blocks",
            message[:80],
            self.range,
            extra={"from_block": first, "to_block": to},
        )
        return True

    def _back_off(self, message: str, first: int, to: int) -> None:
        self.backoff = min(30.0, max(0.25, self.backoff * 2))
        lowered = message.lower()
        if "429" in lowered or "rate" in lowered:
            log.warning(
                "rate limited by the node; backing off %.2f s",
                self.backoff,
                extra={"from_block": first, "to_block": to},
            )
        else:
            log.warning(
                "node error (%s); retrying in %.2f s",
                message[:80],
                self.backoff,
                extra={"from_block": first, "to_block": to},
            )
        time.sleep(self.backoff)
