"""Ground truth for `indexer/projections.py`: hand-written event sequences and the rows they must
give, written out literally. Pure (no node, no database).

Each test brings the state to a starting point, clears its change set, applies the events under
test and compares the whole change set (`State.take_changes`: every row written, None for every
row deleted) and the history rows appended with what the registry's rules say, so a logic error
the indexer and a fresh index would share still fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode as abi_encode

from chain.abi import ContractAbi, abi_type
from chain.artifacts import Build
from chain.types import ParticipantKind, ParticipantStatus, ProjectStatus
from indexer.decode import LogDecoder
from indexer.projections import Projector
from indexer.state import Key, Row, State
from tests.indexer import events as ev
from tests.indexer.events import ZERO, Args, Chain, Tx, addr

CHAIN_ID = 31337
OWNER, RESERVE, ALICE, BOB, PLEDGEE = addr(0xA1), addr(0xA0), addr(0xA2), addr(0xA3), addr(0xA5)
PROJECT, METHODOLOGY = "P-511802-0001", "SCFM-001-V01"
H42 = "0x" + "42" * 32  # ev.HASH as the mirror stores it


class Mirror:
    """A state, its projector, and a chain handing out blocks and transactions."""

    def __init__(self) -> None:
        self.state = State()
        self.projector = Projector(self.state, CHAIN_ID)
        self.chain = Chain()

    def tx(self, *events: Args, same_block: bool = False) -> Tx:
        tx = self.chain.tx(same_block=same_block)
        for event in events:
            self.projector.apply(tx.emit(event))
        return tx

    def changes(self) -> tuple[dict[tuple[str, Key], Row | None], dict[str, list[Row]]]:
        dirty, _, appended = self.state.take_changes()
        return dirty, dict(appended)

    def table(self, name: str) -> dict[Key, Row]:
        return self.state.tables[name]


def lot(
    batch: int,
    first: int,
    last: int,
    holder: str,
    acquired: int,
    state: str = "held",
    retirement_id: str | None = None,
    cancellation_id: str | None = None,
) -> Row:
    return {
        "batch_id": batch,
        "first_serial": first,
        "last_serial": last,
        "holder": holder,
        "state": state,
        "acquired": acquired,
        "retirement_id": retirement_id,
        "cancellation_id": cancellation_id,
    }


def move(tx: Tx, log_index: int, part: int, batch: int, first: int, last: int, frm: str, to: str, kind: str) -> Row:
    return {
        "block_number": tx.block,
        "log_index": log_index,
        "part": part,
        "batch_id": batch,
        "first_serial": first,
        "last_serial": last,
        "from_holder": frm,
        "to_holder": to,
        "kind": kind,
        "tx_hash": tx.hash,
    }


def balance(holder: str, batch: int, amount: int, pledged: int = 0, frozen: int = 0) -> Row:
    return {"holder": holder, "batch_id": batch, "amount": amount, "pledged": pledged, "frozen": frozen}


def project_row(**changes: Any) -> Row:
    row = {
        "id": PROJECT,
        "methodology_id": METHODOLOGY,
        "owner": OWNER,
        "county_code": 511802,
        "area_square_metres": 2_000_000,
        "crediting_start": 1,
        "crediting_end": 2,
        "documents_hash": H42,
        "status": "registered",
        "review_report_hash": H42,
        "batch_count": 0,
    }
    return {**row, **changes}


def batch_row(tx: Tx, **changes: Any) -> Row:
    """Batch 1 of `issued()`: 1000 kg, serials 1..1000, 100 kg of them to the reserve."""
    row = {
        "id": 1,
        "project_id": PROJECT,
        "first_serial": 1,
        "issued": 1000,
        "retired": 0,
        "cancelled": 0,
        "monitoring_start": 10,
        "monitoring_end": 20,
        "verification_report_hash": H42,
        "origin_key": None,
        "origin_registry": None,
        "block_number": tx.block,
        "tx_hash": tx.hash,
        "batch_seq": 1,
        "vintage": 2024,
        "reserve_amount": 100,
        "owner": OWNER,
        "op_id": "0x77",
    }
    return {**row, **changes}


def registered() -> Mirror:
    """A filed methodology and a registered project, no batch yet; the change set is empty."""
    m = Mirror()
    m.tx(ev.methodology_filed(METHODOLOGY, 1))
    m.tx(ev.project_submitted(PROJECT, 2, methodology=METHODOLOGY, owner=OWNER, parcels=[b"\x01" * 32]))
    m.tx(ev.project_reviewed(PROJECT, 3, True))
    m.changes()
    return m


def issue_batch_1(m: Mirror) -> Tx:
    return m.tx(
        ev.transfer_single(ZERO, OWNER, 1, 900),
        ev.transfer_single(ZERO, RESERVE, 1, 100),
        ev.batch_issued(1, PROJECT, 0x77, owner=OWNER, batch_seq=1, first_serial=1, quantity=1000, reserve_amount=100),
    )


def issued() -> tuple[Mirror, Tx]:
    """`registered()` and batch 1: serials 1..900 to the owner (acquired 0), 901..1000 to the reserve (1)."""
    m = registered()
    tx = issue_batch_1(m)
    m.changes()
    return m, tx


def alice_holds_two_lots() -> tuple[Mirror, Tx]:
    """`issued()`, then Alice receives 1..300 (acquired 2) and 301..500 (acquired 3) in two transfers."""
    m, issue = issued()
    m.tx(ev.transfer_single(OWNER, ALICE, 1, 300))
    m.tx(ev.transfer_single(OWNER, ALICE, 1, 200))
    assert m.table("lots") == {
        (1, 1): lot(1, 1, 300, ALICE, 2),
        (1, 301): lot(1, 301, 500, ALICE, 3),
        (1, 501): lot(1, 501, 900, OWNER, 0),
        (1, 901): lot(1, 901, 1000, RESERVE, 1),
    }
    m.changes()
    return m, issue


# ---------------------------------------------------------------- the builders have the decoder's shapes


def _abi_value(item: dict[str, Any], value: Any) -> Any:
    if item["type"] == "tuple":
        return tuple(_abi_value(c, value[c["name"]]) for c in item["components"])
    return value


def _raw_log(abi: ContractAbi, event: Args) -> dict[str, Any]:
    """The log a node would return for `event`, encoded from the contract's ABI."""
    name, args = event
    item = next(i for i in abi.abi if i["type"] == "event" and i["name"] == name)
    topics = ["0x" + abi.event_topics[name].hex()]
    types, values = [], []
    for i in item["inputs"]:
        if i["indexed"]:
            topics.append("0x" + abi_encode([abi_type(i)], [_abi_value(i, args[i["name"]])]).hex())
        else:
            types.append(abi_type(i))
            values.append(_abi_value(i, args[i["name"]]))
    return {
        "address": ev.REGISTRY,
        "topics": topics,
        "data": "0x" + abi_encode(types, values).hex(),
        "blockNumber": "0x5",
        "blockHash": "0x" + "01" * 32,
        "transactionHash": "0x" + "02" * 32,
        "logIndex": "0x3",
    }


