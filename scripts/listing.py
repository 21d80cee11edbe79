"""Lists read straight from the chain's events (the SQL mirror will serve them once it exists)."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from chain.abi import DecodedEvent
from chain.client import RegistryClient
from scripts.console import console
from scripts.output import jsonable


def list_events(client: RegistryClient, name: str) -> list[DecodedEvent]:
    topic = "0x" + client.abi.event_topics[name].hex()
    logs = client.rpc.call(
        "eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": client.address, "topics": [topic]}
    )
    return client.decode_events(logs)


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
