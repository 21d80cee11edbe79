"""Each fact of the chain layer lives in one place: the contract build is compiled by `make build`
(or `ledger deploy`) and only loaded at run time; one role table; one selector table; one
transaction path whose replay names a failure alike for the client, the bulk sender and the
explorer; one log-range fetcher."""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from chain import artifacts
from chain.artifacts import BuildMissingError, BuildStaleError, load
from chain.errors import InvalidInputError, RegistryRevertError
from chain.logs import LogFetcher
from chain.paths import BUILD_DIR, PROJECT_ROOT
from chain.roles import OPERATOR_ROLES, ROLE_NAMES, ROLES, role_id, role_name
from chain.rpc import JsonRpc, RpcError
from chain.settings import DEFAULT_EVM_VERSION
from chain.transactions import replay_call
from tests.conftest import World

# where the compiler may be called: the build step and deployment (`ledger deploy`); tests and
# the benchmark of an unrelated contract (bench/relay.py) compile fixtures of their own
MAY_COMPILE = {"chain/compiler.py", "chain/deploy.py", "chain/static_analysis.py", "scripts/cli.py"}
RUNTIME_PACKAGES = ("chain", "indexer", "certificates", "audit", "api", "scripts")


# ------------------------------------------------------------------ the build is loaded, not compiled


def test_no_run_time_code_calls_the_compiler() -> None:
    calls = {}
    for package in RUNTIME_PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found = re.findall(r"\b(compile_contracts|run_compiler)\(", text)
            if found:
                calls[str(path.relative_to(PROJECT_ROOT))] = len(found)
    assert set(calls) <= MAY_COMPILE, calls
    cli = (PROJECT_ROOT / "scripts" / "cli.py").read_text(encoding="utf-8")
    deploy_command = cli[cli.index("def deploy(") : cli.index("def status(")]
    assert cli.count("compile_contracts(") == deploy_command.count("compile_contracts(") == 1  # `ledger deploy` only


def test_the_build_is_loaded_as_compiled(build: Any, tmp_path: Path) -> None:
    shutil.copytree(BUILD_DIR / DEFAULT_EVM_VERSION, tmp_path / DEFAULT_EVM_VERSION)
    loaded = load(DEFAULT_EVM_VERSION, build_dir=tmp_path)
    compiled = build if build.evm_version == DEFAULT_EVM_VERSION else None
    assert loaded.evm_version == DEFAULT_EVM_VERSION
    assert set(loaded.artifacts) >= {"CarbonRegistry", "CertificateRevocations", "ERC1967Proxy", "CatalogExtension"}
    if compiled is not None:
        for name, artifact in compiled.artifacts.items():
            assert loaded[name] == artifact
        assert (loaded.compiler_version, loaded.backend, loaded.input_hash) == (
            compiled.compiler_version,
            compiled.backend,
            compiled.input_hash,
        )


def test_a_missing_build_is_refused_in_one_line_naming_make_build(tmp_path: Path) -> None:
    with pytest.raises(BuildMissingError) as missing:
        load("cancun", build_dir=tmp_path)
    message = str(missing.value)
    assert "cancun" in message and "`make build`" in message and "\n" not in message


def test_a_stale_build_is_refused_in_one_line_naming_make_build(tmp_path: Path) -> None:
    shutil.copytree(BUILD_DIR / DEFAULT_EVM_VERSION, tmp_path / DEFAULT_EVM_VERSION)
    manifest_path = tmp_path / DEFAULT_EVM_VERSION / artifacts.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["sources_hash"] = "0" * 64  # as if contracts/ had changed since the build
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BuildStaleError) as stale:
        load(DEFAULT_EVM_VERSION, build_dir=tmp_path)
    message = str(stale.value)
    assert "stale" in message and "`make build`" in message and "\n" not in message


