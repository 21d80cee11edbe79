"""The statistics and lists after a reorganisation: a retirement the chain dropped leaves the
numbers, its replacement enters them, though the sums of final blocks are remembered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chain.node import LocalNode
from chain.opids import random_op_id
from chain.types import Scenario
from public import lists, stats
from tests.public.conftest import build_public


def test_a_reorganised_retirement_leaves_the_statistics(
    build: Any, cast: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    with LocalNode(block_time=None) as node:
        public = build_public(tmp_path, build, cast, node)
        certified = public.certified
        engine, c = certified.service.engine, certified.world.client
        with engine.connect() as conn:
            before = stats.statistics(conn)  # remembers the final blocks' sums
        assert "product" not in {b.key for b in before.by["scenario"]}
        certified.retire(Scenario.PRODUCT, 40, b"\x55" * 32)
        public.sync()
        with engine.connect() as conn:
            dropped = stats.statistics(conn)
        assert {b.key: b.retired_kg for b in dropped.by["scenario"]}["product"] == 40
        # the block of that retirement is mined again with another: 25 kg for a region instead
        data = c.abi.encode_call(
            "retire", (random_op_id(), certified.world.batch_id, 25, int(Scenario.REGION), b"\x66" * 32, b"\0" * 32)
        )
        tx = {"from": cast.holder.address, "to": c.address, "data": "0x" + data.hex(), "gas": hex(300_000)}
        c.rpc.call("anvil_reorg", 1, [[tx, 0]])
        c.rpc.call("evm_mine")  # a block past the mirror's tip, so catching up reads the new branch
        public.sync()
        with engine.connect() as conn:
            after = stats.statistics(conn)
            retirements = lists.page(conn, "retirements", {}, None, lists.MAX_LIMIT).rows
        scenario = {b.key: b.retired_kg for b in after.by["scenario"]}
        assert "product" not in scenario and scenario["region"] == 25
        # 40 kg out, 25 kg in: the total moves by -15 kg from the state with the dropped retirement
        assert after.totals.retired_kg == dropped.totals.retired_kg - 40 + 25 == before.totals.retired_kg + 25
        assert sum(r["amount_kg"] for r in retirements) == after.totals.retired_kg
        assert sum(b.retired_kg for b in after.by["blocks"]) == after.totals.retired_kg
