"""The accounts' settings (LEDGER_ACCOUNTS_*) and the statement-link key.

The link key is LEDGER_ACCOUNTS_LINK_KEY (64 hex digits) or, without it, the file
LEDGER_ACCOUNTS_LINK_KEY_FILE (default $LEDGER_VAR_DIR/accounts-link.key), generated with mode 0600
on first use, as the vault's data key is (certificates/vault.py): every API worker of one machine
reads the same file, so a link made by one worker opens in another. Several machines behind one
address must share the key: set LEDGER_ACCOUNTS_LINK_KEY on each. A separate key from the data key,
so the sealing key is never used for a second purpose; replacing it invalidates every link issued."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from accounts.links import LinkError
from chain.paths import VAR_DIR

DAY = 86_400


class AccountsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_ACCOUNTS_", extra="ignore")

    link_key: str = ""  # 64 hex digits; empty: the key file below
    link_key_file: Path | None = None  # default $LEDGER_VAR_DIR/accounts-link.key
    link_ttl: int = DAY  # a statement link's life, seconds (illustrative: long enough to open it, short if leaked)
    link_max_ttl: int = 30 * DAY  # the longest life an app may ask for (illustrative)
    # per API key and per API worker: a token bucket of `rate_burst` requests refilled at `rate_per_second`
    # (illustrative: 50 batches of 1,000 records a second is 50,000 records/s per key, above the
    # 20,000/s the ingest target asks for, docs/accounts.md "Limits")
    rate_per_second: float = 50.0
    rate_burst: int = 100
    max_body: int = 4 << 20  # bytes; a batch of 1,000 records at 1-2 KB each fits (docs/accounts.md)


def key_file(settings: AccountsSettings) -> Path:
    if settings.link_key_file is not None:
        return settings.link_key_file
    return Path(os.environ.get("LEDGER_VAR_DIR", VAR_DIR)) / "accounts-link.key"


def link_key(settings: AccountsSettings) -> bytes:
    """The statement-link key: the setting, or the key file (created on first use). LinkError names
    a malformed key and the fix."""
    text, source = settings.link_key, "LEDGER_ACCOUNTS_LINK_KEY"
    if not text:
        path = key_file(settings)
        source = str(path)
        if not path.exists():
            _create(path)
        text = path.read_text()
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise LinkError(f"the statement-link key in {source} must be 64 hex digits (32 bytes); replace it")
    return key


def _create(path: Path) -> None:
    """A new key at `path`, whole or not at all: written to a private file, then linked into place,
    so a worker starting at the same moment reads either no file or the complete key, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:  # another worker made it first: theirs is the key
            pass
    finally:
        tmp.unlink(missing_ok=True)
