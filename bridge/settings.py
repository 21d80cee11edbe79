"""Where the two registries are and who signs on each, read from the environment (prefix
LEDGER_BRIDGE_): each side is any EVM JSON-RPC node with the registry deployed. Keys are secrets:
never command-line arguments, never printed."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlparse

from eth_account import Account
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bridge.recognition import Recognises, Recognition, RecognitionContract
from bridge.relay import Endpoint
from chain.artifacts import contract_abi
from chain.client import RegistryClient, address
from chain.connection import LOOPBACK_HOSTS, connect
from chain.errors import InvalidInputError, KeyConfigurationError
from chain.keys import refuse_dev_key_off_local
from chain.rpc import JsonRpc

Side = Literal["source", "destination"]


class BridgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_BRIDGE_", extra="ignore")

    source_rpc_url: str = ""
    source_registry: str = ""
    source_name: str = "SC-LINCAO"  # illustrative short id of the Sichuan registry
    source_key: SecretStr | None = None
    source_chain_id: int | None = None  # checked against the node when set; else read from it
    source_start_block: int = 0
    source_depth: int = 0
    destination_rpc_url: str = ""
    destination_registry: str = ""
    destination_name: str = "CQ-TANHUITONG"  # illustrative short id of Chongqing's 碳惠通
    destination_key: SecretStr | None = None
    destination_chain_id: int | None = None
    destination_start_block: int = 0
    destination_depth: int = 0
    destination_recognitions: str = ""  # the destination's MethodologyRecognitions contract
    recognised: str = ""  # else: a comma-separated list of recognised methodology ids

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


def open_endpoint(settings: BridgeSettings, side: Side, *, sign: bool = True) -> Endpoint:
    url = getattr(settings, f"{side}_rpc_url")
    registry = getattr(settings, f"{side}_registry")
    if not url or not registry:
        raise InvalidInputError(
            f"the {side} registry is not configured; set LEDGER_BRIDGE_{side.upper()}_RPC_URL and "
            f"LEDGER_BRIDGE_{side.upper()}_REGISTRY"
        )
    chain_id: int | None = getattr(settings, f"{side}_chain_id")
    if chain_id is None:
        parsed = urlparse(url)
        if parsed.scheme != "https" and parsed.hostname not in LOOPBACK_HOSTS:
            raise InvalidInputError(
                f"LEDGER_BRIDGE_{side.upper()}_RPC_URL must be https:// for a node not on this machine"
            )
        chain_id = int(JsonRpc(url, timeout=30.0).call("eth_chainId"), 16)
    rpc = connect(url, chain_id)
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
    return Endpoint(
        client,
        getattr(settings, f"{side}_name"),
        start_block=getattr(settings, f"{side}_start_block"),
        depth=getattr(settings, f"{side}_depth"),
    )
