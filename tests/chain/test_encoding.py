"""The bulk path's hand-written signing and encoding equal eth-account's and eth_abi's."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.abi import ContractAbi
from chain.keys import dev_accounts
from chain.signing import FastSigner

uint = st.integers(min_value=0, max_value=2**256 - 1)
b32 = st.binary(min_size=32, max_size=32)
address = st.sampled_from([a.address for a in dev_accounts()])


@settings(max_examples=200, deadline=None)
@given(
    nonce=st.integers(0, 2**40),
    gas=st.integers(21_000, 30_000_000),
    tip=st.integers(0, 10**12),
    extra=st.integers(0, 10**12),
    data=st.binary(max_size=400),
    value=st.integers(0, 10**20),
    to=st.one_of(st.none(), address),
)
def test_fast_signer_matches_eth_account(nonce, gas, tip, extra, data, value, to) -> None:
    key = bytes(dev_accounts()[3].key)
    tx = {
        "type": 2,
        "chainId": 31337,
        "nonce": nonce,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": tip + extra,
        "gas": gas,
        "value": value,
        "data": data,
        "accessList": [],
    }
    if to:
        tx["to"] = to
    expected = Account.sign_transaction(tx, key)
    ours = FastSigner(key, 31337).sign(
        nonce=nonce, to=to, data=data, gas=gas, max_fee=tip + extra, max_priority_fee=tip, value=value
    )
    assert ours.raw == expected.raw_transaction
    assert ours.tx_hash == bytes(expected.hash)


@settings(max_examples=200, deadline=None)
@given(
    op=uint,
    a=address,
    b=address,
    batch=uint,
    amount=uint,
    ref=b32,
    vintage=st.integers(0, 2**16 - 1),
    quantity=st.integers(0, 2**128 - 1),
)
def test_fast_encoding_matches_eth_abi(build, op, a, b, batch, amount, ref, vintage, quantity) -> None:
    abi = ContractAbi(build["CarbonRegistry"].abi)
    args = (op, a, b, batch, amount, ref)
    assert abi.encode_call("transferWithReference", args)[4:] == abi_encode(
        abi._input_types["transferWithReference"], list(args)
    )
    request = (ref, vintage, 1, 2, quantity, 500, ref, ref)
    assert abi.encode_call("issue", (op, request))[4:] == abi_encode(abi._input_types["issue"], [op, request])


def test_the_fast_encoder_refuses_what_eth_abi_refuses(build) -> None:
    import pytest
    from eth_abi.exceptions import EncodingError

    abi = ContractAbi(build["CarbonRegistry"].abi)
    h = b"\x01" * 32
    for bad in [(1, h, "false", h), (True, h, True, h), (1, list(h), True, h)]:
        with pytest.raises(EncodingError):
            abi.encode_call("reviewProject", bad)
    for address in ["zz" + "ab" * 20, "0x" + "ab" * 19 + " a", "0x" + "ab" * 19]:
        with pytest.raises(EncodingError):
            abi.encode_call("setApprovalForAll", (address, True))
