"""A hostile tester's findings against the import gate of the regional interconnection (issue 20:
contracts/MethodologyRecognitions.sol, the mirrored ImportOrigin, the relay through the gate).
One test per finding; each docstring says what went wrong before the fix."""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode

from bridge.origin import evidence_hash, origin_key
from bridge.provenance import trace
from bridge.recognition import RecognitionContract, deploy_recognitions, grant_gate_roles
from bridge.reconcile import reconcile
from bridge.relay import Endpoint, Relay
from bridge.settings import BridgeSettings, open_endpoint
from certificates.evidence import MirrorEvidence
from certificates.service import CertificateService, retire_and_certify
from certificates.settings import ServiceSettings
from certificates.verify import verify_document
from chain.client import RegistryClient
from chain.deploy import deploy_bytecode
from chain.errors import InvalidInputError
from chain.keys import dev_accounts
from chain.opids import random_op_id
from chain.types import ExportStatus, Scenario, short_id
from indexer.db import create_schema, make_engine
from indexer.import_origins import import_origin
from indexer.sync import Indexer
from tests.bridge import conftest as two_registries
from tests.bridge.conftest import SOURCE_NAME, Pair
from tests.conftest import HASH, ISSUED, PROJECT
from tests.hardening.test_bridge_findings import settings_for

# the two anvils of tests/bridge, as fixtures found here by their names
pair_base = two_registries.pair_base
pair = two_registries.pair


# A contract that emits whatever log it is told: calldata = topic0 | topic1 | topic2 | data, LOG3.
# Runtime: CALLDATASIZE 0 0 CALLDATACOPY; MLOAD(0x40) MLOAD(0x20) MLOAD(0); size = CALLDATASIZE-0x60;
# offset 0x60; LOG3; STOP. The init code copies the runtime (23 bytes) and returns it.
def _logger_code() -> bytes:
    runtime = bytes.fromhex("366000600037" + "604051" + "602051" + "600051" + "606036" + "03" + "6060" + "a3" + "00")
    init = bytes.fromhex(f"60{len(runtime):02x}600c60003960{len(runtime):02x}6000f3")
    return init + runtime


def _emit(rpc_pair: Pair, logger: str, topics: list[bytes], data: bytes) -> None:
    rpc = rpc_pair.destination.client.rpc
    sender = dev_accounts()[0].address
    calldata = b"".join(topics) + data
    tx = rpc.call("eth_sendTransaction", {"from": sender, "to": logger, "data": "0x" + calldata.hex()})
    receipt = rpc.call("eth_getTransactionReceipt", tx)
    if receipt is None:  # a test before may have left the node mining on a timer
        rpc.call("evm_mine")
        receipt = rpc.call("eth_getTransactionReceipt", tx)
    assert receipt["status"] == "0x1" and len(receipt["logs"]) == 1


def test_a_gate_setting_naming_an_account_without_the_gates_code_is_one_line(pair: Pair) -> None:
    """LEDGER_BRIDGE_DESTINATION_RECOGNITIONS set to the registrar's own address (an account that
    holds REGISTRAR_ROLE, so the role check passed): the relay started, and its first pass died on
    `InsufficientDataBytes` decoding the empty answer of an account with no code (the CLI said
    "unexpected ...; this is a bug", and `ledger bridge run` stopped)."""
    cast, d = pair.destination.cast, pair.destination.client
    not_a_gate = RecognitionContract.at(d.rpc, cast.registrar.address, chain_id=d.chain_id, signer=cast.registrar)
    source, destination = pair.endpoints()
    with pytest.raises(InvalidInputError, match="LEDGER_BRIDGE_DESTINATION_RECOGNITIONS"):
        Relay(source, destination, not_a_gate, settle_timeout=5.0)


def test_a_gate_of_another_registry_is_refused_before_any_pass(pair: Pair) -> None:
    """A gate deployed for another registry (its immutable `registry` is not the destination's)
    and granted REGISTRAR_ROLE here by mistake: the relay took it, and every import through it
    went into the other registry's checks (its roles, its projects), never into this one."""
    cast, d = pair.destination.cast, pair.destination.client
    admin = dev_accounts()[0]
    other = deploy_recognitions(d.rpc, chain_id=d.chain_id, deployer=admin, registry=cast.owner.address)
    grant_gate_roles(d, other, [cast.registrar.address], admin=cast.admin)
    wrong = RecognitionContract.at(d.rpc, other, chain_id=d.chain_id, signer=cast.registrar)
    source, destination = pair.endpoints()
    with pytest.raises(InvalidInputError, match="gate of another registry"):
        Relay(source, destination, wrong, settle_timeout=5.0)


