"""A bulk run that the sender tests start in a child process and kill -9 halfway:
python -m tests.chain.bulk_run RPC_URL REGISTRY_ADDRESS NAMESPACE COUNT
"""

from __future__ import annotations

import sys

from chain.abi import ContractAbi
from chain.client import RegistryClient
from chain.compiler import compile_contracts
from chain.connection import connect
from chain.keys import dev_accounts
from chain.opids import sequential_op_ids
from chain.sender import Operation
from chain.types import Scenario

HASH = b"\x42" * 32


def operations(namespace: str, count: int, batch_id: int) -> list[Operation]:
    """Alternating retirements (1 kg) and referenced transfers (2 kg) by holder and buyer."""
    a = dev_accounts()
    holder, buyer = a[6], a[7]
    ops = []
    for i, op_id in enumerate(sequential_op_ids(namespace, count)):
        who, other = (holder, buyer) if i % 4 < 2 else (buyer, holder)
        if i % 2:
            ops.append(
                Operation(op_id, "retire", (op_id, batch_id, 1, int(Scenario.PERSONAL), HASH, HASH), who, f"op {i}")
            )
        else:
            ops.append(
                Operation(
                    op_id,
                    "transferWithReference",
                    (op_id, who.address, other.address, batch_id, 2, HASH),
                    who,
                    f"op {i}",
                )
            )
    return ops


def client_for(url: str, address: str) -> RegistryClient:
    build = compile_contracts()
    return RegistryClient(connect(url, 31337), address, ContractAbi(build["CarbonRegistry"].abi), chain_id=31337)


if __name__ == "__main__":
    from chain.sender import BulkSender

    url, address, namespace, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    BulkSender(client_for(url, address), batch_size=50).run(operations(namespace, count, 1))
