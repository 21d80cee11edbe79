"""Verified-source metadata in Sourcify's repository layout, written at deployment, so standard
explorers (Otterscan on anvil, Blockscout) decode the registry's calls and events:

    <root>/contracts/full_match/<chain id>/<checksummed address>/metadata.json
    <root>/contracts/full_match/<chain id>/<checksummed address>/sources/<source key>

metadata.json is the compiler's own metadata, byte for byte, so its IPFS hash is the one solc
embedded at the end of the deployed bytecode: a full match. Its settings.evmVersion is the EVM
target the contract was built for, which must be the deployment's."""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils import keccak, to_checksum_address

from chain.artifacts import Artifact
from chain.sources import collect_sources


class SourceMismatchError(RuntimeError):
    pass


def contract_folder(root: Path, chain_id: int, address: str) -> Path:
    return root / "contracts" / "full_match" / str(chain_id) / to_checksum_address(address)


def write_verified_sources(
    root: Path, chain_id: int, address: str, artifact: Artifact, evm_version: str | None = None
) -> Path:
    """Write the folder of one deployed contract; returns it. With `evm_version`, the metadata
    must be of a build for that target."""
    metadata = json.loads(artifact.metadata)
    built_for = metadata["settings"].get("evmVersion")
    if evm_version is not None and built_for != evm_version:
        raise SourceMismatchError(
            f"{artifact.name} was compiled for {built_for}, the deployment is for {evm_version}; "
            f"compile with LEDGER_EVM_VERSION={evm_version}"
        )
    sources = collect_sources()
    folder = contract_folder(root, chain_id, address)
    for key, entry in metadata["sources"].items():
        text = sources.get(key)
        if text is None or "0x" + keccak(text.encode()).hex() != entry["keccak256"]:
            raise SourceMismatchError(
                f"the source {key} on disk is not the one compiled; run `ledger deploy` after compiling"
            )
        path = folder / "sources" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (folder / "metadata.json").write_text(artifact.metadata, encoding="utf-8")
    return folder
