"""Exactly once: a repeated operation id is refused with its id, for every kind of operation."""

from __future__ import annotations

import pytest

from chain.errors import RegistryRevertError
from chain.opids import op_id_for, sequential_op_ids
from chain.types import ParticipantKind, Scenario
from tests.conftest import HASH, MONITORING, PROJECT, World


def test_a_repeated_operation_id_is_refused_and_named(world: World) -> None:
    c, cast = world.client, world.cast
    op = world.op()
    c.retire(op, world.batch_id, 3, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
    assert c.is_operation_applied(op)
    with pytest.raises(RegistryRevertError) as refused:
        c.retire(op, world.batch_id, 3, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
    assert refused.value.name == "RegistryOperationAlreadyApplied"
    assert refused.value.args_by_name == {"opId": op}
    assert c.supply(world.batch_id).retired == 3
    # the id space is shared: the same id cannot be reused by another operation either
    with pytest.raises(RegistryRevertError, match="RegistryOperationAlreadyApplied"):
        c.register_participant(op, cast.newcomer.address, ParticipantKind.ENTERPRISE)
    with pytest.raises(RegistryRevertError, match="RegistryOperationAlreadyApplied"):
        c.issue(
            op,
            project_id=PROJECT,
            vintage=2024,
            monitoring_start=MONITORING[0],
            monitoring_end=MONITORING[1],
            quantity=1,
            reserve_bps=0,
            verification_report_hash=HASH,
        )


def test_neighbouring_ids_share_a_bitmap_word(world: World) -> None:
    c = world.client
    ids = sequential_op_ids("test-run", 3)
    assert len({i >> 8 for i in ids}) == 1
    c.retire(ids[1], world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=world.cast.holder)
    assert [c.is_operation_applied(i) for i in ids] == [False, True, False]
    assert c.view("appliedOperationBits", ids[1] >> 8) == 1 << (ids[1] & 0xFF)


def test_deterministic_ids_differ_by_namespace_and_key() -> None:
    assert op_id_for("file.csv", "row 1") == op_id_for("file.csv", "row 1")
    assert len({op_id_for("a", "1"), op_id_for("a", "2"), op_id_for("b", "1")}) == 3
    assert sequential_op_ids("a", 2) != sequential_op_ids("b", 2)
