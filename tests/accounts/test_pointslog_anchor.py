"""The points log anchored on a real anvil (PointsLogAnchor beside the test registry): the
certificate log's policy, refusal of a log that does not extend the anchored one, statement proofs
checked against the root on chain, and the tamper check catching a rewritten ledger even when the
log was rebuilt to match it, from `pointslog.check` and from `ledger audit`'s hook."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, text

from accounts import pointslog as pl
from audit.points_log import audit_points_log
from certificates.anchoring import AnchorPolicy, AnchorRefusedError
from chain.client import RegistryClient
from chain.errors import RegistryRevertError
from chain.registry import open_contract
from tests.accounts.pointslog_helpers import NOW, anchor_client, count, credit, entry
from tests.conftest import World

POLICY = AnchorPolicy(every=16, interval=60.0)  # the certificate log's default policy


@pytest.fixture
def anchors(world: World) -> RegistryClient:
    return anchor_client(world)


def appended_at(engine: Engine, idx: int) -> int:
    return count(engine, f"SELECT appended_at FROM points_log_entries WHERE idx = {idx}")


def test_anchoring_follows_the_certificate_logs_policy(engine: Engine, anchors: RegistryClient) -> None:
    """every=16: 14 entries wait until the oldest is 60 s old; 16 entries are due at once."""
    credit(engine, 7)  # 14 entries
    pl.append_pending(engine)
    first = appended_at(engine, 0)
    assert not pl.anchor_due(engine, 0, POLICY, now=first + 59)
    assert pl.anchor(anchors, engine, POLICY, now=first + 59) is None
    assert pl.anchor_due(engine, 0, POLICY, now=first + 60)  # the time half: 60 s after the oldest
    credit(engine, 1, start=7)  # 16 entries
    pl.append_pending(engine)
    assert pl.anchor_due(engine, 0, POLICY, now=first)  # the count half: 16 - 0 >= 16
    result = pl.anchor(anchors, engine, POLICY, now=first)
    assert result is not None
    event = result.event("PointsLogRootAnchored")
    root = pl.points_log(engine).root(16)
    assert (event.args["treeSize"], event.args["root"]) == (16, root)
    assert pl.chain_latest(anchors) == (16, root)
    with engine.connect() as conn:
        assert pl.latest_anchor(conn) == (16, root.hex(), result.tx_hash)
    assert pl.anchor(anchors, engine, POLICY, force=True) is None  # nothing new: nothing sent
    assert not pl.anchor_due(engine, 16, POLICY, now=first + 3600)


def test_statement_proofs_verify_against_the_root_on_chain(engine: Engine, anchors: RegistryClient) -> None:
    credit(engine, 10)  # ids 1..20
    pl.append_pending(engine)
    pl.anchor(anchors, engine, POLICY, force=True)
    credit(engine, 1, start=10)  # ids 21, 22: after the anchor
    pl.append_pending(engine)
    got = pl.proofs(engine, range(1, 23))
    on_chain = bytes(anchors.view("anchoredRoot", 20))
    for i in range(1, 21):
        assert got[i].anchored and got[i].tree_size == 20
        assert pl.verify_entry(entry(engine, i), got[i], on_chain)
    assert (got[21].anchored, got[21].note) == (False, pl.NOT_ANCHORED)
    assert not pl.verify_entry(entry(engine, 21), got[21], on_chain)  # it proves to the current root only
    assert pl.verify_entry(entry(engine, 21), got[21], got[21].root)


def test_a_log_that_does_not_extend_the_anchored_one_is_refused(
    engine: Engine, pg_engine: Engine, anchors: RegistryClient
) -> None:
    credit(engine, 8)
    pl.append_pending(engine)
    pl.anchor(anchors, engine, POLICY, force=True)  # 16 entries anchored
    credit(pg_engine, 4)  # another database: 8 entries
    pl.append_pending(pg_engine)
    with pytest.raises(AnchorRefusedError, match=r"anchored a log of 16 entries .* has fewer entries \(8 entries\)"):
        pl.anchor(anchors, pg_engine, POLICY, force=True)
    credit(pg_engine, 4, start=100)  # 16 entries, but other ones
    pl.append_pending(pg_engine)
    with pytest.raises(AnchorRefusedError, match="a different root at that size"):
        pl.anchor(anchors, pg_engine, POLICY, force=True)
    assert pl.chain_latest(anchors)[0] == 16  # nothing anchored over it


def test_only_the_registrys_anchorer_may_anchor_the_points_log(
    world: World, engine: Engine, anchors: RegistryClient
) -> None:
    credit(engine, 1)
    pl.append_pending(engine)
    with pytest.raises(RegistryRevertError) as refused:
        pl.anchor(anchor_client(world, world.cast.stranger), engine, POLICY, force=True)
    assert refused.value.name == "AnchorNotAuthorised"
    assert pl.chain_latest(anchors) == (0, b"\x00" * 32)


def test_an_anchor_sent_but_not_recorded_is_recovered_from_the_chain(engine: Engine, anchors: RegistryClient) -> None:
    """A process killed between the transaction and its record: the next anchoring records it."""
    credit(engine, 2)
    pl.append_pending(engine)
    sent = anchors.transact("anchorRoot", (4, pl.points_log(engine).root(4)))
    assert pl.anchor(anchors, engine, POLICY) is None  # 0 new entries: nothing due
    with engine.connect() as conn:
        assert pl.latest_anchor(conn) == (4, pl.points_log(engine).root(4).hex(), sent.tx_hash)
    assert pl.check(engine, anchors, now=NOW) == []


def test_a_rewritten_entry_row_is_caught_and_so_is_a_log_rebuilt_to_match_it(
    world: World, engine: Engine, anchors: RegistryClient
) -> None:
    credit(engine, 8)  # 16 entries
    pl.append_pending(engine)
    pl.anchor(anchors, engine, POLICY, force=True)
    assert pl.check(engine, anchors, now=NOW) == []
    with engine.begin() as conn:  # the platform takes 60 points from a person and gives them to the source
        conn.execute(text("UPDATE points_entries SET amount = 40 WHERE id = 2"))
        conn.execute(text("UPDATE points_entries SET amount = -40 WHERE id = 1"))
    assert pl.check(engine, anchors, now=NOW) == [
        "points entry 1 (txn credit:r0) does not match its log leaf 0: the row was rewritten after it was logged",
        "points entry 2 (txn credit:r0) does not match its log leaf 1: the row was rewritten after it was logged",
    ]
    # ...so it rebuilds the log from the rewritten rows, and its own record of the anchor too
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM points_log_entries"))
        conn.execute(text("DELETE FROM points_log_nodes"))
        conn.execute(text("UPDATE points_entries SET log_idx = NULL"))
    pl.append_pending(engine)
    forged = pl.points_log(engine).root(16).hex()
    with engine.begin() as conn:
        conn.execute(text("UPDATE points_log_anchors SET root = :r"), {"r": forged})
    assert pl.check(engine, None, now=NOW) == []  # without the chain, the ledger and its log agree
    chained = pl.check(engine, anchors, now=NOW)
    on_chain = bytes(anchors.view("anchoredRoot", 16)).hex()
    assert chained == [
        f"points log anchor at size 16: this database records root {forged}, the chain {on_chain}",
        f"the points log's own root at size 16 is {forged}, the anchored one {on_chain}: the log was rewritten",
    ]
    found: list[tuple[str, str, str]] = []
    checked = audit_points_log(engine, world.client, world.registry.deployment, lambda *d: found.append(d))
    assert [d[2] for d in found] == chained and {d[0] for d in found} == {"points log"}
    assert checked["points log entries"] == 16 and checked["points log anchors"] == 1
    with pytest.raises(AnchorRefusedError, match="a different root at that size"):
        pl.anchor(anchors, engine, POLICY, force=True)  # and the forged log is never anchored over the real one


def test_an_anchoring_overdue_is_reported(engine: Engine, anchors: RegistryClient) -> None:
    credit(engine, 1)
    pl.append_pending(engine)
    first = appended_at(engine, 0)
    assert pl.check(engine, anchors, POLICY, now=first + 120) == []  # two intervals: the loop's slack
    assert pl.check(engine, anchors, POLICY, now=first + 121) == [
        "points log entries from 0 on are not anchored 121 s after they were appended "
        "(the policy anchors within 60 s): run the points log's anchoring"
    ]


def test_the_main_jobs_round_appends_then_anchors_when_due(world: World, engine: Engine) -> None:
    """`ledger up`'s anchoring loop calls tick with the operator's registry client."""
    d, build = world.registry.deployment, world.registry.build
    operator = open_contract(world.client.rpc, d, build=build, signer=world.cast.anchorer)
    credit(engine, 7)  # 14 entries: appended, not yet due (every=16)
    assert pl.tick(engine, operator, d, POLICY) is None
    assert pl.points_log(engine).size() == 14 and pl.chain_latest(anchor_client(world)) == (0, b"\x00" * 32)
    credit(engine, 1, start=7)  # 16: due
    result = pl.tick(engine, operator, d, POLICY)
    assert result is not None and pl.chain_latest(anchor_client(world))[0] == 16
    credit(engine, 1, start=8)
    assert pl.tick(engine, operator, replace(d, points_log=""), POLICY) is None  # an old record: appended only
    assert pl.points_log(engine).size() == 18 and pl.chain_latest(anchor_client(world))[0] == 16