EVERY_BUILDER: list[Args] = [
    ev.transfer_single(ZERO, ALICE, 1, 5),
    ev.transfer_batch(ALICE, BOB, [1, 2, 1], [3, 4, 5]),
    ev.methodology_filed(METHODOLOGY, 1, ecosystem=2, version=3),
    ev.methodology_status_changed(METHODOLOGY, 2, 2, "SCFM-001-V02"),
    ev.participant_registered(ALICE, 3, 4),
    ev.participant_status_changed(ALICE, 4, 1, 3),
    ev.project_submitted(PROJECT, 5, methodology=METHODOLOGY, owner=OWNER, parcels=[b"\x01" * 32, b"\x02" * 32]),
    ev.project_reviewed(PROJECT, 6, False),
    ev.project_status_changed(PROJECT, 7, 2, 4),
    ev.batch_issued(1, PROJECT, 8, owner=OWNER, batch_seq=1, first_serial=1, quantity=10, reserve_amount=1),
    ev.batch_imported(
        2, 9, origin_key=b"\x0a" * 32, origin_registry="CQ", project=PROJECT, to=BOB, first_serial=11, quantity=3
    ),
    ev.credits_transferred(1, ALICE, 10, BOB, 7),
    ev.credits_retired(1, ALICE, 11, 7, operator=BOB),
    ev.credits_cancelled(1, ALICE, 12, 7, reason=4, export_id=13),
    ev.export_requested(13, ALICE, 1, 7),
    ev.export_confirmed(13, 14),
    ev.export_aborted(13, 15),
    ev.credits_pledged(16, ALICE, PLEDGEE, 1, 7),
    ev.pledge_released(16, 17),
    ev.pledge_enforced(16, 18),
    ev.log_root_anchored(9, b"\x88" * 32, 1_700_000_000),
]


def test_every_builder_gives_what_the_decoders_give_for_the_encoded_log(build: Build) -> None:
    abi = ContractAbi(build["CarbonRegistry"].abi)
    decoder = LogDecoder(abi)
    for name, args in EVERY_BUILDER:
        log = _raw_log(abi, (name, args))
        decoded = abi.decode_log(log, checksum=False)
        assert decoded is not None and decoded.name == name
        assert decoded.args == args, name
        spec = decoder.spec(log["topics"][0])
        assert spec is not None and decoder.args(spec, log) == args, name
    # ImportOrigin is the import gate's event, not the registry's: tests/bridge/test_origin_mirror.py
    handled = (set(Projector(State(), CHAIN_ID).handlers) | {"CreditsTransferred"}) - {"ImportOrigin"}
    assert {name for name, _ in EVERY_BUILDER} == handled, "a builder for every event the projector reads"


# ---------------------------------------------------------------- catalog


