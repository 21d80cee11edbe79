"""The durable local node: kill -9 of anvil (or of the process snapshotting it) at any moment never
leaves a truncated state file, and every operation reported as done is on chain exactly once after
the restart; a node that cannot start says why in one line, with the fix."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Self

import pytest

from chain.abi import ContractAbi
from chain.client import RegistryClient
from chain.deploy import deploy_revocations
from chain.errors import ChainError, NodeStartError
from chain.journal import JOURNAL_NAME, MARKER_NAME
from chain.node import LocalNode, free_port, rpc_ready
from chain.opids import sequential_op_ids
from chain.rpc import JsonRpc
from chain.sender import BulkSender
from chain.settings import LOCAL_CHAIN_ID
from chain.snapshot import parse_problem, previous_of
from chain.types import Scenario
from tests.chain.bulk_run import operations
from tests.conftest import HASH, HOLDER_START, Cast, World, deploy_world

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
BULK = 1_200
CLI_FUNDS = 2_000


class TruncationWatch:
    """Polls the state files every few milliseconds: a reader must never find one empty or cut short."""

    def __init__(self, state: Path) -> None:
        self.paths = (state, previous_of(state))
        self.bad: list[str] = []
        self.looks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            for path in self.paths:
                try:
                    with open(path, "rb") as f:
                        f.seek(0, os.SEEK_END)
                        size = f.tell()
                        f.seek(max(size - 2, 0))
                        tail = f.read()
                except FileNotFoundError:
                    continue
                self.looks += 1
                if size == 0 or not tail.rstrip().endswith(b"}"):
                    self.bad.append(f"{path.name}: {size} bytes, ends {tail!r}")


def assert_snapshots_whole(state: Path) -> None:
    for path in (state, previous_of(state)):
        if path.exists():
            assert parse_problem(path) is None, f"{path.name}: {parse_problem(path)}"


def retire_op_counts(client: RegistryClient) -> Counter[int]:
    logs = client.rpc.call("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest", "address": client.address})
    return Counter(
        e.args["opId"] for e in client.decode_events(logs) if e.name in {"CreditsRetired", "CreditsTransferred"}
    )


class CliOperator(threading.Thread):
    """Single operations as `ledger retire` sends them (RegistryClient.transact: simulate, send, wait for
    the receipt), one after another; an operation counts as reported done only when the call returned."""

    def __init__(self, url: str, world: World, namespace: str) -> None:
        super().__init__(daemon=True)
        abi = ContractAbi(world.registry.build["CarbonRegistry"].abi)
        self.client = RegistryClient(
            JsonRpc(url, timeout=10),
            world.client.address,
            abi,
            chain_id=LOCAL_CHAIN_ID,
            signer=world.cast.platform,
            receipt_timeout=15,
        )
        assert self.client.journal is not None, "a client of the durable node journals what it sends"
        self.batch_id = world.batch_id
        self.ids = iter(sequential_op_ids(namespace, 10_000))
        self.done: list[int] = []
        self.attempted: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            op_id = next(self.ids)
            self.attempted.append(op_id)
            try:
                self.client.retire(op_id, self.batch_id, 1, Scenario.PERSONAL, HASH, HASH)
            except ChainError:  # the node was killed under it: reported as failed, never as done
                time.sleep(0.2)
                continue
            self.done.append(op_id)


def fund(world: World, cast: Cast) -> None:
    c = world.client
    c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 5_000, sender=cast.holder)
    c.transfer(cast.holder.address, cast.platform.address, world.batch_id, CLI_FUNDS, sender=cast.holder)


def start_bulk_child(url: str, address: str, journal: Path, report: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.chain.durable_run",
            url,
            address,
            "crash-run",
            str(BULK),
            str(journal),
            str(report),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_kill_9_at_20_random_moments_loses_no_reported_operation(build, cast, tmp_path) -> None:
    state = tmp_path / "anvil" / "state.json"
    node = LocalNode(state_file=state, log_file=tmp_path / "anvil" / "node.log", block_time=0.5)
    node.start()
    rng = random.Random(20261130)
    try:
        world = deploy_world(node.url, tmp_path / "d", build, cast)
        fund(world, cast)
        journal = state.parent / JOURNAL_NAME
        report = tmp_path / "bulk-report.json"
        cli = CliOperator(node.url, world, "crash-cli")
        child = start_bulk_child(node.url, world.client.address, journal, report)
        replayed = 0
        restarts: list[float] = []
        started = time.monotonic()
        with TruncationWatch(state) as watch:
            cli.start()
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 2.0))
                assert node.process is not None
                os.kill(node.process.pid, signal.SIGKILL)
                node.process.wait()
                assert_snapshots_whole(state)
                t0 = time.monotonic()
                node.start()
                restarts.append(time.monotonic() - t0)
                replayed += node.replayed
                if child.poll() is not None and not report.exists():  # the run died with the node: run it again
                    child = start_bulk_child(node.url, world.client.address, journal, report)
            cli.stop.set()
            cli.join(timeout=30)
            child.wait(timeout=120)
        kills_took = time.monotonic() - started
        print(
            f"kills took {kills_took:.1f} s; restarts {sum(restarts):.1f} s (max {max(restarts):.1f}); "
            f"replayed {replayed}; cli done {len(cli.done)}; state {state.stat().st_size} bytes, last snapshot took "
            f"{node.keeper.last_snapshot_seconds if node.keeper else float('nan'):.2f} s"
        )
        assert watch.looks > 1000 and watch.bad == [], watch.bad[:5]
        assert_snapshots_whole(state)

        # the run is settled by running it again, as an operator would after a crash
        ops = operations("crash-run", BULK, world.batch_id)
        final = BulkSender(world.client, batch_size=200).run(ops)
        assert final.failed == 0 and final.applied + final.already_applied == BULK
        counts = retire_op_counts(world.client)
        assert all(counts[op.op_id] == 1 for op in ops), "a bulk operation was applied twice or never"
        if report.exists():  # what a finished child run reported applied is on chain once
            child_report = json.loads(report.read_text())
            assert all(
                counts[i] == 1 for i in child_report.get("applied", []) + child_report.get("already_applied", [])
            )
        assert len(cli.done) >= 5, "the single operations must have run between the kills"
        lost = [i for i in cli.done if counts[i] != 1]
        assert lost == [], (
            f"{len(lost)} of {len(cli.done)} operations reported done are not on chain exactly once: "
            f"{Counter(counts[i] for i in lost)}, applied bits {sum(world.client.is_operation_applied(i) for i in lost)}"
        )
        assert all(counts[i] <= 1 for i in cli.attempted)
        cli_applied = sum(counts[i] for i in cli.attempted)
        retirements = sum(1 for op in ops if op.fn == "retire") + cli_applied
        assert world.client.supply(world.batch_id).retired == retirements
        assert world.client.balance_of(cast.platform.address, world.batch_id) == CLI_FUNDS - cli_applied
        assert replayed > 0, "no kill lost an acknowledged transaction: the journal was never exercised"
        assert kills_took < 120
    finally:
        node.stop()


def supervisor_children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def test_kill_9_of_anvil_or_of_its_supervisor_mid_snapshot_never_truncates_the_state(
    build, cast, tmp_path, monkeypatch
) -> None:
    """`ledger node start`'s supervisor snapshots continuously while transactions stream in; anvil and
    the snapshotting supervisor itself are killed with -9, and every restart finds the chain."""
    from chain.settings import ChainSettings
    from scripts.node_commands import start_supervised, state_file

    port = free_port()
    monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LEDGER_NODE_PORT", str(port))
    settings = ChainSettings()
    state = state_file(settings)
    assert state is not None
    url = settings.effective_rpc_url
    supervisor = start_supervised(settings)
    rng = random.Random(7)
    try:
        world = deploy_world(url, tmp_path / "d", build, cast)
        assert world.client.journal is not None and (state.parent / MARKER_NAME).exists()
        done: list[int] = []
        attempted: list[int] = []
        stop = threading.Event()

        def stream() -> None:
            client, ids = world.client, iter(sequential_op_ids("stream", 10_000))
            while not stop.is_set():
                op_id = next(ids)
                attempted.append(op_id)
                try:
                    client.retire(op_id, world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
                    done.append(op_id)
                except ChainError:
                    time.sleep(0.1)

        streamer = threading.Thread(target=stream, daemon=True)
        with TruncationWatch(state) as watch:
            streamer.start()
            for round_ in range(8):
                time.sleep(rng.uniform(0.3, 1.5))
                if round_ % 2 == 0:  # anvil: the supervisor restarts it and replays the journal
                    killed = supervisor_children(supervisor)
                    for anvil in killed:
                        os.kill(anvil, signal.SIGKILL)
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline and (
                        set(supervisor_children(supervisor)) & set(killed) or not rpc_ready(url)
                    ):
                        time.sleep(0.05)
                    assert rpc_ready(url), "the supervisor did not restart anvil"
                else:  # the writer itself, possibly mid-write; anvil dies with it
                    os.kill(supervisor, signal.SIGKILL)
                    os.waitpid(supervisor, 0)
                    assert_snapshots_whole(state)
                    supervisor = start_supervised(settings)
            stop.set()
            streamer.join(timeout=30)
        assert watch.bad == [], watch.bad[:5]
        assert_snapshots_whole(state)
        counts = retire_op_counts(world.client)
        assert len(done) >= 5 and all(counts[i] == 1 for i in done)
        assert all(counts[i] <= 1 for i in attempted)
        applied = sum(counts[i] for i in attempted)
        assert world.client.balance_of(cast.holder.address, world.batch_id) == HOLDER_START - applied
    finally:
        os.kill(supervisor, signal.SIGTERM)
        os.waitpid(supervisor, 0)
    # a clean stop took a last snapshot: the next start has the whole chain
    with LocalNode(state_file=state, port=free_port()) as node:
        again = RegistryClient(JsonRpc(node.url), world.client.address, world.client.abi, chain_id=LOCAL_CHAIN_ID)
        assert all(again.is_operation_applied(i) for i in done)
        assert node.replayed == 0


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_corrupt_state_with_no_good_previous_snapshot_is_refused_with_the_cause_and_the_fix(tmp_path) -> None:
    state = tmp_path / "anvil" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"block": {"number": "0x1"}, "accounts": {')  # cut short by a crash
    with pytest.raises(NodeStartError) as caught:
        LocalNode(state_file=state).start()
    message = str(caught.value)
    assert "\n" not in message
    assert "state.json is not valid JSON" in message and "no good earlier snapshot" in message
    assert f"mv {state} {state}.bad" in message

    # through the command line: one line on stderr, exit code 1, no traceback
    env = {**os.environ, "LEDGER_VAR_DIR": str(tmp_path), "LEDGER_NODE_PORT": str(free_port()), "COLUMNS": "1000"}
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "node", "start"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "state.json is not valid JSON" in line and "mv " in line and "Traceback" not in done.stderr


def test_a_good_previous_snapshot_is_used_when_the_newest_is_corrupt(build, cast, tmp_path) -> None:
    state = tmp_path / "anvil" / "state.json"
    with LocalNode(state_file=state) as node:
        world = deploy_world(node.url, tmp_path / "d", build, cast)
    previous_of(state).write_bytes(state.read_bytes())
    state.write_bytes(b"")  # what anvil's in-place writer left after a kill -9
    with LocalNode(state_file=state) as node:
        assert node.loaded_from == previous_of(state)
        client = RegistryClient(JsonRpc(node.url), world.client.address, world.client.abi, chain_id=LOCAL_CHAIN_ID)
        assert client.balance_of(cast.holder.address, world.batch_id) == HOLDER_START


def test_a_port_in_use_is_named_with_the_fix(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(NodeStartError) as caught:
            LocalNode(state_file=tmp_path / "anvil" / "state.json", port=port).start()
    message = str(caught.value)
    assert "\n" not in message and f"port {port} is in use" in message and "LEDGER_NODE_PORT" in message


def test_anvil_refusing_its_state_file_is_reported_from_its_log(tmp_path) -> None:
    state = tmp_path / "anvil" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"accounts": 5, "blocks": []}')  # parses, but anvil cannot load it
    log_file = tmp_path / "anvil" / "node.log"
    with pytest.raises(NodeStartError) as caught:
        LocalNode(state_file=state, log_file=log_file).start()
    message = str(caught.value)
    assert "\n" not in message
    assert "failed to parse json file" in message and f"mv {state} {state}.bad" in message


def test_an_idle_durable_node_makes_no_blocks(build, cast, tmp_path) -> None:
    state = tmp_path / "anvil" / "state.json"
    with LocalNode(state_file=state, block_time=1) as node:
        world = deploy_world(node.url, tmp_path / "d", build, cast)
        rpc = world.client.rpc
        rpc.call("evm_setIntervalMining", 1)  # as the demo loader does after loading with automine
        time.sleep(2.5)
        head = int(rpc.call("eth_blockNumber"), 16)
        size = state.stat().st_size
        time.sleep(3)
        assert int(rpc.call("eth_blockNumber"), 16) == head, "an idle node mined blocks"
        assert state.stat().st_size == size
        retired = world.client.retire(9, world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
        assert retired.block_number == head + 1


def test_a_deployment_reported_done_survives_a_kill_9_before_any_snapshot_covers_it(build, cast, tmp_path) -> None:
    """The deploy step sends through its own path (chain/deploy.py): it journals what it sent as the
    client does, so a restarted node re-sends a deployment no snapshot held yet."""
    state = tmp_path / "anvil" / "state.json"
    node = LocalNode(state_file=state).start()
    try:
        assert node.keeper is not None
        node.keeper.snapshot_interval = 3_600  # no snapshot covers what follows
        rpc = JsonRpc(node.url)
        address = deploy_revocations(rpc, LOCAL_CHAIN_ID, build, cast.admin, "0x" + "11" * 20)
        assert rpc.call("eth_getCode", address, "latest") != "0x"
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait()
        node.start()
        assert rpc.call("eth_getCode", address, "latest") != "0x", "the acknowledged deployment was lost"
    finally:
        node.stop()
