"""Methodology recognition (方法学互认): which of a source registry's methodologies the
destination accepts imports under.

The destination records it on its own chain, in the companion contract
contracts/MethodologyRecognitions.sol (registrar-gated by the registry's roles, deployed beside
the registry; the registry itself has no room left under EIP-170). Where a destination has not
deployed it yet, the relay's operator may configure a list instead (LEDGER_BRIDGE_RECOGNISED);
the contract, when configured, is what counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount

from chain.artifacts import Build, contract_abi, load
from chain.client import RegistryClient, TxResult, address, b32, sid
from chain.deploy import deploy_bytecode
from chain.errors import InvalidInputError
from chain.rpc import JsonRpc


class Recognises(Protocol):
    def refusals(self, origin_registry: str, methodology_ids: set[str]) -> dict[str, str]:
        """Methodology id -> why an import under it is refused, for those not recognised."""
        ...


def not_recognised(methodology_id: str, origin_registry: str) -> str:
    return f"MethodologyNotRecognised: the destination does not recognise {methodology_id} of {origin_registry}"


@dataclass(frozen=True)
class Recognition:
    """A list the relay's operator configured (every origin registry alike)."""

    methodologies: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Recognition:
        ids = [part.strip() for part in text.split(",") if part.strip()]
        for i in ids:
            sid("recognised methodology", i)  # a bytes32 short id, as on chain
        if not ids:
            raise InvalidInputError(
                "no recognised methodology configured; set LEDGER_BRIDGE_DESTINATION_RECOGNITIONS (the contract) "
                "or LEDGER_BRIDGE_RECOGNISED, e.g. SCFM-001-V01"
            )
        return cls(frozenset(ids))

    def refusals(self, origin_registry: str, methodology_ids: set[str]) -> dict[str, str]:
        return {m: not_recognised(m, origin_registry) for m in methodology_ids if m not in self.methodologies}


class RecognitionContract:
    """The destination's MethodologyRecognitions companion, read and written through the one
    transaction path (RegistryClient works for any of our contracts' ABIs)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    @classmethod
    def at(
        cls, rpc: JsonRpc, contract: str, *, chain_id: int, signer: LocalAccount | None = None
    ) -> RecognitionContract:
        abi = contract_abi("MethodologyRecognitions")
        return cls(
            RegistryClient(rpc, address("recognitions contract", contract), abi, chain_id=chain_id, signer=signer)
        )

    def recognise(self, origin_registry: str, methodology_id: str, evidence_hash: bytes | str) -> TxResult:
        args = (
            sid("origin registry", origin_registry),
            sid("methodology", methodology_id),
            b32("evidence", evidence_hash),
        )
        return self.client.transact("recognise", args)

    def withdraw(self, origin_registry: str, methodology_id: str, reason_hash: bytes | str) -> TxResult:
        args = (sid("origin registry", origin_registry), sid("methodology", methodology_id), b32("reason", reason_hash))
        return self.client.transact("withdraw", args)

    def is_recognised(self, origin_registry: str, methodology_id: str) -> bool:
        return bool(self.client.view("isRecognised", sid("origin registry", origin_registry), sid("m", methodology_id)))

    def refusals(self, origin_registry: str, methodology_ids: set[str]) -> dict[str, str]:
        ordered = sorted(methodology_ids)
        origin = sid("origin registry", origin_registry)
        answers = self.client.view_many("isRecognised", [(origin, sid("methodology", m)) for m in ordered])
        return {m: not_recognised(m, origin_registry) for m, ok in zip(ordered, answers, strict=True) if not ok}


def deploy_recognitions(
    rpc: JsonRpc, *, chain_id: int, deployer: LocalAccount, registry: str, build: Build | None = None
) -> str:
    """Deploy the companion beside `registry` (whose REGISTRAR_ROLE governs it); returns its address."""
    artifact = (build or load())["MethodologyRecognitions"]
    code = bytes.fromhex(artifact.bytecode) + abi_encode(["address"], [address("registry", registry)])
    contract, _ = deploy_bytecode(rpc, chain_id, deployer, code)
    return contract