def test_methodology_filed_then_superseded_or_withdrawn() -> None:
    m = Mirror()
    m.tx(ev.methodology_filed(METHODOLOGY, 1, ecosystem=1, version=2, document_hash=b"\x66" * 32))
    m.tx(ev.methodology_filed("SCFM-002-V01", 2))
    filed = {
        "id": METHODOLOGY,
        "ecosystem": "grassland",
        "version": 2,
        "document_hash": "0x" + "66" * 32,
        "status": "filed",
        "successor_id": None,
    }
    other = {
        "id": "SCFM-002-V01",
        "ecosystem": "forest",
        "version": 1,
        "document_hash": H42,
        "status": "filed",
        "successor_id": None,
    }
    assert m.changes() == ({("methodologies", (METHODOLOGY,)): filed, ("methodologies", ("SCFM-002-V01",)): other}, {})
    m.tx(ev.methodology_status_changed(METHODOLOGY, 3, 2, "SCFM-001-V02"))
    m.tx(ev.methodology_status_changed("SCFM-002-V01", 4, 3))
    assert m.changes() == (
        {
            ("methodologies", (METHODOLOGY,)): {**filed, "status": "superseded", "successor_id": "SCFM-001-V02"},
            ("methodologies", ("SCFM-002-V01",)): {**other, "status": "withdrawn", "successor_id": None},
        },
        {},
    )


def test_participant_registered_then_its_status_changes_with_history() -> None:
    m = Mirror()
    m.tx(ev.participant_registered(ALICE, 1, ParticipantKind.ENTERPRISE))
    registered_row = {"address": ALICE, "kind": "enterprise", "status": "active", "reference_hash": H42}
    assert m.changes() == ({("participants", (ALICE,)): registered_row}, {})
    suspend = m.tx(
        ev.participant_status_changed(ALICE, 2, ParticipantStatus.ACTIVE, ParticipantStatus.SUSPENDED, b"\x55" * 32)
    )
    restore = m.tx(
        ev.participant_status_changed(ALICE, 3, ParticipantStatus.SUSPENDED, ParticipantStatus.RESTRICTED),
        same_block=True,
    )
    assert m.changes() == (
        {("participants", (ALICE,)): {**registered_row, "status": "restricted"}},
        {
            "participant_status_changes": [
                {
                    "block_number": suspend.block,
                    "log_index": 0,
                    "address": ALICE,
                    "previous": "active",
                    "status": "suspended",
                    "reason_hash": "0x" + "55" * 32,
                    "tx_hash": suspend.hash,
                },
                {
                    "block_number": suspend.block,
                    "log_index": 1,
                    "address": ALICE,
                    "previous": "suspended",
                    "status": "restricted",
                    "reason_hash": H42,
                    "tx_hash": restore.hash,
                },
            ]
        },
    )
    m.tx(ev.participant_status_changed(ALICE, 4, ParticipantStatus.RESTRICTED, ParticipantStatus.REVOKED))
    assert m.table("participants") == {(ALICE,): {**registered_row, "status": "revoked"}}


def test_project_submitted_with_parcels_reviewed_and_changing_status() -> None:
    m = Mirror()
    m.tx(ev.project_submitted(PROJECT, 1, methodology=METHODOLOGY, owner=OWNER, parcels=[b"\x01" * 32, b"\x02" * 32]))
    m.tx(
        ev.project_submitted(
            "P-2",
            2,
            methodology=METHODOLOGY,
            owner=ALICE,
            parcels=[b"\x03" * 32],
            county_code=7,
            area=5,
            crediting=(3, 4),
            documents_hash=b"\x09" * 32,
        )
    )
    submitted = project_row(status="submitted", review_report_hash=None)
    other = {
        "id": "P-2",
        "methodology_id": METHODOLOGY,
        "owner": ALICE,
        "county_code": 7,
        "area_square_metres": 5,
        "crediting_start": 3,
        "crediting_end": 4,
        "documents_hash": "0x" + "09" * 32,
        "status": "submitted",
        "review_report_hash": None,
        "batch_count": 0,
    }
    assert m.changes() == (
        {
            ("projects", (PROJECT,)): submitted,
            ("projects", ("P-2",)): other,
            ("parcels", ("0x" + "01" * 32,)): {"parcel": "0x" + "01" * 32, "project_id": PROJECT},
            ("parcels", ("0x" + "02" * 32,)): {"parcel": "0x" + "02" * 32, "project_id": PROJECT},
            ("parcels", ("0x" + "03" * 32,)): {"parcel": "0x" + "03" * 32, "project_id": "P-2"},
        },
        {},
    )
    m.tx(ev.project_reviewed(PROJECT, 3, True, b"\x77" * 32))
    m.tx(ev.project_reviewed("P-2", 4, False))
    assert m.changes() == (
        {
            ("projects", (PROJECT,)): {**submitted, "status": "registered", "review_report_hash": "0x" + "77" * 32},
            ("projects", ("P-2",)): {**other, "status": "rejected", "review_report_hash": H42},
        },
        {},
    )
    m.tx(ev.project_status_changed(PROJECT, 5, ProjectStatus.REGISTERED, ProjectStatus.SUSPENDED))
    assert m.changes()[0] == {
        ("projects", (PROJECT,)): project_row(status="suspended", review_report_hash="0x" + "77" * 32)
    }
    m.tx(ev.project_status_changed(PROJECT, 6, ProjectStatus.SUSPENDED, ProjectStatus.REGISTERED))
    m.tx(ev.project_status_changed(PROJECT, 7, ProjectStatus.REGISTERED, ProjectStatus.CLOSED))
    assert m.changes()[0] == {
        ("projects", (PROJECT,)): project_row(status="closed", review_report_hash="0x" + "77" * 32)
    }


