"""The keys a relayed export is known by on both chains, computed from the export alone, so a
restarted relay finds every one again without any state of its own.

origin key = keccak256(abi.encode(uint256 sourceChainId, address sourceRegistry, uint256 exportId)),
the same in Solidity; the destination's `importCredits` takes it once (`importedBatch(originKey)`).
The operation ids of the import, the confirmation and the abort derive from the origin key, so a
replay of any step is refused by the contract's exactly-once bitmap instead of applied twice.
"""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from chain.opids import op_id_for


def origin_key(source_chain_id: int, source_registry: str, export_id: int) -> bytes:
    return keccak(
        abi_encode(
            ["uint256", "address", "uint256"], [source_chain_id, to_checksum_address(source_registry), export_id]
        )
    )


def import_op_id(key: bytes) -> int:
    return op_id_for("bridge.import", key.hex())


def confirm_op_id(key: bytes) -> int:
    return op_id_for("bridge.confirm", key.hex())


def abort_op_id(key: bytes) -> int:
    return op_id_for("bridge.abort", key.hex())


def reason_hash(reason: str) -> bytes:
    """What an abort records on the source: the hash of the one-line refusal the relay logged."""
    return keccak(text=reason)


def evidence_hash(key: bytes, source_batch_id: int, first_serial: int, last_serial: int) -> bytes:
    """The import's evidence: the origin key with the source batch and its serial range."""
    return keccak(
        abi_encode(["bytes32", "uint256", "uint256", "uint256"], [key, source_batch_id, first_serial, last_serial])
    )
