"""Supply buckets, retirement, cancellation, export, import, pledges and pause."""

from __future__ import annotations

import pytest

from chain.errors import RegistryRevertError
from chain.types import CancellationReason, ExportStatus, PledgeStatus, Scenario
from tests.conftest import HASH, HOLDER_START, ISSUED, PROJECT, RESERVE_BPS, World

COMMITMENT = b"\x77" * 32


def reverts(name: str):
    return pytest.raises(RegistryRevertError, match=rf"^{name}\(")


def test_issuance_splits_owner_and_reserve_shares_and_assigns_serials(world: World) -> None:
    c, cast = world.client, world.cast
    reserve = c.reserve_account()
    assert c.balance_of(reserve, world.batch_id) == ISSUED * RESERVE_BPS // 10_000
    assert c.balance_of(cast.owner.address, world.batch_id) == ISSUED - ISSUED // 10 - HOLDER_START
    batch = c.batch(world.batch_id)
    assert (batch.first_serial, batch.issued, batch.project_id, batch.vintage) == (1, ISSUED, PROJECT, 2024)
    second = (
        world.client.issue(
            world.op(),
            project_id=PROJECT,
            vintage=2025,
            monitoring_start=1_735_689_600,
            monitoring_end=1_767_225_600,
            quantity=500,
            reserve_bps=0,
            verification_report_hash=HASH,
        )
        .event("BatchIssued")
        .args
    )
    assert second["firstSerial"] == ISSUED + 1 and second["batchSeq"] == 2 and second["reserveAmount"] == 0


def test_retirement_burns_units_and_moves_them_to_the_retired_bucket(world: World) -> None:
    c, cast = world.client, world.cast
    op = world.op()
    result = c.retire(op, world.batch_id, 1_234, Scenario.LARGE_EVENT, COMMITMENT, HASH, sender=cast.holder)
    event = result.event("CreditsRetired").args
    assert event == {
        "batchId": world.batch_id,
        "holder": cast.holder.address,
        "opId": op,
        "amount": 1_234,
        "scenario": int(Scenario.LARGE_EVENT),
        "beneficiaryCommitment": COMMITMENT,
        "claimHash": HASH,
        "operator": cast.holder.address,
    }
    supply = c.supply(world.batch_id)
    assert (supply.issued, supply.retired, supply.cancelled, supply.circulating) == (ISSUED, 1_234, 0, ISSUED - 1_234)
    assert c.balance_of(cast.holder.address, world.batch_id) == HOLDER_START - 1_234


def test_cancellation_is_a_separate_bucket_and_can_draw_on_the_reserve(world: World) -> None:
    c = world.client
    reserve = c.reserve_account()
    c.cancel(world.op(), reserve, world.batch_id, 700, CancellationReason.REVERSAL, HASH)
    c.cancel(world.op(), world.cast.holder.address, world.batch_id, 300, CancellationReason.FRAUD, HASH)
    supply = c.supply(world.batch_id)
    assert (supply.cancelled, supply.retired, supply.circulating) == (1_000, 0, ISSUED - 1_000)
    assert supply.issued == supply.circulating + supply.retired + supply.cancelled


def test_cancelling_with_the_export_reason_outside_the_export_flow_is_refused(world: World) -> None:
    with reverts("RegistryInvalidCancellationReason"):
        world.client.cancel(world.op(), world.cast.holder.address, world.batch_id, 1, CancellationReason.EXPORTED, HASH)


def test_export_freezes_then_confirm_cancels_the_frozen_units(world: World) -> None:
    c, holder = world.client, world.cast.holder.address
    export_id = world.op()
    c.request_export(export_id, holder, world.batch_id, 5_000, "CQ-TANHUITONG", HASH)
    assert c.locked_of(holder, world.batch_id) == (0, 5_000)
    assert c.free_balance_of(holder, world.batch_id) == HOLDER_START - 5_000
    with reverts("RegistryInsufficientFreeBalance"):
        c.transfer(holder, world.cast.buyer.address, world.batch_id, HOLDER_START - 4_999, sender=world.cast.holder)
    result = c.confirm_export(world.op(), export_id, b"\x99" * 32)
    cancelled = result.event("CreditsCancelled").args
    assert cancelled["reason"] == int(CancellationReason.EXPORTED) and cancelled["exportId"] == export_id
    assert c.export_of(export_id).status == ExportStatus.CONFIRMED
    assert c.locked_of(holder, world.batch_id) == (0, 0)
    assert c.balance_of(holder, world.batch_id) == HOLDER_START - 5_000
    assert c.supply(world.batch_id).cancelled == 5_000
    with reverts("RegistryExportNotPending"):
        c.abort_export(world.op(), export_id)


