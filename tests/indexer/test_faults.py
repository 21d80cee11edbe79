"""RPC faults (errors, timeouts, "range too large", 429): the indexer backs off, recovers and says so."""

from __future__ import annotations

import logging

from chain.rpc import JsonRpc
from indexer.db import create_schema, make_engine
from indexer.sync import Indexer
from tests.indexer.helpers import activity, check_equals_a_fresh_index
from tests.indexer.rpc_proxy import FaultProxy


def test_the_indexer_recovers_from_every_kind_of_fault(world, tmp_path, caplog) -> None:
    activity(world, rounds=2)
    c = world.client
    faults = ["range", "range", "429", "error", "timeout", "range", "429"]
    with FaultProxy(c.rpc.url, faults, stall=1.5) as proxy, caplog.at_level(logging.WARNING, logger="indexer"):
        engine = make_engine(f"sqlite:///{tmp_path / 'faulty.sqlite'}")
        create_schema(engine)
        indexer = Indexer(
            JsonRpc(proxy.url, timeout=0.5),
            engine,
            c.abi,
            chain_id=c.chain_id,
            address=c.address,
            start_block=world.registry.deployment.block_number,
            max_range=64,
        )
        indexer.sync_once()
    assert proxy.injected == faults
    messages = " ".join(r.getMessage() for r in caplog.records)
    for said in ("shrinking", "rate limited", "node error", "answers again"):
        assert said in messages, said
    assert "timeout" in messages, messages
    check_equals_a_fresh_index(world, indexer.engine, tmp_path)