@pytest.mark.parametrize(
    "setting", ["source_depth", "destination_depth", "source_start_block", "destination_start_block"]
)
def test_a_negative_depth_or_start_block_is_refused_by_name(setting: str) -> None:
    """LEDGER_BRIDGE_SOURCE_DEPTH=-3 made the relay ask for logs 3 blocks past the head
    (`RpcError BlockOutOfRangeError` every pass, forever); a negative start block sent
    `-0x1` (`hex string without 0x prefix`); a negative destination depth confirmed imports
    before they were mined deep enough, silently. Each is a setting to fix, named."""
    with pytest.raises(InvalidInputError, match=f"LEDGER_BRIDGE_{setting.upper()}"):
        BridgeSettings(**{setting: -1})


def test_an_import_around_the_gate_with_another_evidence_is_not_confirmed(pair: Pair) -> None:
    """A registrar of the destination imports straight into the registry, under a pending export's
    origin key, the export's amount to the export's account, but with an evidence hash that commits
    to nothing of the export (here the test's HASH). The relay confirmed it on the source (only amount
    and account were compared) and `ledger bridge audit` said "reconciled: no difference": an
    import whose evidence is not the export's was taken as the export's."""
    src, dst, cast = pair.source.client, pair.destination.client, pair.destination.cast
    export_id = pair.export(1_000)
    key = origin_key(src.chain_id, src.address, export_id)
    assert evidence_hash(key, 1, 1, ISSUED) != HASH
    dst.import_credits(
        random_op_id(),
        origin_key=key,
        origin_registry=SOURCE_NAME,
        project_id=PROJECT,
        to=cast.buyer.address,
        vintage=2024,
        quantity=1_000,
        evidence_hash=HASH,
    )
    report = pair.relay().step()
    assert report.confirmed == 0 and export_id in report.held
    assert "evidence" in report.held[export_id]
    assert src.export_of(export_id).status == ExportStatus.PENDING
    found = reconcile(*pair.endpoints())
    assert not found.ok and any("evidence" in p and str(export_id) in p for p in found.problems)


def test_an_import_origin_from_a_contract_at_the_gate_setting_but_not_in_the_import_is_not_attested(
    pair: Pair, tmp_path: Path
) -> None:
    """LEDGER_IMPORT_GATE pointing at the wrong contract (here one that emits any log it is told):
    its ImportOrigin-looking event, naming a real import's origin key and batch but another source
    batch and serial range, was mirrored and shown `attested: true` with the forged source, because
    only the key and the batch id were compared. The gate's record is the one in the importing
    transaction; another transaction's is not attested."""
    src, dst = pair.source.client, pair.destination.client
    export_id = pair.export(2_000)
    assert pair.relay().step().confirmed == 1
    key = origin_key(src.chain_id, src.address, export_id)
    batch = int(dst.view("importedBatch", key))
    logger, _ = deploy_bytecode(dst.rpc, dst.chain_id, dev_accounts()[0], _logger_code())
    topic = pair.recognitions.client.abi.event_topics["ImportOrigin"]
    forged = abi_encode(
        ["uint256", "address", "uint256", "uint256", "uint256", "uint256"],
        [src.chain_id, src.address, export_id, 2, 1, 50_000],  # source batch 2: not what was exported
    )
    _emit(pair, logger, [topic, key, batch.to_bytes(32, "big")], forged)

    engine = make_engine(f"sqlite:///{tmp_path / 'destination.sqlite'}")
    create_schema(engine)
    Indexer(
        dst.rpc, engine, dst.abi, chain_id=dst.chain_id, address=dst.address, start_block=0, gate=logger
    ).sync_once()
    with engine.connect() as conn:
        found = import_origin(conn, batch)
    assert found is not None and found["attested"] is False and found["source_batch"] is None