def test_a_log_root_anchored_is_a_history_row() -> None:
    m = Mirror()
    tx = m.tx(ev.log_root_anchored(7, b"\x88" * 32, 1_700_000_000))
    assert m.changes() == (
        {},
        {
            "anchored_roots": [
                {
                    "tree_size": 7,
                    "root": "0x" + "88" * 32,
                    "anchored_at": 1_700_000_000,
                    "block_number": tx.block,
                    "tx_hash": tx.hash,
                }
            ]
        },
    )


def test_events_without_a_projection_change_nothing() -> None:
    m, _ = issued()
    m.tx(
        ev.credits_transferred(1, OWNER, 5, ALICE, 10),
        ("RoleGranted", {"role": b"\0" * 32, "account": ALICE, "sender": OWNER}),
    )
    assert m.changes() == ({}, {})


# ---------------------------------------------------------------- issuance and import


def test_issuance_mints_owner_then_reserve_share_in_serial_order() -> None:
    m = registered()
    tx = issue_batch_1(m)
    assert m.changes() == (
        {
            ("batches", (1,)): batch_row(tx),
            ("balances", (OWNER, 1)): balance(OWNER, 1, 900),
            ("balances", (RESERVE, 1)): balance(RESERVE, 1, 100),
            ("lots", (1, 1)): lot(1, 1, 900, OWNER, 0),
            ("lots", (1, 901)): lot(1, 901, 1000, RESERVE, 1),
            ("projects", (PROJECT,)): project_row(batch_count=1),
        },
        {
            "lot_moves": [
                move(tx, 0, 0, 1, 1, 900, ZERO, OWNER, "issue"),
                move(tx, 1, 0, 1, 901, 1000, ZERO, RESERVE, "issue"),  # a part number per log index: 0 again
            ]
        },
    )
    # the project's second batch, all to the owner, serials going on from the first batch's
    second = m.tx(
        ev.transfer_single(ZERO, OWNER, 2, 50),
        ev.batch_issued(
            2,
            PROJECT,
            0x78,
            owner=OWNER,
            batch_seq=2,
            first_serial=1001,
            quantity=50,
            reserve_amount=0,
            reserve_bps=0,
            vintage=2025,
            monitoring=(21, 30),
            report_hash=b"\x07" * 32,
        ),
    )
    assert m.changes() == (
        {
            ("batches", (2,)): {
                "id": 2,
                "project_id": PROJECT,
                "first_serial": 1001,
                "issued": 50,
                "retired": 0,
                "cancelled": 0,
                "monitoring_start": 21,
                "monitoring_end": 30,
                "verification_report_hash": "0x" + "07" * 32,
                "origin_key": None,
                "origin_registry": None,
                "block_number": second.block,
                "tx_hash": second.hash,
                "batch_seq": 2,
                "vintage": 2025,
                "reserve_amount": 0,
                "owner": OWNER,
                "op_id": "0x78",
            },
            ("balances", (OWNER, 2)): balance(OWNER, 2, 50),
            ("lots", (2, 1001)): lot(2, 1001, 1050, OWNER, 2),
            ("projects", (PROJECT,)): project_row(batch_count=2),
        },
        {"lot_moves": [move(second, 0, 0, 2, 1001, 1050, ZERO, OWNER, "issue")]},
    )


def test_an_import_is_a_batch_without_sequence_or_reserve() -> None:
    m = registered()
    tx = m.tx(
        ev.transfer_single(ZERO, ALICE, 1, 333),
        ev.batch_imported(
            1,
            0x71,
            origin_key=b"\x0a" * 32,
            origin_registry="CQ-TANHUITONG",
            project=PROJECT,
            to=ALICE,
            first_serial=1,
            quantity=333,
        ),
    )
    assert m.changes() == (
        {
            ("batches", (1,)): {
                "id": 1,
                "project_id": PROJECT,
                "first_serial": 1,
                "issued": 333,
                "retired": 0,
                "cancelled": 0,
                "monitoring_start": None,
                "monitoring_end": None,
                "verification_report_hash": None,
                "origin_key": "0x" + "0a" * 32,
                "origin_registry": "CQ-TANHUITONG",
                "block_number": tx.block,
                "tx_hash": tx.hash,
                "batch_seq": None,
                "vintage": 2023,
                "reserve_amount": 0,
                "owner": ALICE,
                "op_id": "0x71",
            },
            ("balances", (ALICE, 1)): balance(ALICE, 1, 333),
            ("lots", (1, 1)): lot(1, 1, 333, ALICE, 0),
        },
        {"lot_moves": [move(tx, 0, 0, 1, 1, 333, ZERO, ALICE, "issue")]},
    ), "the project's batch count stays"


