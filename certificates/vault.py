"""Personal data at rest: AES-256-GCM, one random nonce per record, the record's id as
associated data (a ciphertext moved to another row does not decrypt).

The key comes from LEDGER_DATA_KEY (64 hex digits) or the file LEDGER_DATA_KEY_FILE (default
$LEDGER_VAR_DIR/data.key, created with mode 0600 on first use). Losing the key loses the
personal fields, not the certificates: their commitments and proofs need no key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certificates.errors import ServiceError
from chain.paths import VAR_DIR


class VaultError(ServiceError):
    pass


def key_file() -> Path:
    configured = os.environ.get("LEDGER_DATA_KEY_FILE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("LEDGER_VAR_DIR", VAR_DIR)) / "data.key"


def load_key(*, create: bool = True) -> bytes:
    text = os.environ.get("LEDGER_DATA_KEY")
    source = "LEDGER_DATA_KEY"
    if not text:
        path = key_file()
        source = str(path)
        if not path.exists():
            if not create:
                raise VaultError(f"no data key: set LEDGER_DATA_KEY or create {path} (64 hex digits)")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        text = path.read_text()
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise VaultError(f"the data key in {source} must be 64 hex digits (32 bytes)")
    return key


class Vault:
    def __init__(self, key: bytes | None = None) -> None:
        key = key if key is not None else load_key()
        self._aead = AESGCM(key)
        # a separate key for fingerprints, so the sealing key is never used for two purposes
        self._mac_key = hashlib.sha256(b"ledger fingerprint key\0" + key).digest()

    def fingerprint(self, purpose: str, text: str) -> bytes:
        """A keyed digest of `text` (HMAC-SHA256): the same for the same text under this key, and,
        unlike a plain hash, no dictionary of names reverses it without the key."""
        return hmac.new(self._mac_key, f"{purpose}\x1f{text}".encode(), hashlib.sha256).digest()

    def seal(self, record_id: str, data: dict[str, Any]) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, json.dumps(data, ensure_ascii=False).encode(), record_id.encode())

    def open(self, record_id: str, sealed: bytes) -> dict[str, Any]:
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], record_id.encode())
        except InvalidTag:
            raise VaultError(
                f"the personal data of {record_id} does not decrypt with this key (wrong LEDGER_DATA_KEY?)"
            ) from None
        fields: dict[str, Any] = json.loads(plain)
        return fields
