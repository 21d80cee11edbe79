"""Transactions for every fee model: EIP-1559 where blocks carry a base fee, legacy (type 0,
EIP-155) where they carry none, nothing at all where gas is free; the hand-written legacy signer
is byte-identical to eth-account; stuck transactions are replaced in each model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.artifacts import Build
from chain.client import RegistryClient
from chain.errors import TransactionFailedError
from chain.fees import MIN_REPLACEMENT_BUMP, PRIORITY_FEE_FLOOR, Fees, detect_fee_model, quote
from chain.node import LocalNode
from chain.opids import sequential_op_ids
from chain.rpc import JsonRpc
from chain.sender import BulkSender, Operation
from chain.signing import FastSigner
from chain.types import Scenario
from tests.conftest import HASH, HOLDER_START, Cast, World, deploy_world

EIP155_V = (35 + 2 * 31337, 36 + 2 * 31337)
# anvil rule sets and prices: (node arguments, fee model, free gas)
NODES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "cancun": (("--hardfork", "cancun"), "eip1559", False),
    "london": (("--hardfork", "london"), "eip1559", False),
    "berlin": (("--hardfork", "berlin"), "legacy", False),
    "berlin-free": (("--hardfork", "berlin", "--gas-price", "0"), "legacy", True),
    "cancun-free": (("--hardfork", "cancun", "--base-fee", "0", "--disable-min-priority-fee"), "eip1559", True),
}


def node_for(name: str) -> LocalNode:
    return LocalNode(block_time=None, extra_args=NODES[name][0])


def mined(world: World, tx_hash: str) -> dict[str, Any]:
    tx = world.client.rpc.call("eth_getTransactionByHash", tx_hash)
    assert tx is not None and tx["blockNumber"] is not None, tx_hash
    return tx


def retirements(world: World, namespace: str, n: int) -> list[Operation]:
    ids = sequential_op_ids(namespace, n)
    return [
        Operation(i, "retire", (i, world.batch_id, 1, int(Scenario.PERSONAL), HASH, HASH), world.cast.holder)
        for i in ids
    ]


# ---------------------------------------------------------------- signing, byte for byte

raw_address = st.binary(min_size=20, max_size=20).map(to_checksum_address)


@settings(max_examples=150, deadline=None)
@given(
    key=st.integers(1, 2**255).map(lambda k: k.to_bytes(32, "big")),
    chain_id=st.integers(1, 2**40),
    nonce=st.integers(0, 2**64 - 1),
    gas=st.integers(21_000, 2**63),
    price=st.integers(0, 2**128),
    data=st.binary(max_size=300),
    value=st.integers(0, 2**200),
    to=st.one_of(st.none(), raw_address),
)
def test_the_legacy_signer_is_byte_identical_to_eth_account(
    key: bytes, chain_id: int, nonce: int, gas: int, price: int, data: bytes, value: int, to: str | None
) -> None:
    tx: dict[str, Any] = {
        "chainId": chain_id,
        "nonce": nonce,
        "gasPrice": price,
        "gas": gas,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = to
    want = Account.sign_transaction(tx, key)
    signer = FastSigner(key, chain_id)
    for _ in range(2):  # the second time with the recipient's encoding cached
        got = signer.sign_legacy(nonce=nonce, to=to, data=data, gas=gas, gas_price=price, value=value)
        assert got.raw == want.raw_transaction
        assert got.tx_hash == bytes(want.hash)
        assert got.nonce == nonce
    assert want.v in (35 + 2 * chain_id, 36 + 2 * chain_id)  # EIP-155: the chain id is in v
    assert signer.sign_with(Fees.legacy(price), nonce=nonce, to=to, data=data, gas=gas, value=value).raw == got.raw


def test_the_fees_pick_the_transaction_type() -> None:
    key = b"\x01" * 32
    signer = FastSigner(key, 31337)
    legacy = signer.sign_with(Fees.legacy(7), nonce=1, to=None, data=b"", gas=21_000)
    eip1559 = signer.sign_with(Fees("eip1559", 9, 2), nonce=1, to=None, data=b"", gas=21_000)
    assert legacy.raw[0] >= 0xC0 and eip1559.raw[0] == 0x02  # an RLP list, and the type-2 envelope
    assert eip1559.raw == signer.sign(nonce=1, to=None, data=b"", gas=21_000, max_fee=9, max_priority_fee=2).raw
    assert Account.recover_transaction(legacy.raw) == Account.from_key(key).address
    assert Account.recover_transaction(eip1559.raw) == Account.from_key(key).address


# ---------------------------------------------------------------- replacement fees


def test_a_replacement_raises_every_fee_by_at_least_the_pools_ten_percent() -> None:
    gwei = 10**9
    legacy = Fees.legacy(2 * gwei).bumped(1.01, Fees.legacy(gwei))  # asked for 1 %: the pools want 10 %
    assert legacy.model == "legacy" and legacy.gas_price >= 2 * gwei * MIN_REPLACEMENT_BUMP
    assert legacy.max_fee == legacy.priority
    assert Fees.legacy(gwei).bumped(1.15, Fees.legacy(5 * gwei)).gas_price == 5 * gwei  # the chain now asks more
    bumped = Fees("eip1559", 30 * gwei, 2 * gwei).bumped(1.15, Fees("eip1559", 3 * gwei, gwei))
    assert bumped.max_fee > 30 * gwei * 1.15 - 1 and bumped.priority > 2 * gwei * 1.15 - 1
    assert bumped.max_fee >= bumped.priority
    # one wei at least, however small the fee
    assert Fees.legacy(1).bumped(1.15, Fees.legacy(0)).gas_price == 2


def test_a_free_transaction_on_a_free_chain_is_not_repriced_but_one_on_a_chain_no_longer_free_is() -> None:
    free_legacy, free_1559 = Fees.legacy(0), Fees("eip1559", 0, 0)
    assert free_legacy.bumped(2.0, Fees.legacy(0)) is free_legacy
    assert free_1559.bumped(2.0, Fees("eip1559", 0, 0)) is free_1559
    assert free_legacy.bumped(1.15, Fees.legacy(7)) == Fees.legacy(7)
    assert free_1559.bumped(1.15, Fees("eip1559", 5, 1)) == Fees("eip1559", 5, 1)


# ---------------------------------------------------------------- what the node says


@pytest.fixture(params=list(NODES))
def any_node(request: pytest.FixtureRequest) -> Iterator[tuple[str, LocalNode]]:
    with node_for(request.param) as node:
        yield request.param, node


def test_the_fee_model_and_price_are_read_from_the_node(any_node: tuple[str, LocalNode]) -> None:
    name, node = any_node
    _, model, free = NODES[name]
    rpc = JsonRpc(node.url)
    assert detect_fee_model(rpc) == model
    fees = quote(rpc, model)  # type: ignore[arg-type]
    assert fees.model == model and fees.free == free
    if model == "legacy":
        assert fees.gas_price == int(rpc.call("eth_gasPrice"), 16)
    elif not free:
        assert fees.priority >= PRIORITY_FEE_FLOOR and fees.max_fee >= fees.priority
    # the override wins over what the node says
    assert detect_fee_model(rpc, "legacy") == "legacy" and detect_fee_model(rpc, "eip1559") == "eip1559"


@pytest.fixture(params=["cancun", "berlin", "berlin-free", "cancun-free"])
def fee_world(request: pytest.FixtureRequest, build: Build, cast: Cast, tmp_path: Any) -> Iterator[tuple[str, World]]:
    """A registry (the default build: berlin, runs everywhere) on a node of the given fee model."""
    with node_for(request.param) as node:
        yield request.param, deploy_world(node.url, tmp_path / "deployments", build, cast)


def test_the_client_sends_the_chain_s_own_type_and_the_node_holds_what_eth_account_signs(
    fee_world: tuple[str, World],
) -> None:
    name, world = fee_world
    _, model, free = NODES[name]
    c, cast = world.client, world.cast
    assert c.fee_model() == model
    done = c.retire(world.op(), world.batch_id, 3, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
    assert c.balance_of(cast.holder.address, world.batch_id) == HOLDER_START - 3
    tx = mined(world, done.tx_hash)
    raw = bytes.fromhex(c.rpc.call("eth_getRawTransactionByHash", done.tx_hash)[2:])
    fields: dict[str, Any] = {
        "chainId": 31337,
        "nonce": int(tx["nonce"], 16),
        "to": to_checksum_address(tx["to"]),
        "gas": int(tx["gas"], 16),
        "value": 0,
        "data": bytes.fromhex(tx["input"][2:]),
    }
    if model == "legacy":
        assert tx["type"] == "0x0" and int(tx["v"], 16) in EIP155_V
        fields["gasPrice"] = int(tx["gasPrice"], 16)
        assert (fields["gasPrice"] == 0) == free
    else:
        assert tx["type"] == "0x2"
        fields |= {
            "type": 2,
            "maxFeePerGas": int(tx["maxFeePerGas"], 16),
            "maxPriorityFeePerGas": int(tx["maxPriorityFeePerGas"], 16),
            "accessList": [],
        }
        if free:
            assert fields["maxFeePerGas"] == fields["maxPriorityFeePerGas"] == 0  # tips of 0 on a free chain
        else:
            assert fields["maxPriorityFeePerGas"] >= PRIORITY_FEE_FLOOR
    assert raw == bytes(Account.sign_transaction(fields, cast.holder.key).raw_transaction)


def test_legacy_override_on_a_base_fee_chain_and_eip1559_override_on_berlin(
    build: Build, cast: Cast, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with node_for("london") as node:
        monkeypatch.setenv("LEDGER_FEE_MODEL", "legacy")
        world = deploy_world(node.url, tmp_path / "london", build, cast)
        assert world.client.fee_model() == "legacy"
        done = world.client.retire(world.op(), world.batch_id, 1, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
        assert mined(world, done.tx_hash)["type"] == "0x0"  # london still takes type 0
    with node_for("berlin") as node:
        monkeypatch.setenv("LEDGER_FEE_MODEL", "legacy")
        world = deploy_world(node.url, tmp_path / "berlin", build, cast)
        forced = RegistryClient(
            world.client.rpc,
            world.client.address,
            world.client.abi,
            chain_id=31337,
            signer=cast.holder,
            fee_model="eip1559",
        )
        with pytest.raises(TransactionFailedError) as refused:
            forced.retire(world.op(), world.batch_id, 1, Scenario.PERSONAL, HASH, HASH)
        message = str(refused.value)
        assert "not supported by the current hardfork" in message and "\n" not in message
        assert world.client.balance_of(cast.holder.address, world.batch_id) == HOLDER_START


# ---------------------------------------------------------------- the bulk sender and stuck transactions


def stuck_run(world: World, ops: list[Operation]) -> Any:
    """Nothing is mined for 2.5 s, so every transaction is stuck (stuck_after=1) before the block."""
    rpc = world.client.rpc
    rpc.call("evm_setAutomine", False)
    miner = threading.Timer(2.5, lambda: rpc.call("evm_mine"))
    miner.start()
    try:
        return BulkSender(world.client, stuck_after=1.0).run(ops)
    finally:
        miner.cancel()
        rpc.call("evm_setAutomine", True)


def test_stuck_transactions_are_replaced_in_each_fee_model(fee_world: tuple[str, World]) -> None:
    name, world = fee_world
    _, model, free = NODES[name]
    c = world.client
    first = c.fee_quote()
    ops = retirements(world, f"stuck-{name}", 20)
    report = stuck_run(world, ops)
    assert report.applied == len(ops) and report.failed == 0
    assert c.supply(world.batch_id).retired == len(ops)
    tx = mined(world, report.results[0].tx_hash)  # type: ignore[arg-type]
    assert tx["type"] == ("0x0" if model == "legacy" else "0x2")
    if free:
        # nothing to raise: the same signed transactions were sent again (anvil answers "already imported")
        assert report.replaced == 0 and report.rebroadcast >= len(ops)
        assert int(tx["gasPrice"], 16) == 0
    else:
        assert report.replaced >= len(ops) and report.rebroadcast == 0
        # the replacement was mined: every fee raised by >= 10 % (EIP-1559: the tip and the cap)
        assert int(tx.get("maxPriorityFeePerGas", tx["gasPrice"]), 16) >= first.priority * MIN_REPLACEMENT_BUMP
        assert int(tx.get("maxFeePerGas", tx["gasPrice"]), 16) >= first.max_fee * MIN_REPLACEMENT_BUMP
    # exactly once: one event per operation, and a second run sends nothing
    again = BulkSender(c).run(ops)
    assert again.already_applied == len(ops) and again.applied == 0


# ---------------------------------------------------------------- the CLI


def test_the_cli_sends_legacy_transactions_on_berlin_and_names_a_wrong_override_in_one_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from chain.keys import dev_accounts
    from chain.node import free_port
    from scripts.cli import app

    runner = CliRunner()
    newcomer = dev_accounts()[11].address
    with node_for("berlin") as node:
        monkeypatch.setenv("LEDGER_RPC_URL", node.url)
        monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("LEDGER_NODE_PORT", str(free_port()))
        monkeypatch.delenv("LEDGER_FEE_MODEL", raising=False)
        deployed = runner.invoke(app, ["deploy"])
        assert deployed.exit_code == 0, deployed.output
        monkeypatch.setenv("LEDGER_FEE_MODEL", "eip1559")  # the operator forces a type the node refuses
        refused = runner.invoke(app, ["participant", "add", newcomer, "--kind", "enterprise"])
        assert refused.exit_code == 1 and "Traceback" not in refused.output
        shown = " ".join(refused.output.split())
        assert shown.startswith("error: transaction 0x") and shown.count("error:") == 1, shown
        assert "not supported by the current hardfork" in shown
        monkeypatch.setenv("LEDGER_FEE_MODEL", "auto")
        added = runner.invoke(app, ["participant", "add", newcomer, "--kind", "enterprise"])
        assert added.exit_code == 0, added.output
        rpc = JsonRpc(node.url)
        block = rpc.call("eth_getBlockByNumber", "latest", True)
        assert [tx["type"] for tx in block["transactions"]] == ["0x0"]
        assert int(block["transactions"][0]["v"], 16) in EIP155_V
