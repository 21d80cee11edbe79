"""The deploy step writes Sourcify-layout folders whose metadata is a full match: its IPFS hash
is the one solc embedded in the deployed bytecode, and every source hashes as the metadata says."""

from __future__ import annotations

import hashlib
import json

from eth_utils import keccak

from chain.local import open_local_registry
from chain.sourcify import contract_folder


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ipfs_multihash(content: bytes) -> bytes:
    """The sha256 multihash of a single-chunk UnixFS file node (what solc embeds as "ipfs")."""
    unixfs = b"\x08\x02" + b"\x12" + _varint(len(content)) + content + b"\x18" + _varint(len(content))
    node = b"\x0a" + _varint(len(unixfs)) + unixfs
    return b"\x12\x20" + hashlib.sha256(node).digest()


def test_the_deployment_writes_full_match_folders(anvil, build, tmp_path) -> None:
    registry = open_local_registry(anvil.url, deployments_dir=tmp_path / "deployments", build=build, force=True)
    d = registry.deployment
    rpc = registry.client.rpc
    for address in (d.implementation, d.address, d.revocations):
        folder = contract_folder(tmp_path / "sourcify", d.chain_id, address)
        metadata_text = (folder / "metadata.json").read_bytes()
        metadata = json.loads(metadata_text)
        for key, entry in metadata["sources"].items():
            assert "0x" + keccak((folder / "sources" / key).read_bytes()).hex() == entry["keccak256"], key
        code = bytes.fromhex(rpc.call("eth_getCode", address, "latest")[2:])
        cbor_length = int.from_bytes(code[-2:], "big")
        cbor = code[-2 - cbor_length : -2]
        assert cbor.startswith(b"\xa2\x64ipfs\x58\x22")  # {"ipfs": bytes(34), "solc": ...}
        assert cbor[8:42] == ipfs_multihash(metadata_text), address
