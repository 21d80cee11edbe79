"""API workers started together on a fresh PostgreSQL database each bring the schema up to date:
they take turns (an advisory lock) instead of racing to create the same tables."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from sqlalchemy import inspect

from indexer.db import make_engine

MIGRATE = (
    "import sys; from certificates.db import create_schema; from indexer.db import make_engine; "
    "create_schema(make_engine(sys.argv[1]))"
)


def test_workers_starting_together_on_a_fresh_database_all_migrate_it(fresh_postgres: Callable[[], str]) -> None:
    for _ in range(2):  # a race is a matter of timing: two fresh databases, four workers each
        url = fresh_postgres()
        workers = [
            subprocess.Popen([sys.executable, "-c", MIGRATE, url], stderr=subprocess.PIPE, text=True) for _ in range(4)
        ]
        failures = [err for w in workers if (err := w.communicate(timeout=120)[1]) and w.returncode != 0]
        assert failures == []
        engine = make_engine(url)
        assert {"certificates", "log_entries", "retirements", "lots"} <= set(inspect(engine).get_table_names())
        engine.dispose()
