"""Databases for the land tests: a fresh SQLite file, and a new PostgreSQL database (with PostGIS,
which .ci/postgres-up puts in template1) dropped at the end, so no other test's tables interfere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from certificates.db import create_schema
from indexer.db import make_engine
from tests.pgdb import scratch_engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'land.sqlite'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    with scratch_engine(postgres_url, "ledger_land") as engine:
        yield engine
