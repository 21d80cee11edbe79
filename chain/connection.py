"""Connect to a node and make sure it is the chain the configuration names."""

from __future__ import annotations

from urllib.parse import urlparse

from chain.errors import InvalidInputError, NetworkMismatchError
from chain.rpc import JsonRpc

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def connect(rpc_url: str, expected_chain_id: int, *, timeout: float = 60.0) -> JsonRpc:
    """A JSON-RPC client on `rpc_url`, after checking that the node is chain `expected_chain_id`.

    Plain HTTP is accepted only to this machine: a remote node needs https.
    """
    parsed = urlparse(rpc_url)
    if parsed.scheme not in ("http", "https"):
        raise InvalidInputError(f"LEDGER_RPC_URL must be an http(s) URL, got {parsed.scheme or 'no'} scheme")
    if parsed.scheme == "http" and parsed.hostname not in LOOPBACK_HOSTS:
        raise InvalidInputError(
            f"refusing plain HTTP to the remote node {parsed.hostname}: use https:// for a node not on this machine"
        )
    rpc = JsonRpc(rpc_url, timeout=timeout)
    actual = int(rpc.call("eth_chainId"), 16)
    if actual != expected_chain_id:
        raise NetworkMismatchError(expected_chain_id, actual, rpc_url)
    return rpc
