"""Deploy the registry (implementation + ERC-1967 proxy) once per chain and keep a record of it.

The record (var/deployments/<chain id>.json) holds the proxy address, the implementation (and
the companion it created, see contracts/registry/CatalogExtension.sol), the block and
transactions, the compiler version, the EVM target and the bytecode hash. A later deploy reuses
the recorded contract if the node still has that block, with the build of the record's EVM target;
it deploys again only when asked (`force`), or on the local chain when the node's chain was reset.
Before deploying anything, the node is probed for the opcodes the build needs (chain/probe.py).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from chain.abi import ContractAbi
from chain.artifacts import Build, BuildMissingError, BuildStaleError, load
from chain.errors import ChainError, DeploymentNotFoundError, TransactionFailedError
from chain.probe import require_evm_support
from chain.rpc import JsonRpc, RpcError
from chain.settings import EVM_VERSIONS, LOCAL_CHAIN_ID
from chain.signing import keccak256, rlp_bytes, rlp_int, rlp_list
from chain.sourcify import write_verified_sources
from chain.transactions import GAS_HEADROOM, Transactor

log = logging.getLogger(__name__)


class StaleDeploymentError(ChainError):
    def __init__(self, chain_id: int, path: Path) -> None:
        super().__init__(
            f"the deployment recorded in {path} is not on chain {chain_id} any more (its block is gone); "
            "check LEDGER_RPC_URL, or deploy again with `ledger deploy --force`"
        )


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    address: str
    implementation: str
    admin: str
    block_number: int
    block_hash: str
    tx_hash: str
    implementation_tx_hash: str
    compiler_version: str
    compiler_backend: str
    bytecode_hash: str
    deployed_at: int
    # the certificate revocation list, governed by the registry's roles (records written before it
    # existed lack it; ensure_deployed adds it)
    revocations: str = ""
    # the EVM target of the build deployed (records written before the setting existed: cancun)
    evm_version: str = "cancun"
    # the companion the implementation created, running the catalog administration (none before it existed)
    catalog_extension: str = ""
    # the points log's anchors (contracts/PointsLogAnchor.sol), governed by the registry's roles
    # (records written before it existed lack it; ensure_deployed adds it)
    points_log: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def record_path(directory: Path, chain_id: int) -> Path:
    return directory / f"{chain_id}.json"


def load_deployment(directory: Path, chain_id: int) -> Deployment | None:
    path = record_path(directory, chain_id)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        deployment = Deployment(**record)
    except (ValueError, TypeError) as exc:  # cut short, edited by hand, or another program's file
        raise ChainError(
            f"the deployment record {path} is damaged ({type(exc).__name__}: {exc}); restore it from a "
            "backup, or move it aside and run `ledger deploy` (a new registry)"
        ) from None
    if deployment.chain_id != chain_id:
        raise ChainError(
            f"the deployment record {path} is for chain {deployment.chain_id}, not {chain_id}; "
            "check LEDGER_CHAIN_ID and LEDGER_DEPLOYMENTS_DIR"
        )
    return deployment


def require_deployment(directory: Path, chain_id: int) -> Deployment:
    """The recorded deployment, or an error that says to deploy first."""
    deployment = load_deployment(directory, chain_id)
    if deployment is None:
        raise DeploymentNotFoundError(chain_id, str(record_path(directory, chain_id)))
    return deployment


def is_live(rpc: JsonRpc, deployment: Deployment) -> bool:
    block = rpc.call("eth_getBlockByNumber", hex(deployment.block_number), False)
    if block is None or block["hash"] != deployment.block_hash:
        return False
    return rpc.call("eth_getCode", deployment.address, "latest") not in ("0x", "0x0")


def ensure_deployed(
    rpc: JsonRpc,
    *,
    chain_id: int,
    build: Build,
    deployer: LocalAccount,
    directory: Path,
    admin: str | None = None,
    uri: str = "",
    force: bool = False,
) -> tuple[Deployment, bool]:
    """The registry's deployment on this chain, deploying it if needed. Returns (deployment, created)."""
    existing = load_deployment(directory, chain_id)
    if existing is not None and not force:
        if is_live(rpc, existing):
            if existing.revocations and existing.points_log:
                return existing, False
            if existing.evm_version != build.evm_version:
                # the recorded code is what runs: the additions and their metadata come from its target's build
                log.info(
                    "reusing a deployment built for another EVM target",
                    extra={"recorded": existing.evm_version, "configured": build.evm_version},
                )
                build = build_of(existing.evm_version)
            require_evm_support(rpc, build)
            revocations = existing.revocations or deploy_revocations(rpc, chain_id, build, deployer, existing.address)
            points_log = existing.points_log or deploy_companion(
                rpc, chain_id, build, deployer, existing.address, "PointsLogAnchor"
            )
            existing = replace(existing, revocations=revocations, points_log=points_log)
            record_path(directory, chain_id).write_text(existing.to_json())
            write_sources(directory.parent / "sourcify", existing, build)
            return existing, False
        if chain_id != LOCAL_CHAIN_ID:
            raise StaleDeploymentError(chain_id, record_path(directory, chain_id))
        log.warning("local chain was reset; deploying the registry again", extra={"chain_id": chain_id})
    deployment = deploy(
        rpc, chain_id=chain_id, build=build, deployer=deployer, admin=admin or deployer.address, uri=uri
    )
    directory.mkdir(parents=True, exist_ok=True)
    record_path(directory, chain_id).write_text(deployment.to_json())
    write_sources(directory.parent / "sourcify", deployment, build)
    return deployment, True


