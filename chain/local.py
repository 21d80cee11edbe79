"""A registry on a local chain in one call: for the main job, the tests and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.artifacts import Build, load
from chain.client import RegistryClient
from chain.connection import connect
from chain.deploy import Deployment, ensure_deployed
from chain.keys import dev_accounts
from chain.registry import open_contract
from chain.roles import OPERATOR_ROLES
from chain.settings import LOCAL_CHAIN_ID


@dataclass
class LocalRegistry:
    build: Build
    deployment: Deployment
    client: RegistryClient
    created: bool

    @property
    def admin(self) -> LocalAccount:
        return dev_accounts()[0]


def open_local_registry(
    rpc_url: str,
    *,
    deployments_dir: Path,
    force: bool = False,
    grant: dict[str, str] | None = None,
    build: Build | None = None,
) -> LocalRegistry:
    """Deploy (or reuse) the registry on the local chain at `rpc_url`, with dev account 0 as admin.

    `grant` maps role names to addresses; by default dev account 0 holds every operator role.
    `build` defaults to the one in build/ (`make build`).
    """
    build = build or load()
    rpc = connect(rpc_url, LOCAL_CHAIN_ID)
    admin = dev_accounts()[0]
    deployment, created = ensure_deployed(
        rpc, chain_id=LOCAL_CHAIN_ID, build=build, deployer=admin, directory=deployments_dir, force=force
    )
    client = open_contract(rpc, deployment, build=build, signer=admin)
    if created:
        roles = grant if grant is not None else dict.fromkeys(OPERATOR_ROLES, admin.address)
        for role, account in roles.items():
            client.grant_role(role, account)
    return LocalRegistry(build, deployment, client, created)
