"""A batcher process for tests/offsets/test_crash.py: takes the purchases of a JSON file, runs the
batcher up to a named point and kills itself there with SIGKILL (no cleanup, no commit after it).

    python -m tests.offsets.crash_worker DB_URL DEPLOYMENT_JSON HOLDER BATCH_ID PURCHASES_JSON POINT

POINT: after-purchase | after-form | after-send | during-certify-1 | during-certify-2 (the first or
second chunk's transaction, after its purchases are marked and before it commits; a chunk is one
retirement's purchases here: Alice's and Bob's, then Carol's). The platform's key comes in OFFSETS_PLATFORM_KEY
(never in the process arguments)."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from eth_account import Account
from sqlalchemy import Connection

from certificates.service import CertificateService
from certificates.settings import ServiceSettings
from chain.connection import connect
from chain.deploy import Deployment
from chain.registry import open_contract
from indexer.db import make_engine
from offsets import certify
from offsets.batcher import Batcher, Settled
from offsets.purchases import purchase


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class DiesAfterSending(Batcher):
    """Sends the retirement, then dies before the transaction is recorded."""

    def _record(self, op_hex: str, found: tuple[str, int, int], *, sent: bool) -> Settled:
        _die()
        raise AssertionError("unreachable")


def _die_in_chunk(n: int) -> None:
    marker = certify.mark_purchases
    chunks = []

    def dying(purchase_ids: Sequence[str]) -> Callable[[Connection, list[str]], None]:
        mark = marker(purchase_ids)

        def then_die(conn: Connection, certificate_ids: list[str]) -> None:
            mark(conn, certificate_ids)
            chunks.append(certificate_ids)
            if len(chunks) == n:
                _die()

        return then_die

    certify.mark_purchases = dying  # type: ignore[assignment]


def main(db_url: str, deployment_file: str, holder: str, batch_id: str, purchases_file: str, point: str) -> None:
    deployment = Deployment(**json.loads(Path(deployment_file).read_text()))
    rpc_url = os.environ["OFFSETS_RPC_URL"]
    rpc = connect(rpc_url, deployment.chain_id)
    signer = Account.from_key(os.environ["OFFSETS_PLATFORM_KEY"])
    client = open_contract(rpc, deployment, signer=signer)
    engine = make_engine(db_url)
    service = CertificateService.open(engine, deployment, client, ServiceSettings(public_url="http://testserver"))
    for at, (commitment, kg, key) in enumerate(json.loads(Path(purchases_file).read_text())):
        purchase(engine, commitment, kg, key, now=1_000 + at)
    if point == "after-purchase":
        _die()
    kind = DiesAfterSending if point == "after-send" else Batcher
    batcher = kind(
        engine,
        client,
        holder=holder,
        batch_id=int(batch_id),
        catch_up=service.catch_up,
        max_purchases=2,
        from_block=deployment.block_number,
    )
    if point.startswith("during-certify-"):
        while batcher.run_once():
            pass
        _die_in_chunk(int(point.rsplit("-", 1)[1]))
        certify.certify_retired(service)
    batcher.form()
    if point == "after-form":
        _die()
    batcher.settle()
    raise SystemExit(f"the worker reached no crash point {point!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
