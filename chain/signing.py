"""Fast EIP-1559 signing for bulk work: RLP by hand and coincurve's secp256k1.

eth-account spends most of a signature in validation and object building; for thousands of
transactions of a known shape this path is several times faster and gives byte-identical output
(tests/chain/test_signing.py compares it with eth-account).
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from coincurve import PrivateKey
from eth_utils import keccak, to_canonical_address


@dataclass(frozen=True)
class SignedTx:
    raw: bytes
    tx_hash: bytes
    nonce: int


class FastSigner:
    """Signs type-2 (EIP-1559) transactions from one key."""

    def __init__(self, private_key: bytes, chain_id: int) -> None:
        self._key = PrivateKey(private_key)
        self.chain_id = chain_id

    def sign(
        self,
        *,
        nonce: int,
        to: str | None,
        data: bytes,
        gas: int,
        max_fee: int,
        max_priority_fee: int,
        value: int = 0,
    ) -> SignedTx:
        recipient = to_canonical_address(to) if to else b""  # empty for a contract creation
        fields = [self.chain_id, nonce, max_priority_fee, max_fee, gas, recipient, value, data, []]
        digest = keccak(b"\x02" + rlp.encode(fields))
        sig = self._key.sign_recoverable(digest, hasher=None)
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        raw = b"\x02" + rlp.encode([*fields, v, r, s])
        return SignedTx(raw=raw, tx_hash=keccak(raw), nonce=nonce)
