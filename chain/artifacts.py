"""The contract build in build/contracts: what `make build` (or `ledger deploy`) wrote, loaded at run
time without compiling anything.

Layout, per EVM target: build/contracts/<target>/artifacts/<Contract>.json (ABI, bytecode, deployed
bytecode, solc metadata) and build/contracts/<target>/build.json (compiler, backend, the hash of the
sources it was built from). A build that is missing, or whose sources changed since, is refused in
one line that names the fix.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from chain.abi import ContractAbi
from chain.errors import ChainError
from chain.paths import BUILD_DIR, PROJECT_ROOT
from chain.settings import DEFAULT_EVM_VERSION, ChainSettings, EvmVersion
from chain.sources import sources_hash

Backend = Literal["native", "solcjs"]
ContractName = Literal[
    "CarbonRegistry",
    "CatalogExtension",
    "CertificateRevocations",
    "PointsLogAnchor",
    "MethodologyRecognitions",
    "ERC1967Proxy",
    "CarbonRegistryV2Example",
    "ERC1155ReceiverExample",
]
MANIFEST = "build.json"
CONTRACTS: tuple[ContractName, ...] = get_args(ContractName)
FIX = "run `make build` (or `ledger deploy`, which builds too)"


class BuildMissingError(ChainError):
    def __init__(self, evm_version: str, directory: Path) -> None:
        super().__init__(f"no contract build for EVM target {evm_version} in {_shown(directory)}; {FIX}")


class BuildStaleError(ChainError):
    def __init__(self, evm_version: str, directory: Path) -> None:
        super().__init__(
            f"the contract build in {_shown(directory)} ({evm_version}) is stale: contracts/ or the compiler "
            f"settings changed since it was built; {FIX}"
        )


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


def target_dir(evm_version: str, build_dir: Path = BUILD_DIR) -> Path:
    return build_dir / evm_version


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


def write_build(build: Build, build_dir: Path = BUILD_DIR) -> None:
    """The build of one target as the loader reads it: its artifacts, then its manifest (last, so
    a build cut short is missing rather than half there)."""
    directory = target_dir(build.evm_version, build_dir)
    write_artifacts(build, directory / "artifacts")
    manifest = {
        "evm_version": build.evm_version,
        "compiler_version": build.compiler_version,
        "backend": build.backend,
        "input_hash": build.input_hash,
        "sources_hash": sources_hash(build.evm_version),
        "contracts": sorted(build.artifacts),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def load(evm_version: EvmVersion | None = None, *, build_dir: Path = BUILD_DIR) -> Build:
    """The build of `evm_version` (default: the configured LEDGER_EVM_VERSION) from build/; refuses
    a missing or stale one (BuildMissingError, BuildStaleError)."""
    target: EvmVersion = evm_version or ChainSettings().evm_version
    directory = target_dir(target, build_dir)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        artifacts = {name: _read_artifact(directory / "artifacts" / f"{name}.json") for name in manifest["contracts"]}
        build = Build(manifest["compiler_version"], manifest["backend"], manifest["input_hash"], artifacts, target)
        if not set(CONTRACTS) <= set(artifacts):
            raise KeyError(sorted(set(CONTRACTS) - set(artifacts)))
    # a file cut short, or edited into JSON of another shape (a list, a null ABI, a contract left out):
    # a damaged build is refused like a missing one, never as a crash at the first contract used
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise BuildMissingError(target, directory) from None
    if manifest.get("sources_hash") != sources_hash(target):
        raise BuildStaleError(target, directory)
    return build


@functools.cache
def contract_abi(name: ContractName, evm_version: EvmVersion | None = None) -> ContractAbi:
    """A contract's ABI from build/ (the configured target's, loaded once per process)."""
    return ContractAbi(load(evm_version)[name].abi)


def _read_artifact(path: Path) -> Artifact:
    """One contract's JSON; a TypeError (or KeyError) for one not shaped as write_artifacts writes it."""
    record = json.loads(path.read_text())
    artifact = Artifact(
        name=record["contractName"],
        source=record["sourceName"],
        abi=record["abi"],
        bytecode=record["bytecode"].removeprefix("0x"),
        deployed_bytecode=record["deployedBytecode"].removeprefix("0x"),
        metadata=record["metadata"],
    )
    if not isinstance(artifact.abi, list) or not all(isinstance(item, dict) for item in artifact.abi):
        raise TypeError(f"{path.name}: the ABI is not a list of entries")
    bytes.fromhex(artifact.bytecode + artifact.deployed_bytecode)  # a ValueError when not hex
    return artifact


def _shown(directory: Path) -> str:
    try:
        return str(directory.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(directory)
