"""The destination's import gate (contracts/MethodologyRecognitions.sol): the import names its
origin in the same transaction, a recognition is checked when the import is mined (not when the
relay looked), and an origin key is decided once on the destination: imported or refused."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.origin import evidence_hash, import_op_id, origin_key, reason_hash
from bridge.recognition import REGISTRAR_ROLE, RELAYER_ROLE, RecognitionContract
from chain.errors import InvalidInputError, RegistryRevertError
from chain.opids import random_op_id
from chain.types import ExportStatus, short_id
from tests.bridge.conftest import SOURCE_NAME, Pair
from tests.bridge.test_crash_and_reorg import relay_env, start_relay
from tests.conftest import HOLDER_START, ISSUED, METHODOLOGY, PROJECT


def test_the_import_names_its_origin_on_the_destination(pair: Pair) -> None:
    src = pair.source.client
    export_id = pair.export(7_000)
    done = pair.relay().step()
    assert (done.imported, done.confirmed) == (1, 1)
    key = origin_key(src.chain_id, src.address, export_id)
    gate = pair.recognitions.client
    [origin] = gate.decode_events(gate.rpc.call("eth_getLogs", {"address": gate.address, "fromBlock": "0x0"}))[-1:]
    assert origin.name == "ImportOrigin"
    a = origin.args
    # source batch 1 of a fresh registry: serials 1 .. 100,000; the destination's own batch is 1, the import 2
    assert (bytes(a["originKey"]), a["batchId"], a["exportId"], a["sourceBatch"]) == (key, 2, export_id, 1)
    assert (a["sourceChainId"], a["sourceRegistry"].lower()) == (src.chain_id, src.address.lower())
    assert (a["firstSerial"], a["lastSerial"]) == (1, ISSUED)
    # the same transaction as the registry's BatchImported: one import, one origin
    destination = pair.relay().destination
    [imported] = destination.events("BatchImported", 0, destination.head())
    assert imported.tx_hash == origin.tx_hash
    assert bytes(imported.args["credit"]["evidenceHash"]) == evidence_hash(key, 1, 1, ISSUED)


class WithdrawnAfterTheCheck(RecognitionContract):
    """The relay's read of the recognition happens, then the destination withdraws it before the
    import is mined: what a relay checking off chain could not see."""

    def refusals(self, origin_registry: str, methodology_ids: set[str]) -> dict[str, str]:
        found = super().refusals(origin_registry, methodology_ids)
        self.withdraw(SOURCE_NAME, METHODOLOGY, b"\x09" * 32)
        return found


def test_a_recognition_withdrawn_after_the_relay_checked_is_refused_on_chain(pair: Pair) -> None:
    src, dst, cast = pair.source.client, pair.destination.client, pair.source.cast
    export_id = pair.export(4_000)
    relay = pair.relay()
    relay.recognition = relay.gate = WithdrawnAfterTheCheck(pair.recognitions.client)

    report = relay.step()

    assert (report.imported, report.confirmed, report.aborted) == (0, 0, 1)
    why = report.refusals[export_id]
    assert why.startswith("ImportMethodologyNotRecognised")  # the gate's refusal, when the import was mined
    key = origin_key(src.chain_id, src.address, export_id)
    assert int(dst.view("importedBatch", key)) == 0
    assert pair.recognitions.client.view("refusedWith", key) == reason_hash(why)
    assert src.export_of(export_id).status == ExportStatus.ABORTED
    assert src.free_balance_of(cast.holder.address, 1) == HOLDER_START  # released: 20,000 free again


def _credit(
    pair: Pair, export_id: int, *, batch: int = 1, first: int = 1, last: int = ISSUED
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    src, cast = pair.source.client, pair.source.cast
    key = origin_key(src.chain_id, src.address, export_id)
    credit = (
        key,
        short_id(SOURCE_NAME),
        short_id(PROJECT),
        cast.buyer.address,
        2024,
        1_000,
        evidence_hash(key, 1, 1, ISSUED),
    )
    origin = (src.chain_id, src.address, export_id, batch, first, last)
    return credit, origin


def _gate_import(pair: Pair, credit: tuple[Any, ...], origin: tuple[Any, ...]) -> int:
    op = import_op_id(credit[0])
    result = pair.recognitions.client.transact("importCredits", (op, credit, origin))
    return int(result.event("ImportOrigin").args["batchId"])


def test_an_origin_or_evidence_that_is_not_the_exports_is_refused_by_the_gate(pair: Pair) -> None:
    credit, origin = _credit(pair, 41)
    wrong_export = (*origin[:2], 42, *origin[3:])  # the key is export 41's
    with pytest.raises(RegistryRevertError) as refused:
        _gate_import(pair, credit, wrong_export)
    assert refused.value.name == "ImportOriginMismatch"
    other_range = (*origin[:4], 1, 50_000)  # the evidence committed to serials 1 .. 100,000
    with pytest.raises(RegistryRevertError) as refused:
        _gate_import(pair, credit, other_range)
    assert refused.value.name == "ImportEvidenceMismatch"
    assert _gate_import(pair, credit, origin) == 2  # the matching origin goes through


def test_an_origin_key_is_imported_or_refused_never_both(pair: Pair) -> None:
    gate = pair.recognitions
    imported_credit, imported_origin = _credit(pair, 51)
    _gate_import(pair, imported_credit, imported_origin)
    with pytest.raises(RegistryRevertError) as refused:
        gate.refuse(imported_credit[0], b"\x01" * 32)
    assert refused.value.name == "ImportOriginImported"

    credit, origin = _credit(pair, 52)
    gate.refuse(credit[0], b"\x02" * 32)
    with pytest.raises(RegistryRevertError) as refused:
        _gate_import(pair, credit, origin)
    assert refused.value.name == "ImportOriginRefused"
    with pytest.raises(RegistryRevertError) as again:
        gate.refuse(credit[0], b"\x03" * 32)
    assert again.value.name == "ImportOriginRefused"
    assert gate.client.view("refusedWith", credit[0]) == b"\x02" * 32  # the first refusal stands


def test_only_a_relayer_uses_the_gate_and_the_relayer_cannot_bypass_it(pair: Pair) -> None:
    cast = pair.destination.cast
    credit, origin = _credit(pair, 61)
    stranger = RecognitionContract.at(
        pair.recognitions.client.rpc,
        pair.recognitions.client.address,
        chain_id=pair.destination.client.chain_id,
        signer=cast.stranger,
    )
    with pytest.raises(RegistryRevertError) as refused:
        stranger.client.transact("importCredits", (random_op_id(), credit, origin))
    assert refused.value.name == "RecognitionNotAuthorised"
    with pytest.raises(RegistryRevertError) as refused:
        stranger.refuse(credit[0], b"\x01" * 32)
    assert refused.value.name == "RecognitionNotAuthorised"


def test_kill_after_the_refusal_is_recorded_then_restart_aborts_once(pair: Pair) -> None:
    src, cast = pair.source.client, pair.source.cast
    export_id = pair.export(5_000, holder=cast.owner.address, batch=pair.other_batch)
    crashed = start_relay(pair, "refused")
    assert crashed.wait(timeout=120) == -9
    key = origin_key(src.chain_id, src.address, export_id)
    assert pair.recognitions.client.view("refusedWith", key) != b"\0" * 32  # decided on the destination
    assert src.export_of(export_id).status == ExportStatus.PENDING  # not yet told to the source
    restarted = start_relay(pair)
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()[-2000:]
    assert b"aborted=1" in out
    assert src.export_of(export_id).status == ExportStatus.ABORTED
    assert src.free_balance_of(cast.owner.address, pair.other_batch) == 50_000


def test_grant_gate_as_the_admin_and_refused_to_another(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from scripts.cli import app

    runner, dst, cast = CliRunner(), pair.destination.client, pair.destination.cast
    for name, value in relay_env(pair).items():
        if name.startswith("LEDGER_BRIDGE_"):
            monkeypatch.setenv(name, value)
    refused = runner.invoke(app, ["bridge", "grant-gate", cast.newcomer.address])  # the registrar's key: no admin
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "AccessControlUnauthorizedAccount" in refused.output and "DEFAULT_ADMIN_ROLE" in refused.output
    assert not dst.view("hasRole", RELAYER_ROLE, cast.newcomer.address)
    monkeypatch.setenv("LEDGER_BRIDGE_DESTINATION_KEY", "0x" + bytes(cast.admin.key).hex())
    granted = runner.invoke(app, ["bridge", "grant-gate", cast.newcomer.address])
    assert granted.exit_code == 0, granted.output
    assert dst.view("hasRole", RELAYER_ROLE, cast.newcomer.address)
    again = runner.invoke(app, ["bridge", "grant-gate", cast.newcomer.address])  # already in place: skipped
    assert again.exit_code == 0, again.output


def test_a_relay_without_the_gate_roles_is_refused_in_one_line(pair: Pair) -> None:
    dst, cast = pair.destination.client, pair.destination.cast
    dst.transact("revokeRole", (RELAYER_ROLE, cast.registrar.address), sender=cast.admin)
    with pytest.raises(InvalidInputError, match=r"this relay's key .* lacks BRIDGE_RELAYER_ROLE .* grant-gate"):
        pair.relay()
    dst.transact("grantRole", (RELAYER_ROLE, cast.registrar.address), sender=cast.admin)
    dst.transact("revokeRole", (REGISTRAR_ROLE, pair.recognitions.client.address), sender=cast.admin)
    with pytest.raises(InvalidInputError, match=r"the gate .* lacks REGISTRAR_ROLE"):
        pair.relay()
