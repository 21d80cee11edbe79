"""A loop of "retire, then certify" against a durable local node, as `ledger retire --certify` does it
through the certificate service, that tests/api/test_certify_crash.py runs in a child process
while it kills the node with -9:
    python -m tests.api.certify_run RPC_URL DEPLOYMENTS_DIR DATABASE_URL NAMESPACE REPORT STOP_FILE

Each operation id is reported to REPORT (one JSON line, fsynced) before it is tried, its retirement
only once `retire` returned, and its certificate only once `certify` returned; the errors met (the
node dead under a call) go to REPORT.errors, and SIGUSR1 dumps the threads' stacks to REPORT.stacks. After a failure (the node died under the call) the
same operation is resumed: a retirement the chain already applied (its journaled transaction was
re-sent after the restart) is looked up in the mirror by its operation id and certified. Stops
once STOP_FILE exists and the operation in hand is certified; the last line says why it stopped.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from chain.abi import ContractAbi
from chain.client import RegistryClient
from chain.compiler import compile_contracts
from chain.deploy import load_deployment
from chain.errors import RegistryRevertError
from chain.keys import dev_accounts
from chain.opids import sequential_op_ids
from chain.rpc import JsonRpc
from chain.settings import LOCAL_CHAIN_ID
from chain.types import Scenario
from indexer.db import make_engine
from indexer.sync import Indexer

KG = 1
BENEFICIARY = "赵敏"
PLATFORM, ANCHORER = 8, 3  # dev account indices (tests.conftest.Cast): the retiring holder, the anchoring key
MAX_OPS = 1_000
DEADLINE = 150.0  # seconds: a run that cannot finish reports why instead of hanging the test


def report_line(path: Path, record: dict[str, Any]) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class Run:
    def __init__(self, url: str, deployments: Path, database_url: str, report: Path) -> None:
        deployment = load_deployment(deployments, LOCAL_CHAIN_ID)
        assert deployment is not None, f"no deployment in {deployments}"
        accounts = dev_accounts()
        abi = ContractAbi(compile_contracts()["CarbonRegistry"].abi)
        rpc = JsonRpc(url, timeout=10)
        # both clients journal what they send: journal_for finds the node in var/anvil/node.json
        self.holder = RegistryClient(
            rpc, deployment.address, abi, chain_id=LOCAL_CHAIN_ID, signer=accounts[PLATFORM], receipt_timeout=15
        )
        assert self.holder.journal is not None, "the durable node's marker (LEDGER_VAR_DIR) was not found"
        anchorer = RegistryClient(
            rpc, deployment.address, abi, chain_id=LOCAL_CHAIN_ID, signer=accounts[ANCHORER], receipt_timeout=15
        )
        settings = ServiceSettings(anchor_every=4, public_url="http://testserver")
        self.service = CertificateService.open(make_engine(database_url), deployment, anchorer, settings)
        # this process's own follower, as `ledger up` runs one: a sync first handles a reorganisation, so the
        # mirror drops the blocks a kill lost even when the restarted chain is shorter than what it had seen
        self.indexer = Indexer(
            rpc,
            self.service.engine,
            abi,
            chain_id=LOCAL_CHAIN_ID,
            address=deployment.address,
            start_block=deployment.block_number,
            writer_process=False,
        )
        self.service.indexer = self.indexer
        self.report = report
        self.errors: Counter[str] = Counter()

    def retire(self, op_id: int, commitment: str) -> bool:
        """True once the chain holds the retirement (reported only if this call's `retire` returned)."""
        try:
            result = self.holder.retire(op_id, 1, KG, Scenario.VOLUNTARY, commitment, b"\0" * 32)
        except RegistryRevertError as exc:
            if exc.name == "RegistryOperationAlreadyApplied":  # an earlier attempt's transaction, re-sent
                return True
            raise
        event = result.event("CreditsRetired")
        rid = f"{LOCAL_CHAIN_ID}-{event.tx_hash}-{event.log_index}"
        report_line(self.report, {"retired": op_id, "rid": rid, "block": result.block_number})
        return True

    def certify(self, op_id: int) -> bool:
        """True once a certificate backs the retirement with this operation id."""
        self.indexer.sync_once()
        found = self.service.retirement_by_op_id(op_id)
        if found is None:
            return False  # not mined yet (or its block was lost and the replay is not mined yet)
        rid, cert_id = found
        if cert_id is not None:  # issued by an attempt a kill interrupted before it returned
            report_line(self.report, {"found": op_id, "rid": rid, "cert": cert_id})
            return True
        started = time.monotonic()
        issued = self.service.certify([rid], scenario_key="Voluntary", fields={"message": f"op {op_id:#x}"})
        report_line(
            self.report,
            {
                "certified": op_id,
                "rid": rid,
                "cert": issued.certificate_id,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        return True

    def run(self, namespace: str, stop: Path) -> str:
        deadline = time.monotonic() + DEADLINE
        for op_id in sequential_op_ids(namespace, MAX_OPS):
            if stop.exists():
                return "stopped"
            report_line(self.report, {"attempt": op_id})
            commitment: str | None = None
            retired = certified = False
            while not certified:
                if time.monotonic() > deadline:
                    return f"deadline: op {op_id:#x} retired={retired}"
                try:
                    if commitment is None:
                        commitment = self.service.seal_beneficiary(BENEFICIARY)
                    if not retired:
                        retired = self.holder.is_operation_applied(op_id) or self.retire(op_id, commitment)
                    certified = self.certify(op_id)
                except Exception as exc:  # the node died under the call (any layer may notice): try the step again
                    self.errors[type(exc).__name__] += 1
                    with open(self.report.with_name(self.report.name + ".errors"), "a") as out:
                        out.write(f"{type(exc).__name__}: {str(exc)[:300]}\n")
                    self.indexer.reload()  # a sync cut short may have left its in-memory state ahead of the database
                    if len(self.errors) > 20 or sum(self.errors.values()) > 2_000:
                        raise
                if not certified:
                    time.sleep(0.1)
        return "all done"


if __name__ == "__main__":
    url, deployments, database_url, namespace, report, stop = sys.argv[1:7]
    stacks = open(f"{report}.stacks", "w")  # noqa: SIM115 - open for the process's life
    faulthandler.register(signal.SIGUSR1, file=stacks, all_threads=True)  # the test asks when the run hangs
    run = Run(url, Path(deployments), database_url, Path(report))
    why = run.run(namespace, Path(stop))
    report_line(Path(report), {"finished": why, "errors": dict(run.errors)})
