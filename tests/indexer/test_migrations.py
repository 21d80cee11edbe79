"""Migrations that change how the mirror stores data carry the data over, both ways."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import Engine, text

from indexer.db import drop_schema, make_engine
from indexer.migrate import alembic_config, upgrade
from tests.indexer.helpers import activity, check_equals_a_fresh_index, new_indexer


def _journal(engine: Engine) -> list[tuple[int, str, list, object]]:
    """Every journal entry as (block, table, key, old), in the order a rollback reads them."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT block_number, entries FROM journal ORDER BY block_number, id")).all()
    return [(block, table, key, old) for block, entries in rows for table, key, old in json.loads(entries)]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_journal_survives_a_downgrade_and_upgrade_and_still_rolls_back(world, tmp_path, request, database) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
        drop_schema(make_engine(url))
    activity(world)
    indexer = new_indexer(world, url)  # the window covers the whole activity: every change is journaled
    indexer.sync_once()
    before = _journal(indexer.engine)
    assert len({block for block, *_ in before}) < len(before)  # some block holds several changes
    with indexer.engine.begin() as conn:  # to 0002: one row per change
        command.downgrade(alembic_config(conn), "0002")
    with indexer.engine.connect() as conn:
        per_change = conn.execute(text("SELECT count(*) FROM journal")).scalar()
    assert per_change == len(before)
    upgrade(indexer.engine)
    assert _journal(indexer.engine) == before
    c, cast = world.client, world.cast
    data = c.abi.encode_call("retire", (world.op(), world.batch_id, 5, 0, b"\x61" * 32, b"\x62" * 32))
    tx = {"from": cast.holder.address, "to": c.address, "data": "0x" + data.hex(), "gas": hex(300_000)}
    c.rpc.call("anvil_reorg", 4, [[tx, 0]])
    assert indexer.handle_reorg() >= 1
    indexer.sync_once()
    check_equals_a_fresh_index(world, indexer.engine, tmp_path)
