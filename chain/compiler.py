"""Compile the registry with one pinned solc: a native solc through py-solc-x when that exact
version is installed, otherwise solc-js from hardhat-local/node_modules, offline.

Both receive the same standard-JSON input (every source inline, imports resolved here), so both
produce the same bytecode. Artifacts go to build/ (not committed), keyed by a hash of the input,
which holds the EVM target (LEDGER_EVM_VERSION): one cached output per target, and per-contract
JSON in build/contracts/<target>/artifacts. build/contracts/artifacts always holds the default
target's, whatever the setting, so tools reading it (forge's invariant tests) see one build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from chain.errors import CompilationError, CompilerNotFoundError
from chain.paths import BUILD_DIR, HARDHAT_DIR, PROJECT_ROOT
from chain.settings import DEFAULT_EVM_VERSION, ChainSettings, EvmVersion

log = logging.getLogger(__name__)

SOLC_VERSION = "0.8.30"
EVM_VERSIONS: tuple[EvmVersion, ...] = get_args(EvmVersion)  # oldest first
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 1},
    # standard_input() sets the target asked for; this is the one tools without a setting get
    "evmVersion": DEFAULT_EVM_VERSION,
    # via-IR: the events carry whole structs (stack too deep otherwise); runs=1 (and the catalog
    # administration in a companion contract) keep every part under the 24,576-byte limit of
    # EIP-170 at every target.
    "viaIR": True,
    "outputSelection": {
        "*": {
            "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata", "storageLayout"],
        }
    },
}
ENTRY_POINTS = (
    "contracts/CarbonRegistry.sol",
    "contracts/registry/CatalogExtension.sol",
    "contracts/CertificateRevocations.sol",
    "contracts/test/CarbonRegistryV2Example.sol",
    "contracts/test/ERC1155ReceiverExample.sol",
    "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol",
)
SOLCJS_SCRIPT = HARDHAT_DIR / "solc-standard-json.cjs"
_IMPORT = re.compile(r"""import\s+(?:[^;"']*?\s+from\s+)?["']([^"']+)["']\s*;""", re.S)

Backend = Literal["native", "solcjs"]


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    metadata: str

    @property
    def bytecode_hash(self) -> str:
        return "0x" + hashlib.sha256(bytes.fromhex(self.deployed_bytecode)).hexdigest()


@dataclass(frozen=True)
class Build:
    """The output of one compilation."""

    compiler_version: str
    backend: Backend
    input_hash: str
    artifacts: dict[str, Artifact]
    evm_version: EvmVersion = DEFAULT_EVM_VERSION

    def __getitem__(self, name: str) -> Artifact:
        return self.artifacts[name]


def source_path(key: str) -> Path:
    """Where a source key lives on disk: npm packages under hardhat-local, ours under the root."""
    if key.startswith("@"):
        return HARDHAT_DIR / "node_modules" / key
    return PROJECT_ROOT / key


def collect_sources(entry_points: tuple[str, ...] = ENTRY_POINTS) -> dict[str, str]:
    """Every source reachable from the entry points, keyed as solc will name them."""
    sources: dict[str, str] = {}
    pending = list(entry_points)
    while pending:
        key = pending.pop()
        if key in sources:
            continue
        text = source_path(key).read_text(encoding="utf-8")
        sources[key] = text
        for target in _IMPORT.findall(text):
            if target.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(key), target))
            pending.append(target)
    return dict(sorted(sources.items()))


def standard_input(sources: dict[str, str], evm_version: EvmVersion = DEFAULT_EVM_VERSION) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {key: {"content": text} for key, text in sources.items()},
        "settings": {**COMPILER_SETTINGS, "evmVersion": evm_version},
    }


def configured_evm_version() -> EvmVersion:
    """The target the operator chose (LEDGER_EVM_VERSION or evm_version in the config file)."""
    return ChainSettings().evm_version


def native_solc_available(version: str = SOLC_VERSION) -> bool:
    try:
        import solcx

        return any(str(v) == version for v in solcx.get_installed_solc_versions())
    except Exception:  # py-solc-x missing or its folder unreadable: no native compiler
        return False