def test_an_upgraded_solidity_library_makes_the_build_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`npm ci` bringing another OpenZeppelin release changes what a build is made from."""
    from chain import sources

    shutil.copytree(BUILD_DIR / DEFAULT_EVM_VERSION, tmp_path / DEFAULT_EVM_VERSION)
    load(DEFAULT_EVM_VERSION, build_dir=tmp_path)  # current as built
    installed = sources.library_versions()
    assert installed.get("contracts"), "the OpenZeppelin contracts package is read"
    monkeypatch.setattr(sources, "library_versions", lambda: {**installed, "contracts": "9.9.9"})
    with pytest.raises(BuildStaleError):
        load(DEFAULT_EVM_VERSION, build_dir=tmp_path)


def test_a_build_cut_short_is_missing_not_half_loaded(tmp_path: Path) -> None:
    shutil.copytree(BUILD_DIR / DEFAULT_EVM_VERSION, tmp_path / DEFAULT_EVM_VERSION)
    (tmp_path / DEFAULT_EVM_VERSION / "artifacts" / "CarbonRegistry.json").unlink()
    with pytest.raises(BuildMissingError):
        load(DEFAULT_EVM_VERSION, build_dir=tmp_path)


# ------------------------------------------------------------------ no import runs in a circle


def chain_imports() -> dict[str, set[str]]:
    """Each module of chain/ and the chain modules it imports (at the top or inside a function)."""
    graph: dict[str, set[str]] = {}
    for path in (PROJECT_ROOT / "chain").glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "chain":
                deps |= {f"chain.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chain."):
                deps.add(str(node.module))
            elif isinstance(node, ast.Import):
                deps |= {alias.name for alias in node.names if alias.name.startswith("chain.")}
        graph[f"chain.{path.stem}"] = deps
    return graph


def test_the_modules_of_chain_import_each_other_without_a_circle() -> None:
    graph = chain_imports()
    assert not any(m.startswith("chain.") for m in graph["chain.abi"])  # the ABI tables stand on nothing of ours
    done: set[str] = set()

    def walk(module: str, path: tuple[str, ...]) -> None:
        for dep in graph.get(module, set()):
            assert dep not in path, " -> ".join((*path, dep))
            if dep not in done:
                walk(dep, (*path, dep))
        done.add(module)

    for module in graph:
        walk(module, (module,))


# ------------------------------------------------------------------ one role table


def test_the_role_table_is_the_contracts(world: World) -> None:
    assert set(ROLES) == {*OPERATOR_ROLES, "DEFAULT_ADMIN_ROLE"}
    for name, value in ROLES.items():
        assert world.client.view(name) == value, name  # the contract's own constant
        assert ROLE_NAMES["0x" + value.hex()] == name == role_name(value)
        assert role_id(name) == value
    assert role_name(b"\x07" * 32) is None
    with pytest.raises(InvalidInputError, match="unknown role 'MINTER_ROLE'; one of ANCHORER_ROLE"):
        role_id("MINTER_ROLE")


def test_a_missing_role_in_a_revert_is_named_from_the_same_table(world: World) -> None:
    c, stranger = world.client, world.cast.stranger
    refused = c.simulate("pause", (), sender=stranger)
    assert refused.error is not None and refused.error.name == "AccessControlUnauthorizedAccount"
    assert refused.error.args_by_name["neededRole"] == "PAUSER_ROLE"


# ------------------------------------------------------------------ one transaction path


def test_a_transaction_reverted_on_chain_is_named_alike_by_the_client_and_the_explorer(world: World) -> None:
    from api.explorer.node import ExplorerNode

    c, holder = world.client, world.cast.holder
    too_much = c.balance_of(holder.address, world.batch_id) + 1
    with pytest.raises(RegistryRevertError) as refused:  # gas given: no simulation, so it is mined and reverts
        c.transfer(holder.address, world.cast.buyer.address, world.batch_id, too_much, sender=holder, gas=200_000)
    assert refused.value.name in ("ERC1155InsufficientBalance", "RegistryInsufficientFreeBalance")
    block = int(c.rpc.call("eth_blockNumber"), 16)
    tx_hash = c.rpc.call("eth_getBlockByNumber", hex(block), False)["transactions"][0]
    tx = c.rpc.call("eth_getTransactionByHash", tx_hash)
    replayed = c.replay(replay_call(tx), block, c.abi)
    assert replayed is not None and (replayed.name, replayed.args_by_name) == (
        refused.value.name,
        refused.value.args_by_name,
    )
    failure = ExplorerNode(c.rpc, world.registry.deployment).tx(tx_hash).failure
    assert failure is not None
    assert (failure.name, failure.args, failure.explanation) == (
        replayed.name,
        replayed.args_by_name,
        replayed.explanation,
    )


def test_a_replay_that_succeeds_names_nothing(world: World) -> None:
    c = world.client
    call = {"from": world.cast.holder.address, "to": c.address, "data": "0x" + c.abi.encode_call("paused", ()).hex()}
    assert c.replay(call, int(c.rpc.call("eth_blockNumber"), 16), c.abi) is None


# ------------------------------------------------------------------ one log-range fetcher


def test_the_fetcher_reads_topics_and_several_addresses_in_any_range_size(world: World) -> None:
    c = world.client
    head = int(c.rpc.call("eth_blockNumber"), 16)
    topic = "0x" + c.abi.event_topics["TransferSingle"].hex()
    whole = c.rpc.call(
        "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head), "address": c.address, "topics": [topic]}
    )
    assert whole
    for size in (1, 3, head + 1):
        fetcher = LogFetcher(c.rpc, [c.address, "0x" + "00" * 20], topics=[topic], max_range=size, start_range=size)
        assert fetcher.fetch_all(0, head) == whole


class RefusingRpc(JsonRpc):
    """A node that refuses every eth_getLogs with `message`."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(url)
        self.message = message
        self.asked = 0

    def call(self, method: str, *params: Any, **kw: Any) -> Any:
        if method == "eth_getLogs":
            self.asked += 1
            raise RpcError({"code": -32000, "message": self.message})
        return super().call(method, *params, **kw)


def test_a_reader_that_may_not_wait_shrinks_a_refused_range_then_gives_up(world: World) -> None:
    rpc = RefusingRpc(world.client.rpc.url, "query returned more than 10000 results")
    fetcher = LogFetcher(rpc, world.client.address, max_range=8, start_range=8, retries=0)
    with pytest.raises(RpcError):
        fetcher.fetch_all(0, 7)
    assert rpc.asked == 4  # 8, 4, 2, 1 blocks: then no smaller range is left
    other = RefusingRpc(world.client.rpc.url, "internal error")
    with pytest.raises(RpcError):
        LogFetcher(other, world.client.address, retries=0).fetch_all(0, 7)
    assert other.asked == 1
