"""Connect to a node and make sure it is the chain the configuration names."""

from __future__ import annotations

from urllib.parse import urlparse

from chain.errors import InvalidInputError, NetworkMismatchError, NotJsonRpcError, shown_url
from chain.rpc import JsonRpc

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def connect(rpc_url: str, expected_chain_id: int, *, timeout: float = 60.0) -> JsonRpc:
    """A JSON-RPC client on `rpc_url`, after checking that the node is chain `expected_chain_id`.

    Plain HTTP is accepted only to this machine: a remote node needs https.
    """
    try:
        parsed = urlparse(rpc_url)
        parsed.port  # noqa: B018  (parsing the port is what raises on "http://[::1" or ":99999")
    except ValueError:
        raise InvalidInputError(f"LEDGER_RPC_URL {shown_url(rpc_url)} is not a valid URL; fix it") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInputError(f"LEDGER_RPC_URL must be an http(s) URL, got {parsed.scheme or 'no'} scheme")
    if parsed.scheme == "http" and parsed.hostname not in LOOPBACK_HOSTS:
        raise InvalidInputError(
            f"refusing plain HTTP to the remote node {parsed.hostname}: use https:// for a node not on this machine"
        )
    rpc = JsonRpc(rpc_url, timeout=timeout)
    answer = rpc.call("eth_chainId")
    try:
        actual = int(answer, 16)
    except (TypeError, ValueError):
        raise NotJsonRpcError(rpc_url, f"eth_chainId answered a {type(answer).__name__}, not a hex number") from None
    if actual != expected_chain_id:
        raise NetworkMismatchError(expected_chain_id, actual, rpc_url)
    return rpc
