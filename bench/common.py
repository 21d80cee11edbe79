"""What the benchmarks share: a local registry with a project, a large batch spread over holders,
and the mixed operations (issue, transfer with reference, retire) they send."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.keys import dev_accounts
from chain.local import LocalRegistry, open_local_registry
from chain.node import LocalNode
from chain.opids import sequential_op_ids
from chain.rpc import JsonRpc
from chain.sender import Operation
from chain.types import ParticipantKind, Scenario, short_id

HASH = b"\x42" * 32
HOLDERS = 12


def setup(client, owner, holders):
    """A registered project and a large batch held by each holder (not measured)."""
    admin = dev_accounts()[0]
    ops = iter(sequential_op_ids("bench-setup", 10_000))
    client.file_methodology(next(ops), "SCFM-001-V01", 0, 1, HASH)
    for account, kind in [(owner, ParticipantKind.PROJECT_OWNER)] + [(h, ParticipantKind.ENTERPRISE) for h in holders]:
        client.register_participant(next(ops), account.address, kind)
    client.register_project(
        next(ops),
        project_id="P-BENCH",
        methodology_id="SCFM-001-V01",
        owner=owner.address,
        county_code=511802,
        area_square_metres=10**7,
        crediting_start=1_577_836_800,
        crediting_end=2_208_988_800,
        documents_hash=HASH,
        parcels=[HASH],
    )
    client.review_project(next(ops), "P-BENCH", True, HASH)
    batch = (
        client.issue(
            next(ops),
            project_id="P-BENCH",
            vintage=2024,
            monitoring_start=1_704_067_200,
            monitoring_end=1_735_689_600,
            quantity=10**12,
            reserve_bps=0,
            verification_report_hash=HASH,
        )
        .event("BatchIssued")
        .args["batchId"]
    )
    for h in holders:
        client.transfer(owner.address, h.address, batch, 10**9, sender=owner)
    return admin, batch


def mixed_ops(namespace, n, *, admin, owner, holders, batch):
    """10% issue (registrar), 50% transfer with reference, 40% retire, spread over the holders."""
    ids = sequential_op_ids(namespace, n)
    request = (short_id("P-BENCH"), 2024, 1_704_067_200, 1_735_689_600, 1000, 500, HASH, HASH)
    ops = []
    for i, op_id in enumerate(ids):
        holder = holders[i % len(holders)]
        kind = i % 10
        if kind == 0:
            ops.append(Operation(op_id, "issue", (op_id, request), admin))
        elif kind <= 5:
            to = holders[(i + 1) % len(holders)]
            ops.append(
                Operation(op_id, "transferWithReference", (op_id, holder.address, to.address, batch, 3, HASH), holder)
            )
        else:
            ops.append(Operation(op_id, "retire", (op_id, batch, 1, int(Scenario.PERSONAL), HASH, HASH), holder))
    return ops


@dataclass
class BenchChain:
    node: LocalNode
    registry: LocalRegistry
    tmp: Path
    admin: Any
    owner: Any
    holders: list[Any]
    batch: int

    def ops(self, namespace: str, n: int) -> list[Operation]:
        return mixed_ops(namespace, n, admin=self.admin, owner=self.owner, holders=self.holders, batch=self.batch)


@contextmanager
def bench_chain(block_time: float | None = 1, node_args: tuple[str, ...] = ()) -> Iterator[BenchChain]:
    """anvil with the registry deployed and set up (not measured); `node_args` are added to anvil's."""
    a = dev_accounts()
    owner, holders = a[1], list(a[2 : 2 + HOLDERS])
    with tempfile.TemporaryDirectory() as tmp, LocalNode(block_time=block_time, extra_args=node_args) as node:
        registry = open_local_registry(node.url, deployments_dir=Path(tmp))
        admin, batch = setup(registry.client, owner, holders)
        yield BenchChain(node, registry, Path(tmp), admin, owner, holders, batch)


def stop_mining(chain: BenchChain, *, then_mine: int = 0) -> None:
    """Stop anvil's 1 s blocks once the chain is generated (then mine `then_mine` empty blocks at
    once). A backfill reads a chain that no longer changes, and anvil stops hashing a new state
    root every second: with the registry's state after 100,000 operations that took a quarter
    of a core, on the two cores the indexer measures itself on."""
    rpc = JsonRpc(chain.node.url, timeout=900)  # mining many blocks over a large state takes minutes
    rpc.call("evm_setIntervalMining", 0)
    if then_mine:
        rpc.call("anvil_mine", hex(then_mine))