def test_mints_that_do_not_add_up_to_the_batch_are_refused() -> None:
    m = registered()
    tx = m.chain.tx()
    m.projector.apply(tx.emit(ev.transfer_single(ZERO, OWNER, 1, 500)))
    m.projector.apply(tx.emit(ev.transfer_single(ZERO, RESERVE, 2, 500)))  # another batch's mint does not count
    issued_event = tx.emit(
        ev.batch_issued(1, PROJECT, 0x77, owner=OWNER, batch_seq=1, first_serial=1, quantity=1000, reserve_amount=500)
    )
    with pytest.raises(ValueError, match=f"^batch 1: minted 500 of 1000 in tx {tx.hash}$"):
        m.projector.apply(issued_event)


def test_mints_of_an_earlier_transaction_do_not_count() -> None:
    m = registered()
    m.tx(ev.transfer_single(ZERO, OWNER, 1, 1000))
    tx = m.chain.tx()
    with pytest.raises(ValueError, match=r"^batch 1: minted 0 of 1000"):
        m.projector.apply(
            tx.emit(
                ev.batch_issued(
                    1, PROJECT, 0x77, owner=OWNER, batch_seq=1, first_serial=1, quantity=1000, reserve_amount=0
                )
            )
        )


# ---------------------------------------------------------------- transfers and lots


def test_a_transfer_takes_the_oldest_lot_whole_then_splits_the_next() -> None:
    m, _ = alice_holds_two_lots()
    tx = m.tx(ev.transfer_single(ALICE, BOB, 1, 350))
    assert m.changes() == (
        {
            ("lots", (1, 1)): lot(1, 1, 300, BOB, 4),
            ("lots", (1, 301)): lot(1, 301, 350, BOB, 5),
            ("lots", (1, 351)): lot(1, 351, 500, ALICE, 3),  # the rest keeps its place in Alice's queue
            ("balances", (ALICE, 1)): balance(ALICE, 1, 150),
            ("balances", (BOB, 1)): balance(BOB, 1, 350),
        },
        {
            "lot_moves": [
                move(tx, 0, 0, 1, 1, 300, ALICE, BOB, "transfer"),
                move(tx, 0, 1, 1, 301, 350, ALICE, BOB, "transfer"),
            ]
        },
    )
    assert list(m.state.fifo[(ALICE, 1)]) == [351]
    assert list(m.state.fifo[(BOB, 1)]) == [1, 301]


def test_a_transfer_taking_everything_deletes_the_balance_row() -> None:
    m, _ = alice_holds_two_lots()
    tx = m.tx(ev.transfer_single(ALICE, BOB, 1, 500))
    assert m.changes() == (
        {
            ("lots", (1, 1)): lot(1, 1, 300, BOB, 4),
            ("lots", (1, 301)): lot(1, 301, 500, BOB, 5),
            ("balances", (ALICE, 1)): None,
            ("balances", (BOB, 1)): balance(BOB, 1, 500),
        },
        {
            "lot_moves": [
                move(tx, 0, 0, 1, 1, 300, ALICE, BOB, "transfer"),
                move(tx, 0, 1, 1, 301, 500, ALICE, BOB, "transfer"),
            ]
        },
    )
    assert m.table("balances") == {
        (OWNER, 1): balance(OWNER, 1, 400),
        (RESERVE, 1): balance(RESERVE, 1, 100),
        (BOB, 1): balance(BOB, 1, 500),
    }
    assert not m.state.fifo[(ALICE, 1)]


def test_first_in_first_out_follows_acquisition_not_serial_order() -> None:
    m, _ = issued()
    m.tx(ev.transfer_single(RESERVE, ALICE, 1, 50))  # 901..950, acquired 2
    m.tx(ev.transfer_single(OWNER, ALICE, 1, 100))  # 1..100, acquired 3
    m.changes()
    tx = m.tx(ev.transfer_single(ALICE, BOB, 1, 70))
    assert m.changes() == (
        {
            ("lots", (1, 901)): lot(1, 901, 950, BOB, 4),
            ("lots", (1, 1)): lot(1, 1, 20, BOB, 5),
            ("lots", (1, 21)): lot(1, 21, 100, ALICE, 3),
            ("balances", (ALICE, 1)): balance(ALICE, 1, 80),
            ("balances", (BOB, 1)): balance(BOB, 1, 70),
        },
        {
            "lot_moves": [
                move(tx, 0, 0, 1, 901, 950, ALICE, BOB, "transfer"),
                move(tx, 0, 1, 1, 1, 20, ALICE, BOB, "transfer"),
            ]
        },
    )


