"""The registry builds for every EVM target from berlin to cancun, every deployed part fits the
EIP-170 size limit at each, a build deploys and works on an anvil of its own fork, and a build a
node cannot run is refused before any transaction, in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from chain.abi import ContractAbi
from chain.artifacts import Build
from chain.client import RegistryClient
from chain.compiler import compile_contracts, configured_evm_version
from chain.connection import connect
from chain.deploy import deploy_bytecode, ensure_deployed, load_deployment, record_path
from chain.errors import InvalidInputError, RegistryRevertError, TransactionFailedError
from chain.local import LocalRegistry, open_local_registry
from chain.node import LocalNode, free_port
from chain.opids import random_op_id
from chain.probe import (
    DEPLOYED_PARTS,
    FEATURES,
    EvmMismatchError,
    available_features,
    features_used,
    required_features,
    runs_snippet,
)
from chain.rpc import JsonRpc
from chain.settings import DEFAULT_EVM_VERSION, EVM_VERSIONS, LOCAL_CHAIN_ID
from chain.sourcify import contract_folder
from chain.types import Scenario
from tests.conftest import HASH, HOLDER_START, ISSUED, RESERVE_BPS, Cast, World, deploy_world, populate

EIP170_LIMIT = 24_576  # deployed code
EIP3860_LIMIT = 49_152  # init code, from shanghai on
HARDFORKS = ("berlin", "london", "shanghai", "cancun")
# what each anvil fork runs of the families the probe knows
RUNS = {
    "berlin": set(),
    "london": {"BASEFEE"},
    "shanghai": {"BASEFEE", "PUSH0"},
    "cancun": {"BASEFEE", "PUSH0", "MCOPY", "TSTORE", "BLOBHASH"},
}


@pytest.fixture(scope="module")
def builds() -> dict[str, Build]:
    """One build per target (cached in build/contracts after the first compilation)."""
    return {target: compile_contracts(evm_version=target) for target in EVM_VERSIONS}


def fork_node(hardfork: str) -> LocalNode:
    return LocalNode(block_time=None, extra_args=("--hardfork", hardfork))


@pytest.mark.parametrize("target", EVM_VERSIONS)
def test_every_deployed_part_fits_the_size_limits_at_every_target(builds: dict[str, Build], target: str) -> None:
    build = builds[target]
    sizes = {name: len(build[name].deployed_bytecode) // 2 for name in DEPLOYED_PARTS}
    over = {name: size for name, size in sizes.items() if size > EIP170_LIMIT}
    assert not over, f"{target}: over the EIP-170 limit of {EIP170_LIMIT:,} bytes: {over}"
    assert min(sizes.values()) > 0
    init = {name: len(build[name].bytecode) // 2 for name in DEPLOYED_PARTS}
    assert max(init.values()) <= EIP3860_LIMIT, f"{target}: init code over {EIP3860_LIMIT:,} bytes: {init}"
    assert json.loads(build["CarbonRegistry"].metadata)["settings"]["evmVersion"] == target


def test_only_shanghai_and_later_builds_need_opcodes_newer_than_berlin(builds: dict[str, Build]) -> None:
    needs = {target: required_features(build) for target, build in builds.items()}
    assert needs == {
        "berlin": set(),
        "london": set(),
        "paris": set(),
        "shanghai": {"PUSH0"},
        "cancun": {"PUSH0", "MCOPY"},
    }
    # and that is really what solc emitted: PUSH0 (0x5f) in shanghai code, none below
    assert len(builds["shanghai"]["CarbonRegistry"].deployed_bytecode) < len(
        builds["berlin"]["CarbonRegistry"].deployed_bytecode
    )


def test_explicit_uses_in_the_sources_count_and_comments_do_not() -> None:
    assert features_used("uint256 fee = block.basefee; // tstore(0, 1)") == {"BASEFEE"}
    assert features_used("/* mcopy(a, b, c) and block.basefee */ uint256 transient lock;") == {"TSTORE"}
    assert features_used("assembly { mcopy(0, 32, 64) let h := blobhash(0) }") == {"MCOPY", "BLOBHASH"}
    assert features_used("// block.basefee\nuint256 x = block.number;") == set()


def test_the_default_target_is_berlin_and_the_setting_chooses_another(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGER_EVM_VERSION", raising=False)
    assert configured_evm_version() == DEFAULT_EVM_VERSION == "berlin"
    monkeypatch.setenv("LEDGER_EVM_VERSION", "shanghai")
    assert configured_evm_version() == "shanghai"
    monkeypatch.setenv("LEDGER_EVM_VERSION", "istanbul")
    with pytest.raises(InvalidInputError) as refused:
        configured_evm_version()
    assert "LEDGER_EVM_VERSION='istanbul'" in str(refused.value) and "\n" not in str(refused.value)


def berlin_world(node: LocalNode, build: Build, cast: Cast, tmp_path: Any) -> World:
    """deploy_world by hand: ensure_deployed, then the same roles and base state (the client sends
    legacy transactions by itself where blocks have no base fee)."""
    rpc = connect(node.url, LOCAL_CHAIN_ID)
    deployment, created = ensure_deployed(
        rpc, chain_id=LOCAL_CHAIN_ID, build=build, deployer=cast.admin, directory=tmp_path / "deployments", force=True
    )
    client = RegistryClient(
        rpc, deployment.address, ContractAbi(build["CarbonRegistry"].abi), chain_id=LOCAL_CHAIN_ID, signer=cast.admin
    )
    for role, account in (
        ("REGISTRAR_ROLE", cast.registrar),
        ("REVIEWER_ROLE", cast.reviewer),
        ("ANCHORER_ROLE", cast.anchorer),
        ("PAUSER_ROLE", cast.pauser),
    ):
        client.grant_role(role, account.address)
    client.signer = cast.registrar
    return World(client, cast, populate(client, cast), LocalRegistry(build, deployment, client, created))


@pytest.fixture(params=HARDFORKS)
def forked(request: pytest.FixtureRequest) -> Iterator[tuple[str, LocalNode]]:
    with fork_node(request.param) as node:
        yield request.param, node


def test_a_build_for_the_node_s_fork_deploys_and_works_there(
    forked: tuple[str, LocalNode], builds: dict[str, Build], cast: Cast, tmp_path: Any
) -> None:
    hardfork, node = forked
    build = builds[hardfork]
    rpc = JsonRpc(node.url)
    assert available_features(rpc) == RUNS[hardfork]
    # the fallback style (code of an empty address, by state override) gives the same answer
    assert {name for name, f in FEATURES.items() if runs_snippet(rpc, f.snippet, override=True)} == RUNS[hardfork]
    if hardfork == "berlin":
        world = berlin_world(node, build, cast, tmp_path)
    else:
        world = deploy_world(node.url, tmp_path / "deployments", build, cast)
    c, d = world.client, world.registry.deployment
    # register, issue and transfer ran in populate(); the state they left, then a retirement
    assert c.supply(world.batch_id).issued == ISSUED
    assert c.balance_of(cast.holder.address, world.batch_id) == HOLDER_START
    assert c.balance_of(cast.owner.address, world.batch_id) == ISSUED - ISSUED * RESERVE_BPS // 10_000 - HOLDER_START
    retired = c.retire(random_op_id(), world.batch_id, 5, Scenario.PERSONAL, HASH, HASH, sender=cast.holder)
    assert retired.event("CreditsRetired").args["amount"] == 5
    assert c.balance_of(cast.holder.address, world.batch_id) == HOLDER_START - 5
    assert c.supply(world.batch_id).retired == 5
    # the companion's code answers with the registry's own errors, and only through the proxy's roles
    with pytest.raises(RegistryRevertError, match="AccessControlUnauthorizedAccount"):
        c.file_methodology(random_op_id(), "SCFM-002-V01", 0, 1, HASH, sender=cast.stranger)
    # the record and the Sourcify metadata carry the target; the companion is where the record says
    record = json.loads(record_path(tmp_path / "deployments", LOCAL_CHAIN_ID).read_text())
    assert record["evm_version"] == hardfork == d.evm_version
    on_chain = c.rpc.call("eth_getCode", d.catalog_extension, "latest")
    assert on_chain[2:] == build["CatalogExtension"].deployed_bytecode
    for address in (d.implementation, d.catalog_extension, d.address, d.revocations):
        metadata = json.loads(
            (contract_folder(tmp_path / "sourcify", LOCAL_CHAIN_ID, address) / "metadata.json").read_text()
        )
        assert metadata["settings"]["evmVersion"] == hardfork


def test_a_cancun_build_is_refused_on_a_london_node_in_one_line_before_any_transaction(
    builds: dict[str, Build], cast: Cast, tmp_path: Any
) -> None:
    with fork_node("london") as node:
        rpc = connect(node.url, LOCAL_CHAIN_ID)
        with pytest.raises(EvmMismatchError) as refused:
            ensure_deployed(
                rpc,
                chain_id=LOCAL_CHAIN_ID,
                build=builds["cancun"],
                deployer=cast.admin,
                directory=tmp_path / "deployments",
            )
        message = str(refused.value)
        assert message == (
            f"the chain at {node.url} has no PUSH0 (shanghai), no MCOPY (cancun); "
            "set LEDGER_EVM_VERSION=paris or lower (the build is for cancun)"
        )
        assert rpc.call("eth_getTransactionCount", cast.admin.address, "latest") == "0x0"  # nothing was sent
        assert rpc.call("eth_blockNumber") == "0x0"
        assert load_deployment(tmp_path / "deployments", LOCAL_CHAIN_ID) is None
        # the shanghai build (PUSH0, no MCOPY) is refused for PUSH0 alone; the paris build deploys
        with pytest.raises(EvmMismatchError, match=r"has no PUSH0 \(shanghai\); set LEDGER_EVM_VERSION=paris"):
            ensure_deployed(
                rpc,
                chain_id=LOCAL_CHAIN_ID,
                build=builds["shanghai"],
                deployer=cast.admin,
                directory=tmp_path / "deployments",
            )
        registry = open_local_registry(node.url, deployments_dir=tmp_path / "deployments", build=builds["paris"])
        assert registry.created and registry.deployment.evm_version == "paris"


def test_without_the_probe_the_same_deploy_would_revert(builds: dict[str, Build], cast: Cast) -> None:
    """What the probe saves the operator from: the node's own refusal, after the estimate."""
    with fork_node("london") as node:
        rpc = connect(node.url, LOCAL_CHAIN_ID)
        with pytest.raises(TransactionFailedError, match="NotActivated"):
            deploy_bytecode(rpc, LOCAL_CHAIN_ID, cast.admin, bytes.fromhex(builds["cancun"]["CarbonRegistry"].bytecode))


