"""Gas per registry operation (deterministic: the same figures on every run of the same build).

    .venv/bin/python bench/gas.py                         # the configured EVM target (LEDGER_EVM_VERSION)
    .venv/bin/python bench/gas.py --evm-version all       # every target, one column each
    .venv/bin/python bench/gas.py --evm-version berlin --evm-version cancun

Every target's build runs on the same anvil rule set (its latest), so the columns differ only by
the bytecode: what a target costs (no PUSH0 below shanghai, no MCOPY below cancun).

Targets (issue 2): transfer <= 70,000, retire <= 80,000, anchor <= 60,000. Operation ids are
marked in a bitmap word: the first id of a word writes a fresh storage slot (+17,100 gas), the
others share it, so figures are given for both. A first transfer to a holder that has never held
the batch writes a fresh balance slot (+17,100) as in any ERC-1155.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain import rfc9162
from chain.artifacts import Build, load
from chain.keys import dev_accounts
from chain.local import open_local_registry
from chain.node import LocalNode
from chain.opids import sequential_op_ids
from chain.settings import EVM_VERSIONS
from chain.types import ParticipantKind, Scenario

HASH = b"\x42" * 32
TARGETS = {"transfer": 70_000, "retire": 80_000, "anchor": 60_000}


def measure(build: Build) -> list[tuple[str, int]]:
    a = dev_accounts()
    owner, holder, buyer, pledgee = a[1], a[2], a[3], a[4]
    rows: list[tuple[str, int]] = []
    with tempfile.TemporaryDirectory() as tmp, LocalNode(block_time=None) as node:
        registry = open_local_registry(node.url, deployments_dir=Path(tmp), build=build)
        d = registry.deployment
        receipts = [
            registry.client.rpc.call("eth_getTransactionReceipt", tx) for tx in (d.implementation_tx_hash, d.tx_hash)
        ]
        rows.append(
            ("deploy: implementation (creates the companion) + proxy", sum(int(r["gasUsed"], 16) for r in receipts))
        )
        c = registry.client
        ids = iter(sequential_op_ids("gas-bench", 1_000))
        fresh = iter(range(1 << 200, (1 << 200) + (1 << 20), 256))  # one id per bitmap word: never shared

        def record(name: str, result) -> None:  # type: ignore[no-untyped-def]
            rows.append((name, result.gas_used))

        record("file methodology", c.file_methodology(next(ids), "SCFM-001-V01", 0, 1, HASH))
        record(
            "register participant",
            c.register_participant(next(ids), owner.address, ParticipantKind.PROJECT_OWNER, HASH),
        )
        for acc, kind in [
            (holder, ParticipantKind.ENTERPRISE),
            (buyer, ParticipantKind.INDIVIDUAL),
            (pledgee, ParticipantKind.PLEDGEE),
        ]:
            c.register_participant(next(ids), acc.address, kind, HASH)
        record(
            "register project (1 parcel)",
            c.register_project(
                next(ids),
                project_id="P-GAS",
                methodology_id="SCFM-001-V01",
                owner=owner.address,
                county_code=511802,
                area_square_metres=10**6,
                crediting_start=1,
                crediting_end=2**40,
                documents_hash=HASH,
                parcels=[HASH],
            ),
        )
        record("review project", c.review_project(next(ids), "P-GAS", True, HASH))
        record(
            "issue (owner + reserve)",
            issue := c.issue(
                next(ids),
                project_id="P-GAS",
                vintage=2024,
                monitoring_start=10,
                monitoring_end=20,
                quantity=10**9,
                reserve_bps=1_000,
                verification_report_hash=HASH,
            ),
        )
        batch = issue.event("BatchIssued").args["batchId"]
        record(
            "transfer, safeTransferFrom, to a new holder",
            c.transfer(owner.address, holder.address, batch, 10**6, sender=owner),
        )
        record(
            "transfer, safeTransferFrom, to an existing holder",
            c.transfer(owner.address, holder.address, batch, 10**6, sender=owner),
        )
        c.transfer(owner.address, buyer.address, batch, 10, sender=owner)
        record(
            "transfer with reference, existing holder, shared id word",
            c.transfer_with_reference(next(ids), holder.address, buyer.address, batch, 5, HASH, sender=holder),
        )
        record(
            "transfer with reference, existing holder, fresh id word",
            c.transfer_with_reference(next(fresh), holder.address, buyer.address, batch, 5, HASH, sender=holder),
        )
        record("retire, shared id word", c.retire(next(ids), batch, 5, Scenario.PERSONAL, HASH, HASH, sender=holder))
        record("retire, fresh id word", c.retire(next(fresh), batch, 5, Scenario.PERSONAL, HASH, HASH, sender=holder))
        record("pledge, shared id word", c.pledge(next(ids), batch, 100, pledgee.address, HASH, sender=holder))
        leaves = [rfc9162.leaf_hash(b"x")]
        record("anchor, first anchoring", c.anchor_log_root(1, rfc9162.root_of(leaves)))
        record("anchor, later anchorings", c.anchor_log_root(2, HASH))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--evm-version",
        action="append",
        choices=[*EVM_VERSIONS, "all"],
        help="EVM target(s) to measure, from build/ (`make build BUILD_ARGS=--all`); repeat for several; default: the configured one",
    )
    chosen = parser.parse_args(argv).evm_version or []
    versions = list(EVM_VERSIONS) if "all" in chosen else chosen
    # the builds of `make build` (BUILD_ARGS=--all for every target)
    builds = [load(v) for v in versions] or [load()]
    columns = [measure(b) for b in builds]
    names = [name for name, _ in columns[0]]
    width = max(len(n) for n in names)
    print(f"{'operation':<{width}}" + "".join(f"  {b.evm_version:>9}" for b in builds))
    for i, name in enumerate(names):
        gases = [col[i][1] for col in columns]
        target = next((t for k, t in TARGETS.items() if name.startswith(k)), None)
        worst = max(gases)
        verdict = "" if target is None else (f"  <= {target:,} ok" if worst <= target else f"  > {target:,} OVER")
        print(f"{name:<{width}}" + "".join(f"  {g:>9,}" for g in gases) + verdict)


if __name__ == "__main__":
    main()
