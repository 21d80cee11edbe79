"""Fast transaction signing for bulk work, EIP-1559 (type 2) and legacy (type 0, EIP-155): RLP by
hand, keccak from pycryptodome, secp256k1 from coincurve.

eth-account spends most of a signature building and validating objects; for thousands of
transactions of one shape this path is several times faster and gives byte-identical output
(tests/chain/test_abi_fast_paths.py and, for legacy, tests/chain/test_fee_models.py compare the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PrivateKey
from Crypto.Hash import keccak as _keccak
from eth_utils import to_canonical_address

from chain.fees import Fees


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


NO_RECIPIENT = rlp_bytes(b"")  # the `to` of a deployment


@dataclass(frozen=True)
class SignedTx:
    raw: bytes
    tx_hash: bytes
    nonce: int


class FastSigner:
    """Signs type-2 (EIP-1559) and legacy (type 0, EIP-155) transactions from one key."""

    def __init__(self, private_key: bytes, chain_id: int) -> None:
        self._key = PrivateKey(private_key)
        self.chain_id = chain_id
        self._chain = rlp_int(chain_id)
        self._eip155_tail = self._chain + b"\x80\x80"  # chain id, 0, 0: what a legacy signature commits to
        self._recipients: dict[str, bytes] = {}

    def _recipient(self, to: str | None) -> bytes:
        if to is None:  # a deployment: the empty recipient
            return NO_RECIPIENT
        recipient = self._recipients.get(to)
        if recipient is None:
            recipient = self._recipients[to] = rlp_bytes(to_canonical_address(to))
        return recipient

    def sign_with(self, fees: Fees, *, nonce: int, to: str | None, data: bytes, gas: int, value: int = 0) -> SignedTx:
        """The transaction type `fees` is for: type 2 for EIP-1559 fees, type 0 for a legacy gas price."""
        if fees.model == "legacy":
            return self.sign_legacy(nonce=nonce, to=to, data=data, gas=gas, gas_price=fees.gas_price, value=value)
        return self.sign(
            nonce=nonce, to=to, data=data, gas=gas, max_fee=fees.max_fee, max_priority_fee=fees.priority, value=value
        )

    def sign_legacy(
        self, *, nonce: int, to: str | None, data: bytes, gas: int, gas_price: int, value: int = 0
    ) -> SignedTx:
        """A type-0 transaction with the chain id in v (EIP-155), so it cannot be replayed on another chain."""
        fields = [
            rlp_int(nonce),
            rlp_int(gas_price),
            rlp_int(gas),
            self._recipient(to),
            rlp_int(value),
            rlp_bytes(data),
        ]
        digest = keccak256(rlp_list([*fields, self._eip155_tail]))
        sig = self._key.sign_recoverable(digest, hasher=None)
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big")
        v = sig[64] + 35 + 2 * self.chain_id
        raw = rlp_list([*fields, rlp_int(v), rlp_int(r), rlp_int(s)])
        return SignedTx(raw=raw, tx_hash=keccak256(raw), nonce=nonce)

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
        recipient = self._recipient(to)
        fields = [
            self._chain,
            rlp_int(nonce),
            rlp_int(max_priority_fee),
            rlp_int(max_fee),
            rlp_int(gas),
            recipient,
            rlp_int(value),
            rlp_bytes(data),
            b"\xc0",  # empty access list
        ]
        digest = keccak256(b"\x02" + rlp_list(fields))
        sig = self._key.sign_recoverable(digest, hasher=None)
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        raw = b"\x02" + rlp_list([*fields, rlp_int(v), rlp_int(r), rlp_int(s)])
        return SignedTx(raw=raw, tx_hash=keccak256(raw), nonce=nonce)