def test_a_batch_transfer_listing_an_id_twice_takes_on_from_where_the_first_entry_stopped() -> None:
    m, _ = issued()
    m.tx(
        ev.transfer_single(ZERO, OWNER, 2, 50),
        ev.batch_issued(2, PROJECT, 0x78, owner=OWNER, batch_seq=2, first_serial=1001, quantity=50, reserve_amount=0),
    )
    m.changes()
    tx = m.tx(ev.transfer_batch(OWNER, BOB, [1, 2, 1], [100, 50, 250]))
    assert m.changes() == (
        {
            ("lots", (1, 1)): lot(1, 1, 100, BOB, 3),
            ("lots", (2, 1001)): lot(2, 1001, 1050, BOB, 4),
            ("lots", (1, 101)): lot(1, 101, 350, BOB, 5),
            ("lots", (1, 351)): lot(1, 351, 900, OWNER, 0),
            ("balances", (OWNER, 1)): balance(OWNER, 1, 550),
            ("balances", (BOB, 1)): balance(BOB, 1, 350),
            ("balances", (OWNER, 2)): None,
            ("balances", (BOB, 2)): balance(BOB, 2, 50),
        },
        {
            "lot_moves": [
                move(tx, 0, 0, 1, 1, 100, OWNER, BOB, "transfer"),
                move(tx, 0, 1, 2, 1001, 1050, OWNER, BOB, "transfer"),
                move(tx, 0, 2, 1, 101, 350, OWNER, BOB, "transfer"),
            ]
        },
    )


def test_a_self_transfer_moves_the_lots_to_the_back_of_the_queue() -> None:
    m, _ = alice_holds_two_lots()
    tx = m.tx(ev.transfer_batch(ALICE, ALICE, [1, 1], [300, 250]))
    # 1..300 goes to the back (acquired 4); the second entry takes 301..500, then 1..50 again
    assert m.changes() == (
        {
            ("lots", (1, 1)): lot(1, 1, 50, ALICE, 6),
            ("lots", (1, 51)): lot(1, 51, 300, ALICE, 4),
            ("lots", (1, 301)): lot(1, 301, 500, ALICE, 5),
            ("balances", (ALICE, 1)): balance(ALICE, 1, 500),
        },
        {
            "lot_moves": [
                move(tx, 0, 0, 1, 1, 300, ALICE, ALICE, "transfer"),
                move(tx, 0, 1, 1, 301, 500, ALICE, ALICE, "transfer"),
                move(tx, 0, 2, 1, 1, 50, ALICE, ALICE, "transfer"),
            ]
        },
    )
    assert list(m.state.fifo[(ALICE, 1)]) == [51, 301, 1]


def test_a_balance_may_not_go_negative() -> None:
    m, _ = issued()
    with pytest.raises(ValueError, match=f"^amount of {RESERVE} in batch 1 would go negative$"):
        m.tx(ev.transfer_single(RESERVE, ALICE, 1, 101))


def test_moving_serials_a_holder_has_no_lots_for_is_refused() -> None:
    m, _ = issued()
    m.state.tables["balances"][(ALICE, 1)] = balance(ALICE, 1, 5)  # a balance without lots: a corrupt mirror
    with pytest.raises(ValueError, match=f"^{ALICE} holds no more lots of batch 1$"):
        m.tx(ev.transfer_single(ALICE, BOB, 1, 5))


# ---------------------------------------------------------------- retirement and cancellation


def test_a_retirement_labels_the_lots_it_burned() -> None:
    m, issue = alice_holds_two_lots()
    tx = m.tx(ev.transfer_single(ALICE, ZERO, 1, 350), ev.credits_retired(1, ALICE, 0x99, 350, operator=BOB))
    retirement = f"{CHAIN_ID}-{tx.hash}-1"
    assert m.changes() == (
        {
            ("lots", (1, 1)): lot(1, 1, 300, ALICE, 4, "retired", retirement_id=retirement),
            ("lots", (1, 301)): lot(1, 301, 350, ALICE, 5, "retired", retirement_id=retirement),
            ("lots", (1, 351)): lot(1, 351, 500, ALICE, 3),
            ("balances", (ALICE, 1)): balance(ALICE, 1, 150),
            ("batches", (1,)): batch_row(issue, retired=350),
        },
        {
            "lot_moves": [
                move(tx, 0, 0, 1, 1, 300, ALICE, ZERO, "retire"),  # at the burn's log index
                move(tx, 0, 1, 1, 301, 350, ALICE, ZERO, "retire"),
            ],
            "retirements": [
                {
                    "id": retirement,
                    "batch_id": 1,
                    "holder": ALICE,
                    "operator": BOB,
                    "amount": 350,
                    "scenario": "personal",
                    "beneficiary_commitment": "0x" + "11" * 32,
                    "claim_hash": H42,
                    "op_id": "0x99",
                    "block_number": tx.block,
                    "log_index": 1,
                    "tx_hash": tx.hash,
                },
            ],
        },
    )
    assert list(m.state.fifo[(ALICE, 1)]) == [351], "retired lots leave the queue"


def test_a_cancellation_labels_the_lots_it_burned() -> None:
    m, issue = issued()
    tx = m.tx(ev.transfer_single(RESERVE, ZERO, 1, 100), ev.credits_cancelled(1, RESERVE, 0x98, 100, reason=2))
    cancellation = f"{CHAIN_ID}-{tx.hash}-1"
    assert m.changes() == (
        {
            ("lots", (1, 901)): lot(1, 901, 1000, RESERVE, 2, "cancelled", cancellation_id=cancellation),
            ("balances", (RESERVE, 1)): None,
            ("batches", (1,)): batch_row(issue, cancelled=100),
        },
        {
            "lot_moves": [move(tx, 0, 0, 1, 901, 1000, RESERVE, ZERO, "cancel")],
            "cancellations": [
                {
                    "id": cancellation,
                    "batch_id": 1,
                    "holder": RESERVE,
                    "amount": 100,
                    "reason": "reversal",
                    "evidence_hash": H42,
                    "export_id": None,
                    "op_id": "0x98",
                    "block_number": tx.block,
                    "log_index": 1,
                    "tx_hash": tx.hash,
                },
            ],
        },
    )


