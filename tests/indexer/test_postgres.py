"""SQLite and PostgreSQL produce identical mirrors; PostgreSQL's writer lock is an advisory lock."""

from __future__ import annotations

import pytest

from indexer.db import IndexerLockedError, WriterLock, drop_schema, make_engine, mirror_tables
from tests.indexer.helpers import activity, check_against_chain, check_equals_a_fresh_index, dump, new_indexer


@pytest.fixture
def empty_postgres(postgres_url: str) -> str:
    engine = make_engine(postgres_url)
    drop_schema(engine)
    engine.dispose()
    return postgres_url


def test_sqlite_and_postgresql_mirror_the_same(world, tmp_path, empty_postgres) -> None:
    activity(world, rounds=2)
    lite = new_indexer(world, f"sqlite:///{tmp_path / 'mirror.sqlite'}", max_range=4)
    lite.sync_once()
    pg = new_indexer(world, empty_postgres, max_range=4)
    pg.sync_once()
    assert dump(pg.engine) == dump(lite.engine)
    check_against_chain(pg.engine, world.client)


def test_a_reorganisation_is_rolled_back_on_postgresql_too(world, tmp_path, empty_postgres) -> None:
    activity(world)
    pg = new_indexer(world, empty_postgres)
    pg.sync_once()
    c = world.client
    data = c.abi.encode_call("retire", (world.op(), world.batch_id, 3, 0, b"\x51" * 32, b"\x52" * 32))
    c.rpc.call(
        "anvil_reorg",
        3,
        [[{"from": world.cast.holder.address, "to": c.address, "data": "0x" + data.hex(), "gas": hex(300_000)}, 0]],
    )
    pg.sync_once()
    check_equals_a_fresh_index(world, pg.engine, tmp_path)


def test_a_second_writer_is_refused_on_postgresql(empty_postgres) -> None:
    with WriterLock(make_engine(empty_postgres)), pytest.raises(IndexerLockedError):
        WriterLock(make_engine(empty_postgres)).acquire()


def test_the_migrations_build_the_same_schema_as_the_models(tmp_path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from indexer.db import create_schema

    engine = make_engine(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    create_schema(engine)
    mirror = {t.name for t in mirror_tables()}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    # the certificate service's tables have their own migrations (tests/api/test_schema.py)
    assert [d for d in diff if _table_of(d) in mirror] == []


def _table_of(diff: object) -> str | None:
    item = diff[-1] if isinstance(diff, tuple) else diff[0][-1]  # type: ignore[index]  # alembic's diffs are untyped
    table = getattr(item, "table", item)
    return getattr(table, "name", None)


def test_the_writer_lock_is_released_for_the_next_writer_of_the_same_process(empty_postgres) -> None:
    engine = make_engine(empty_postgres)
    with WriterLock(engine):
        pass
    with WriterLock(engine):  # the pooled connection that held it must have unlocked
        pass
