"""Helpers of the points log tests: credits posted through the ledger's one write path, and the
anchor contract of the test registry."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, text

from accounts.ledger import Posting, post
from chain.client import RegistryClient
from chain.registry import open_contract
from tests.conftest import World

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, an illustrative posting time
TEN_YEARS = 10 * 365 * 86_400


def credit(engine: Engine, n: int, *, start: int = 0, points: int = 100, now: int = NOW) -> None:
    """`n` credits (record ids r<start>.. r<start+n-1>), each two entries: source -p, person +p."""
    with engine.begin() as conn:
        for i in range(start, start + n):
            post(
                conn,
                f"credit:r{i}",
                "credit",
                f"r{i}",
                [Posting("source:metro", -points), Posting(f"person:acc_{i % 7:026d}", points, now + TEN_YEARS)],
                now,
            )


def entry(engine: Engine, entry_id: int) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM points_entries WHERE id = :i"), {"i": entry_id}).one()
    return dict(row._mapping)


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def anchor_client(world: World, signer: LocalAccount | None = None) -> RegistryClient:
    """The PointsLogAnchor contract of the test registry (tests/conftest.py `world`), signed by
    the cast's anchorer unless told otherwise."""
    registry = world.registry
    return open_contract(
        world.client.rpc,
        registry.deployment,
        contract="PointsLogAnchor",
        build=registry.build,
        signer=signer or world.cast.anchorer,
    )
