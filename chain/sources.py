"""The registry's Solidity sources and the compiler input they make: what a build is built from.

Read by the compiler (chain/compiler.py), and by the loader of build/ (chain/artifacts.py) to tell a
build made from today's sources from a stale one, without compiling anything.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from chain.paths import HARDHAT_DIR, PROJECT_ROOT
from chain.settings import DEFAULT_EVM_VERSION, EvmVersion

SOLC_VERSION = "0.8.30"
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
    "contracts/PointsLogAnchor.sol",
    "contracts/MethodologyRecognitions.sol",
    "contracts/test/CarbonRegistryV2Example.sol",
    "contracts/test/ERC1155ReceiverExample.sol",
    "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol",
)
_IMPORT = re.compile(r"""import\s+(?:[^;"']*?\s+from\s+)?["']([^"']+)["']\s*;""", re.S)


def source_path(key: str) -> Path:
    """Where a source key lives on disk: npm packages under hardhat-local, ours under the root."""
    if key.startswith("@"):
        return HARDHAT_DIR / "node_modules" / key
    return PROJECT_ROOT / key


def collect_sources(entry_points: tuple[str, ...] = ENTRY_POINTS, *, ours_only: bool = False) -> dict[str, str]:
    """Every source reachable from the entry points, keyed as solc will name them; with `ours_only`,
    those of contracts/ alone (npm packages are pinned by hardhat-local/package-lock.json)."""
    sources: dict[str, str] = {}
    pending = list(entry_points)
    while pending:
        key = pending.pop()
        if key in sources or (ours_only and key.startswith("@")):
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


def library_versions() -> dict[str, str]:
    """The versions of the npm Solidity libraries the contracts import (OpenZeppelin): an upgrade by
    `npm ci` changes what a build is made from as surely as an edit of contracts/ does."""
    versions = {}
    for manifest in sorted((HARDHAT_DIR / "node_modules" / "@openzeppelin").glob("*/package.json")):
        try:
            versions[manifest.parent.name] = str(json.loads(manifest.read_text(encoding="utf-8")).get("version"))
        except (OSError, ValueError):
            versions[manifest.parent.name] = "unreadable"
    return versions


def sources_hash(evm_version: EvmVersion) -> str:
    """What a build of `evm_version` is made from (our sources, the libraries' versions, the compiler
    and its settings), as a hash that build/ records: a different hash now means the build is stale."""
    what = {
        "solc": SOLC_VERSION,
        "libraries": library_versions(),
        "input": standard_input(collect_sources(ours_only=True), evm_version),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
