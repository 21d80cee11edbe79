"""CPU time of the processes a benchmark drives, read from /proc (Linux, processes on this machine).

Wall-clock rates on a shared 2-core machine swing with other tenants' load; the CPU a unit of work
costs, summed over every process that serves it, does not, and it bounds the rate: with C cores
fully used, at most C / (CPU seconds a unit) units a second."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import Engine, text

TICKS = os.sysconf("SC_CLK_TCK")
CORES = len(os.sched_getaffinity(0))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (None: gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def postgres_processes(engine: Engine) -> Callable[[], list[int]] | None:
    """The PostgreSQL server's processes (the postmaster and all its children: backends, WAL writer,
    checkpointer...), if the server runs on this machine; None otherwise."""
    with engine.connect() as conn:
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    try:
        stat = Path(f"/proc/{backend}/stat").read_text()
        comm = Path(f"/proc/{backend}/comm").read_text()
    except OSError:
        return None
    if not comm.startswith("postgres"):
        return None  # another machine's pid that happens to exist here
    postmaster = int(stat.rsplit(")", 1)[1].split()[1])
    return lambda: [postmaster, *children(postmaster)]


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot (/proc/stat): busy excludes idle and iowait."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(x) for x in first]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Meter:
    """CPU seconds spent between `start` and `stop` by named groups of processes (a group is a
    function listing its pids, asked at both ends: a process that started in between counts whole)
    and by this process; and how busy the whole machine was."""

    def __init__(self, groups: dict[str, Callable[[], Iterable[int]]]) -> None:
        self.groups = groups
        self.spent: dict[str, float] = {}
        self.busy = 0.0

    def _read(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: s for pid in pids() if (s := cpu_seconds(pid)) is not None}
            for name, pids in self.groups.items()
        }

    def start(self) -> None:
        self._before = self._read()
        self._self = os.times()
        self._machine = machine_jiffies()

    def stop(self) -> None:
        after, mine, machine = self._read(), os.times(), machine_jiffies()
        self.spent = {
            name: max(0.0, sum(s - self._before[name].get(pid, 0.0) for pid, s in got.items()))
            for name, got in after.items()
        }
        # clock ticks summed in floats: a difference of nothing can come out as -1e-17
        self.spent["client"] = max(0.0, (mine.user + mine.system) - (self._self.user + self._self.system))
        busy, total = (a - b for a, b in zip(machine, self._machine, strict=True))
        self.busy = busy / total if total else 0.0
