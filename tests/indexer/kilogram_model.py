"""A reference model of the registry, one kilogram at a time, and a driver that turns abstract
operations into both the model's changes and the events the contract emits for them.

Written from the contract's rules (contracts/CarbonRegistry.sol), not from indexer/projections.py:
there are no lots here. Each serial is a kilogram with its holder and state; each holder keeps
its serials of a batch in one queue, oldest acquisition first, and a move takes serials from its
front and appends them to the receiver's queue in the same order. Locks (pledges, exports) are
counts, as on chain: they make units immovable without naming serials.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from chain.abi import DecodedEvent
from tests.indexer import events as ev
from tests.indexer.events import ZERO, Chain, Tx, addr

CHAIN_ID = 31337
HOLDERS = [addr(0xB0), addr(0xB1), addr(0xB2), addr(0xB3)]
RESERVE = addr(0xA0)
PLEDGEES = [addr(0xC0), addr(0xC1)]  # participants of kind pledgee: they receive enforced pledges
PLATFORM = addr(0xD0)  # retires on behalf of holders
EVERYONE = HOLDERS + [RESERVE] + PLEDGEES
PROJECTS = {"P-1": HOLDERS[0], "P-2": HOLDERS[1]}  # project -> owner
METHODOLOGY = "SCFM-001-V01"
NON_EXPORT_REASONS = [0, 1, 2, 3, 5]  # CancellationReason values the registrar may give (4 is Exported)

Where = tuple[str, int, int]  # tx hash, block, log index of the event that moved a serial
Step = tuple[str, str, str, str, int, int]  # kind, from, to, tx hash, block, log index


@dataclass
class Kilogram:
    batch: int
    holder: str
    state: str = "held"  # held | retired | cancelled
    ref: str | None = None  # the retirement or cancellation id that ended it
    history: list[Step] = field(default_factory=list)


@dataclass
class Model:
    kilograms: dict[int, Kilogram] = field(default_factory=dict)
    queues: dict[tuple[str, int], deque[int]] = field(default_factory=lambda: defaultdict(deque))
    pledged: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    frozen: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    batches: dict[int, dict[str, int]] = field(default_factory=dict)  # issued, retired, cancelled, first serial
    batch_count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pledges: dict[int, dict[str, Any]] = field(default_factory=dict)
    exports: dict[int, dict[str, Any]] = field(default_factory=dict)
    endings: dict[str, dict[str, Any]] = field(default_factory=dict)  # retirement/cancellation id -> what it ended
    next_serial: int = 1

    def free(self, holder: str, batch: int) -> int:
        key = (holder, batch)
        return len(self.queues[key]) - self.pledged[key] - self.frozen[key]

    def new_batch(self, batch: int, quantity: int) -> int:
        first = self.next_serial
        self.next_serial += quantity
        self.batches[batch] = {"first": first, "issued": quantity, "retired": 0, "cancelled": 0}
        return first

    def mint(self, batch: int, first: int, holder: str, n: int, at: Where) -> None:
        for s in range(first, first + n):
            self.kilograms[s] = Kilogram(batch, holder, history=[("issue", ZERO, holder, *at)])
            self.queues[(holder, batch)].append(s)

    def move(self, frm: str, to: str, batch: int, n: int, at: Where) -> None:
        source = self.queues[(frm, batch)]
        assert len(source) >= n, "the driver only moves units the holder has"
        taken = [source.popleft() for _ in range(n)]
        for s in taken:
            kg = self.kilograms[s]
            kg.holder = to
            kg.history.append(("transfer", frm, to, *at))
        self.queues[(to, batch)].extend(taken)

    def burn(self, holder: str, batch: int, n: int, state: str, ref: str, at: Where) -> None:
        source = self.queues[(holder, batch)]
        for _ in range(n):
            kg = self.kilograms[source.popleft()]
            kg.state, kg.ref = state, ref
            kg.history.append(("retire" if state == "retired" else "cancel", holder, ZERO, *at))
        self.batches[batch][state] += n
        self.endings[ref] = {"batch": batch, "holder": holder, "amount": n, "state": state}

    def balances(self) -> dict[tuple[str, int], dict[str, Any]]:
        """The non-empty balances, as the mirror's balances table keeps them."""
        keys = (
            {k for k, q in self.queues.items() if q}
            | {k for k, v in self.pledged.items() if v}
            | {k for k, v in self.frozen.items() if v}
        )
        return {
            (h, b): {
                "holder": h,
                "batch_id": b,
                "amount": len(self.queues[(h, b)]),
                "pledged": self.pledged[(h, b)],
                "frozen": self.frozen[(h, b)],
            }
            for h, b in keys
        }


