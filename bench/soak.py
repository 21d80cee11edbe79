"""Soak: the node `ledger up` runs (durable anvil: mining only when transactions wait, atomic
snapshots, journal, a window of blocks in anvil and the archive behind its front), idle and then
under a steady load, sampled every `--sample` seconds: state file and archive size, anvil's RSS
and CPU, and this process's RSS (it owns the node: keeper, front and archive, as `ledger up`
does; the load runs in a process of its own, as `ledger` commands do). Prints each sample, the
growth per hour of each phase, and for a phase of a minute or more the median of its second sixth
against its last sixth (for 30 minutes: minutes 5-10 against 25-30).

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 10] [--sample 60] [--legacy]
    .venv/bin/python bench/soak.py --idle-minutes 5 --loaded-minutes 30 --sample 30

`--legacy` runs the configuration this replaced (anvil `--block-time 1 --state FILE
--state-interval 1 --preserve-historical-states`) for comparison; `--history N` and `--window N`
override anvil's `--prune-history` and `--transaction-block-keeper` for experiments. Targets:
idle state growth <= 1 MB/hour, RSS flat within 10 %.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import mixed_ops, setup  # also puts the project on sys.path

from chain.keys import dev_accounts
from chain.local import open_local_registry
from chain.node import LocalNode
from chain.sender import BulkSender

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    phase: str
    at: float  # seconds since the phase began
    refreshes: int  # times the keeper swapped anvil for a fresh one so far
    state_bytes: int
    archive_bytes: int  # the archive of blocks anvil forgot (SQLite, with its write-ahead log)
    node_rss: int
    own_rss: int
    node_cpu: float  # share of one core since the previous sample
    ops: int


def node_pid(node: LocalNode) -> int:
    assert node.process is not None
    return node.process.pid


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def load(url: str, deployments: str, batch: int, rate: float, sent: Synchronized, stop: EventType) -> None:
    """`rate` operations a second (mixed issue / transfer / retire), sent by the bulk sender every 2 s.
    Runs in its own process, as `ledger` commands do: the process measured is the node's owner."""
    a = dev_accounts()
    client = open_local_registry(url, deployments_dir=Path(deployments)).client
    sender, tick, k = BulkSender(client), 2.0, 0
    while not stop.is_set():
        started = time.monotonic()
        ops = mixed_ops(
            f"soak-{k}-{time.time_ns()}", int(rate * tick), admin=a[0], owner=a[1], holders=a[2:8], batch=batch
        )
        report = sender.run(ops)
        with sent.get_lock():
            sent.value += report.applied
        k += 1
        stop.wait(max(0.0, tick - (time.monotonic() - started)))


def growth_per_hour(samples: list[Sample], attr: str) -> float:
    if len(samples) < 2 or samples[-1].at == samples[0].at:
        return 0.0
    return (getattr(samples[-1], attr) - getattr(samples[0], attr)) / (samples[-1].at - samples[0].at) * 3600


def spread(samples: list[Sample], attr: str) -> float:
    values = [getattr(s, attr) for s in samples]
    return (max(values) - min(values)) / min(values) if values and min(values) else 0.0


