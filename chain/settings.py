"""Settings of the chain layer, read from the environment (prefix LEDGER_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from chain.paths import VAR_DIR

LOCAL_CHAIN_ID = 31337


class ChainSettings(BaseSettings):
    """Where the chain is and who signs.

    With no `rpc_url`, the local node (anvil by default) is started on `node_port` and keeps its
    state in `var_dir`. Secrets are SecretStr so they never print.
    """

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    rpc_url: str | None = None
    chain_id: int = LOCAL_CHAIN_ID
    node: Literal["anvil", "hardhat"] = "anvil"
    node_port: int = 8545
    block_time: int = 1
    var_dir: Path = VAR_DIR
    keystore: Path | None = None
    keystore_password: SecretStr | None = None
    private_key: SecretStr | None = None
    deployments_dir: Path | None = None
    contract_uri: str = "https://registry.example/api/v1/batches/{id}"

    @property
    def is_local(self) -> bool:
        return self.chain_id == LOCAL_CHAIN_ID

    @property
    def effective_rpc_url(self) -> str:
        return self.rpc_url or f"http://127.0.0.1:{self.node_port}"

    @property
    def deployments_path(self) -> Path:
        return self.deployments_dir or self.var_dir / "deployments"
