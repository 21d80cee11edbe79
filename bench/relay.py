"""Many registry operations per transaction, for chains of a million events (bench/indexer_scale.py).

anvil keeps each transaction and its traces in memory (about 50 KB a transaction here, whatever
`--prune-history` says), so half a million single-operation transactions do not fit this machine.
`BenchRelay` (bench/contracts/) sends a hundred operations in one transaction. The registry
sees an ordinary caller and emits the same events as for the benchmarks' mix: issue (the relay
holds the registrar role), transfer with reference and retire for a holder (`retireFor`; the relay
is a platform participant every holder approved as its operator).
"""

from __future__ import annotations

from pathlib import Path

from common import HASH, BenchChain

from chain.abi import ContractAbi
from chain.compiler import choose_backend, run_compiler
from chain.deploy import deploy_bytecode
from chain.opids import sequential_op_ids
from chain.signing import FastSigner
from chain.sources import standard_input
from chain.types import ParticipantKind, Scenario, short_id

SOURCE = "bench/contracts/BenchRelay.sol"
GAS_PER_TX = 16_000_000  # under the 2**24 a transaction may use since Osaka


class Relay:
    def __init__(self, chain: BenchChain) -> None:
        self.chain = chain
        client = chain.registry.client
        text = (Path(__file__).resolve().parent / "contracts" / "BenchRelay.sol").read_text()
        output = run_compiler(standard_input({SOURCE: text}), choose_backend())
        built = output["contracts"][SOURCE]["BenchRelay"]
        self.abi = ContractAbi(built["abi"])
        self.address, _ = deploy_bytecode(
            client.rpc, client.chain_id, chain.admin, bytes.fromhex(built["evm"]["bytecode"]["object"])
        )
        ops = iter(sequential_op_ids("bench-relay-setup", 10))
        client.register_participant(next(ops), self.address, ParticipantKind.PLATFORM)
        client.grant_role("REGISTRAR_ROLE", self.address)
        for holder in chain.holders:
            client.transact("setApprovalForAll", (self.address, True), sender=holder)
        self.signer = FastSigner(bytes(chain.admin.key), client.chain_id)

    def calls(self, namespace: str, n: int) -> list[bytes]:
        """The calldata of the benchmarks' mix: 10% issue, 50% transfer with reference, 40% retire."""
        c, holders, batch = self.chain.registry.client, self.chain.holders, self.chain.batch
        request = (short_id("P-BENCH"), 2024, 1_704_067_200, 1_735_689_600, 1000, 500, HASH, HASH)
        out = []
        for i, op_id in enumerate(sequential_op_ids(namespace, n)):
            holder, kind = holders[i % len(holders)].address, i % 10
            if kind == 0:
                out.append(c.abi.encode_call("issue", (op_id, request)))
            elif kind <= 5:
                to = holders[(i + 1) % len(holders)].address
                out.append(c.abi.encode_call("transferWithReference", (op_id, holder, to, batch, 3, HASH)))
            else:
                out.append(
                    c.abi.encode_call("retireFor", (op_id, holder, batch, 1, int(Scenario.PERSONAL), HASH, HASH))
                )
        return out

    def send(self, calls: list[bytes], *, per_tx: int = 100, in_flight: int = 32, per_request: int = 8) -> int:
        """Send the calls, `per_tx` to a transaction, `in_flight` transactions (about one block's gas)
        at a time; returns the registry events they emitted."""
        client = self.chain.registry.client
        rpc, registry = client.rpc, client.address
        nonce = int(rpc.call("eth_getTransactionCount", self.chain.admin.address, "pending"), 16)
        events = 0
        for start in range(0, len(calls), per_tx * in_flight):
            max_fee, priority = client.fees()  # full blocks raise the base fee from one round to the next
            raws = []
            for first in range(start, min(len(calls), start + per_tx * in_flight), per_tx):
                data = self.abi.encode_call("relay", (registry, calls[first : first + per_tx]))
                tx = self.signer.sign(
                    nonce=nonce, to=self.address, data=data, gas=GAS_PER_TX, max_fee=max_fee, max_priority_fee=priority
                )
                nonce += 1
                raws.append(("eth_sendRawTransaction", ["0x" + tx.raw.hex()]))
            hashes = [
                h
                for i in range(0, len(raws), per_request)  # anvil refuses requests of several MB
                for h in rpc.batch(raws[i : i + per_request])
                if isinstance(h, str)
            ]
            assert len(hashes) == len(raws), "anvil refused a transaction"
            for h in hashes:  # wait for this round before the next: a bounded pool of pending transactions
                receipt = client.wait_for_receipt(h)
                assert int(receipt["status"], 16) == 1, f"relay transaction {h} reverted"
                events += sum(1 for log in receipt["logs"] if log["address"].lower() == registry.lower())
        return events
