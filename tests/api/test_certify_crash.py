"""Issue 12: kill -9 of the durable local node at 20 random moments during a loop of "retire, then
certify" and a bulk run; after the restarts no state file was ever truncated, every acknowledged
operation is on chain exactly once, every certificate vouches for a retirement that is on chain
(or was revoked as reorganised away), the mirror caught up and the audit's reconciliation is clean.
And the rule that makes it so: on the durable local node a retirement is certified only once a
snapshot on disk covers its block (a kill loses the blocks above the last snapshot)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import certificates.service
from api.app import create_app
from audit.chain_state import read_chain
from audit.reconcile import reconcile
from certificates import finality
from certificates.finality import REORG_REASON, NotFinalError, RetirementRef
from certificates.issuer import CertificationError
from certificates.models import CertificateRow
from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from certificates.translog.models import LogEntry
from certificates.verify import verify_document
from chain.client import RegistryClient
from chain.journal import JOURNAL_NAME
from chain.logs import LogFetcher
from chain.node import LocalNode
from chain.opids import random_op_id, sequential_op_ids
from chain.rpc import JsonRpc, RpcError
from chain.sender import BulkSender
from chain.snapshot import COVERAGE_NAME
from chain.types import Scenario
from indexer.db import WriterLock, make_engine
from indexer.models import Retirement
from indexer.sync import Indexer
from scripts.audit_commands import in_process_api
from tests.api.certify_run import KG
from tests.chain.bulk_run import operations
from tests.chain.test_node_durability import TruncationWatch, assert_snapshots_whole, retire_op_counts
from tests.conftest import Cast, World, deploy_world

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
BULK = 600
PLATFORM_FUNDS = 2_000
NAMESPACE = "certify-crash"


def anchorer_service(world: World, cast: Cast, database_url: str) -> CertificateService:
    c = world.client
    anchorer = RegistryClient(c.rpc, c.address, c.abi, chain_id=c.chain_id, signer=cast.anchorer)
    return CertificateService.open(
        make_engine(database_url),
        world.registry.deployment,
        anchorer,
        ServiceSettings(anchor_every=4, public_url="http://testserver"),
    )


def follow(service: CertificateService) -> None:
    """`ledger index --once`: a sync handles a reorganisation first (service.catch_up skips a mirror
    already at the block, as it is when a restarted chain is shorter than what it had seen)."""
    d, c = service.context.deployment, service.client
    with WriterLock(service.engine):
        Indexer(
            c.rpc,
            service.engine,
            c.abi,
            chain_id=d.chain_id,
            address=d.address,
            start_block=d.block_number,
            writer_process=False,
        ).sync_once()


def start_child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", *args], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def read_report(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def refs_of(body: str) -> list[RetirementRef]:
    return [
        RetirementRef(r["id"], r["tx_hash"], r["log_index"], r["block_number"]) for r in json.loads(body)["retirements"]
    ]


def test_kill_9_at_20_random_moments_during_certification_leaves_no_certificate_without_its_retirement(
    build: Any, cast: Cast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("LEDGER_VAR_DIR", str(var))  # the child finds the node's journal and snapshot record there
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.delenv("LEDGER_CONFIRMATIONS", raising=False)
    state = var / "anvil" / "state.json"
    node = LocalNode(state_file=state, log_file=state.parent / "node.log", block_time=0.5)
    node.start()
    rng = random.Random(20261130)
    started = time.monotonic()
    children: list[subprocess.Popen[bytes] | None] = [None, None]
    try:
        world = deploy_world(node.url, tmp_path / "deployments", build, cast)
        c = world.client
        c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 5_000, sender=cast.holder)
        c.transfer(cast.holder.address, cast.platform.address, world.batch_id, PLATFORM_FUNDS, sender=cast.holder)
        database_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        service = anchorer_service(world, cast, database_url)  # the schema exists before the child opens it
        report, stop, bulk_report = tmp_path / "certify.jsonl", tmp_path / "stop", tmp_path / "bulk.json"
        certifier_args = (
            "tests.api.certify_run",
            node.url,
            str(tmp_path / "deployments"),
            database_url,
            NAMESPACE,
            str(report),
            str(stop),
        )
        bulk_args = (
            "tests.chain.durable_run",
            node.url,
            c.address,
            "certify-crash-bulk",
            str(BULK),
            str(state.parent / JOURNAL_NAME),
            str(bulk_report),
        )
        certifier = children[0] = start_child(*certifier_args)
        bulk = children[1] = start_child(*bulk_args)
        deadline = time.monotonic() + 60
        while not any("certified" in r for r in read_report(report)):  # the kills must land in certifications
            assert certifier.poll() is None and time.monotonic() < deadline, read_report(report)
            time.sleep(0.1)
        replayed = 0
        restarts: list[float] = []
        kills_started = time.monotonic()
        with TruncationWatch(state) as watch:
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.2, 2.0))
                assert node.process is not None
                os.kill(node.process.pid, signal.SIGKILL)
                node.process.wait()
                assert_snapshots_whole(state)
                t0 = time.monotonic()
                node.start()  # the project's restart path: load the newest whole snapshot, replay the journal
                restarts.append(time.monotonic() - t0)
                replayed += node.replayed
                if bulk.poll() is not None and not bulk_report.exists():  # the run gave up on a dead node: again
                    bulk = children[1] = start_child(*bulk_args)
            kills_took = time.monotonic() - kills_started
            stop.touch()
            try:
                certifier.wait(timeout=60)
            except subprocess.TimeoutExpired:
                certifier.send_signal(signal.SIGUSR1)  # its threads' stacks, for the failure message
                time.sleep(1)
                stacks = Path(f"{report}.stacks").read_text()
                pytest.fail(f"the certification loop did not finish: {read_report(report)[-2:]}\n{stacks[-3000:]}")
            bulk.wait(timeout=90)
        assert watch.looks > 1000 and watch.bad == [], watch.bad[:5]
        assert_snapshots_whole(state)
        records = read_report(report)
        finished = records[-1]
        assert finished.get("finished") == "stopped", finished

        # the bulk run settled by running it again, as an operator would after a crash
        ops = operations("certify-crash-bulk", BULK, world.batch_id)
        final = BulkSender(c, batch_size=200).run(ops)
        assert final.failed == 0 and final.applied + final.already_applied == BULK
        counts = retire_op_counts(c)
        assert all(counts[op.op_id] == 1 for op in ops), "a bulk operation was applied twice or never"
        if bulk_report.exists():  # what a finished child run reported applied is on chain once
            reported = json.loads(bulk_report.read_text())
            assert all(counts[i] == 1 for i in reported.get("applied", []) + reported.get("already_applied", []))

        # every acknowledged retirement is on chain exactly once; none of the loop's was applied twice
        acknowledged = [r["retired"] for r in records if "retired" in r]
        assert len(acknowledged) >= 10, "the loop must have retired between the kills"
        assert [i for i in acknowledged if counts[i] != 1] == []
        loop_ids = [r["attempt"] for r in records if "attempt" in r]
        assert loop_ids == sequential_op_ids(NAMESPACE, len(loop_ids))
        assert all(counts[i] <= 1 for i in loop_ids)
        loop_applied = sum(counts[i] for i in loop_ids)
        assert c.balance_of(cast.platform.address, world.batch_id) == PLATFORM_FUNDS - KG * loop_applied

        # the mirror catches up (rolling back the blocks the kills lost) and the revocation check runs
        head = int(c.rpc.call("eth_blockNumber"), 16)
        follow(service)
        assert service.indexed_block() >= head
        service.anchor(force=True)  # revokes, first, any certificate whose retirement is gone

        with service.engine.connect() as conn:
            rows = conn.execute(
                select(
                    CertificateRow.id, CertificateRow.body, CertificateRow.revoked_at, CertificateRow.revocation_reason
                )
            ).all()
            revocations = set(conn.execute(select(LogEntry.ref).where(LogEntry.kind == "revocation")).scalars())
        topic = c.abi.event_topics["CreditsRetired"]
        revoked = [r for r in rows if r.revoked_at is not None]
        for r in revoked:
            assert r.revocation_reason == REORG_REASON and r.id in revocations
        standing = [r for r in rows if r.revoked_at is None]
        gone = [(r.id, ref.id) for r in standing for ref in finality.missing(c.rpc, c.address, topic, refs_of(r.body))]
        assert gone == [], f"certificates vouching for retirements that are not on chain: {gone[:5]}"
        # the durable-snapshot rule certifies only blocks a restart keeps: no certificate had to be revoked
        assert not revoked, f"{len(revoked)} certificates revoked: {[(r.id, r.revocation_reason) for r in revoked][:3]}"

        # every acknowledged certificate stands; every retirement the loop made is certified
        issued = {r["cert"] for r in records if "cert" in r}
        assert {r["cert"] for r in records if "certified" in r} <= {r.id for r in standing}
        certified_ops = {r.get("certified", r.get("found")) for r in records if "cert" in r}
        loop_retired = {i for i in loop_ids if counts[i] == 1}
        assert loop_retired == certified_ops, (len(loop_retired), len(certified_ops))
        assert len(rows) == len(issued) == loop_applied, "a retirement backs two certificates, or one none"
        for cert_id in sorted(issued)[:: max(1, len(issued) // 5)]:
            assert verify_document(service.document(cert_id), service.context.evidence).status == "valid"

        chain = read_chain(c, service.context.deployment.block_number)
        with service.engine.connect() as conn:
            audit = reconcile(chain, conn, service.context.log, in_process_api(create_app(service.context)))
        assert audit.clean, audit.as_json()["differences"][:5]
        assert audit.checked["certificates"] == len(rows)

        waits = [r["seconds"] for r in records if "certified" in r]
        print(
            f"kills took {kills_took:.1f} s; restarts {sum(restarts):.1f} s (max {max(restarts):.1f}); replayed "
            f"{replayed}; retired {len(acknowledged)} acknowledged / {loop_applied} applied; certificates "
            f"{len(rows)} ({len(waits)} acknowledged, certify took max {max(waits):.2f} s, median "
            f"{sorted(waits)[len(waits) // 2]:.2f} s); loop errors {finished['errors']}; whole test "
            f"{time.monotonic() - started:.0f} s"
        )
        assert replayed > 0, "no kill lost an acknowledged transaction: the journal was never exercised"
        assert kills_took < 90
    finally:
        for child in children:  # a run that did not finish must not outlive the test
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
        node.stop()


def test_certification_waits_for_a_durable_snapshot_to_cover_the_retirement(
    build: Any, cast: Cast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.delenv("LEDGER_CONFIRMATIONS", raising=False)
    monkeypatch.setattr(certificates.service, "SNAPSHOT_WAIT", 0.5)  # the keeper below snapshots only when told
    state = tmp_path / "anvil" / "state.json"
    with LocalNode(state_file=state, snapshot_interval=3600) as node:
        assert node.keeper is not None
        world = deploy_world(node.url, tmp_path / "deployments", build, cast)
        service = anchorer_service(world, cast, f"sqlite:///{tmp_path / 'ledger.sqlite'}")
        node.keeper.snapshot()

        def retire() -> tuple[str, int, str]:
            commitment = service.seal_beneficiary("赵敏")
            result = world.client.retire(
                random_op_id(), world.batch_id, 3, Scenario.VOLUNTARY, commitment, b"\0" * 32, sender=cast.holder
            )
            service.catch_up(result.block_number)
            event = result.event("CreditsRetired")
            return f"{world.client.chain_id}-{event.tx_hash}-{event.log_index}", result.block_number, result.tx_hash

        def certify(rid: str) -> str:
            return service.certify([rid], scenario_key="Voluntary", fields={"message": "m"}, anchor=True).certificate_id

        rid, block, _ = retire()
        covered = finality.durable_block(world.client.rpc)
        assert covered is not None and covered < block
        with pytest.raises(
            NotFinalError,
            match=f"in block {block}, which the local node's durable snapshot does not "
            f"cover yet \\(it covers block {covered}\\)",
        ) as refused:
            certify(rid)
        assert "\n" not in str(refused.value)
        assert node.keeper.snapshot() >= block  # the keeper's next snapshot covers it: certified
        assert finality.durable_block(world.client.rpc) >= block
        assert verify_document(service.document(certify(rid)), service.context.evidence).status == "valid"

        # why: a kill -9 now loses the block; the journal re-sends the retirement into a block mined anew
        lost_rid, lost_block, tx_hash = retire()
        before = world.client.rpc.call("eth_getBlockByNumber", hex(lost_block), False)["hash"]
        with pytest.raises(NotFinalError):
            certify(lost_rid)
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait()
        node.start()
        assert node.replayed >= 1
        receipt = world.client.rpc.call("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None and receipt["blockHash"] != before, "the uncovered block survived the kill"
        # the mirror still has the lost block: refused at once, not after waiting for a snapshot of it
        t0 = time.monotonic()
        with pytest.raises(CertificationError, match="no longer on chain where the mirror has it"):
            certify(lost_rid)
        assert time.monotonic() - t0 < 0.5
        # the restart's snapshot covers the re-mined block; once the mirror follows the new chain, it is certified
        follow(service)
        with service.engine.connect() as conn:
            now_rid = conn.execute(select(Retirement.id).where(Retirement.tx_hash == tx_hash)).scalar_one()
        assert verify_document(service.document(certify(now_rid)), service.context.evidence).status == "valid"


def test_a_snapshot_record_of_another_chain_covers_nothing_and_other_nodes_need_none(
    tmp_path: Path, anvil: LocalNode
) -> None:
    state = tmp_path / "anvil" / "state.json"
    with LocalNode(state_file=state) as node:
        assert node.keeper is not None
        head = node.keeper.snapshot()
        rpc = JsonRpc(node.url)  # the node's URL (the keeper talks to anvil behind the front)
        assert finality.durable_block(rpc) == head
        record = state.with_name(COVERAGE_NAME)
        record.write_text(json.dumps({"block": head, "hash": "0x" + "ab" * 32}))  # left by another chain
        assert finality.durable_block(rpc) == -1
        record.unlink()
        assert finality.durable_block(rpc) == -1
    # a node that is not the durable local node (tests' automining anvil, another chain): no such rule
    assert finality.durable_block(JsonRpc(anvil.url)) is None


def test_a_log_range_beyond_a_chain_that_got_shorter_is_refused_not_retried_forever(anvil: LocalNode) -> None:
    """The crash test's follower hung here: a sync in flight when the node was killed asked, after the
    restart, for blocks the shorter chain no longer had, and retried for ever."""
    rpc = JsonRpc(anvil.url)
    head = int(rpc.call("eth_blockNumber"), 16)
    fetcher = LogFetcher(rpc, "0x" + "00" * 20)
    outcome: list[BaseException | None] = []

    def fetch() -> None:
        try:
            fetcher.fetch(head + 5, head + 10)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=fetch, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert outcome and isinstance(outcome[0], RpcError), outcome
    assert fetcher.fetch(0, head)[0] <= head  # a range the chain has is read as before