def solcjs_available() -> bool:
    return (
        SOLCJS_SCRIPT.exists() and (HARDHAT_DIR / "node_modules" / "solc").exists() and shutil.which("node") is not None
    )


def run_compiler(solc_input: dict[str, Any], backend: Backend) -> dict[str, Any]:
    if backend == "native":
        import solcx

        return solcx.compile_standard(solc_input, solc_version=SOLC_VERSION, allow_empty=True)
    version = solcjs_version()
    if not version.startswith(SOLC_VERSION + "+"):
        raise CompilerNotFoundError(f"{SOLC_VERSION} (hardhat-local has solc-js {version})")
    done = subprocess.run(
        ["node", str(SOLCJS_SCRIPT)],
        input=json.dumps(solc_input),
        capture_output=True,
        text=True,
        cwd=HARDHAT_DIR,
        check=False,
    )
    if done.returncode != 0:
        raise CompilationError([done.stderr.strip()[-2000:]])
    return json.loads(done.stdout)


def solcjs_version() -> str:
    done = subprocess.run(["node", str(SOLCJS_SCRIPT), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def choose_backend() -> Backend:
    if native_solc_available():
        return "native"
    if solcjs_available():
        return "solcjs"
    raise CompilerNotFoundError(SOLC_VERSION)


def compile_contracts(
    *,
    evm_version: EvmVersion | None = None,
    backend: Backend | None = None,
    force: bool = False,
    build_dir: Path = BUILD_DIR,
) -> Build:
    """Compile (or load the cached build of) the registry and its helpers for one EVM target,
    by default the configured one."""
    target = evm_version or configured_evm_version()
    if target not in EVM_VERSIONS:
        raise CompilationError([f"unknown EVM target {target!r}; use one of {', '.join(EVM_VERSIONS)}"])
    solc_input = standard_input(collect_sources(), target)
    input_hash = hashlib.sha256(json.dumps(solc_input, sort_keys=True).encode()).hexdigest()
    chosen: Backend = backend or choose_backend()
    cache = build_dir / f"{input_hash[:16]}-{chosen}.json"
    if cache.exists() and not force:
        output = json.loads(cache.read_text())
    else:
        log.info("compiling contracts", extra={"backend": chosen, "solc": SOLC_VERSION, "evm_version": target})
        output = run_compiler(solc_input, chosen)
        errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
        if errors:
            raise CompilationError(errors)
        build_dir.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(output))
    build = Build(SOLC_VERSION, chosen, input_hash, _artifacts(output), target)
    write_artifacts(build, build_dir / target / "artifacts")
    if target == DEFAULT_EVM_VERSION:
        write_artifacts(build, build_dir / "artifacts")
    return build


def write_artifacts(build: Build, directory: Path) -> None:
    """One JSON per contract (ABI, bytecode, deployed bytecode, solc metadata) for other tools."""
    directory.mkdir(parents=True, exist_ok=True)
    for artifact in build.artifacts.values():
        path = directory / f"{artifact.name}.json"
        content = json.dumps(
            {
                "contractName": artifact.name,
                "sourceName": artifact.source,
                "compiler": {
                    "version": build.compiler_version,
                    "backend": build.backend,
                    "evmVersion": build.evm_version,
                },
                "abi": artifact.abi,
                "bytecode": "0x" + artifact.bytecode,
                "deployedBytecode": "0x" + artifact.deployed_bytecode,
                "metadata": artifact.metadata,
            },
            indent=1,
        )
        if not path.exists() or path.read_text() != content:
            path.write_text(content)


def _artifacts(output: dict[str, Any]) -> dict[str, Artifact]:
    artifacts: dict[str, Artifact] = {}
    for source, contracts in output["contracts"].items():
        for name, c in contracts.items():
            if source not in ENTRY_POINTS:
                continue
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=c["abi"],
                bytecode=c["evm"]["bytecode"]["object"],
                deployed_bytecode=c["evm"]["deployedBytecode"]["object"],
                metadata=c["metadata"],
            )
    return artifacts