def test_a_reused_deployment_is_described_by_its_own_target_s_build(
    anvil: LocalNode, builds: dict[str, Build], tmp_path: Any
) -> None:
    """A record made with cancun and a setting now at berlin: the missing revocation list is added
    from the cancun build (the Sourcify check refuses metadata of another target)."""
    directory = tmp_path / "deployments"
    first = open_local_registry(anvil.url, deployments_dir=directory, build=builds["cancun"], force=True)
    path = record_path(directory, LOCAL_CHAIN_ID)
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "revocations": ""}))
    again = open_local_registry(anvil.url, deployments_dir=directory, build=builds["berlin"])
    assert not again.created and again.deployment.evm_version == "cancun"
    assert again.deployment.address == first.deployment.address
    code = again.client.rpc.call("eth_getCode", again.deployment.revocations, "latest")
    assert len(code[2:]) == len(builds["cancun"]["CertificateRevocations"].deployed_bytecode)
    assert len(code[2:]) != len(builds["berlin"]["CertificateRevocations"].deployed_bytecode)


def test_ledger_deploy_works_on_a_london_node_by_default_and_refuses_a_cancun_build_in_one_line(
    builds: dict[str, Build], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts.cli import app

    runner = CliRunner()
    with fork_node("london") as node:
        monkeypatch.setenv("LEDGER_RPC_URL", node.url)
        monkeypatch.setenv("LEDGER_VAR_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("LEDGER_NODE_PORT", str(free_port()))
        monkeypatch.setenv("LEDGER_EVM_VERSION", "cancun")
        refused = runner.invoke(app, ["deploy"])
        assert refused.exit_code == 1
        shown = " ".join(refused.output.split())  # rich wraps at the terminal's width
        assert shown.startswith("error: the chain at http://127.0.0.1:") and shown.count("error:") == 1, shown
        assert shown.endswith(
            "has no PUSH0 (shanghai), no MCOPY (cancun); "
            "set LEDGER_EVM_VERSION=paris or lower (the build is for cancun)"
        ), shown
        assert "Traceback" not in refused.output
        monkeypatch.delenv("LEDGER_EVM_VERSION")
        deployed = runner.invoke(app, ["deploy"])
        assert deployed.exit_code == 0, deployed.output
        assert "deployed now" in deployed.output
        assert load_deployment(tmp_path / "var" / "deployments", LOCAL_CHAIN_ID).evm_version == "berlin"  # type: ignore[union-attr]
