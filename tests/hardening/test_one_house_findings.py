"""What a hostile pass over the "one house" redesign (issue 13) found: the build step (a damaged
build, a damaged compiler cache, a compile at run time, the API factory started without a build or
under edited contracts), the import rule (imports hidden in strings, folders without __init__.py),
the facts written once (the verifier's ABI fragments, the retirement id's one parser) and the demo
on a node the operator started. Each test is a finding (or a hole in a guard), then fixed."""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from api import asgi
from certificates.evidence import VERIFIER_ABI
from chain import artifacts, compiler, deploy
from chain.artifacts import MANIFEST, BuildMissingError, BuildStaleError, load
from chain.client import RegistryClient
from chain.errors import ChainError
from chain.node import LocalNode
from chain.paths import BUILD_DIR, PROJECT_ROOT
from chain.rpc import JsonRpc
from chain.settings import DEFAULT_EVM_VERSION
from scripts.demo import automine
from tests.api.conftest import Certified, api, certified, monkeypatch_module  # noqa: F401  # fixtures, found by name
from tests.test_architecture import ALLOWED, OURS

RUNTIME_PACKAGES = ("chain", "indexer", "certificates", "audit", "mrv", "footprint", "api", "scripts")


def one_line_naming_make_build(error: BaseException) -> None:
    message = str(error)
    assert "`make build" in message and "\n" not in message, message


