"""The two-registry reconciliation, a replayed import, an attacker's forged origin, and the
`ledger bridge` commands end to end."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bridge.origin import origin_key
from bridge.reconcile import reconcile
from chain.errors import NodeUnreachableError, RegistryRevertError
from chain.opids import random_op_id
from scripts.cli import app
from tests.bridge.conftest import SOURCE_NAME, Pair
from tests.bridge.test_crash_and_reorg import relay_env
from tests.conftest import HASH, ISSUED, PROJECT

runner = CliRunner()


def test_two_transfers_reconcile(pair: Pair) -> None:
    pair.export(7_000)
    pair.export(2_500)
    relay = pair.relay()
    assert relay.step().confirmed == 2
    found = reconcile(relay.source, relay.destination)
    # source: batch 1 (100,000 kg) and the other batch (50,000 kg) = 150,000 issued;
    # 7,000 + 2,500 = 9,500 exported and imported; combined 150,000 - 9,500 + 9,500 = 150,000
    assert found.ok, found.problems
    assert found.source_issued == ISSUED + 50_000 == 150_000
    assert found.source_exported == found.destination_imported == 9_500
    assert found.combined == 150_000
    assert (found.confirmed_exports, found.imports) == (2, 2)


def test_a_replayed_import_is_refused(pair: Pair) -> None:
    src, dst = pair.source.client, pair.destination.client
    export_id = pair.export(1_000)
    pair.relay().step()
    key = origin_key(src.chain_id, src.address, export_id)
    with pytest.raises(RegistryRevertError) as refused:
        dst.import_credits(
            random_op_id(),  # a fresh op id: only the origin key stops it
            origin_key=key,
            origin_registry=SOURCE_NAME,
            project_id=PROJECT,
            to=pair.destination.cast.buyer.address,
            vintage=2024,
            quantity=1_000,
            evidence_hash=HASH,
        )
    assert refused.value.name == "RegistryOriginAlreadyImported"
    relay = pair.relay()
    assert reconcile(relay.source, relay.destination).ok


def test_a_forged_origin_is_found(pair: Pair) -> None:
    # an attacker holding the destination's registrar key imports 4,000 kg "from" the source
    # under a key the source never exported
    src, dst = pair.source.client, pair.destination.client
    pair.export(1_000)
    pair.relay().step()
    forged = origin_key(src.chain_id, src.address, 424242)
    dst.import_credits(
        random_op_id(),
        origin_key=forged,
        origin_registry=SOURCE_NAME,
        project_id=PROJECT,
        to=pair.destination.cast.buyer.address,
        vintage=2024,
        quantity=4_000,
        evidence_hash=HASH,
    )
    relay = pair.relay()
    found = reconcile(relay.source, relay.destination)
    assert not found.ok
    assert any("never exported: a forged origin" in p and forged.hex() in p for p in found.problems)
    # 150,000 issued - 1,000 exported + (1,000 + 4,000) imported = 154,000: 4,000 kg counted from nothing
    assert found.combined == 154_000
    assert any("combined supply 154000 kg != 150000 kg" in p for p in found.problems)


def test_the_commands(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in relay_env(pair).items():
        if name.startswith("LEDGER_BRIDGE_"):
            monkeypatch.setenv(name, value)
    pair.export(1_200)
    once = runner.invoke(app, ["bridge", "once"])
    assert once.exit_code == 0, once.output
    assert "seen 1, imported 1, confirmed 1, aborted 0" in once.output
    audit = runner.invoke(app, ["bridge", "audit"])
    assert audit.exit_code == 0, audit.output
    assert "reconciled: no difference" in audit.output
    traced = runner.invoke(app, ["bridge", "trace", "2"])
    assert traced.exit_code == 0, traced.output
    assert "1200 kg from SC-LINCAO" in traced.output and "serials 1-100000" in traced.output
    assert "evidence matches" in traced.output
    key = relay_env(pair)["LEDGER_BRIDGE_SOURCE_KEY"]
    assert key not in once.output + audit.output
    recognise = runner.invoke(app, ["bridge", "recognise", "SCGM-002-V01", "--evidence", "0x" + "09" * 32])
    assert recognise.exit_code == 0, recognise.output
    assert pair.recognitions.is_recognised(SOURCE_NAME, "SCGM-002-V01")
    bad = runner.invoke(app, ["bridge", "recognise", "SCGM-002-V01", "--evidence", "0x12"])
    assert bad.exit_code == 1 and bad.output.startswith("error: evidence must be 32 bytes")


def test_a_missing_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for side in ("SOURCE", "DESTINATION"):
        monkeypatch.delenv(f"LEDGER_BRIDGE_{side}_RPC_URL", raising=False)
    done = runner.invoke(app, ["bridge", "once"])
    assert done.exit_code == 1
    assert "LEDGER_BRIDGE_DESTINATION_RPC_URL" in done.output and "Traceback" not in done.output
    assert len(done.output.strip().splitlines()) == 1


def test_a_bad_key_is_one_line_without_the_key(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in relay_env(pair).items():
        if name.startswith("LEDGER_BRIDGE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEDGER_BRIDGE_DESTINATION_KEY", "0xnot-a-key-zz")
    done = runner.invoke(app, ["bridge", "once"])
    assert done.exit_code == 1
    assert done.output.startswith("error: LEDGER_BRIDGE_DESTINATION_KEY is not a 32-byte hex private key")
    assert "not-a-key" not in done.output


def test_the_loop_survives_a_node_that_goes_away(pair: Pair) -> None:
    relay = pair.relay()
    passes: list[int] = []
    real_step = relay.step

    def flaky() -> object:
        passes.append(1)
        if len(passes) == 1:
            raise NodeUnreachableError("http://127.0.0.1:1", "ConnectionError")
        return real_step()

    relay.step = flaky  # type: ignore[method-assign]  # a first pass that meets an unreachable node
    pair.export(1_000)
    relay.run(poll=0.01, stop=lambda: len(passes) >= 2)
    assert len(passes) == 2
    assert pair.source.client.supply(1).cancelled == 1_000  # the second pass relayed it


def test_the_wrong_node_or_plain_http_is_one_line(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in relay_env(pair).items():
        if name.startswith("LEDGER_BRIDGE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEDGER_BRIDGE_DESTINATION_CHAIN_ID", "8453")  # the operator expects another chain
    wrong = runner.invoke(app, ["bridge", "once"])
    assert wrong.exit_code == 1 and "is chain 31337, but the configuration expects chain 8453" in wrong.output
    monkeypatch.delenv("LEDGER_BRIDGE_DESTINATION_CHAIN_ID")
    monkeypatch.setenv("LEDGER_BRIDGE_DESTINATION_RPC_URL", "http://node.example.org:8545")
    plain = runner.invoke(app, ["bridge", "once"])
    assert plain.exit_code == 1 and "must be https://" in plain.output