def test_retirement_and_cancellation_in_one_block_keep_their_own_labels() -> None:
    m, issue = alice_holds_two_lots()
    retire = m.tx(ev.transfer_single(ALICE, ZERO, 1, 10), ev.credits_retired(1, ALICE, 0x91, 10))
    cancel = m.tx(
        ev.transfer_single(ALICE, ZERO, 1, 5), ev.credits_cancelled(1, ALICE, 0x92, 5, reason=0), same_block=True
    )
    retirement, cancellation = f"{CHAIN_ID}-{retire.hash}-1", f"{CHAIN_ID}-{cancel.hash}-3"
    dirty, appended = m.changes()
    assert dirty == {
        ("lots", (1, 1)): lot(1, 1, 10, ALICE, 4, "retired", retirement_id=retirement),
        ("lots", (1, 11)): lot(1, 11, 15, ALICE, 5, "cancelled", cancellation_id=cancellation),
        ("lots", (1, 16)): lot(1, 16, 300, ALICE, 2),
        ("balances", (ALICE, 1)): balance(ALICE, 1, 485),
        ("batches", (1,)): batch_row(issue, retired=10, cancelled=5),
    }
    assert appended["lot_moves"] == [
        move(retire, 0, 0, 1, 1, 10, ALICE, ZERO, "retire"),
        move(cancel, 2, 0, 1, 11, 15, ALICE, ZERO, "cancel"),
    ]
    assert [r["reason"] for r in appended["cancellations"]] == ["invalidation"]


def test_retired_and_cancelled_supply_add_up_over_transactions() -> None:
    m, issue = issued()
    m.tx(ev.transfer_single(OWNER, ZERO, 1, 10), ev.credits_retired(1, OWNER, 0x81, 10))
    m.tx(ev.transfer_single(OWNER, ZERO, 1, 20), ev.credits_retired(1, OWNER, 0x82, 20))
    m.tx(ev.transfer_single(RESERVE, ZERO, 1, 3), ev.credits_cancelled(1, RESERVE, 0x83, 3))
    m.tx(ev.transfer_single(RESERVE, ZERO, 1, 4), ev.credits_cancelled(1, RESERVE, 0x84, 4))
    assert m.table("batches") == {(1,): batch_row(issue, retired=30, cancelled=7)}
    assert m.table("balances") == {(OWNER, 1): balance(OWNER, 1, 870), (RESERVE, 1): balance(RESERVE, 1, 93)}


def test_two_retirements_in_one_transaction_each_label_their_own_burn() -> None:
    # a platform's contract may call retireFor twice in one transaction for the same holder and batch
    m, issue = alice_holds_two_lots()
    tx = m.tx(
        ev.transfer_single(ALICE, ZERO, 1, 10),
        ev.credits_retired(1, ALICE, 0x85, 10, operator=BOB),
        ev.transfer_single(ALICE, ZERO, 1, 20),
        ev.credits_retired(1, ALICE, 0x86, 20, operator=BOB),
    )
    first, second = f"{CHAIN_ID}-{tx.hash}-1", f"{CHAIN_ID}-{tx.hash}-3"
    dirty, appended = m.changes()
    assert dirty == {
        ("lots", (1, 1)): lot(1, 1, 10, ALICE, 4, "retired", retirement_id=first),
        ("lots", (1, 11)): lot(1, 11, 30, ALICE, 5, "retired", retirement_id=second),
        ("lots", (1, 31)): lot(1, 31, 300, ALICE, 2),
        ("balances", (ALICE, 1)): balance(ALICE, 1, 470),
        ("batches", (1,)): batch_row(issue, retired=30),
    }
    assert appended["lot_moves"] == [
        move(tx, 0, 0, 1, 1, 10, ALICE, ZERO, "retire"),
        move(tx, 2, 0, 1, 11, 30, ALICE, ZERO, "retire"),
    ]
    assert [(r["id"], r["amount"]) for r in appended["retirements"]] == [(first, 10), (second, 20)]


def test_a_retirement_without_its_burn_is_refused() -> None:
    m, _ = issued()
    tx = m.tx(ev.transfer_single(OWNER, ZERO, 1, 10))
    with pytest.raises(ValueError, match=f"^no burn of batch 1 by {ALICE} precedes CreditsRetired in {tx.hash}$"):
        m.projector.apply(tx.emit(ev.credits_retired(1, ALICE, 0x99, 10)))


# ---------------------------------------------------------------- pledges and exports


