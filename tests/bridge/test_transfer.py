"""A normal transfer between two registries, and the refusals that abort an export."""

from __future__ import annotations

from bridge.origin import origin_key, reason_hash
from chain.opids import random_op_id
from chain.types import ExportStatus
from tests.bridge.conftest import DESTINATION_NAME, OTHER_METHODOLOGY, OTHER_PROJECT, SOURCE_NAME, Pair
from tests.conftest import HOLDER_START, ISSUED, METHODOLOGY


def test_an_export_is_imported_once_and_confirmed(pair: Pair) -> None:
    src, dst, cast = pair.source.client, pair.destination.client, pair.source.cast
    export_id = pair.export(7_000)
    # frozen, not yet gone: the holder's 20,000 kg hold 7,000 frozen, 13,000 free
    assert src.locked_of(cast.holder.address, 1) == (0, 7_000)

    report = pair.relay().step()

    assert (report.seen, report.imported, report.confirmed, report.aborted) == (1, 1, 1, 0)
    key = origin_key(src.chain_id, src.address, export_id)
    imported = int(dst.view("importedBatch", key))
    assert imported == 2  # the destination's own batch is 1; the import is a new batch
    # source: 100,000 issued = 93,000 circulating + 0 retired + 7,000 cancelled (reason Exported)
    s = src.supply(1)
    assert (s.issued, s.circulating, s.retired, s.cancelled) == (ISSUED, 93_000, 0, 7_000)
    assert src.balance_of(cast.holder.address, 1) == HOLDER_START - 7_000 == 13_000
    assert src.locked_of(cast.holder.address, 1) == (0, 0)
    # destination: a batch of 7,000 kg to the named account, under the origin key
    d = dst.supply(imported)
    assert (d.issued, d.circulating) == (7_000, 7_000)
    assert dst.balance_of(cast.buyer.address, imported) == 7_000
    batch = dst.batch(imported)
    assert batch.origin_key == key and batch.project_id == src.batch(1).project_id
    # the confirmation names the import's transaction
    export = src.export_of(export_id)
    assert export.status == ExportStatus.CONFIRMED
    relay = pair.relay()
    [confirmed] = relay.source.events("ExportConfirmed", 0, relay.source.head())
    [batch_imported] = relay.destination.events("BatchImported", 0, relay.destination.head())
    assert bytes(confirmed.args["destinationReference"]) == bytes.fromhex(batch_imported.tx_hash[2:])
    assert batch_imported.args["credit"]["originRegistry"].rstrip(b"\0").decode() == SOURCE_NAME

    # a second pass finds nothing left to do
    again = pair.relay().step()
    assert (again.seen, again.imported, again.confirmed) == (0, 0, 0)


def test_an_unrecognised_methodology_aborts_and_releases(pair: Pair) -> None:
    src, dst, cast = pair.source.client, pair.destination.client, pair.source.cast
    export_id = pair.export(5_000, holder=cast.owner.address, batch=pair.other_batch)
    assert src.free_balance_of(cast.owner.address, pair.other_batch) == 45_000

    # the destination's record (its MethodologyRecognitions contract) holds SCFM-001-V01 only
    assert not pair.recognitions.is_recognised(SOURCE_NAME, OTHER_METHODOLOGY)
    report = pair.relay().step()

    assert (report.seen, report.imported, report.confirmed, report.aborted) == (1, 0, 0, 1)
    why = report.refusals[export_id]
    assert why.startswith("MethodologyNotRecognised") and OTHER_METHODOLOGY in why
    assert src.export_of(export_id).status == ExportStatus.ABORTED
    assert src.free_balance_of(cast.owner.address, pair.other_batch) == 50_000  # released
    assert src.supply(pair.other_batch).cancelled == 0
    key = origin_key(src.chain_id, src.address, export_id)
    assert int(dst.view("importedBatch", key)) == 0
    relay = pair.relay()
    [aborted] = relay.source.events("ExportAborted", 0, relay.source.head())
    assert bytes(aborted.args["reasonHash"]) == reason_hash(why)


def test_an_import_the_destination_reverts_aborts_the_export(pair: Pair) -> None:
    # recognised, but the destination never registered the project (no 项目互认): importCredits reverts
    src, cast = pair.source.client, pair.source.cast
    export_id = pair.export(5_000, holder=cast.owner.address, batch=pair.other_batch)

    pair.recognitions.recognise(SOURCE_NAME, OTHER_METHODOLOGY, b"\x07" * 32)
    report = pair.relay().step()

    assert report.aborted == 1 and report.imported == 0
    assert report.refusals[export_id].startswith("RegistryUnknownProject")
    assert pair.destination.client.project(OTHER_PROJECT).owner == "0x" + "00" * 20  # never registered there
    assert src.export_of(export_id).status == ExportStatus.ABORTED
    assert src.free_balance_of(cast.owner.address, pair.other_batch) == 50_000


def test_an_account_that_is_not_an_address_aborts(pair: Pair) -> None:
    src, cast = pair.source.client, pair.source.cast
    export_id = random_op_id()
    src.request_export(export_id, cast.holder.address, 1, 1_000, DESTINATION_NAME, b"\x01" * 32)

    report = pair.relay().step()

    assert report.aborted == 1
    assert report.refusals[export_id].startswith("DestinationAccountNotAnAddress")
    assert src.free_balance_of(cast.holder.address, 1) == HOLDER_START


def test_a_configured_list_refuses_like_the_contract(pair: Pair) -> None:
    cast = pair.source.cast
    recognised = pair.export(1_000)
    refused = pair.export(1_000, holder=cast.owner.address, batch=pair.other_batch)
    report = pair.relay(recognised=METHODOLOGY).step()
    assert (report.confirmed, report.aborted) == (1, 1)
    assert recognised not in report.refusals and report.refusals[refused].startswith("MethodologyNotRecognised")


def test_a_withdrawn_recognition_aborts_what_is_not_yet_imported(pair: Pair) -> None:
    export_id = pair.export(1_000)
    pair.recognitions.withdraw(SOURCE_NAME, METHODOLOGY, b"\x08" * 32)
    report = pair.relay().step()
    assert report.aborted == 1 and report.refusals[export_id].startswith("MethodologyNotRecognised")


def test_a_paused_destination_makes_the_export_wait_not_abort(pair: Pair) -> None:
    dst, cast = pair.destination.client, pair.destination.cast
    export_id = pair.export(1_000)
    dst.pause(sender=cast.pauser)
    paused = pair.relay().step()
    assert (paused.imported, paused.aborted, paused.confirmed) == (0, 0, 0)
    assert pair.source.client.export_of(export_id).status == ExportStatus.PENDING
    dst.unpause(sender=cast.admin)
    resumed = pair.relay().step()
    assert (resumed.imported, resumed.confirmed) == (1, 1)


def test_an_account_the_destination_does_not_know_aborts(pair: Pair) -> None:
    src, cast = pair.source.client, pair.source.cast
    export_id = pair.export(2_000, to=cast.stranger.address)  # no participant of the destination
    report = pair.relay().step()
    assert (report.imported, report.aborted) == (0, 1)
    assert report.refusals[export_id].startswith("RegistryUnknownParticipant(account=")
    assert src.free_balance_of(cast.holder.address, 1) == HOLDER_START
