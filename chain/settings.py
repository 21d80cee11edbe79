"""Settings of the chain layer, read from the environment (prefix LEDGER_)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from chain.errors import InvalidInputError, shown_url
from chain.paths import VAR_DIR

LOCAL_CHAIN_ID = 31337
# EVM rule sets the registry compiles for, oldest first; a build runs on its own fork and every later one
EvmVersion = Literal["berlin", "london", "paris", "shanghai", "cancun"]
EVM_VERSIONS: tuple[EvmVersion, ...] = get_args(EvmVersion)  # oldest first
# the widest reach: the registry needs no opcode newer than berlin's (docs/contract.md, "EVM target")
DEFAULT_EVM_VERSION: EvmVersion = "berlin"


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
    node_port: int = Field(default=8545, ge=1, le=65535)
    block_time: int = 1
    var_dir: Path = VAR_DIR
    keystore: Path | None = None
    keystore_password: SecretStr | None = None
    private_key: SecretStr | None = None
    deployments_dir: Path | None = None
    contract_uri: str = "https://registry.example/api/v1/batches/{id}"
    evm_version: EvmVersion = DEFAULT_EVM_VERSION
    # the transaction type: auto reads it from the node (EIP-1559 where blocks have a base fee, else legacy)
    fee_model: Literal["auto", "eip1559", "legacy"] = "auto"
    # the import gate beside the registry (contracts/MethodologyRecognitions.sol), whose ImportOrigin
    # events the indexer mirrors: where imported batches came from (docs/bridge.md)
    import_gate: str = ""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise InvalidInputError(_describe(exc)) from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(
                f"the config file {config_file()} is not valid TOML ({exc}); fix or remove it"
            ) from None

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


SECRET_SETTINGS = {"keystore_password", "private_key", "rpc_url"}  # the node URL may hold an API key


def _describe(exc: ValidationError) -> str:
    """One line naming the first bad setting as the operator sets it, and why (never a secret's value)."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error.get("loc") else "?"
    variable = f"LEDGER_{name.upper()}"
    shown = "" if name in SECRET_SETTINGS else f"={str(error.get('input'))[:40]!r}"
    why = str(error.get("msg", "invalid")).rstrip(".")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"setting {variable}{shown} is invalid: {why}{more}; fix the environment variable (or {name} in {config_file()})"