# ------------------------------------------------------- a damaged build/ is refused, never a crash


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def set_key(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda record: {**record, key: value}


def drop_key(key: str) -> Callable[[Any], Any]:
    return lambda record: {k: v for k, v in record.items() if k != key}


DAMAGE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    # each was "error: unexpected TypeError (KeyError, AttributeError); this is a bug" from every command
    "artifact is a list": ("artifacts/CarbonRegistry.json", lambda _: []),
    "null ABI": ("artifacts/CarbonRegistry.json", set_key("abi", None)),
    "ABI of strings": ("artifacts/CarbonRegistry.json", set_key("abi", ["transfer"])),
    "null bytecode": ("artifacts/CarbonRegistry.json", set_key("bytecode", None)),
    "bytecode not hex": ("artifacts/CarbonRegistry.json", set_key("deployedBytecode", "0xnothex")),
    "manifest is a list": (MANIFEST, lambda _: []),
    "manifest without the compiler": (MANIFEST, drop_key("compiler_version")),
    "manifest leaving the registry out": (MANIFEST, set_key("contracts", ["ERC1967Proxy"])),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_build_is_refused_in_one_line_naming_make_build(tmp_path: Path, damage: str) -> None:
    shutil.copytree(BUILD_DIR / DEFAULT_EVM_VERSION, tmp_path / DEFAULT_EVM_VERSION)
    relative, change = DAMAGE[damage]
    edit_json(tmp_path / DEFAULT_EVM_VERSION / relative, change)
    with pytest.raises(BuildMissingError) as refused:
        load(DEFAULT_EVM_VERSION, build_dir=tmp_path)
    one_line_naming_make_build(refused.value)


def test_an_undamaged_copy_still_loads(tmp_path: Path) -> None:
    shutil.copytree(BUILD_DIR / DEFAULT_EVM_VERSION, tmp_path / DEFAULT_EVM_VERSION)
    assert load(DEFAULT_EVM_VERSION, build_dir=tmp_path).artifacts.keys() == load(DEFAULT_EVM_VERSION).artifacts.keys()


# ------------------------------------------------------- `make build` after a build stopped mid-write


@pytest.mark.parametrize("cut", ["truncated", "empty", "not compiler output"])
def test_make_build_recovers_from_a_compiler_cache_cut_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    """A `make build` interrupted while writing its cache (Ctrl-C, a full disk) left the cache cut
    short, and every later `make build` died with a JSONDecodeError traceback until `make clean`."""
    good = load(DEFAULT_EVM_VERSION)
    name = f"{good.input_hash[:16]}-{good.backend}.json"
    output: dict[str, Any] = json.loads((BUILD_DIR / name).read_text())
    text = json.dumps(output)
    (tmp_path / name).write_text({"truncated": text[: len(text) // 2], "empty": "", "not compiler output": "[]"}[cut])
    compiled: list[str] = []

    def run_compiler(solc_input: dict[str, Any], backend: str) -> dict[str, Any]:
        compiled.append(backend)
        return output

    monkeypatch.setattr(compiler, "run_compiler", run_compiler)
    build = compiler.compile_contracts(evm_version=DEFAULT_EVM_VERSION, backend=good.backend, build_dir=tmp_path)
    assert compiled == [good.backend]  # compiled again instead of crashing
    assert build["CarbonRegistry"] == good["CarbonRegistry"]
    assert json.loads((tmp_path / name).read_text()) == output  # and the cache is whole again
    assert not list(tmp_path.glob("*.tmp"))
    compiler.compile_contracts(evm_version=DEFAULT_EVM_VERSION, backend=good.backend, build_dir=tmp_path)
    assert compiled == [good.backend]  # the second build is the cached one


# ------------------------------------------------------- a deployment recorded for another target


@pytest.mark.parametrize("why", [BuildMissingError, BuildStaleError])
def test_a_record_of_another_target_is_not_compiled_at_run_time(
    monkeypatch: pytest.MonkeyPatch, why: type[BuildMissingError | BuildStaleError]
) -> None:
    """`ledger up` on a record written before the revocation list, for another EVM target than the
    configured one, compiled that target silently inside the main job (a minute of solc-js)."""

    def missing(evm_version: str) -> None:
        raise why(evm_version, BUILD_DIR / evm_version)  # both take (target, folder)

    def no_compiling(**_: Any) -> None:
        pytest.fail("compiled at run time")

    monkeypatch.setattr(deploy, "load", missing)
    monkeypatch.setattr(compiler, "compile_contracts", no_compiling)
    monkeypatch.setattr(deploy, "compile_contracts", no_compiling, raising=False)
    with pytest.raises(ChainError) as refused:
        deploy.build_of("london")
    one_line_naming_make_build(refused.value)
    assert "--evm-version london" in str(refused.value)


def modules_imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def test_only_the_build_step_and_ledger_deploy_reach_the_compiler() -> None:
    """By import, not by the name of a call: `from chain.compiler import compile_contracts as c`
    or solcx used directly escape a search for `compile_contracts(`."""
    may = {"chain/compiler.py", "chain/static_analysis.py", "scripts/cli.py"}
    reaching = {
        str(path.relative_to(PROJECT_ROOT))
        for package in RUNTIME_PACKAGES
        for path in (PROJECT_ROOT / package).rglob("*.py")
        if modules_imported(path)
        & {"chain.compiler", "chain.compiler.compile_contracts", "solcx", "chain.static_analysis"}
    }
    assert reaching <= may, sorted(reaching - may)


# ------------------------------------------------------- the import rule, fooled by a dynamic import

DYNAMIC = {"import_module", "__import__", "run_module", "find_spec"}
MODULE_STRING = re.compile(r"^([a-z_]+)(\.[\w.]+)?(:\w+)?$")
# started by name on purpose: the CLI runs the API as uvicorn does (docs/architecture.md, rule 3)
BY_NAME_ON_PURPOSE = {("scripts/web.py", "api.asgi:app")}


def dynamic_violations(package: str, root: Path = PROJECT_ROOT) -> list[str]:
    """Imports the AST check of tests/test_architecture.py cannot see: importlib.import_module,
    __import__, runpy with a module named in a string, and module strings handed to a server."""
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named: str | None = None
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if function in DYNAMIC and isinstance(node.args[0].value, str):
                    named = node.args[0].value
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
                named = node.value  # "package.module:attribute", the import string of uvicorn and friends
            if named is None or (relative, named) in BY_NAME_ON_PURPOSE:
                continue
            found = MODULE_STRING.match(named)
            top = found.group(1) if found else ""
            if top in OURS and top != package and top not in ALLOWED[package]:
                bad.append(f"{relative}:{getattr(node, 'lineno', 0)} imports {named} by name")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_against_the_flow_hides_in_a_string(package: str) -> None:
    assert dynamic_violations(package) == []


def test_the_string_check_notices(tmp_path: Path) -> None:
    cases = {
        "certificates/_probe.py": "import importlib\nimportlib.import_module('api.app')\n",
        "audit/_probe.py": "__import__('scripts.cli')\n",
        "indexer/_probe.py": "from importlib import import_module\nimport_module('certificates.issuer')\n",
        "chain/_probe.py": "import runpy\nrunpy.run_module('scripts.cli')\n",
        "certificates/_probe2.py": "import uvicorn\nuvicorn.run('api.asgi:app', factory=True)\n",
    }
    for relative, source in cases.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        assert any(v.startswith(relative + ":") for v in dynamic_violations(relative.split("/")[0], tmp_path)), relative
    (tmp_path / "scripts" / "web.py").parent.mkdir()
    (tmp_path / "scripts" / "web.py").write_text('APP = "api.asgi:app"\n', encoding="utf-8")
    assert dynamic_violations("scripts", tmp_path) == []  # the one documented by-name start


# ------------------------------------------------------- the verifier's own ABI is the contracts'


def test_the_verifier_abi_fragments_are_the_build_s() -> None:
    """certificates/evidence.py writes the three things a verifier reads as ABI fragments of its
    own (a verifier needs no build); nothing tied them to the contracts, so a changed event or view
    would have made every certificate fail verification against the node alone."""
    contracts = {
        "CreditsRetired": "CarbonRegistry",
        "anchoredRoot": "CarbonRegistry",
        "registry": "CertificateRevocations",
        "revokedAt": "CertificateRevocations",
    }
    build = load()

    def shape(item: dict[str, Any]) -> tuple[Any, ...]:
        params = [(i["name"], i["type"], i.get("indexed", False)) for i in item.get("inputs", [])]
        outputs = [i["type"] for i in item.get("outputs", [])]
        return item["type"], item["name"], tuple(params), tuple(outputs)

    for item in VERIFIER_ABI.abi:
        ours = [e for e in build[contracts[item["name"]]].abi if e.get("name") == item["name"]]
        assert [shape(e) for e in ours] == [shape(item)], item["name"]


# ------------------------------------------------------- the retirement id is parsed by its one parser


def test_a_retirement_id_with_its_hash_in_capitals_names_the_same_retirement(
    api: TestClient,  # noqa: F811 - the fixture imported above, asked for by name
) -> None:
    """The provenance route matched the text of the path against the mirror as given, so the id of
    a retirement whose hash was copied in capitals (as explorers and wallets often show it) was
    "no retirement"; RetirementId.parse, the one reader of the form, was not used."""
    listed = api.get("/api/v1/certificates").json()["items"][0]["id"]
    retirement = api.get(f"/api/v1/certificates/{listed}").json()["certificate"]["retirements"][0]["id"]
    chain_id, tx_hash, index = retirement.split("-")
    shouted = f"{chain_id}-0x{tx_hash[2:].upper()}-{index}"
    answer = api.get(f"/api/v1/provenance/retirements/{shouted}")
    assert answer.status_code == 200, answer.text
    assert answer.json() == api.get(f"/api/v1/provenance/retirements/{retirement}").json()
    missing = api.get("/api/v1/provenance/retirements/31337-0xdead-0")
    assert missing.status_code == 404 and "<chain id>-<tx hash>-<log index>" in missing.json()["detail"]


# ------------------------------------------------------- the demo on a node the operator started


def mode_of(rpc: JsonRpc) -> tuple[bool, int | None]:
    return rpc.call("anvil_getAutomine"), rpc.call("anvil_getIntervalMining")


@pytest.mark.parametrize("mode", ["automine", "interval", "keeper"])
def test_the_demo_gives_a_node_its_own_mining_back(mode: str) -> None:
    """`LEDGER_RPC_URL=http://127.0.0.1:8545 ledger up` on an anvil the operator started: the demo
    switched automine off and interval mining to 0 (meant for a durable node, whose keeper mines),
    so that node never mined again and the next `ledger retire` waited for its receipt in vain."""
    with LocalNode(block_time=2 if mode == "interval" else None) as node:
        rpc = JsonRpc(node.url)
        if mode == "keeper":  # how a durable node runs: --no-mining, its keeper calls evm_mine
            rpc.call("evm_setAutomine", False)
        before = mode_of(rpc)
        with automine(cast(RegistryClient, SimpleNamespace(rpc=rpc)), 0):
            assert mode_of(rpc) == (True, None)
        assert (
            mode_of(rpc) == before == {"automine": (True, None), "interval": (False, 2), "keeper": (False, None)}[mode]
        )


# ------------------------------------------------------- `uvicorn --factory api.asgi:app` without a build


def test_the_api_factory_refuses_to_start_without_a_build(
    certified: Certified,  # noqa: F811 - the fixture imported above, asked for by name
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented way to run several workers started one without build/: health and
    certificates answered, and every explorer page was a 500 with a traceback in the log."""

    def missing(evm_version: Any = None, **_: Any) -> None:
        raise BuildMissingError(evm_version or DEFAULT_EVM_VERSION, BUILD_DIR / DEFAULT_EVM_VERSION)

    artifacts.contract_abi.cache_clear()  # as in a fresh worker
    monkeypatch.setattr(asgi.ServiceContext, "from_environment", classmethod(lambda cls: certified.service.context))
    monkeypatch.setattr(artifacts, "load", missing)
    with pytest.raises(SystemExit) as refused:
        asgi.app()
    assert str(refused.value).startswith("error: ")
    one_line_naming_make_build(refused.value)


def test_the_api_factory_refuses_a_missing_deployment_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LEDGER_DEPLOYMENTS_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as refused:
        asgi.app()
    message = str(refused.value)
    assert message.startswith("error: ") and "ledger deploy" in message and "\n" not in message


NOT_PACKAGES = {"tests", "bench", "tools", "hardhat-local", "build", "var", "docs", "contracts", "node_modules"}


def unplaced_folders(root: Path = PROJECT_ROOT) -> set[str]:
    """Top-level folders holding Python that the import rule does not know. The rule's own check
    counts folders with an __init__.py, so a namespace package (a `rewards/` without one, importable all
    the same) escaped both ALLOWED and every import check."""
    return {
        folder.name
        for folder in root.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(".")
        and folder.name not in NOT_PACKAGES
        and any(folder.glob("*.py"))
        and folder.name not in ALLOWED
    }


def test_every_folder_of_python_has_a_place_in_the_rule(tmp_path: Path) -> None:
    assert unplaced_folders() == set()
    (tmp_path / "rewards").mkdir()
    (tmp_path / "rewards" / "ledger.py").write_text("from api import app\n", encoding="utf-8")
    assert unplaced_folders(tmp_path) == {"rewards"}


def test_contracts_edited_under_a_running_api_leave_its_explorer_working(
    certified: Certified,  # noqa: F811 - the fixture imported above, asked for by name
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A developer editing a contract while `ledger up` (or uvicorn) ran: the explorer first read
    the build at its first page, found it stale and answered every page with a 500."""
    artifacts.contract_abi.cache_clear()  # as in a fresh worker
    monkeypatch.setattr(asgi.ServiceContext, "from_environment", classmethod(lambda cls: certified.service.context))
    app = asgi.app()
    monkeypatch.setattr(artifacts, "sources_hash", lambda evm_version: "0" * 64)  # contracts/ changed since
    with TestClient(app) as client:
        page = client.get("/explorer")
    assert page.status_code == 200, page.text[:300]