def build_of(evm_version: str) -> Build:
    """The build of a recorded deployment's EVM target, from build/. `ledger up` lands here too, so
    a target without a current build is refused in one line naming its build command rather than
    compiled silently at run time (a minute of solc-js inside the main job)."""
    if evm_version not in EVM_VERSIONS:
        raise ChainError(
            f"the deployment record names an unknown EVM target {evm_version!r}; one of {', '.join(EVM_VERSIONS)}"
        )
    try:
        return load(evm_version)
    except (BuildMissingError, BuildStaleError):
        raise ChainError(
            f"the recorded registry was built for EVM target {evm_version}, and build/ has no current build of it; "
            f"run `make build BUILD_ARGS='--evm-version {evm_version}'`"
        ) from None


def write_sources(root: Path, deployment: Deployment, build: Build) -> None:
    """The Sourcify-layout folders of the implementation, the proxy and the revocation list."""
    for address, name in (
        (deployment.implementation, "CarbonRegistry"),
        (deployment.address, "ERC1967Proxy"),
        (deployment.revocations, "CertificateRevocations"),
        (deployment.catalog_extension, "CatalogExtension"),
        (deployment.points_log, "PointsLogAnchor"),
    ):
        if address:
            write_verified_sources(root, deployment.chain_id, address, build[name], deployment.evm_version)


def deploy(rpc: JsonRpc, *, chain_id: int, build: Build, deployer: LocalAccount, admin: str, uri: str) -> Deployment:
    require_evm_support(rpc, build)
    registry = build["CarbonRegistry"]
    proxy = build["ERC1967Proxy"]
    abi = ContractAbi(registry.abi)
    implementation, impl_receipt = deploy_bytecode(rpc, chain_id, deployer, bytes.fromhex(registry.bytecode))
    init = abi.encode_call("initialize", (to_checksum_address(admin), uri))
    proxy_code = bytes.fromhex(proxy.bytecode) + abi_encode(["address", "bytes"], [implementation, init])
    address, receipt = deploy_bytecode(rpc, chain_id, deployer, proxy_code)
    revocations = deploy_revocations(rpc, chain_id, build, deployer, address)
    points_log = deploy_companion(rpc, chain_id, build, deployer, address, "PointsLogAnchor")
    log.info(
        "registry deployed",
        extra={
            "address": address,
            "implementation": implementation,
            "revocations": revocations,
            "points_log": points_log,
        },
    )
    return Deployment(
        chain_id=chain_id,
        address=address,
        implementation=implementation,
        admin=to_checksum_address(admin),
        block_number=int(receipt["blockNumber"], 16),
        block_hash=receipt["blockHash"],
        tx_hash=receipt["transactionHash"],
        implementation_tx_hash=impl_receipt["transactionHash"],
        compiler_version=build.compiler_version,
        compiler_backend=build.backend,
        bytecode_hash=registry.bytecode_hash,
        deployed_at=int(time.time()),
        revocations=revocations,
        evm_version=build.evm_version,
        catalog_extension=created_address(implementation, 1),
        points_log=points_log,
    )


def created_address(creator: str, nonce: int) -> str:
    """The address a CREATE from `creator` at `nonce` gives (a contract's first CREATE is nonce 1, EIP-161)."""
    encoded = rlp_list([rlp_bytes(bytes.fromhex(creator[2:])), rlp_int(nonce)])
    return to_checksum_address(keccak256(encoded)[12:])


def deploy_revocations(rpc: JsonRpc, chain_id: int, build: Build, deployer: LocalAccount, registry: str) -> str:
    return deploy_companion(rpc, chain_id, build, deployer, registry, "CertificateRevocations")


def deploy_companion(
    rpc: JsonRpc, chain_id: int, build: Build, deployer: LocalAccount, registry: str, name: str
) -> str:
    """A contract beside the registry whose constructor takes the registry (its roles govern it)."""
    code = bytes.fromhex(build[name].bytecode) + abi_encode(["address"], [registry])
    address, _ = deploy_bytecode(rpc, chain_id, deployer, code)
    return address


def deploy_bytecode(rpc: JsonRpc, chain_id: int, deployer: LocalAccount, code: bytes) -> tuple[str, dict[str, Any]]:
    """Send a contract creation and wait for it; returns (address, receipt)."""
    try:
        gas = int(rpc.call("eth_estimateGas", {"from": deployer.address, "data": "0x" + code.hex()}), 16)
    except RpcError as exc:
        raise TransactionFailedError("(not sent)", f"contract creation would fail: {exc}") from None
    receipt = Transactor(rpc, chain_id=chain_id).send(deployer, to=None, data=code, gas=int(gas * GAS_HEADROOM))
    if int(receipt["status"], 16) != 1:
        raise TransactionFailedError(receipt["transactionHash"], "contract creation reverted")
    return to_checksum_address(receipt["contractAddress"]), receipt
