"""The one way to open a client of the deployed registry (or its revocation list): from the
settings (node, deployment record, key) and the ABI in build/. The CLI, the certificate service,
the explorer, the local registry of the tests and benchmarks all open theirs here."""

from __future__ import annotations

from typing import Any, Literal

from eth_account.signers.local import LocalAccount

from chain.abi import ContractAbi
from chain.artifacts import Build, contract_abi
from chain.client import RegistryClient
from chain.connection import connect
from chain.deploy import Deployment, require_deployment
from chain.errors import ChainError
from chain.keys import load_signer
from chain.rpc import JsonRpc
from chain.settings import ChainSettings

Contract = Literal["CarbonRegistry", "CertificateRevocations", "PointsLogAnchor"]


def open_contract(
    rpc: JsonRpc,
    deployment: Deployment,
    *,
    contract: Contract = "CarbonRegistry",
    signer: LocalAccount | None = None,
    build: Build | None = None,
    **options: Any,
) -> RegistryClient:
    """A client of one deployed contract on `rpc`; the ABI from `build`, else from build/.
    `options` are RegistryClient's (receipt_timeout, journal, fee_model)."""
    address = {
        "CarbonRegistry": deployment.address,
        "CertificateRevocations": deployment.revocations,
        "PointsLogAnchor": deployment.points_log,
    }[contract]
    if not address:
        raise ChainError(
            f"the registry deployment on chain {deployment.chain_id} records no {contract}; run `ledger deploy`"
        )
    abi = ContractAbi(build[contract].abi) if build is not None else contract_abi(contract)
    return RegistryClient(rpc, address, abi, chain_id=deployment.chain_id, signer=signer, **options)


def open_registry(
    settings: ChainSettings | None = None,
    *,
    deployment: Deployment | None = None,
    sign: bool = False,
    signer: LocalAccount | None = None,
    rpc: JsonRpc | None = None,
) -> RegistryClient:
    """The registry as the configured operator sees it: the node of the settings (checked to be
    their chain), the recorded deployment, and with `sign` the configured key (or `signer`)."""
    s = settings or ChainSettings()
    rpc = rpc or connect(s.effective_rpc_url, s.chain_id)
    deployment = deployment or require_deployment(s.deployments_path, s.chain_id)
    if sign and signer is None:
        signer = load_signer(s, s.chain_id)
    return open_contract(rpc, deployment, signer=signer)
