"""`ledger keys new|import|list`: encrypted keystores in var/keys (passwords never on the command line)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from eth_account import Account

from chain.errors import KeyConfigurationError
from chain.keys import write_keystore
from scripts.console import console, operator_errors
from scripts.context import settings
from scripts.listing import print_rows
from scripts.output import JsonOption

app = typer.Typer(help="Create, import and list encrypted keystores.", no_args_is_help=True)


def _password() -> str:
    env = os.environ.get("LEDGER_KEYSTORE_PASSWORD")
    if env:
        return env
    return str(typer.prompt("keystore password", hide_input=True, confirmation_prompt=True))


def _keys_dir() -> Path:
    return settings().var_dir / "keys"


@app.command("new")
@operator_errors
def new(name: str) -> None:
    """Create a new key, encrypted with a password from the prompt or LEDGER_KEYSTORE_PASSWORD."""
    path = _keys_dir() / f"{name}.json"
    if path.exists():
        raise KeyConfigurationError(f"{path} exists; choose another name")
    account = Account.create()
    write_keystore(account, path, _password())
    console.print(f"{account.address} saved to {path}; use it with LEDGER_KEYSTORE={path}")


@app.command("import")
@operator_errors
def import_(name: str) -> None:
    """Import a private key typed at a hidden prompt, and encrypt it."""
    secret = typer.prompt("private key (hidden)", hide_input=True)
    try:
        account = Account.from_key(secret.strip())
    except (ValueError, TypeError):
        raise KeyConfigurationError("that is not a 32-byte hex private key") from None
    path = _keys_dir() / f"{name}.json"
    if path.exists():
        raise KeyConfigurationError(f"{path} exists; choose another name")
    write_keystore(account, path, _password())
    console.print(f"{account.address} saved to {path}")


@app.command("list")
@operator_errors
def list_(as_json: JsonOption = False) -> None:
    """The keystores in var/keys and their addresses (nothing is decrypted)."""
    import json

    rows = []
    for path in sorted(_keys_dir().glob("*.json")) if _keys_dir().exists() else []:
        try:
            keyfile = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            keyfile = None
        if not isinstance(keyfile, dict):  # listed, not fatal: `keys list` is how the operator finds it
            rows.append({"name": path.stem, "address": "(not a readable keystore)", "file": str(path)})
            continue
        address = str(keyfile.get("address", ""))
        rows.append(
            {
                "name": path.stem,
                "address": "0x" + address if address and not address.startswith("0x") else address,
                "file": str(path),
            }
        )
    print_rows(rows, as_json=as_json, title="keystores")
