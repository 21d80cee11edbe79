"""The registry as the configured operator sees it: settings, node, deployment, signing key."""

from __future__ import annotations

from chain.client import RegistryClient
from chain.deploy import Deployment, require_deployment
from chain.registry import open_registry
from chain.settings import ChainSettings


def settings() -> ChainSettings:
    return ChainSettings()


def deployment() -> Deployment:
    s = settings()
    return require_deployment(s.deployments_path, s.chain_id)


def registry_client(*, signer_required: bool = True) -> RegistryClient:
    return open_registry(settings(), sign=signer_required)
