"""Aggregated retirements (docs/offsets.md §5): pending purchases are batched, given serials, and
retired in one `retireFor` whose claim hash is their allocation root.

Exactly once, across kill -9 at any point:
1. `form` claims up to M pending purchases for a new batch in ONE database transaction (the
   purchases' `retirement_op` and the retirement row together): a purchase is in at most one
   retirement, and a batch is never half-claimed.
2. `settle` finishes every batch without a transaction on record: if its op id is applied on
   chain the `CreditsRetired` event is found by that op id (indexed) and recorded, never re-sent;
   otherwise it is (re)planned and sent. The op id derives from the batch's purchase ids, so a
   second send of the same batch is refused by the registry (`_useOperation`).

The serials a `retireFor` consumes are the holder's oldest lots first (indexer/projections.py
`_take`); the plan reads them from the SQL mirror, so the mirror must be current and the custodial
holder must move units only through this batcher while a batch is open."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update
from sqlmodel import col

from chain.client import RegistryClient
from chain.errors import RegistryRevertError
from chain.opids import op_id_for
from chain.types import Scenario
from indexer.models import Lot
from offsets.allocation import Allocation, AllocationTree, Purchase, allocate
from offsets.models import OffsetPurchase, OffsetRetirement

OP_NAMESPACE = "offsets-aggregated-retirement"


class BatchError(RuntimeError):
    """A batch cannot be formed or sent: one line naming the problem and the fix."""


# Illustrative bound on M: a batch is one transaction and one tree in memory, and the batcher reads
# 4 × M pending rows; 10**20 overflowed SQL's 64-bit LIMIT ("unexpected OverflowError").
MAX_PURCHASES = 1_000_000


def refuse_bad_max(max_purchases: int) -> None:
    if not 1 <= max_purchases <= MAX_PURCHASES:
        raise ValueError(f"--max is a number of purchases from 1 to {MAX_PURCHASES:,}")


@dataclass(frozen=True)
class Settled:
    op_id: int
    tx_hash: str
    log_index: int
    block_number: int
    amount: int
    purchases: int
    sent: bool  # False: found on chain after a crash and only recorded


def batch_op_id(chain_id: int, registry: str, purchase_ids: Sequence[str]) -> int:
    """The same batch of purchases always has the same op id, whoever forms it and however often."""
    return op_id_for(f"{OP_NAMESPACE}/{chain_id}/{registry.lower()}", ",".join(sorted(purchase_ids)))


def plan(pending: Sequence[Purchase], lots: Sequence[tuple[int, int]], limit: int) -> list[Purchase]:
    """The purchases of the next batch, oldest first, up to `limit`: each must fit in the lot the
    retirement will be consuming when its turn comes (serials are consecutive); one that would
    straddle two lots waits for a later batch, where the lot boundary has moved."""
    chosen: list[Purchase] = []
    queue = [last - first + 1 for first, last in lots]
    for p in pending:
        if len(chosen) >= limit or not queue:
            break
        if p.kg > queue[0]:
            continue
        chosen.append(p)
        queue[0] -= p.kg
        if queue[0] == 0:
            queue.pop(0)
    return chosen


def fifo_take(lots: Sequence[tuple[int, int]], amount: int) -> list[tuple[int, int]]:
    """The serial ranges retiring `amount` takes from lots in first-in-first-out order."""
    taken: list[tuple[int, int]] = []
    for first, last in lots:
        if amount == 0:
            break
        size = last - first + 1
        n = min(size, amount)
        taken.append((first, first + n - 1))
        amount -= n
    if amount:
        raise BatchError("the custodial holder holds too few units for this batch; top up the holder's balance")
    return taken


@dataclass
class Batcher:
    engine: Engine  # the service database: the mirror's lots and the offsets tables
    client: RegistryClient  # signs as the platform participant the holder approved as operator
    holder: str
    batch_id: int
    catch_up: Callable[[int], None]  # brings the mirror to a block (CertificateService.catch_up)
    max_purchases: int = 1000
    from_block: int = 0  # where to look for a batch's event after a crash: the registry's deployment block

    def run_once(self) -> list[Settled]:
        """Settle what a crash left open, then form and retire one batch; what was settled, oldest
        first (empty when nothing was open or pending)."""
        settled = self.settle()
        if self.form() is not None:
            settled += self.settle()
        return settled

    # ------------------------------------------------------------ forming

    def _held_lots(self, conn: Connection) -> list[tuple[int, int]]:
        rows = conn.execute(
            select(col(Lot.first_serial), col(Lot.last_serial))
            .where(col(Lot.holder) == self.holder.lower(), col(Lot.batch_id) == self.batch_id, col(Lot.state) == "held")
            .order_by(col(Lot.acquired))
        ).all()
        return [(int(a), int(b)) for a, b in rows]

    def form(self) -> int | None:
        """Claim the next batch; its op id, or None when no purchase is pending."""
        self.catch_up(int(self.client.rpc.call("eth_blockNumber"), 16))
        with self.engine.begin() as conn:
            _one_former_at_a_time(conn)
            open_batch = conn.execute(
                select(col(OffsetRetirement.op_id)).where(col(OffsetRetirement.tx_hash).is_(None)).limit(1)
            ).first()
            if open_batch is not None:
                raise BatchError("a batch is still open; settle it first (Batcher.settle)")
            rows = conn.execute(
                select(col(OffsetPurchase.id), col(OffsetPurchase.account_commitment), col(OffsetPurchase.kg))
                .where(col(OffsetPurchase.retirement_op).is_(None))
                .order_by(col(OffsetPurchase.created_at), col(OffsetPurchase.id))
                .limit(self.max_purchases * 4)  # room to skip purchases that would straddle a lot
            ).all()
            if not rows:
                return None
            pending = [Purchase(r.id, r.account_commitment, int(r.kg)) for r in rows]
            chosen = plan(pending, self._held_lots(conn), self.max_purchases)
            if not chosen:
                raise BatchError(
                    "no pending purchase fits the custodial holder's oldest lot; top up the holder's balance"
                )
            tree = self._tree(conn, chosen)
            op_id = batch_op_id(self.client.chain_id, self.client.address, [p.purchase_id for p in chosen])
            conn.execute(
                OffsetRetirement.__table__.insert().values(  # type: ignore[attr-defined]
                    op_id=hex(op_id),
                    holder=self.holder.lower(),
                    batch_id=self.batch_id,
                    amount=sum(p.kg for p in chosen),
                    claim_hash=tree.claim_hash,
                    ranges=json.dumps([list(r) for r in tree.retired_ranges]),
                    created_at=int(time.time()),
                )
            )
            self._assign(conn, tree, hex(op_id))
            # two open batches would plan the same lots' serials twice (SQLite serialises the
            # writes, so the later one sees the other's row here; PostgreSQL, the advisory lock)
            opened = conn.execute(
                select(func.count()).select_from(OffsetRetirement).where(col(OffsetRetirement.tx_hash).is_(None))
            ).scalar_one()
            if opened != 1:
                raise BatchError("another process opened a batch meanwhile; this one is not formed, run again")
        return op_id

    def _tree(self, conn: Connection, chosen: Sequence[Purchase]) -> AllocationTree:
        ranges = fifo_take(self._held_lots(conn), sum(p.kg for p in chosen))
        return allocate(chosen, [list(r) for r in ranges])  # in the order plan fitted them

    def _assign(self, conn: Connection, tree: AllocationTree, op_hex: str) -> None:
        # one statement executed for every purchase (executemany): a batch is thousands of them;
        # only unclaimed ones, so a purchase another process claimed since we read it is not moved
        conn.execute(
            update(OffsetPurchase)
            .where(col(OffsetPurchase.id) == bindparam("pid"), col(OffsetPurchase.retirement_op).is_(None))
            .values(retirement_op=op_hex, serial_first=bindparam("first"), serial_last=bindparam("last")),
            [{"pid": a.purchase_id, "first": a.serial_first, "last": a.serial_last} for a in tree.allocations],
        )
        claimed = conn.execute(
            select(func.count()).select_from(OffsetPurchase).where(col(OffsetPurchase.retirement_op) == op_hex)
        ).scalar_one()
        if claimed != len(tree.allocations):  # raised inside form's transaction: nothing is kept
            raise BatchError(
                f"another process claimed {len(tree.allocations) - claimed} of these purchases meanwhile; "
                "this batch is not formed, run again"
            )

    # ------------------------------------------------------------ settling

    def settle(self) -> list[Settled]:
        """Record or send every batch without a transaction on record."""
        with self.engine.connect() as conn:
            open_ops = [
                r[0]
                for r in conn.execute(
                    select(col(OffsetRetirement.op_id)).where(col(OffsetRetirement.tx_hash).is_(None))
                ).all()
            ]
        return [self._settle(op_hex) for op_hex in open_ops]

    def _settle(self, op_hex: str) -> Settled:
        op_id = int(op_hex, 16)
        if self.client.is_operation_applied(op_id):
            return self._record(op_hex, self._find(op_id), sent=False)
        with self.engine.begin() as conn:
            row = conn.execute(select(OffsetRetirement).where(col(OffsetRetirement.op_id) == op_hex)).one()
            claim_hash, amount = row.claim_hash, int(row.amount)
        try:
            result = self.client.retire(
                op_id,
                self.batch_id,
                amount,
                Scenario.PERSONAL,
                # no single beneficiary: the allocation tree names them, so the commitment is its root
                claim_hash,
                claim_hash,
                holder=self.holder,
            )
        except RegistryRevertError:
            if self.client.is_operation_applied(op_id):  # another process sent it meanwhile
                return self._record(op_hex, self._find(op_id), sent=False)
            raise
        event = result.event("CreditsRetired")
        return self._record(op_hex, (event.tx_hash, event.log_index, result.block_number), sent=True)

    def _find(self, op_id: int) -> tuple[str, int, int]:
        """The `CreditsRetired` event of an applied op id, from the node's logs (opId is indexed)."""
        topic = "0x" + self.client.abi.event_topics["CreditsRetired"].hex()
        logs = self.client.rpc.call(
            "eth_getLogs",
            {
                "address": self.client.address,
                "fromBlock": hex(self.from_block),
                "toBlock": "latest",
                "topics": [topic, None, None, "0x" + op_id.to_bytes(32, "big").hex()],
            },
        )
        if not logs:
            raise BatchError(f"op id {hex(op_id)} is applied but no retirement carries it; it is not this batch's")
        log = logs[0]
        return log["transactionHash"], int(log["logIndex"], 16), int(log["blockNumber"], 16)

    def _record(self, op_hex: str, found: tuple[str, int, int], *, sent: bool) -> Settled:
        tx_hash, log_index, block_number = found
        with self.engine.begin() as conn:
            conn.execute(
                update(OffsetRetirement)
                .where(col(OffsetRetirement.op_id) == op_hex)
                .values(tx_hash=tx_hash, log_index=log_index, block_number=block_number)
            )
            row = conn.execute(select(OffsetRetirement).where(col(OffsetRetirement.op_id) == op_hex)).one()
            count = len(
                conn.execute(select(col(OffsetPurchase.id)).where(col(OffsetPurchase.retirement_op) == op_hex)).all()
            )
        return Settled(int(op_hex, 16), tx_hash, log_index, block_number, int(row.amount), count, sent)


