"""Where the two registries are and who signs on each, read from the environment (prefix
LEDGER_BRIDGE_): each side is any EVM JSON-RPC node with the registry deployed. Keys are secrets:
never command-line arguments, never printed."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlparse

from eth_abi.exceptions import DecodingError
from eth_account import Account
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bridge.recognition import Recognises, Recognition, RecognitionContract
from bridge.relay import Endpoint
from bridge.retrying_rpc import RetryingRpc
from chain.artifacts import contract_abi
from chain.client import RegistryClient, address
from chain.connection import LOOPBACK_HOSTS
from chain.errors import ChainError, InvalidInputError, KeyConfigurationError, shown_url
from chain.keys import refuse_dev_key_off_local
from chain.rpc import RpcError
from chain.types import short_id

Side = Literal["source", "destination"]
PROBE_TIMEOUT = 10.0  # seconds for the first eth_chainId


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_BRIDGE_", extra="ignore")

    source_rpc_url: str = ""
    source_registry: str = ""
    source_name: str = "SC-LINCAO"  # illustrative short id of the Sichuan registry
    source_key: SecretStr | None = None
    source_chain_id: int | None = None  # checked against the node when set; else read from it
    source_start_block: int = Field(default=0, ge=0)
    source_depth: int = Field(default=0, ge=0)
    destination_rpc_url: str = ""
    destination_registry: str = ""
    destination_name: str = "CQ-TANHUITONG"  # illustrative short id of Chongqing's 碳惠通
    destination_key: SecretStr | None = None
    destination_chain_id: int | None = None
    destination_start_block: int = Field(default=0, ge=0)
    destination_depth: int = Field(default=0, ge=0)
    destination_recognitions: str = ""  # the destination's MethodologyRecognitions contract
    recognised: str = ""  # else: a comma-separated list of recognised methodology ids

    @field_validator("source_name", "destination_name")
    @classmethod
    def _short_id(cls, name: str) -> str:
        short_id(name)  # the bytes32 the contracts compare: a name that is none fails here, not mid-pass
        return name

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first.get("loc") else "?"
            raise InvalidInputError(
                f"setting LEDGER_BRIDGE_{name.upper()} is invalid: {first.get('msg', 'invalid')}; fix it"
            ) from None

    def recognition(self, destination: Endpoint) -> Recognises:
        """The destination's record on chain when its companion contract is configured, else the list."""
        if self.destination_recognitions:
            client = destination.client
            return RecognitionContract.at(
                client.rpc, self.destination_recognitions, chain_id=client.chain_id, signer=client.signer
            )
        return Recognition.parse(self.recognised)


def _node(url: str, side: Side, chain_id: int | None) -> tuple[RetryingRpc, int]:
    """The side's node, after checking its URL and that it is the chain the settings name; every
    line names the LEDGER_BRIDGE_* setting to fix (not the registry's own LEDGER_RPC_URL)."""
    setting = f"LEDGER_BRIDGE_{side.upper()}"
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018  (parsing the port is what raises on ":99999")
    except ValueError:
        raise InvalidInputError(f"{setting}_RPC_URL {shown_url(url)} is not a valid URL; fix it") from None
    if parsed.scheme not in ("http", "https") or (parsed.scheme == "http" and parsed.hostname not in LOOPBACK_HOSTS):
        raise InvalidInputError(f"{setting}_RPC_URL must be https:// for a node not on this machine")
    rpc = RetryingRpc(url, timeout=60.0)
    try:
        # a node that does not say its chain id within seconds is not one to relay through
        actual = int(RetryingRpc(url, timeout=PROBE_TIMEOUT).call("eth_chainId"), 16)
    except (ChainError, RpcError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"the {side} node at {shown_url(url)} did not answer eth_chainId ({type(exc).__name__}); start it or "
            f"fix {setting}_RPC_URL"
        ) from None
    if chain_id is not None and chain_id != actual:
        raise InvalidInputError(
            f"the {side} node at {shown_url(url)} is chain {actual}, but the configuration expects chain {chain_id} "
            f"({setting}_CHAIN_ID); point "
            f"{setting}_RPC_URL at the {side}'s node or fix {setting}_CHAIN_ID"
        )
    return rpc, actual


def _require_registry(client: RegistryClient, side: Side) -> None:
    """An address with no registry behind it (an account, the gate) reads as a registry with no
    events: an audit of it would say "no difference". One eth_getCode and one view say so first."""
    fix = f"set LEDGER_BRIDGE_{side.upper()}_REGISTRY to the registry's address"
    if client.rpc.call("eth_getCode", client.address, "latest") in ("0x", "0x0", None):
        raise InvalidInputError(f"no contract at {client.address} on the {side} chain ({client.chain_id}); {fix}")
    try:
        client.view("supply", 0)
    except (ChainError, RpcError, ValueError, DecodingError):
        raise InvalidInputError(
            f"the contract at {client.address} on the {side} chain ({client.chain_id}) is not a registry; {fix}"
        ) from None


def open_endpoint(settings: BridgeSettings, side: Side, *, sign: bool = True) -> Endpoint:
    url = getattr(settings, f"{side}_rpc_url")
    registry = getattr(settings, f"{side}_registry")
    if not url or not registry:
        raise InvalidInputError(
            f"the {side} registry is not configured; set LEDGER_BRIDGE_{side.upper()}_RPC_URL and "
            f"LEDGER_BRIDGE_{side.upper()}_REGISTRY"
        )
    rpc, chain_id = _node(url, side, getattr(settings, f"{side}_chain_id"))
    signer = None
    key: SecretStr | None = getattr(settings, f"{side}_key")
    if sign:
        if key is None:
            raise KeyConfigurationError(f"no registrar key for the {side}; set LEDGER_BRIDGE_{side.upper()}_KEY")
        try:
            signer = refuse_dev_key_off_local(Account.from_key(key.get_secret_value().strip()), chain_id)
        except (ValueError, TypeError):
            raise KeyConfigurationError(
                f"LEDGER_BRIDGE_{side.upper()}_KEY is not a 32-byte hex private key; fix it"
            ) from None
    client = RegistryClient(
        rpc, address(f"{side} registry", registry), contract_abi("CarbonRegistry"), chain_id=chain_id, signer=signer
    )
    _require_registry(client, side)
    return Endpoint(
        client,
        getattr(settings, f"{side}_name"),
        start_block=getattr(settings, f"{side}_start_block"),
        depth=getattr(settings, f"{side}_depth"),
    )
