"""kill -9 between purchase and retirement and during the retirement (docs/offsets.md §5): a batcher
process dies by SIGKILL at each point; after a restart every purchase is in exactly one retirement,
the chain retired each kilogram once, and a batch sent before the crash is found by its op id and
recorded, not sent again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from certificates.models import CertificateRow
from certificates.translog.models import LogEntry
from offsets.batcher import tree_for
from offsets.certify import certify_retired
from offsets.models import OffsetPurchase, OffsetRetirement
from tests.offsets.conftest import Platform, account

ROOT = Path(__file__).resolve().parents[2]
PURCHASES = [
    [account("acct-0001", "salt-a"), 4, "c-alice"],
    [account("acct-0002", "salt-b"), 6, "c-bob"],
    [account("acct-0003", "salt-c"), 5, "c-carol"],
]  # 4 + 6 + 5 = 15 kg; the worker batches at most 2 purchases, so a first batch of 4 + 6 = 10


def _crash(p: Platform, point: str) -> None:
    deployment = p.tmp / "deployment.json"
    deployment.write_text(p.world.registry.deployment.to_json())
    purchases = p.tmp / "purchases.json"
    purchases.write_text(json.dumps(PURCHASES))
    env = {
        **os.environ,
        "OFFSETS_RPC_URL": p.client.rpc.url,
        "OFFSETS_PLATFORM_KEY": "0x" + bytes(p.cast.platform.key).hex(),
    }
    args = [p.db_url, str(deployment), p.cast.holder.address, str(p.world.batch_id), str(purchases), point]
    done = subprocess.run(
        [sys.executable, "-m", "tests.offsets.crash_worker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def _retired_on_chain(p: Platform) -> list[tuple[int, int]]:
    """(op id, amount) of every CreditsRetired of the holder since the deployment."""
    topic = "0x" + p.client.abi.event_topics["CreditsRetired"].hex()
    holder_topic = "0x" + bytes.fromhex(p.cast.holder.address[2:]).rjust(32, b"\0").hex()
    logs = p.client.rpc.call(
        "eth_getLogs",
        {
            "address": p.client.address,
            "fromBlock": hex(p.world.registry.deployment.block_number),
            "toBlock": "latest",
            "topics": [topic, None, holder_topic],
        },
    )
    out = []
    for log in logs:
        event = p.client.abi.decode_log(log)
        assert event is not None
        out.append((int(event.args["opId"]), int(event.args["amount"])))
    return out


def _exactly_once(p: Platform, start: int) -> None:
    with p.engine.connect() as conn:
        pending = conn.execute(
            select(func.count()).select_from(OffsetPurchase).where(col(OffsetPurchase.retirement_op).is_(None))
        ).scalar()
        ops = [r[0] for r in conn.execute(select(col(OffsetRetirement.op_id)))]
        unrecorded = conn.execute(
            select(func.count()).select_from(OffsetRetirement).where(col(OffsetRetirement.tx_hash).is_(None))
        ).scalar()
        per_op = {op: sum(a.kg for a in tree_for(conn, op)[0].allocations) for op in ops}
        purchases = conn.execute(select(func.count()).select_from(OffsetPurchase)).scalar()
    assert (pending, unrecorded, purchases) == (0, 0, 3)
    on_chain = _retired_on_chain(p)
    # one CreditsRetired per batch, with the batch's kilograms: none sent twice, none lost
    assert sorted((int(op, 16), kg) for op, kg in per_op.items()) == sorted(on_chain)
    assert sorted(kg for _, kg in on_chain) == [5, 10]  # the first batch 4 + 6, then Carol's 5
    assert p.balance() == start - 15


@pytest.mark.parametrize("point", ["after-purchase", "after-form", "after-send"])
def test_kill_9_then_restart_is_exactly_once(platform: Platform, point: str) -> None:
    p = platform
    start = p.balance()
    _crash(p, point)
    with p.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(OffsetPurchase)).scalar()
    assert stored == 3  # the purchases were committed before the kill
    if point == "after-send":
        assert p.balance() == start - 10  # the first batch went out before the process died
    else:
        assert p.balance() == start
    b = p.batcher(max_purchases=2)
    settled = b.run_once()
    settled += b.run_once()
    assert b.run_once() == []
    assert [s.amount for s in settled] == [10, 5]
    # a batch the dead process sent is found on chain by its op id and only recorded
    assert [s.sent for s in settled] == [point != "after-send", True]
    _exactly_once(p, start)


@pytest.mark.parametrize(("chunk", "issued_before"), [(1, 0), (2, 2)])
def test_kill_9_during_certificate_issuance_then_restart(platform: Platform, chunk: int, issued_before: int) -> None:
    """A chunk (one retirement's purchases here: Alice's and Bob's, then Carol's) is one transaction:
    certificate rows, log leaves and purchase marks together. Killed in the first chunk, nothing was
    issued (not even Alice's, built and marked before Bob's in the same transaction); killed in the
    second, the first chunk's two stand and Carol's died uncommitted. The restart issues the rest:
    every purchase has exactly one certificate, the log exactly three personal leaves."""
    p = platform
    _crash(p, f"during-certify-{chunk}")
    with p.engine.connect() as conn:
        before = conn.execute(select(col(OffsetPurchase.certificate_id))).all()
        leaves = conn.execute(select(func.count()).select_from(LogEntry)).scalar()
    assert sum(c is not None for (c,) in before) == issued_before
    assert leaves == issued_before  # no leaf of a chunk that died
    again = certify_retired(p.service)
    assert len(again) == 3 - issued_before
    assert certify_retired(p.service) == []
    with p.engine.connect() as conn:
        marks = [str(c) for (c,) in conn.execute(select(col(OffsetPurchase.certificate_id)))]
        rows = conn.execute(select(col(CertificateRow.id), col(CertificateRow.scenario))).all()
        leaves = [e for (e,) in conn.execute(select(col(LogEntry.ref)).where(col(LogEntry.kind) == "certificate"))]
    assert len(set(marks)) == 3 and "None" not in marks
    assert sorted(r.id for r in rows) == sorted(marks) and {r.scenario for r in rows} == {"Personal"}
    assert sorted(leaves) == sorted(marks)