FORMING_LOCK = 0x6F666673  # "offs": the PostgreSQL advisory lock key of forming a batch


def _one_former_at_a_time(conn: Connection) -> None:
    """PostgreSQL: two transactions' uncommitted retirement rows are invisible to each other, so
    two batchers would each see no open batch; the second is refused at once instead. SQLite
    serialises writers itself."""
    if conn.dialect.name == "postgresql":
        got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FORMING_LOCK}).scalar_one()
        if not got:
            raise BatchError("another process is forming a batch; run again once it is formed")


def tree_for(conn: Connection, op_hex: str) -> tuple[AllocationTree, str]:
    """The allocation tree of a recorded batch, rebuilt from its purchases: the same leaves, so the
    same root as the claim hash sent (returned with it); overlapping or missing serials are refused
    (AllocationError)."""
    row = conn.execute(select(OffsetRetirement).where(col(OffsetRetirement.op_id) == op_hex)).one()
    purchases = conn.execute(
        select(
            col(OffsetPurchase.id),
            col(OffsetPurchase.account_commitment),
            col(OffsetPurchase.kg),
            col(OffsetPurchase.serial_first),
            col(OffsetPurchase.serial_last),
        ).where(col(OffsetPurchase.retirement_op) == op_hex)
    ).all()
    allocations = [
        Allocation(p.account_commitment, int(p.kg), int(p.serial_first), int(p.serial_last), p.id) for p in purchases
    ]
    return AllocationTree(allocations, json.loads(row.ranges)), str(row.claim_hash)
