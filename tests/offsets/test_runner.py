"""The "every T seconds or M purchases" loop (offsets/runner.py, `ledger offsets run`): each trigger at
its boundary, on the pure rule and on the real loop against anvil; SIGTERM stops the command between
steps with exit code 0; a kill -9 mid-run and a restart still give every purchase exactly one
retirement and one certificate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col
from typer.testing import CliRunner

from offsets.models import OffsetPurchase
from offsets.purchases import purchase
from offsets.runner import Runner, Trigger
from scripts.cli import app
from tests.offsets.conftest import Platform, account
from tests.offsets.test_cli import _env

ROOT = Path(__file__).resolve().parents[2]


def test_the_trigger_fires_at_m_purchases_or_after_t_seconds() -> None:
    t = Trigger(every=60, max_purchases=3)
    # M = 3: two waiting is not a batch, three is (the oldest only 10 s old: 1010 - 1000)
    assert not t.due(2, 1_000, 1_010)
    assert t.due(3, 1_000, 1_010)
    # T = 60 s: the oldest bought at 1000 is due at 1000 + 60 = 1060, not a moment before
    assert not t.due(1, 1_000, 1_059.999)
    assert t.due(1, 1_000, 1_060)
    assert not t.due(0, None, 10**9)  # nothing waits: nothing to retire, however long
    # the timer: 1060 - 1045 = 15 s left; none left once due; T when nothing waits
    assert (t.wait(1, 1_000, 1_045), t.wait(1, 1_000, 1_070), t.wait(0, None, 5)) == (15, 0, 60)
    with pytest.raises(ValueError, match="--every"):
        Trigger(every=0, max_purchases=3)


def _runner(p: Platform, now: list[float], *, every: float = 60, m: int = 3) -> Runner:
    return Runner(p.service, p.batcher(max_purchases=m), Trigger(every, m), clock=lambda: now[0])


def test_the_loop_retires_at_the_mth_purchase(platform: Platform) -> None:
    p = platform
    now = [1_010.0]  # the purchases are 10 s old: the timer (60 s) is far off
    runner = _runner(p, now)
    for i in range(2):
        purchase(p.engine, account(f"m-{i}", "s"), 2, f"m-{i}", now=1_000)
    step = runner.step()
    assert (step.retired, step.certified, step.waiting) == ([], [], 2)
    purchase(p.engine, account("m-2", "s"), 2, "m-2", now=1_000)
    step = runner.step()
    assert [(s.amount, s.purchases) for s in step.retired] == [(6, 3)]  # 3 purchases of 2 kg
    assert len(step.certified) == 3 and step.waiting == 0


def test_the_loop_retires_when_the_oldest_has_waited_t(platform: Platform) -> None:
    p = platform
    now = [1_059.0]
    runner = _runner(p, now)
    purchase(p.engine, account("t-0", "s"), 4, "t-0", now=1_000)
    purchase(p.engine, account("t-1", "s"), 5, "t-1", now=1_030)
    assert runner.step().retired == []  # the oldest waited 59 s of 60
    now[0] = 1_060.0
    step = runner.step()
    # both go, the younger too (it waited 30 s): one retirement of 4 + 5 = 9 kg
    assert [(s.amount, s.purchases) for s in step.retired] == [(9, 2)]
    assert len(step.certified) == 2


def test_a_batch_that_cannot_be_formed_is_reported_and_the_loop_goes_on(platform: Platform) -> None:
    p = platform
    runner = _runner(p, [2_000.0])
    purchase(p.engine, account("big", "s"), p.balance() + 1, "too-big", now=1_000)  # more than the holder holds
    step = runner.step()
    assert step.retired == [] and step.waiting == 1
    assert step.problem is not None and "top up the holder's balance" in step.problem


def _start(p: Platform, every: str, m: str) -> subprocess.Popen[str]:
    env = {**os.environ, **_env(p)}
    args = ["offsets", "run", "--holder", p.cast.holder.address, "--batch", str(p.world.batch_id)]
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", *args, "--every", every, "--max", m, "--poll", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _counts(p: Platform) -> tuple[int, int]:
    """(purchases without a retirement, purchases without a certificate)"""
    with p.engine.connect() as conn:
        return (
            int(
                conn.execute(
                    select(func.count()).select_from(OffsetPurchase).where(col(OffsetPurchase.retirement_op).is_(None))
                ).scalar_one()
            ),
            int(
                conn.execute(
                    select(func.count()).select_from(OffsetPurchase).where(col(OffsetPurchase.certificate_id).is_(None))
                ).scalar_one()
            ),
        )


def _until(check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the loop did not get there in time"
        time.sleep(0.1)


def test_sigterm_stops_the_command_between_steps(platform: Platform) -> None:
    p = platform
    for i in range(3):
        purchase(p.engine, account(f"s-{i}", "s"), 1, f"s-{i}")
    proc = _start(p, "0.5", "100")  # 3 of M = 100: only the timer (0.5 s) retires them
    try:
        _until(lambda: _counts(p) == (0, 0))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert "retired 3 kg for 3 purchase(s)" in out and "3 personal certificate(s) issued" in out
    assert out.strip().splitlines()[-1] == "stopped; 0 purchase(s) pending"


def test_kill_9_mid_run_then_restart_is_exactly_once(platform: Platform) -> None:
    """30 purchases of 1 kg, M = 4: eight retirements. The loop is killed by SIGKILL as soon as the
    first certificate exists (a later batch may be formed, sent or half-certified), then restarted
    until nothing waits: every purchase in one retirement with one certificate, 30 kg retired once."""
    p = platform
    start = p.balance()
    for i in range(30):
        purchase(p.engine, account(f"k-{i}", "s"), 1, f"k-{i}")
    proc = _start(p, "3600", "4")
    try:
        _until(lambda: _counts(p)[1] < 30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    # the last batch is 2 purchases (30 = 7 x 4 + 2): under M, so the timer must fire for it
    proc = _start(p, "0.5", "4")
    try:
        _until(lambda: _counts(p) == (0, 0))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert p.balance() == start - 30
    with p.engine.connect() as conn:
        marks = [c for (c,) in conn.execute(select(col(OffsetPurchase.certificate_id)))]
    assert len(marks) == len(set(marks)) == 30


def test_a_bad_period_is_one_line(platform: Platform) -> None:
    args = ["offsets", "run", "--holder", platform.cast.holder.address, "--batch", "1", "--every", "0"]
    result = CliRunner().invoke(app, args, env=_env(platform))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1
    assert "--every is a number of seconds above 0" in result.output