def test_an_aborted_export_frees_the_units_again(world: World) -> None:
    c, holder = world.client, world.cast.holder.address
    export_id = world.op()
    c.request_export(export_id, holder, world.batch_id, 5_000, "CQ-TANHUITONG", HASH)
    c.abort_export(world.op(), export_id, HASH)
    assert c.locked_of(holder, world.batch_id) == (0, 0)
    assert c.export_of(export_id).status == ExportStatus.ABORTED
    assert c.supply(world.batch_id).cancelled == 0
    with reverts("RegistryExportNotPending"):
        c.confirm_export(world.op(), export_id, HASH)
    with reverts("RegistryUnknownExport"):
        c.confirm_export(world.op(), 12345, HASH)


def test_an_import_origin_is_usable_once(world: World) -> None:
    c = world.client
    origin = b"\x05" * 32
    kwargs = dict(
        origin_key=origin,
        origin_registry="CQ-TANHUITONG",
        project_id=PROJECT,
        to=world.cast.buyer.address,
        vintage=2023,
        quantity=800,
        evidence_hash=HASH,
    )
    batch_id = c.import_credits(world.op(), **kwargs).event("BatchImported").args["batchId"]
    assert c.view("importedBatch", origin) == batch_id
    assert c.balance_of(world.cast.buyer.address, batch_id) == 800
    assert c.supply(batch_id).issued == 800
    with pytest.raises(RegistryRevertError) as refused:
        c.import_credits(world.op(), **kwargs)
    assert refused.value.name == "RegistryOriginAlreadyImported"
    assert refused.value.args_by_name == {"originKey": origin, "batchId": batch_id}


def test_pledged_units_cannot_move_or_retire_until_released(world: World) -> None:
    c, cast = world.client, world.cast
    pledge_id = world.op()
    c.pledge(pledge_id, world.batch_id, 15_000, cast.pledgee.address, HASH, sender=cast.holder)
    assert c.locked_of(cast.holder.address, world.batch_id) == (15_000, 0)
    with reverts("RegistryInsufficientFreeBalance"):
        c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 5_001, sender=cast.holder)
    with reverts("RegistryInsufficientFreeBalance"):
        c.retire(world.op(), world.batch_id, 5_001, Scenario.VOLUNTARY, COMMITMENT, HASH, sender=cast.holder)
    c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 5_000, sender=cast.holder)
    with reverts("RegistryNotPledgee"):
        c.release_pledge(world.op(), pledge_id, sender=cast.holder)
    c.release_pledge(world.op(), pledge_id, sender=cast.pledgee)
    assert c.pledge_of(pledge_id).status == PledgeStatus.RELEASED
    c.retire(world.op(), world.batch_id, 15_000, Scenario.VOLUNTARY, COMMITMENT, HASH, sender=cast.holder)
    assert c.balance_of(cast.holder.address, world.batch_id) == 0


def test_an_enforced_pledge_moves_the_units_to_the_pledgee(world: World) -> None:
    c, cast = world.client, world.cast
    pledge_id = world.op()
    c.pledge(pledge_id, world.batch_id, 6_000, cast.pledgee.address, HASH, sender=cast.holder)
    c.enforce_pledge(world.op(), pledge_id, sender=cast.pledgee)
    assert c.balance_of(cast.pledgee.address, world.batch_id) == 6_000
    assert c.balance_of(cast.holder.address, world.batch_id) == HOLDER_START - 6_000
    assert c.locked_of(cast.holder.address, world.batch_id) == (0, 0)
    assert c.pledge_of(pledge_id).status == PledgeStatus.ENFORCED
    with reverts("RegistryPledgeNotActive"):
        c.release_pledge(world.op(), pledge_id, sender=cast.pledgee)


def test_only_a_pledgee_participant_can_take_a_pledge(world: World) -> None:
    with reverts("RegistryWrongParticipantKind"):
        world.client.pledge(world.op(), world.batch_id, 10, world.cast.buyer.address, HASH, sender=world.cast.holder)


