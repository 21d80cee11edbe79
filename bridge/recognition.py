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
from eth_utils import keccak

from chain.abi import ContractAbi
from chain.artifacts import Build, contract_abi, load
from chain.client import RegistryClient, TxResult, address, b32, sid
from chain.deploy import deploy_bytecode
from chain.errors import InvalidInputError
from chain.logs import LogFetcher
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


def gate_abi() -> ContractAbi:
    """The companion's ABI with the registry's errors, which its imports pass on when the registry
    refuses (RegistryUnknownProject, RegistryPaused...), so they are read by name as before."""
    errors = [item for item in contract_abi("CarbonRegistry").abi if item["type"] == "error"]
    return ContractAbi([*contract_abi("MethodologyRecognitions").abi, *errors])


class RecognitionContract:
    """The destination's MethodologyRecognitions companion, which is also its import gate
    (`importCredits` through it, `refuse`), read and written through the one transaction path
    (RegistryClient works for any of our contracts' ABIs)."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    @classmethod
    def at(
        cls, rpc: JsonRpc, contract: str, *, chain_id: int, signer: LocalAccount | None = None
    ) -> RecognitionContract:
        abi = gate_abi()
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

    def refuse(self, key: bytes, reason_hash: bytes) -> TxResult:
        """Record on the destination that `key` will never be imported (refused if it was)."""
        return self.client.transact("refuse", (key, reason_hash))

    def refused(self, first: int, last: int) -> dict[bytes, tuple[bytes, int]]:
        """Origin key -> (reason hash, block) of every refusal recorded in blocks first..last."""
        if last < first:
            return {}
        topic = "0x" + self.client.abi.event_topics["ImportRefused"].hex()
        logs = LogFetcher(self.client.rpc, self.client.address, topics=[topic], retries=5).fetch_all(first, last)
        return {
            bytes(e.args["originKey"]): (bytes(e.args["reasonHash"]), e.block_number)
            for e in self.client.decode_events(logs)
        }


def deploy_recognitions(
    rpc: JsonRpc, *, chain_id: int, deployer: LocalAccount, registry: str, build: Build | None = None
) -> str:
    """Deploy the companion beside `registry` (whose REGISTRAR_ROLE governs it); returns its address.
    The registry's admin then grants the companion REGISTRAR_ROLE and the relay's key
    BRIDGE_RELAYER_ROLE on the registry (`grant_gate_roles`), so imports come through the gate."""
    artifact = (build or load())["MethodologyRecognitions"]
    code = bytes.fromhex(artifact.bytecode) + abi_encode(["address"], [address("registry", registry)])
    contract, _ = deploy_bytecode(rpc, chain_id, deployer, code)
    return contract


RELAYER_ROLE = keccak(text="BRIDGE_RELAYER_ROLE")
REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")


def grant_gate_roles(registry: RegistryClient, gate: str, relayers: list[str], *, admin: LocalAccount) -> None:
    """As the registry's admin: the gate may import, the relays' keys may use the gate. Each grant
    already in place is skipped, so this can be run again."""
    wanted = [(REGISTRAR_ROLE, address("gate", gate))] + [(RELAYER_ROLE, address("relay", r)) for r in relayers]
    for role, account in wanted:
        if not registry.view("hasRole", role, account):
            registry.transact("grantRole", (role, account), sender=admin)
