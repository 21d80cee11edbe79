"""Cutting a fetched answer into steps of about `target_events` events at block boundaries. The
logs themselves come through the one log-range fetcher, chain/logs.py."""

from __future__ import annotations

from typing import Any


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
