"""Lists read straight from the chain's events (the SQL mirror will serve them once it exists)."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from chain.abi import DecodedEvent
from chain.client import RegistryClient
from chain.logs import LogFetcher
from scripts.console import console
from scripts.output import jsonable

READ_RETRIES = 3  # a person is waiting: give up after this many node failures in a row


def list_events(
    client: RegistryClient, name: str, *, indexed: list[Any] | None = None, from_block: int = 0
) -> list[DecodedEvent]:
    """Every `name` event of the registry from `from_block` to the head; `indexed` filters on its
    indexed arguments (the topics after the event's own, None for any)."""
    topics = ["0x" + client.abi.event_topics[name].hex(), *(indexed or [])]
    head = int(client.rpc.call("eth_blockNumber"), 16)
    fetcher = LogFetcher(client.rpc, client.address, topics=topics, start_range=5_000, retries=READ_RETRIES)
    return client.decode_events(fetcher.fetch_all(from_block, head))


def print_rows(rows: list[dict[str, Any]], *, as_json: bool, title: str) -> None:
    if as_json:
        console.print_json(json.dumps(jsonable(rows)))
        return
    table = Table(title=f"{title} ({len(rows)})")
    for column in rows[0].keys() if rows else ["(none)"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
