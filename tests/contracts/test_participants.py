"""Every participant status against every movement, and the reserve account."""

from __future__ import annotations

import pytest

from chain.errors import RegistryRevertError
from chain.types import Movement, ParticipantStatus, Scenario
from tests.conftest import HASH, World

STATUSES = [
    ParticipantStatus.ACTIVE,
    ParticipantStatus.RESTRICTED,
    ParticipantStatus.SUSPENDED,
    ParticipantStatus.REVOKED,
]
# movement -> statuses under which the holder may make it
ALLOWED = {
    "send": {ParticipantStatus.ACTIVE},
    "receive": {ParticipantStatus.ACTIVE},
    "retire": {ParticipantStatus.ACTIVE, ParticipantStatus.RESTRICTED},
    "pledge": {ParticipantStatus.ACTIVE},
    "export": {ParticipantStatus.ACTIVE},
}
MOVEMENT_OF = {
    "send": Movement.SEND,
    "receive": Movement.RECEIVE,
    "retire": Movement.RETIRE,
    "pledge": Movement.PLEDGE,
    "export": Movement.EXPORT,
}


def attempt(world: World, movement: str) -> None:
    c, cast, b = world.client, world.cast, world.batch_id
    if movement == "send":
        c.transfer(cast.holder.address, cast.buyer.address, b, 1, sender=cast.holder)
    elif movement == "receive":
        c.transfer(cast.owner.address, cast.holder.address, b, 1, sender=cast.owner)
    elif movement == "retire":
        c.retire(world.op(), b, 1, Scenario.VOLUNTARY, HASH, HASH, sender=cast.holder)
    elif movement == "pledge":
        c.pledge(world.op(), b, 1, cast.pledgee.address, HASH, sender=cast.holder)
    elif movement == "export":
        c.request_export(world.op(), cast.holder.address, b, 1, "CQ", HASH)


@pytest.mark.parametrize("status", STATUSES, ids=lambda s: s.name.lower())
@pytest.mark.parametrize("movement", sorted(ALLOWED))
def test_status_decides_each_movement(world: World, status: ParticipantStatus, movement: str) -> None:
    if status != ParticipantStatus.ACTIVE:
        world.client.set_participant_status(world.op(), world.cast.holder.address, status, HASH)
    if status in ALLOWED[movement]:
        attempt(world, movement)
    else:
        with pytest.raises(RegistryRevertError) as refused:
            attempt(world, movement)
        assert refused.value.name == "RegistryParticipantNotAllowed"
        assert refused.value.args_by_name == {
            "account": world.cast.holder.address,
            "status": status.name,
            "movement": MOVEMENT_OF[movement].name,
        }


def test_only_registered_participants_can_hold_units(world: World) -> None:
    with pytest.raises(RegistryRevertError, match="RegistryUnknownParticipant"):
        world.client.transfer(
            world.cast.holder.address, world.cast.stranger.address, world.batch_id, 1, sender=world.cast.holder
        )


def test_revoked_is_final(world: World) -> None:
    c, holder = world.client, world.cast.holder.address
    c.set_participant_status(world.op(), holder, ParticipantStatus.REVOKED, HASH)
    with pytest.raises(RegistryRevertError, match="RegistryInvalidParticipantTransition"):
        c.set_participant_status(world.op(), holder, ParticipantStatus.ACTIVE, HASH)


def test_a_suspended_participant_is_reinstated(world: World) -> None:
    c, holder = world.client, world.cast.holder.address
    c.set_participant_status(world.op(), holder, ParticipantStatus.SUSPENDED, HASH)
    c.set_participant_status(world.op(), holder, ParticipantStatus.ACTIVE, HASH)
    attempt(world, "send")
    assert c.participant(holder).status == ParticipantStatus.ACTIVE


def test_the_reserve_account_cannot_send_retire_pledge_or_export(world: World) -> None:
    c = world.client
    reserve = c.reserve_account()
    assert c.balance_of(reserve, world.batch_id) > 0
    with pytest.raises(RegistryRevertError, match="RegistryReserveLocked"):
        c.request_export(world.op(), reserve, world.batch_id, 1, "CQ", HASH)
    # nobody holds the reserve's key: a transfer "from" it by anyone else is refused as well
    for fn, args in [
        ("safeTransferFrom", (reserve, world.cast.holder.address, world.batch_id, 1, b"")),
        ("transferWithReference", (world.op(), reserve, world.cast.holder.address, world.batch_id, 1, HASH)),
        ("retireFor", (world.op(), reserve, world.batch_id, 1, 0, HASH, HASH)),
    ]:
        sim = c.simulate(fn, args, sender=world.cast.platform)
        assert not sim.ok and sim.error is not None
        assert sim.error.name in {
            "RegistryReserveLocked",
            "RegistryNotAuthorisedOperator",
            "ERC1155MissingApprovalForAll",
        }
    with pytest.raises(RegistryRevertError, match="RegistryReserveLocked"):
        c.set_participant_status(world.op(), reserve, ParticipantStatus.SUSPENDED, HASH)


def test_a_suspended_pledgor_cannot_block_enforcement(world: World) -> None:
    c, cast = world.client, world.cast
    pledge_id = world.op()
    c.pledge(pledge_id, world.batch_id, 100, cast.pledgee.address, HASH, sender=cast.holder)
    c.set_participant_status(world.op(), cast.holder.address, ParticipantStatus.SUSPENDED, HASH)
    c.enforce_pledge(world.op(), pledge_id, sender=cast.pledgee)
    assert c.balance_of(cast.pledgee.address, world.batch_id) == 100
