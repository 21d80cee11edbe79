"""The registry as the configured operator sees it: settings, node, deployment, signing key."""

from __future__ import annotations

from chain.abi import ContractAbi
from chain.client import RegistryClient
from chain.compiler import compile_contracts
from chain.connection import connect
from chain.deploy import Deployment, require_deployment
from chain.keys import load_signer
from chain.settings import ChainSettings


def settings() -> ChainSettings:
    return ChainSettings()


def deployment() -> Deployment:
    s = settings()
    return require_deployment(s.deployments_path, s.chain_id)


def registry_client(*, signer_required: bool = True) -> RegistryClient:
    s = settings()
    rpc = connect(s.effective_rpc_url, s.chain_id)
    deployment = require_deployment(s.deployments_path, s.chain_id)
    signer = load_signer(s, s.chain_id) if signer_required else None
    abi = ContractAbi(compile_contracts()["CarbonRegistry"].abi)
    return RegistryClient(rpc, deployment.address, abi, chain_id=s.chain_id, signer=signer)