# kind, three choices, batch-transfer entries, and where its transaction goes: 0 a new block, 1 a new transaction
# in the same block, 2 the same transaction as the operation before (a contract calling the registry several times)
Op = tuple[str, int, int, int, list[int], int]
KINDS = [
    "issue",
    "import",
    "transfer",
    "transfer",
    "transfer",
    "batch_transfer",
    "batch_transfer",
    "retire",
    "retire",
    "cancel",
    "pledge",
    "release",
    "enforce",
    "export",
    "confirm",
    "abort",
]


def pick(items: list[Any], n: int) -> Any:
    return items[n % len(items)]


@dataclass
class Driver:
    """Runs operations: each becomes one transaction's events (in the contract's order) and the model's change."""

    model: Model = field(default_factory=Model)
    chain: Chain = field(default_factory=Chain)
    events: list[DecodedEvent] = field(default_factory=list)
    next_batch: int = 1
    next_op: int = 1000
    current: Tx | None = None

    def op_id(self) -> int:
        self.next_op += 1
        return self.next_op

    def tx(self, where: int = 0) -> Tx:
        if where != 2 or self.current is None:
            self.current = self.chain.tx(same_block=where == 1)
        return self.current

    def emit(self, tx: Tx, event: ev.Args) -> DecodedEvent:
        e = tx.emit(event)
        self.events.append(e)
        return e

    def setup(self) -> None:
        """The catalog every scenario starts from: a methodology, registered projects and participants."""
        tx = self.tx()
        self.emit(tx, ev.methodology_filed(METHODOLOGY, self.op_id()))
        for project, owner in PROJECTS.items():
            self.emit(
                tx,
                ev.project_submitted(
                    project,
                    self.op_id(),
                    methodology=METHODOLOGY,
                    owner=owner,
                    parcels=[self.op_id().to_bytes(32, "big")],
                ),
            )
            self.emit(tx, ev.project_reviewed(project, self.op_id(), True))
        for i, account in enumerate(EVERYONE):
            self.emit(tx, ev.participant_registered(account, self.op_id(), 4 if account in PLEDGEES else i % 3))

    def free_pairs(self, holders: list[str] | None = None) -> list[tuple[str, int]]:
        m = self.model
        return sorted((h, b) for (h, b) in list(m.queues) if (holders is None or h in holders) and m.free(h, b) > 0)

    def run(self, op: Op) -> str:
        """Applies `op` to the model and emits its events; an operation with nothing to act on issues instead."""
        kind, a, b, c, entries, where = op
        done = getattr(self, f"op_{kind}")(a, b, c, entries, where)
        if not done:
            self.op_issue(a, b, c, entries, where)
            return "issue"
        return kind

    # ------------------------------------------------------------ the operations

    def op_issue(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        m = self.model
        project = pick(sorted(PROJECTS), a)
        owner = PROJECTS[project]
        quantity = 1 + b % 300
        bps = [0, 1000, 10_000, c % 10_001][c % 4]
        reserve = quantity * bps // 10_000
        batch, self.next_batch = self.next_batch, self.next_batch + 1
        first = m.new_batch(batch, quantity)
        m.batch_count[project] += 1
        tx = self.tx(where)
        serial = first
        for holder, amount in ((owner, quantity - reserve), (RESERVE, reserve)):
            if amount:  # the contract mints the owner's share, then the reserve's, skipping a zero
                e = self.emit(tx, ev.transfer_single(ZERO, holder, batch, amount))
                m.mint(batch, serial, holder, amount, (tx.hash, tx.block, e.log_index))
                serial += amount
        self.emit(
            tx,
            ev.batch_issued(
                batch,
                project,
                self.op_id(),
                owner=owner,
                batch_seq=m.batch_count[project],
                first_serial=first,
                quantity=quantity,
                reserve_amount=reserve,
                reserve_bps=bps,
            ),
        )
        return True

    def op_import(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        m = self.model
        to = pick(EVERYONE, a)
        quantity = 1 + b % 200
        batch, self.next_batch = self.next_batch, self.next_batch + 1
        first = m.new_batch(batch, quantity)
        tx = self.tx(where)
        e = self.emit(tx, ev.transfer_single(ZERO, to, batch, quantity))
        m.mint(batch, first, to, quantity, (tx.hash, tx.block, e.log_index))
        self.emit(
            tx,
            ev.batch_imported(
                batch,
                self.op_id(),
                origin_key=(batch + 7).to_bytes(32, "big"),
                origin_registry="CQ-TANHUITONG",
                project=pick(sorted(PROJECTS), c),
                to=to,
                first_serial=first,
                quantity=quantity,
            ),
        )
        return True

    def op_transfer(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        pairs = self.free_pairs()
        if not pairs:
            return False
        holder, batch = pick(pairs, a)
        to = pick(EVERYONE, b)
        amount = 1 + c % self.model.free(holder, batch)
        tx = self.tx(where)
        e = self.emit(tx, ev.transfer_single(holder, to, batch, amount, operator=holder))
        self.model.move(holder, to, batch, amount, (tx.hash, tx.block, e.log_index))
        if c % 3 == 0:  # transferWithReference: its CreditsTransferred follows and changes nothing
            self.emit(tx, ev.credits_transferred(batch, holder, self.op_id(), to, amount))
        return True

    def op_batch_transfer(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        pairs = self.free_pairs()
        if not pairs:
            return False
        holder = pick(pairs, a)[0]
        to = pick(EVERYONE, b)
        left = {batch: self.model.free(h, batch) for h, batch in pairs if h == holder}
        ids, values = [], []
        for x in entries:  # an id may come back: what it needs is the running sum, as the contract checks
            batches = sorted(batch for batch, n in left.items() if n > 0)
            if not batches:
                break
            batch = pick(batches, x // 7)
            amount = 1 + x % left[batch]
            left[batch] -= amount
            ids.append(batch)
            values.append(amount)
        tx = self.tx(where)
        e = self.emit(tx, ev.transfer_batch(holder, to, ids, values, operator=holder))
        for batch, amount in zip(ids, values, strict=True):
            self.model.move(holder, to, batch, amount, (tx.hash, tx.block, e.log_index))
        return True

    def _end(self, state: str, a: int, b: int, c: int, where: int) -> bool:
        pairs = self.free_pairs()
        if not pairs:
            return False
        holder, batch = pick(pairs, a)
        amount = 1 + b % self.model.free(holder, batch)
        tx = self.tx(where)
        burn = self.emit(tx, ev.transfer_single(holder, ZERO, batch, amount))
        if state == "retired":
            label = self.emit(
                tx,
                ev.credits_retired(
                    batch, holder, self.op_id(), amount, scenario=c % 9, operator=PLATFORM if c % 2 else holder
                ),
            )
        else:
            label = self.emit(
                tx, ev.credits_cancelled(batch, holder, self.op_id(), amount, reason=pick(NON_EXPORT_REASONS, c))
            )
        ref = f"{CHAIN_ID}-{tx.hash}-{label.log_index}"
        self.model.burn(holder, batch, amount, state, ref, (tx.hash, tx.block, burn.log_index))
        return True

    def op_retire(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        return self._end("retired", a, b, c, where)

    def op_cancel(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        return self._end("cancelled", a, b, c, where)

    def op_pledge(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        pledgee = pick(PLEDGEES, c)
        pairs = self.free_pairs([h for h in EVERYONE if h != pledgee])
        if not pairs:
            return False
        holder, batch = pick(pairs, a)
        amount = 1 + b % self.model.free(holder, batch)
        pledge_id = self.op_id()
        self.emit(self.tx(where), ev.credits_pledged(pledge_id, holder, pledgee, batch, amount))
        self.model.pledged[(holder, batch)] += amount
        self.model.pledges[pledge_id] = {
            "pledgor": holder,
            "pledgee": pledgee,
            "batch": batch,
            "amount": amount,
            "status": "active",
        }
        return True

    def _active_pledge(self, a: int) -> int | None:
        active = sorted(i for i, p in self.model.pledges.items() if p["status"] == "active")
        return pick(active, a) if active else None

    def op_release(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        pledge_id = self._active_pledge(a)
        if pledge_id is None:
            return False
        p = self.model.pledges[pledge_id]
        self.emit(self.tx(where), ev.pledge_released(pledge_id, self.op_id()))
        self.model.pledged[(p["pledgor"], p["batch"])] -= p["amount"]
        p["status"] = "released"
        return True

    def op_enforce(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        pledge_id = self._active_pledge(a)
        if pledge_id is None:
            return False
        m, p = self.model, self.model.pledges[pledge_id]
        tx = self.tx(where)
        # the contract unlocks first, then transfers (TransferSingle), then emits PledgeEnforced
        m.pledged[(p["pledgor"], p["batch"])] -= p["amount"]
        e = self.emit(
            tx, ev.transfer_single(p["pledgor"], p["pledgee"], p["batch"], p["amount"], operator=p["pledgee"])
        )
        m.move(p["pledgor"], p["pledgee"], p["batch"], p["amount"], (tx.hash, tx.block, e.log_index))
        self.emit(tx, ev.pledge_enforced(pledge_id, self.op_id()))
        p["status"] = "enforced"
        return True

    def op_export(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        pairs = self.free_pairs()
        if not pairs:
            return False
        holder, batch = pick(pairs, a)
        amount = 1 + b % self.model.free(holder, batch)
        export_id = self.op_id()
        self.emit(self.tx(where), ev.export_requested(export_id, holder, batch, amount))
        self.model.frozen[(holder, batch)] += amount
        self.model.exports[export_id] = {"holder": holder, "batch": batch, "amount": amount, "status": "pending"}
        return True

    def _pending_export(self, a: int) -> int | None:
        pending = sorted(i for i, x in self.model.exports.items() if x["status"] == "pending")
        return pick(pending, a) if pending else None

    def op_confirm(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        export_id = self._pending_export(a)
        if export_id is None:
            return False
        m, x = self.model, self.model.exports[export_id]
        holder, batch, amount = x["holder"], x["batch"], x["amount"]
        m.frozen[(holder, batch)] -= amount
        tx = self.tx(where)
        op, reference = self.op_id(), (export_id + 1).to_bytes(32, "big")
        burn = self.emit(tx, ev.transfer_single(holder, ZERO, batch, amount))
        self.emit(tx, ev.export_confirmed(export_id, op, reference))
        label = self.emit(
            tx, ev.credits_cancelled(batch, holder, op, amount, reason=4, evidence_hash=reference, export_id=export_id)
        )
        m.burn(
            holder,
            batch,
            amount,
            "cancelled",
            f"{CHAIN_ID}-{tx.hash}-{label.log_index}",
            (tx.hash, tx.block, burn.log_index),
        )
        x["status"] = "confirmed"
        return True

    def op_abort(self, a: int, b: int, c: int, entries: list[int], where: int) -> bool:
        export_id = self._pending_export(a)
        if export_id is None:
            return False
        x = self.model.exports[export_id]
        self.emit(self.tx(where), ev.export_aborted(export_id, self.op_id()))
        self.model.frozen[(x["holder"], x["batch"])] -= x["amount"]
        x["status"] = "aborted"
        return True
