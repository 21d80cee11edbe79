"""Soak: the node `ledger up` runs (durable anvil: mining only when transactions wait, atomic
snapshots, journal), idle and then under a steady load, sampled every `--sample` seconds: state
file size, anvil's RSS and CPU, and this process's RSS (it runs the keeper, as `ledger up` does).
Prints each sample and the growth per hour of each phase.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 10] [--sample 60] [--legacy]

`--legacy` runs the configuration this replaced (anvil `--block-time 1 --state FILE
--state-interval 1 --preserve-historical-states`) for comparison. Targets: idle state growth
<= 1 MB/hour, RSS flat within 10 %.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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
    state_bytes: int
    node_rss: int
    own_rss: int
    node_cpu: float  # share of one core since the previous sample
    ops: int


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Load(threading.Thread):
    """`rate` operations a second (mixed issue / transfer / retire), sent by the bulk sender every 2 s."""

    def __init__(self, chain: dict, rate: float) -> None:
        super().__init__(daemon=True)
        self.chain, self.rate = chain, rate
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        sender, tick, k = BulkSender(self.chain["client"]), 2.0, 0
        while not self.stop.is_set():
            started = time.monotonic()
            ops = mixed_ops(
                f"soak-{k}-{time.time_ns()}",
                int(self.rate * tick),
                admin=self.chain["admin"],
                owner=self.chain["owner"],
                holders=self.chain["holders"],
                batch=self.chain["batch"],
            )
            report = sender.run(ops)
            self.sent += report.applied
            k += 1
            self.stop.wait(max(0.0, tick - (time.monotonic() - started)))


def growth_per_hour(samples: list[Sample], attr: str) -> float:
    if len(samples) < 2 or samples[-1].at == samples[0].at:
        return 0.0
    return (getattr(samples[-1], attr) - getattr(samples[0], attr)) / (samples[-1].at - samples[0].at) * 3600


def spread(samples: list[Sample], attr: str) -> float:
    values = [getattr(s, attr) for s in samples]
    return (max(values) - min(values)) / min(values) if values and min(values) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30, help="whole run; the first half idle, then loaded")
    parser.add_argument("--rate", type=float, default=10, help="operations a second in the loaded half")
    parser.add_argument("--sample", type=float, default=60, help="seconds between samples")
    parser.add_argument("--legacy", action="store_true", help="the replaced configuration, for comparison")
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
        with node:
            registry = open_local_registry(node.url, deployments_dir=Path(tmp) / "deployments")
            admin, batch = setup(registry.client, owner, holders)
            chain = {"client": registry.client, "admin": admin, "owner": owner, "holders": holders, "batch": batch}
            assert node.process is not None
            pid = node.process.pid
            phases: dict[str, list[Sample]] = {"idle": [], "loaded": []}
            half = args.minutes * 60 / 2
            print(
                f"{'legacy' if args.legacy else 'durable'} node, {args.minutes:g} min "
                f"({half / 60:g} idle, {half / 60:g} at {args.rate:g} ops/s), a sample every {args.sample:g} s"
            )
            print(
                f"{'phase':7} {'t(s)':>6} {'state MB':>9} {'anvil RSS MB':>13} {'own RSS MB':>11} {'anvil CPU':>10} {'ops':>7}"
            )
            load = Load(chain, args.rate)
            for phase in ("idle", "loaded"):
                if phase == "loaded":
                    load.start()
                began = time.monotonic()
                cpu_before, t_before = cpu_seconds(pid), began
                while True:
                    now = time.monotonic()
                    cpu_now = cpu_seconds(pid)
                    s = Sample(
                        phase,
                        round(now - began, 1),
                        state.stat().st_size if state.exists() else 0,
                        rss(pid),
                        rss(os.getpid()),
                        (cpu_now - cpu_before) / max(now - t_before, 1e-9),
                        load.sent,
                    )
                    cpu_before, t_before = cpu_now, now
                    phases[phase].append(s)
                    print(
                        f"{s.phase:7} {s.at:6.0f} {s.state_bytes / 1e6:9.2f} {s.node_rss / 1e6:13.1f} "
                        f"{s.own_rss / 1e6:11.1f} {s.node_cpu:10.1%} {s.ops:7}",
                        flush=True,
                    )
                    if now - began >= half:
                        break
                    time.sleep(min(args.sample, max(0.0, half - (now - began))))
            load.stop.set()
            load.join()
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


if __name__ == "__main__":
    main()
