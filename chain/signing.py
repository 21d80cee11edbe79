"""Fast EIP-1559 signing for bulk work: RLP by hand, keccak from pycryptodome, secp256k1 from
coincurve.

eth-account spends most of a signature building and validating objects; for thousands of
transactions of one shape this path is several times faster and gives byte-identical output
(tests/chain/test_signing.py compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from Crypto.Hash import keccak as _keccak
from coincurve import PrivateKey
from eth_utils import to_canonical_address


def keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(encoded)]) + encoded


def rlp_bytes(value: bytes) -> bytes:
    if len(value) == 1 and value[0] < 0x80:
        return value
    return _length_prefix(len(value), 0x80) + value


def rlp_int(value: int) -> bytes:
    if value == 0:
        return b"\x80"
    return rlp_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rlp_list(items: list[bytes]) -> bytes:
    payload = b"".join(items)
    return _length_prefix(len(payload), 0xC0) + payload


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
        self._chain = rlp_int(chain_id)
        self._recipients: dict[str | None, bytes] = {None: rlp_bytes(b"")}

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
        recipient = self._recipients.get(to)
        if recipient is None:
            recipient = self._recipients[to] = rlp_bytes(to_canonical_address(to))  # type: ignore[arg-type]
        fields = [
            self._chain, rlp_int(nonce), rlp_int(max_priority_fee), rlp_int(max_fee), rlp_int(gas),
            recipient, rlp_int(value), rlp_bytes(data), b"\xc0",  # empty access list
        ]
        digest = keccak256(b"\x02" + rlp_list(fields))
        sig = self._key.sign_recoverable(digest, hasher=None)
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        raw = b"\x02" + rlp_list([*fields, rlp_int(v), rlp_int(r), rlp_int(s)])
        return SignedTx(raw=raw, tx_hash=keccak256(raw), nonce=nonce)