class HangingNode:
    """A TCP server that accepts connections and never answers: an RPC URL that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture
def hanging() -> Iterator[HangingNode]:
    node = HangingNode()
    yield node
    node.close()


def test_a_node_that_never_answers_is_named_in_seconds_not_minutes(hanging: HangingNode) -> None:
    """An RPC URL that accepts and never answers: `ledger bridge once|audit` asked its chain id
    with a 60 s timeout, eight times (the retries meant for a node refusing half its calls), so the
    operator waited some eight minutes for the line naming the setting."""
    settings = BridgeSettings(source_rpc_url=hanging.url, source_registry="0x" + "11" * 20)
    outcome: list[BaseException] = []

    def probe() -> None:
        try:
            open_endpoint(settings, "source", sign=False)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(40)
    assert not worker.is_alive(), "still waiting for a node that never answers after 40 s"
    assert time.monotonic() - started < 40
    assert len(outcome) == 1 and isinstance(outcome[0], InvalidInputError)
    assert "LEDGER_BRIDGE_SOURCE_RPC_URL" in str(outcome[0])


@pytest.mark.parametrize("setting", ["source_name", "destination_name"])
@pytest.mark.parametrize("value", ["", "Z" * 40, "川渝"])
def test_a_registry_name_that_is_no_short_id_is_refused_by_name(setting: str, value: str) -> None:
    """LEDGER_BRIDGE_DESTINATION_NAME of 40 characters (or empty, or not ASCII) was taken, and
    `ledger bridge once|audit` ended in "unexpected ValueError; this is a bug" when the relay made
    the bytes32 short id the contract compares, instead of naming the setting."""
    with pytest.raises(InvalidInputError, match=f"LEDGER_BRIDGE_{setting.upper()}"):
        BridgeSettings(**{setting: value})


@pytest.mark.parametrize("side", ["source", "destination"])
def test_an_audit_of_an_address_that_is_no_registry_is_not_reconciled(pair: Pair, side: str) -> None:
    """LEDGER_BRIDGE_SOURCE_REGISTRY pointing at the gate (another contract, no registry): the
    audit read no events from it and printed "source issued 0 kg ... reconciled: no difference",
    exit code 0, a clean audit of nothing. It names the setting instead."""
    settings = settings_for(pair, **{f"{side}_registry": pair.recognitions.client.address})
    with pytest.raises(InvalidInputError, match=f"LEDGER_BRIDGE_{side.upper()}_REGISTRY"):
        reconcile(open_endpoint(settings, "source", sign=False), open_endpoint(settings, "destination", sign=False))


def test_a_certificate_naming_an_origin_for_a_batch_id_past_sqlite_integers_is_failed_not_raised(
    pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate of imported units edited to name batch 2**63 (a whole number, so the shape
    check took it) in a retirement block that carries an `origin`: the verifier looked the origin
    up in the mirror with that id and SQLite raised `OverflowError: Python int too large to convert
    to SQLite INTEGER` out of verify_document (a 500 from the verify route) instead of failing the
    certificate."""
    src, dst, cast = pair.source.client, pair.destination.client, pair.destination.cast
    monkeypatch.setenv("LEDGER_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.setenv("LEDGER_IMPORT_GATE", pair.recognitions.client.address)
    export_id = pair.export(3_000)
    assert pair.relay().step().confirmed == 1
    batch = int(dst.view("importedBatch", origin_key(src.chain_id, src.address, export_id)))
    engine = make_engine(f"sqlite:///{tmp_path / 'destination.sqlite'}")
    anchorer = RegistryClient(dst.rpc, dst.address, dst.abi, chain_id=dst.chain_id, signer=cast.anchorer)
    service = CertificateService.open(engine, pair.destination.registry.deployment, anchorer, ServiceSettings())
    retire = lambda commitment: dst.retire(  # noqa: E731
        random_op_id(), batch, 700, Scenario.VOLUNTARY, commitment, b"\0" * 32, sender=cast.buyer
    )
    _, issued = retire_and_certify(service, retire, "赵敏", scenario_key="VOLUNTARY", fields={"message": "绿水青山"})
    doc = copy.deepcopy(service.document(issued.certificate_id))
    assert "origin" in doc["certificate"]["retirements"][0]
    doc["certificate"]["retirements"][0]["batch_id"] = 2**63
    verdict = verify_document(doc, MirrorEvidence(engine, chain_id=dst.chain_id, registry=dst.address))
    [check] = [c for c in verdict.checks if c.name == "retirements"]
    assert not check.ok and "batch" in check.detail


def test_an_import_around_the_gate_of_another_vintage_is_not_confirmed(pair: Pair) -> None:
    """The evidence hash is public arithmetic (key, source batch, range), so a registrar importing
    around the gate can give the right one, the export's amount and account, and another vintage
    (2019 for the source batch's 2024): the relay confirmed it and the audit found no difference,
    though the destination now holds 1,000 kg of a vintage the source never issued them as."""
    src, dst, cast = pair.source.client, pair.destination.client, pair.destination.cast
    export_id = pair.export(1_000)
    key = origin_key(src.chain_id, src.address, export_id)
    dst.import_credits(
        random_op_id(),
        origin_key=key,
        origin_registry=SOURCE_NAME,
        project_id=PROJECT,
        to=cast.buyer.address,
        vintage=2019,
        quantity=1_000,
        evidence_hash=evidence_hash(key, 1, 1, ISSUED),
    )
    report = pair.relay().step()
    assert report.confirmed == 0 and "vintage" in report.held[export_id]
    assert src.export_of(export_id).status == ExportStatus.PENDING
    found = reconcile(*pair.endpoints())
    assert not found.ok and any("vintage" in p and str(export_id) in p for p in found.problems)


def test_a_source_key_that_cannot_confirm_is_refused_before_anything_is_imported(pair: Pair) -> None:
    """LEDGER_BRIDGE_SOURCE_KEY of an account without the source's REGISTRAR_ROLE (a relay with the
    wrong roles): the relay started, imported the export on the destination, then every pass failed
    to confirm it on the source (AccessControlUnauthorizedAccount, logged, "waiting"), leaving the
    kilograms frozen in the source and circulating in the destination for as long as nobody looked."""
    src, dst, buyer = pair.source.client, pair.destination.client, pair.source.cast.buyer
    export_id = pair.export(1_000)
    source, destination = pair.endpoints()
    unprivileged = type(src)(src.rpc, src.address, src.abi, chain_id=src.chain_id, signer=buyer)
    with pytest.raises(InvalidInputError, match="LEDGER_BRIDGE_SOURCE_KEY"):
        Relay(Endpoint(unprivileged, source.name), destination, pair.recognitions, settle_timeout=5.0).step()
    assert int(dst.view("importedBatch", origin_key(src.chain_id, src.address, export_id))) == 0


@pytest.mark.parametrize("setting", ["nope", "0x1234", "0x" + "zz" * 20])
def test_an_import_gate_setting_that_is_no_address_is_one_line_not_a_hang(
    pair: Pair, tmp_path: Path, setting: str
) -> None:
    """LEDGER_IMPORT_GATE=nope (a typo, a placeholder left in): the indexer asked eth_getLogs for
    that "address", the node refused, the log fetcher took the refusal for a range too wide and
    halved it, and halved it again, for ever: `ledger index` hung without a word."""
    dst = pair.destination.client
    engine = make_engine(f"sqlite:///{tmp_path / 'mirror.sqlite'}")
    create_schema(engine)
    outcome: list[BaseException] = []

    def index() -> None:
        try:
            Indexer(
                dst.rpc, engine, dst.abi, chain_id=dst.chain_id, address=dst.address, start_block=0, gate=setting
            ).sync_once()
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=index, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the indexer still retries a gate that is no address after 30 s"
    assert len(outcome) == 1 and isinstance(outcome[0], InvalidInputError)
    assert "LEDGER_IMPORT_GATE" in str(outcome[0])


def test_tracing_a_batch_imported_from_a_third_registry_does_not_call_it_forged(pair: Pair) -> None:
    """A destination batch imported from another registry than the configured source (Chongqing
    also takes units from, say, Guizhou): `ledger bridge trace` looked for its key among the
    source's exports, found none, and said "which SC-LINCAO never exported: a forged origin", an
    accusation against a registry the batch does not even name."""
    dst, cast = pair.destination.client, pair.destination.cast
    credit = (b"\x55" * 32, short_id("GZ-TANPUHUI"), short_id(PROJECT), cast.buyer.address, 2024, 300, HASH)
    done = dst.transact("importCredits", (random_op_id(), credit))
    batch = int(done.event("BatchImported").args["batchId"])
    source, destination = pair.endpoints()
    with pytest.raises(InvalidInputError) as refused:
        trace(source, destination, batch)
    assert "GZ-TANPUHUI" in str(refused.value) and "forged" not in str(refused.value)
