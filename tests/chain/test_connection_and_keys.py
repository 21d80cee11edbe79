"""Chain-id checks, keystores, and the refusal of public development keys off the local chain."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.connection import connect
from chain.errors import (
    DevelopmentKeyRefusedError,
    InvalidInputError,
    KeyConfigurationError,
    NetworkMismatchError,
    NodeUnreachableError,
    shown_url,
)
from chain.keys import dev_accounts, load_keystore, load_signer, write_keystore
from chain.node import free_port
from chain.rpc import JsonRpc
from chain.settings import ChainSettings


def test_a_node_on_another_chain_id_is_refused(anvil) -> None:
    with pytest.raises(NetworkMismatchError, match="is chain 31337, but the configuration expects chain 1"):
        connect(anvil.url, 1)


def test_a_node_url_s_api_key_never_reaches_a_message(anvil) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(NodeUnreachableError) as unreachable:
        JsonRpc(f"http://127.0.0.1:{port}/v3/0123456789abcdef0123?apikey=s3cr3t", timeout=2).call("eth_chainId")
    said = str(unreachable.value)
    assert f"http://127.0.0.1:{port}/…" in said and "0123456789abcdef" not in said and "s3cr3t" not in said
    with pytest.raises(NodeUnreachableError) as refused:
        connect(f"{anvil.url}/v2/0123456789abcdef0123", 1)  # anvil answers 404 there
    said = str(refused.value)
    assert "0123456789abcdef" not in said and f"{anvil.url}/… (HTTP 404" in said


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://mainnet.infura.io/v3/0123456789abcdef", "https://mainnet.infura.io/…"),
        ("https://user:s3cr3t@node.example.org:8443", "https://node.example.org:8443/…"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("http://[::1]:8545/", "http://[::1]:8545"),
        ("https://node.example.org#s3cr3t", "https://node.example.org/…"),
        ("https://host;s3cr3t/", "(an invalid URL)"),
        ("https://host\\s3cr3t", "(an invalid URL)"),
        ("http://127.0.0.1:99999", "(an invalid URL)"),
        ("not a url", "(an invalid URL)"),
    ],
)
def test_a_node_url_is_shown_without_what_may_hold_a_key(url, shown) -> None:
    assert shown_url(url) == shown


def test_plain_http_to_a_remote_node_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="use https://"):
        connect("http://rpc.example.org:8545", 1)


def test_a_keystore_round_trips_and_a_wrong_password_is_named_not_shown(tmp_path) -> None:
    account = Account.create()
    path = write_keystore(account, tmp_path / "operator.json", "correct horse battery")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert load_keystore(path, "correct horse battery").address == account.address
    with pytest.raises(KeyConfigurationError) as wrong:
        load_keystore(path, "not the password")
    assert "wrong password" in str(wrong.value) and "not the password" not in str(wrong.value)


def test_development_keys_are_accepted_only_on_the_local_chain(tmp_path) -> None:
    dev_key = dev_accounts()[0].key.hex()
    settings = ChainSettings(private_key=dev_key)
    assert load_signer(settings, 31337).address == dev_accounts()[0].address
    with pytest.raises(DevelopmentKeyRefusedError):
        load_signer(settings, 1)
    path = write_keystore(dev_accounts()[5], tmp_path / "dev.json", "password123")
    with pytest.raises(DevelopmentKeyRefusedError):
        load_signer(ChainSettings(keystore=path, keystore_password="password123"), 137)
    own = Account.create()
    assert load_signer(ChainSettings(private_key=own.key.hex()), 1).address == own.address


def test_no_key_off_the_local_chain_says_what_to_set() -> None:
    with pytest.raises(KeyConfigurationError, match="LEDGER_KEYSTORE"):
        load_signer(ChainSettings(), 1)
    with pytest.raises(KeyConfigurationError, match="not a 32-byte hex private key") as bad:
        load_signer(ChainSettings(private_key="0xnot-a-key-0123"), 1)
    assert "0xnot-a-key-0123" not in str(bad.value)


def test_settings_never_print_secrets() -> None:
    settings = ChainSettings(private_key="0x" + "ab" * 32, keystore_password="hunter2hunter2")
    assert "ab" * 32 not in repr(settings) and "hunter2" not in repr(settings)
