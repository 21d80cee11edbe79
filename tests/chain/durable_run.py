"""A bulk run against a durable local node, journaled, that the durability tests start in a child
process and lose to kill -9 of the node at any moment:
    python -m tests.chain.durable_run RPC_URL REGISTRY_ADDRESS NAMESPACE COUNT JOURNAL REPORT
On finishing it writes what the sender reported (op ids by outcome) to REPORT."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chain.journal import Journal
from chain.sender import BulkSender
from chain.snapshot import write_atomically
from tests.chain.bulk_run import client_for, operations

if __name__ == "__main__":
    url, address, namespace, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = client_for(url, address)
    client.journal = Journal(Path(sys.argv[5]))
    report = BulkSender(client, batch_size=100, stuck_after=5.0, settle_timeout=20.0).run(
        operations(namespace, count, 1)
    )
    by_outcome: dict[str, list[int]] = {}
    for r in report.results:
        by_outcome.setdefault(r.outcome, []).append(r.op.op_id)
    write_atomically(Path(sys.argv[6]), json.dumps(by_outcome).encode())