def test_pause_stops_every_movement_and_only_the_admin_unpauses(world: World) -> None:
    c, cast = world.client, world.cast
    c.pause(sender=cast.pauser)
    assert c.paused()
    with reverts("RegistryPaused"):
        c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 1, sender=cast.holder)
    with reverts("RegistryPaused"):
        c.retire(world.op(), world.batch_id, 1, Scenario.PERSONAL, COMMITMENT, HASH, sender=cast.holder)
    with reverts("RegistryPaused"):
        c.pledge(world.op(), world.batch_id, 1, cast.pledgee.address, HASH, sender=cast.holder)
    with reverts("RegistryPaused"):
        c.issue(
            world.op(),
            project_id=PROJECT,
            vintage=2025,
            monitoring_start=1_735_689_600,
            monitoring_end=1_767_225_600,
            quantity=1,
            reserve_bps=0,
            verification_report_hash=HASH,
        )
    with reverts("AccessControlUnauthorizedAccount"):
        c.unpause(sender=cast.pauser)
    c.unpause(sender=cast.admin)
    c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 1, sender=cast.holder)


def test_a_platform_retires_for_a_custodial_holder_that_approved_it(world: World) -> None:
    c, cast = world.client, world.cast
    c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 50, sender=cast.holder)
    with reverts("RegistryNotAuthorisedOperator"):
        c.retire(
            world.op(),
            world.batch_id,
            5,
            Scenario.PERSONAL,
            COMMITMENT,
            HASH,
            holder=cast.buyer.address,
            sender=cast.platform,
        )
    c.set_approval_for_all(cast.platform.address, True, sender=cast.buyer)
    event = (
        c.retire(
            world.op(),
            world.batch_id,
            5,
            Scenario.PERSONAL,
            COMMITMENT,
            HASH,
            holder=cast.buyer.address,
            sender=cast.platform,
        )
        .event("CreditsRetired")
        .args
    )
    assert (event["holder"], event["operator"]) == (cast.buyer.address, cast.platform.address)
    # an approved operator that is not a platform participant may not retire for others
    c.set_approval_for_all(cast.holder.address, True, sender=cast.buyer)
    with reverts("RegistryWrongParticipantKind"):
        c.retire(
            world.op(),
            world.batch_id,
            5,
            Scenario.PERSONAL,
            COMMITMENT,
            HASH,
            holder=cast.buyer.address,
            sender=cast.holder,
        )


def test_a_transfer_with_reference_carries_the_trade_reference(world: World) -> None:
    c, cast = world.client, world.cast
    op = world.op()
    result = c.transfer_with_reference(
        op, cast.holder.address, cast.buyer.address, world.batch_id, 10, b"\x33" * 32, sender=cast.holder
    )
    event = result.event("CreditsTransferred").args
    assert (event["opId"], event["tradeReference"], event["amount"]) == (op, b"\x33" * 32, 10)
    assert result.event("TransferSingle").args["value"] == 10


def test_a_batch_transfer_listing_an_id_twice_cannot_move_locked_units(world: World) -> None:
    c, cast = world.client, world.cast
    c.pledge(world.op(), world.batch_id, 15_000, cast.pledgee.address, HASH, sender=cast.holder)
    with pytest.raises(RegistryRevertError) as refused:
        c.transfer_batch(
            cast.holder.address, cast.buyer.address, [world.batch_id] * 2, [5_000, 5_000], sender=cast.holder
        )
    assert refused.value.args_by_name == {
        "holder": cast.holder.address,
        "batchId": world.batch_id,
        "free": 5_000,
        "needed": 10_000,
    }
    c.transfer_batch(cast.holder.address, cast.buyer.address, [world.batch_id] * 2, [2_000, 3_000], sender=cast.holder)
    assert c.free_balance_of(cast.holder.address, world.batch_id) == 0


def test_nobody_can_send_units_into_the_reserve(world: World) -> None:
    with reverts("RegistryReserveLocked"):
        world.client.transfer(
            world.cast.holder.address, world.client.reserve_account(), world.batch_id, 1, sender=world.cast.holder
        )


def test_a_suspended_operator_cannot_move_a_holders_units(world: World) -> None:
    from chain.types import ParticipantStatus

    c, cast = world.client, world.cast
    c.set_approval_for_all(cast.platform.address, True, sender=cast.holder)
    c.transfer_with_reference(
        world.op(), cast.holder.address, cast.buyer.address, world.batch_id, 1, HASH, sender=cast.platform
    )
    c.set_participant_status(world.op(), cast.platform.address, ParticipantStatus.SUSPENDED, HASH)
    with reverts("RegistryParticipantNotAllowed"):
        c.transfer_with_reference(
            world.op(), cast.holder.address, cast.buyer.address, world.batch_id, 1, HASH, sender=cast.platform
        )
    with reverts("RegistryParticipantNotAllowed"):
        c.transfer(cast.holder.address, cast.buyer.address, world.batch_id, 1, sender=cast.platform)
