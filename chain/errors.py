"""Errors of the chain layer. Each builds its own message, naming the problem and the fix."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

HOST = re.compile(r"[A-Za-z0-9.\-]+|[0-9A-Fa-f:.]+")  # a name, IPv4 or IPv6 address


class ChainError(Exception):
    """Root of every error the chain layer raises on purpose."""


class CompilerNotFoundError(ChainError):
    def __init__(self, version: str) -> None:
        super().__init__(
            f"no solc {version} found: neither a native solc {version} (py-solc-x) nor solc-js in "
            "hardhat-local/node_modules; run `npm ci` in hardhat-local/ (the Makefile does it)"
        )


class CompilationError(ChainError):
    def __init__(self, messages: list[str]) -> None:
        super().__init__("the contracts did not compile:\n" + "\n".join(messages))


def shown_url(url: str) -> str:
    """A node URL fit for messages and logs: hosted nodes carry their API key in the path, the
    query or the user part (https://mainnet.infura.io/v3/KEY), so only scheme, host and port are
    shown, with "/…" where more was given."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "(an invalid URL)"
    if not parts.scheme.isalpha() or not HOST.fullmatch(host):  # a key may hide in a malformed host part
        return "(an invalid URL)"
    if ":" in host:
        host = f"[{host}]"  # IPv6
    more = "/…" if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password else ""
    return f"{parts.scheme}://{host}{port}{more}"


class NetworkMismatchError(ChainError):
    def __init__(self, expected: int, actual: int, rpc_url: str) -> None:
        super().__init__(
            f"the node at {shown_url(rpc_url)} is chain {actual}, but the configuration expects chain {expected}; "
            "point LEDGER_RPC_URL at the right node or set LEDGER_CHAIN_ID"
        )


class NodeUnreachableError(ChainError):
    def __init__(self, rpc_url: str, reason: str) -> None:
        self.reason = reason  # without the URL, which may hold an API key
        super().__init__(f"cannot reach the node at {shown_url(rpc_url)} ({reason}); start it or fix LEDGER_RPC_URL")


class NotJsonRpcError(NodeUnreachableError):
    """Something answers at the URL, but not an Ethereum node's JSON-RPC (a web page, a proxy's error, a REST API)."""

    def __init__(self, rpc_url: str, reason: str) -> None:
        self.reason = reason
        ChainError.__init__(
            self,
            f"the node at {shown_url(rpc_url)} ({reason}) did not answer JSON-RPC; point LEDGER_RPC_URL at an "
            "Ethereum node's JSON-RPC endpoint",
        )


class NodeStartError(ChainError):
    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"the local node ({what}) did not start: {detail}")


class DevelopmentKeyRefusedError(ChainError):
    def __init__(self, chain_id: int) -> None:
        super().__init__(
            f"refusing a well-known development key on chain {chain_id}: those keys are public. "
            "Use an encrypted keystore (`LEDGER_KEYSTORE`) with a key of your own"
        )


class KeyConfigurationError(ChainError):
    """A key could not be loaded; the message says which setting to fix (never the secret)."""


class DeploymentNotFoundError(ChainError):
    def __init__(self, chain_id: int, path: str) -> None:
        super().__init__(
            f"no registry deployment recorded for chain {chain_id} (looked in {path}); run `ledger deploy`"
        )


class InvalidInputError(ChainError):
    """Input rejected before anything was sent; the message names the field and the fix."""


class RegistryRevertError(ChainError):
    """The registry contract refused an operation; `name` and `args` are its custom error."""

    def __init__(self, name: str, args: dict[str, Any], explanation: str) -> None:
        self.name = name
        self.args_by_name = args
        self.explanation = explanation
        rendered = ", ".join(f"{k}={_render(v)}" for k, v in args.items())
        super().__init__(f"{name}({rendered}): {explanation}")


class TransactionFailedError(ChainError):
    def __init__(self, tx_hash: str, detail: str) -> None:
        self.tx_hash = tx_hash
        super().__init__(f"transaction {tx_hash} failed: {detail}")


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
