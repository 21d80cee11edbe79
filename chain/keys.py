"""Signing keys: encrypted keystores (eth-account's scrypt keystores) or the environment.

The well-known development keys (anvil's and Hardhat's default mnemonic) are public; they are
accepted on the local chain id only.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.errors import DevelopmentKeyRefusedError, KeyConfigurationError
from chain.settings import LOCAL_CHAIN_ID, ChainSettings

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 20

Account.enable_unaudited_hdwallet_features()


@functools.cache
def dev_accounts() -> tuple[LocalAccount, ...]:
    """The public development accounts of anvil and Hardhat, in their order."""
    return tuple(
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(DEV_ACCOUNT_COUNT)
    )


@functools.cache
def dev_addresses() -> frozenset[str]:
    return frozenset(a.address.lower() for a in dev_accounts())


def is_dev_account(address: str) -> bool:
    return address.lower() in dev_addresses()


def refuse_dev_key_off_local(account: LocalAccount, chain_id: int) -> LocalAccount:
    if chain_id != LOCAL_CHAIN_ID and is_dev_account(account.address):
        raise DevelopmentKeyRefusedError(chain_id)
    return account


def load_keystore(path: Path, password: str) -> LocalAccount:
    try:
        keyfile = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyConfigurationError(f"keystore {path} does not exist; create one with `ledger keys new`") from None
    except (OSError, ValueError):
        raise KeyConfigurationError(f"keystore {path} is not a readable keystore JSON file") from None
    damaged = f"keystore {path} is damaged or not an Ethereum keystore"
    fix = "restore it from a backup or point LEDGER_KEYSTORE at another (`ledger keys new` makes one)"
    crypto = (keyfile.get("crypto") or keyfile.get("Crypto")) if isinstance(keyfile, dict) else None
    if not isinstance(crypto, dict):
        raise KeyConfigurationError(f"{damaged} (it has no 'crypto' part); {fix}")
    try:
        private_key = Account.decrypt(keyfile, password)
    except ValueError as exc:
        if "MAC mismatch" not in str(exc):  # eth-keyfile's word for a wrong password; anything else is the file
            raise KeyConfigurationError(f"{damaged} ({type(exc).__name__} reading its 'crypto' part); {fix}") from None
        raise KeyConfigurationError(
            f"wrong password for keystore {path}; check LEDGER_KEYSTORE_PASSWORD or the prompt"
        ) from None
    except (KeyError, TypeError, NotImplementedError) as exc:
        raise KeyConfigurationError(f"{damaged} ({type(exc).__name__} reading its 'crypto' part); {fix}") from None
    account: LocalAccount = Account.from_key(private_key)  # Account's classmethods are untyped (combomethod)
    return account


def write_keystore(account: LocalAccount, path: Path, password: str) -> Path:
    """Encrypt `account` with scrypt into `path` (readable by its owner only)."""
    if len(password) < 8:
        raise KeyConfigurationError("the keystore password must have at least 8 characters")
    keyfile = Account.encrypt(account.key, password, kdf="scrypt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=False)
    path.write_text(json.dumps(keyfile))
    return path


def load_signer(settings: ChainSettings, chain_id: int) -> LocalAccount:
    """The operator's key: LEDGER_PRIVATE_KEY, else LEDGER_KEYSTORE with its password, else (on the
    local chain only) the first development account."""
    if settings.private_key is not None:
        try:
            account = Account.from_key(settings.private_key.get_secret_value().strip())
        except (ValueError, TypeError):
            raise KeyConfigurationError(
                "LEDGER_PRIVATE_KEY is not a 32-byte hex private key; fix it or use LEDGER_KEYSTORE"
            ) from None
    elif settings.keystore is not None:
        if settings.keystore_password is None:
            raise KeyConfigurationError("LEDGER_KEYSTORE is set but LEDGER_KEYSTORE_PASSWORD is not")
        account = load_keystore(settings.keystore, settings.keystore_password.get_secret_value())
    elif chain_id == LOCAL_CHAIN_ID:
        account = dev_accounts()[0]
    else:
        raise KeyConfigurationError(
            f"no key configured for chain {chain_id}; set LEDGER_KEYSTORE (and its password) or LEDGER_PRIVATE_KEY"
        )
    return refuse_dev_key_off_local(account, chain_id)
