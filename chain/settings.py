"""Settings of the chain layer, read from the environment (prefix LEDGER_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import os

from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from chain.errors import shown_url
from chain.paths import VAR_DIR

LOCAL_CHAIN_ID = 31337


class ChainSettings(BaseSettings):
    """Where the chain is and who signs.

    With no `rpc_url`, the local node (anvil by default) is started on `node_port` and keeps its
    state in `var_dir`. Secrets are SecretStr so they never print. Sources, strongest first: the
    environment (LEDGER_*), then the TOML file named by LEDGER_CONFIG (default ./ledger.toml, if
    it exists; keys without the prefix, e.g. `rpc_url = "https://..."`).
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file())

    def describe(self) -> dict[str, str]:
        """Every setting as the operator may see it: secrets only as set / unset."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                shown[name] = "set (hidden)" if value.get_secret_value() else "unset"
            elif name == "rpc_url" and value:
                shown[name] = shown_url(value)  # a hosted node's URL holds its API key
            else:
                shown[name] = "unset" if value is None else str(value)
        shown["config file"] = str(config_file()) if config_file().exists() else f"{config_file()} (none)"
        return shown

    @property
    def is_local(self) -> bool:
        return self.chain_id == LOCAL_CHAIN_ID

    @property
    def effective_rpc_url(self) -> str:
        return self.rpc_url or f"http://127.0.0.1:{self.node_port}"

    @property
    def deployments_path(self) -> Path:
        return self.deployments_dir or self.var_dir / "deployments"


def config_file() -> Path:
    return Path(os.environ.get("LEDGER_CONFIG", "ledger.toml"))