def test_a_pledge_locks_units_until_released() -> None:
    m, _ = alice_holds_two_lots()
    m.tx(ev.credits_pledged(0x51, ALICE, PLEDGEE, 1, 200))
    pledge = {
        "id": "0x51",
        "pledgor": ALICE,
        "pledgee": PLEDGEE,
        "batch_id": 1,
        "amount": 200,
        "registration_reference": "0x" + "44" * 32,
        "status": "active",
    }
    assert m.changes() == (
        {("pledges", ("0x51",)): pledge, ("balances", (ALICE, 1)): balance(ALICE, 1, 500, pledged=200)},
        {},
    )
    m.tx(ev.pledge_released(0x51, 0x52))
    assert m.changes() == (
        {("pledges", ("0x51",)): {**pledge, "status": "released"}, ("balances", (ALICE, 1)): balance(ALICE, 1, 500)},
        {},
    )


def test_an_enforced_pledge_moves_the_units_and_keeps_the_row_while_anything_is_locked() -> None:
    m, _ = issued()
    m.tx(ev.transfer_single(OWNER, ALICE, 1, 300))
    m.tx(ev.credits_pledged(0x53, ALICE, PLEDGEE, 1, 300))
    m.changes()
    tx = m.chain.tx()
    m.projector.apply(tx.emit(ev.transfer_single(ALICE, PLEDGEE, 1, 300)))
    assert m.table("balances").get((ALICE, 1)) == balance(ALICE, 1, 0, pledged=300), "no units, but still pledged"
    m.projector.apply(tx.emit(ev.pledge_enforced(0x53, 0x54)))
    assert m.changes() == (
        {
            ("balances", (ALICE, 1)): None,
            ("balances", (PLEDGEE, 1)): balance(PLEDGEE, 1, 300),
            ("lots", (1, 1)): lot(1, 1, 300, PLEDGEE, 3),
            ("pledges", ("0x53",)): {
                "id": "0x53",
                "pledgor": ALICE,
                "pledgee": PLEDGEE,
                "batch_id": 1,
                "amount": 300,
                "registration_reference": "0x" + "44" * 32,
                "status": "enforced",
            },
        },
        {"lot_moves": [move(tx, 0, 0, 1, 1, 300, ALICE, PLEDGEE, "transfer")]},
    )


def test_an_export_freezes_units_until_aborted() -> None:
    m, _ = alice_holds_two_lots()
    m.tx(ev.export_requested(0x61, ALICE, 1, 100))
    export = {
        "id": "0x61",
        "holder": ALICE,
        "batch_id": 1,
        "amount": 100,
        "destination_registry": "CQ-TANHUITONG",
        "destination_account": "0x" + "33" * 32,
        "status": "pending",
        "destination_reference": None,
    }
    assert m.changes() == (
        {("exports", ("0x61",)): export, ("balances", (ALICE, 1)): balance(ALICE, 1, 500, frozen=100)},
        {},
    )
    m.tx(ev.export_aborted(0x61, 0x62))
    assert m.changes() == (
        {("exports", ("0x61",)): {**export, "status": "aborted"}, ("balances", (ALICE, 1)): balance(ALICE, 1, 500)},
        {},
    )
    with pytest.raises(ValueError, match=f"^frozen of {ALICE} in batch 1 would go negative$"):
        m.tx(ev.export_aborted(0x61, 0x63))


def test_a_confirmed_export_cancels_the_frozen_units() -> None:
    m, issue = issued()
    m.tx(ev.transfer_single(OWNER, ALICE, 1, 300))
    m.tx(ev.export_requested(0x63, ALICE, 1, 300))
    m.changes()
    tx = m.chain.tx()
    m.projector.apply(tx.emit(ev.transfer_single(ALICE, ZERO, 1, 300)))
    assert m.table("balances").get((ALICE, 1)) == balance(ALICE, 1, 0, frozen=300), "no units, but still frozen"
    m.projector.apply(tx.emit(ev.export_confirmed(0x63, 0x64, b"\x21" * 32)))
    m.projector.apply(
        tx.emit(ev.credits_cancelled(1, ALICE, 0x64, 300, reason=4, evidence_hash=b"\x21" * 32, export_id=0x63))
    )
    cancellation = f"{CHAIN_ID}-{tx.hash}-2"
    assert m.changes() == (
        {
            ("balances", (ALICE, 1)): None,
            ("exports", ("0x63",)): {
                "id": "0x63",
                "holder": ALICE,
                "batch_id": 1,
                "amount": 300,
                "destination_registry": "CQ-TANHUITONG",
                "destination_account": "0x" + "33" * 32,
                "status": "confirmed",
                "destination_reference": "0x" + "21" * 32,
            },
            ("lots", (1, 1)): lot(1, 1, 300, ALICE, 3, "cancelled", cancellation_id=cancellation),
            ("batches", (1,)): batch_row(issue, cancelled=300),
        },
        {
            "lot_moves": [move(tx, 0, 0, 1, 1, 300, ALICE, ZERO, "cancel")],
            "cancellations": [
                {
                    "id": cancellation,
                    "batch_id": 1,
                    "holder": ALICE,
                    "amount": 300,
                    "reason": "exported",
                    "evidence_hash": "0x" + "21" * 32,
                    "export_id": "0x63",
                    "op_id": "0x64",
                    "block_number": tx.block,
                    "log_index": 2,
                    "tx_hash": tx.hash,
                },
            ],
        },
    )
