"""The platform's loop (docs/offsets.md §5): retire when M purchases wait or the oldest has waited T
seconds, then certify what was retired. Every step is exactly-once on its own (the batcher's and
the certifier's), so a kill -9 anywhere loses nothing and repeats nothing; a stop request (SIGTERM
in `ledger offsets run`) is honoured between steps, never inside one."""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import col

from certificates.service import CertificateService
from offsets.allocation import AllocationError
from offsets.batcher import Batcher, BatchError, Settled, refuse_bad_max
from offsets.certify import certify_retired
from offsets.models import OffsetPurchase

# Illustrative bound: a purchase waiting a year is already far past any platform's promise, and it
# keeps every wait inside what threading.Event.wait accepts (about 9.2e9 s, past time_t it raises).
MAX_WAIT = 365 * 86_400


def refuse_bad_wait(option: str, seconds: float) -> None:
    """A wait the loop can sleep: finite, above 0, at most MAX_WAIT (NaN would never be due)."""
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_WAIT):
        raise ValueError(f"{option} is a number of seconds above 0 and at most {MAX_WAIT} (a year)")


@dataclass(frozen=True)
class Trigger:
    every: float  # T: seconds the oldest pending purchase may wait
    max_purchases: int  # M: pending purchases that make a batch at once

    def __post_init__(self) -> None:
        refuse_bad_wait("--every", self.every)
        refuse_bad_max(self.max_purchases)

    def due(self, pending: int, oldest: int | None, now: float) -> bool:
        """M waiting, or the oldest (its `created_at`, unix seconds) waited T: at now - oldest = T."""
        if pending == 0 or oldest is None:
            return False
        return pending >= self.max_purchases or now - oldest >= self.every

    def wait(self, pending: int, oldest: int | None, now: float) -> float:
        """Seconds until the timer would fire with no new purchase (T when nothing waits); a new
        purchase that makes M is seen at the next poll."""
        if pending == 0 or oldest is None:
            return self.every
        return max(0.0, oldest + self.every - now)


@dataclass(frozen=True)
class Step:
    retired: list[Settled]
    certified: list[str]
    waiting: int  # purchases still pending after the step
    problem: str | None = None  # a batch that could not be formed (one line); the loop goes on


@dataclass
class Runner:
    service: CertificateService
    batcher: Batcher  # its max_purchases is M
    trigger: Trigger
    clock: Callable[[], float] = time.time
    stop: threading.Event = field(default_factory=threading.Event)
    poll: float = 1.0  # seconds between looks at the pending purchases, at most

    def pending(self) -> tuple[int, int | None]:
        with self.service.engine.connect() as conn:
            count, oldest = conn.execute(
                select(func.count(), func.min(col(OffsetPurchase.created_at))).where(
                    col(OffsetPurchase.retirement_op).is_(None)
                )
            ).one()
        return int(count), None if oldest is None else int(oldest)

    def step(self) -> Step:
        """Finish what a crash left open; retire one batch if the trigger is due; certify."""
        retired = self.batcher.settle()
        problem = None
        count, oldest = self.pending()
        if self.trigger.due(count, oldest, self.clock()):
            try:
                if self.batcher.form() is not None:
                    retired += self.batcher.settle()
            except (BatchError, AllocationError) as exc:
                problem = str(exc)
        refused: list[str] = []
        certified = certify_retired(self.service, refused=refused)
        if certified and self.service.can_anchor():
            self.service.anchor()
        problem = "; ".join([x for x in (problem, *refused) if x]) or None
        return Step(retired, certified, self.pending()[0], problem)

    def run(self, report: Callable[[Step], None] = lambda _: None) -> None:
        """Steps until `stop` is set: at once while a batch is due, else after the timer's wait
        (polled every `poll` seconds, so M purchases arriving meanwhile are not left waiting T)."""
        while not self.stop.is_set():
            done = self.step()
            report(done)
            if self.stop.is_set():
                break
            count, oldest = self.pending()
            if done.problem is None and self.trigger.due(count, oldest, self.clock()):
                continue
            self.stop.wait(min(self.poll, max(self.trigger.wait(count, oldest, self.clock()), 0.01)))


def tune_gc_for_bulk() -> None:
    """For a process issuing or verifying certificates by the thousand: they allocate millions of
    small acyclic objects (dicts, lists, bytes) that reference counting frees, and the cyclic
    collector's default generation-0 threshold (700 allocations) would run it every few
    certificates, walking a heap of tens of thousands of live documents. What is alive at startup
    is frozen out of its walks. Measured on `bench/offsets_pipeline.py --purchases 20000`: 8.1 s of
    CPU instead of 10.1 s (docs/benchmarks.md)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