def window_medians(samples: list[Sample], attr: str, length: float) -> tuple[float, float]:
    """Median of `attr` over the phase's second sixth (after warm-up) and over its last sixth: for 30
    minutes, minutes 5-10 and 25-30."""
    early = [getattr(s, attr) for s in samples if length / 6 <= s.at <= length / 3]
    late = [getattr(s, attr) for s in samples if s.at >= length * 5 / 6]
    return (statistics.median(early) if early else 0.0, statistics.median(late) if late else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30, help="whole run; the first half idle, then loaded")
    parser.add_argument("--rate", type=float, default=10, help="operations a second in the loaded half")
    parser.add_argument("--sample", type=float, default=60, help="seconds between samples")
    parser.add_argument("--legacy", action="store_true", help="the replaced configuration, for comparison")
    parser.add_argument("--idle-minutes", type=float, help="idle phase (default: half of --minutes)")
    parser.add_argument("--loaded-minutes", type=float, help="loaded phase (default: half of --minutes)")
    parser.add_argument("--history", type=int, default=-1, help="experiment: --prune-history N (0: none kept)")
    parser.add_argument("--window", type=int, default=-1, help="experiment: --transaction-block-keeper N")
    args = parser.parse_args()

    a = dev_accounts()
    owner, holders = a[1], list(a[2:8])
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "anvil" / "state.json"
        if args.legacy:
            state.parent.mkdir(parents=True)
            node = LocalNode(
                block_time=1,
                extra_args=("--state", str(state), "--state-interval", "1", "--preserve-historical-states"),
            )
        else:
            node = LocalNode(state_file=state, block_time=1, log_file=Path(tmp) / "anvil" / "node.log")
            if args.history >= 0:
                node.history_states = args.history or None
            if args.window >= 0:
                node.block_window = args.window or None
        with node:
            registry = open_local_registry(node.url, deployments_dir=Path(tmp) / "deployments")
            _, batch = setup(registry.client, owner, holders)
            assert node.process is not None
            phases: dict[str, list[Sample]] = {"idle": [], "loaded": []}
            lengths = {
                "idle": 60 * (args.minutes / 2 if args.idle_minutes is None else args.idle_minutes),
                "loaded": 60 * (args.minutes / 2 if args.loaded_minutes is None else args.loaded_minutes),
            }
            print(
                f"{'legacy' if args.legacy else 'durable'} node: anvil {' '.join(map(str, node.process.args[1:]))}\n"
                f"{lengths['idle'] / 60:g} min idle, {lengths['loaded'] / 60:g} min at {args.rate:g} ops/s, "
                f"a sample every {args.sample:g} s"
            )
            print(
                f"{'phase':7} {'t(s)':>6} {'state MB':>9} {'archive MB':>11} {'anvil RSS MB':>13} {'own RSS MB':>11} {'anvil CPU':>10} {'ops':>7} {'refreshes':>9}"
            )
            spawn = multiprocessing.get_context("spawn")
            sent, stop = spawn.Value("q", 0), spawn.Event()
            loader = spawn.Process(
                target=load, args=(node.url, str(Path(tmp) / "deployments"), batch, args.rate, sent, stop), daemon=True
            )
            for phase in ("idle", "loaded"):
                if phase == "loaded":
                    loader.start()
                began, half = time.monotonic(), lengths[phase]
                pid, cpu_before, t_before = node_pid(node), cpu_seconds(node_pid(node)), began
                while True:
                    now = time.monotonic()
                    if node_pid(node) != pid:  # the keeper swapped anvil for a fresh one (a refresh)
                        pid, cpu_before = node_pid(node), 0.0
                    try:
                        cpu_now, node_rss = cpu_seconds(pid), rss(pid)
                    except FileNotFoundError:  # swapped just now
                        time.sleep(0.2)
                        continue
                    s = Sample(
                        phase,
                        round(now - began, 1),
                        node.keeper.refreshes if node.keeper is not None else 0,
                        state.stat().st_size if state.exists() else 0,
                        sum(f.stat().st_size for f in state.parent.glob("archive.sqlite*")),
                        node_rss,
                        rss(os.getpid()),
                        (cpu_now - cpu_before) / max(now - t_before, 1e-9),
                        sent.value,
                    )
                    cpu_before, t_before = cpu_now, now
                    phases[phase].append(s)
                    print(
                        f"{s.phase:7} {s.at:6.0f} {s.state_bytes / 1e6:9.2f} {s.archive_bytes / 1e6:11.2f} {s.node_rss / 1e6:13.1f} "
                        f"{s.own_rss / 1e6:11.1f} {s.node_cpu:10.1%} {s.ops:7} {s.refreshes:9}",
                        flush=True,
                    )
                    if now - began >= half:
                        break
                    time.sleep(min(args.sample, max(0.0, half - (now - began))))
            stop.set()
            loader.join()
            refreshes = node.keeper.refreshes if node.keeper is not None else 0
            longest = node.keeper.longest_refresh_seconds if node.keeper is not None else 0.0
        for phase, samples in phases.items():
            steady = (
                samples[1:] if phase == "idle" and len(samples) > 2 else samples
            )  # the first idle sample follows setup
            elapsed = samples[-1].at - samples[0].at
            rate = (samples[-1].ops - samples[0].ops) / elapsed if elapsed else 0
            print(
                f"{phase}: state {growth_per_hour(steady, 'state_bytes') / 1e6:+.2f} MB/hour, anvil RSS "
                f"{growth_per_hour(steady, 'node_rss') / 1e6:+.1f} MB/hour (spread {spread(steady, 'node_rss'):.1%}), "
                f"own RSS spread {spread(steady, 'own_rss'):.1%}, anvil CPU "
                f"{sum(s.node_cpu for s in steady[1:]) / max(len(steady) - 1, 1):.1%}"
                + (f", {rate:.1f} ops/s applied" if phase == "loaded" else "")
            )
            if phase == "loaded":
                print(
                    f"loaded: anvil swapped for a fresh one {refreshes} times; "
                    f"the longest swap held requests {longest:.2f} s"
                )
            length = lengths[phase]
            if length >= 60:
                parts = []
                for attr, name in (
                    ("node_rss", "anvil RSS"),
                    ("own_rss", "own RSS"),
                    ("state_bytes", "state file"),
                    ("archive_bytes", "archive"),
                ):
                    early, late = window_medians(samples, attr, length)
                    change = (late - early) / early if early else 0.0
                    parts.append(f"{name} {early / 1e6:.1f} -> {late / 1e6:.1f} MB ({change:+.1%})")
                print(
                    f"{phase}: median of minutes {length / 360:.3g}-{length / 180:.3g} vs {length / 72:.3g}-{length / 60:.3g}: "
                    + ", ".join(parts)
                )


if __name__ == "__main__":
    main()
