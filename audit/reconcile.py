"""Where the chain's own state (chain_state.py) is compared with the mirror, the certificates,
the transparency log and the API, and every batch issued from a stored monitoring report is
recomputed from it. Every difference names what, where, and the transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlmodel import col, select

from audit.chain_state import ChainState, Where
from certificates.document import leaf_hash
from certificates.models import CertificateClaim, CertificateRow
from certificates.translog.log import TransparencyLog
from certificates.translog.models import LogEntry
from chain import rfc9162
from indexer.models import AnchoredRoot, Balance, BatchRow, Retirement
from mrv import store as mrv_store
from mrv.errors import MethodologyError, ReportErrors

API_SAMPLE = (
    200  # batches, retirements and certificates asked of the API, evenly spread (all are checked in the mirror)
)
T = TypeVar("T")
MONITORING_CHUNK = 100  # batches whose stored reports are read and recomputed together


def spread(items: Sequence[T], n: int) -> list[T]:
    """At most n items, evenly spaced, first and last included: the same sample every run."""
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


@dataclass
class Difference:
    check: str  # supply | balance | retirement | certificate | anchor | log | api
    subject: str
    detail: str
    tx_hash: str | None = None
    block_number: int | None = None


@dataclass
class AuditReport:
    head: int
    events: int
    checked: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    monitoring: dict[str, Any] = field(default_factory=dict)  # unverifiable batches, outstanding reversals

    @property
    def clean(self) -> bool:
        return not self.differences

    def add(self, check: str, subject: str, detail: str, at: Where | None = None) -> None:
        tx_hash, block_number = (at.tx_hash, at.block_number) if at is not None else (None, None)
        self.differences.append(Difference(check, subject, detail, tx_hash, block_number))

    def as_json(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "head": self.head,
            "events": self.events,
            "checked": self.checked,
            "differences": [asdict(d) for d in self.differences],
            "monitoring": self.monitoring,
        }


def reconcile(
    chain: ChainState,
    conn: Connection,
    log: TransparencyLog,
    api: Callable[[str], tuple[int, Any]] | None = None,
    *,
    api_sample: int = API_SAMPLE,
) -> AuditReport:
    report = AuditReport(chain.head, chain.events)
    _supply(chain, conn, report)
    _balances(chain, conn, report)
    _retirements(chain, conn, report)
    _certificates(chain, conn, report)
    _anchors(chain, conn, log, report)
    _monitoring(chain, conn, report)
    if api is not None:
        _api(chain, conn, api, report, api_sample)
    return report


def _supply(chain: ChainState, conn: Connection, r: AuditReport) -> None:
    mirror = {b.id: b for b in conn.execute(select(BatchRow.id, BatchRow.issued, BatchRow.retired, BatchRow.cancelled))}
    batches = sorted(set(chain.batch_at) | set(mirror))
    r.checked["batches"] = len(batches)
    for batch_id in batches:
        at = chain.batch_at.get(batch_id)
        if at is None:
            r.add("supply", f"batch {batch_id}", "the mirror has a batch the chain never issued")
            continue
        events = (chain.issued[batch_id], chain.retired[batch_id], chain.cancelled[batch_id])
        issued, circulating, retired, cancelled = chain.supply_views[batch_id]
        if (issued, retired, cancelled) != events or circulating != issued - retired - cancelled:
            r.add(
                "supply",
                f"batch {batch_id}",
                f"the events add up to issued/retired/cancelled {events}, the "
                f"contract's supply view says {(issued, retired, cancelled)} with {circulating} circulating",
                at,
            )
        row = mirror.get(batch_id)
        if row is None:
            r.add("supply", f"batch {batch_id}", "the mirror lacks this batch", at)
        elif (row.issued, row.retired, row.cancelled) != events:
            r.add(
                "supply",
                f"batch {batch_id}",
                f"chain issued/retired/cancelled {events}, mirror {(row.issued, row.retired, row.cancelled)}",
                at,
            )


def _balances(chain: ChainState, conn: Connection, r: AuditReport) -> None:
    mirror = {
        (b.holder, b.batch_id): (b.amount, b.pledged, b.frozen)
        for b in conn.execute(select(Balance))  # holder, batch, amount, pledged, frozen: every column
    }
    pairs = sorted(set(chain.balances) | set(mirror))
    r.checked["balances"] = len(pairs)
    for pair in pairs:
        holder, batch_id = pair
        at = chain.last_move.get(pair)
        amount = chain.balances.get(pair, 0)
        if pair in chain.views_balance and chain.views_balance[pair] != amount:
            r.add(
                "balance",
                f"{holder} / batch {batch_id}",
                f"the transfers add up to {amount} kg, the contract's balanceOf says {chain.views_balance[pair]}",
                at,
            )
        on_chain = (amount, *chain.locked.get(pair, (0, 0)))
        found = mirror.get(pair, (0, 0, 0))
        if on_chain != found:
            r.add(
                "balance", f"{holder} / batch {batch_id}", f"chain amount/pledged/frozen {on_chain}, mirror {found}", at
            )


def _retirements(chain: ChainState, conn: Connection, r: AuditReport) -> None:
    mirror = {row.id: row for row in conn.execute(select(Retirement))}
    r.checked["retirements"] = len(chain.retirements)
    for rid, c in chain.retirements.items():
        at = Where(c["tx_hash"], c["block_number"])
        row = mirror.get(rid)
        if row is None:
            r.add("retirement", rid, "the mirror lacks this retirement", at)
            continue
        found = (row.batch_id, row.holder, row.amount, row.beneficiary_commitment)
        expected = (c["batch_id"], c["holder"], c["amount"], c["beneficiary_commitment"])
        if found != expected:
            r.add("retirement", rid, f"chain batch/holder/amount/commitment {expected}, mirror {found}", at)
    for rid in sorted(set(mirror) - set(chain.retirements)):
        r.add(
            "retirement",
            rid,
            "the mirror has a retirement the chain does not",
            Where(mirror[rid].tx_hash, mirror[rid].block_number),
        )


def _certificates(chain: ChainState, conn: Connection, r: AuditReport) -> None:
    claims = {c.retirement_id: c.certificate_id for c in conn.execute(select(CertificateClaim))}
    rows = conn.execute(select(CertificateRow).order_by(col(CertificateRow.number))).all()
    r.checked["certificates"] = len(rows)
    entries = {
        e.idx: bytes(e.leaf_hash).hex()
        for e in conn.execute(select(LogEntry.idx, LogEntry.leaf_hash).where(LogEntry.kind == "certificate"))
    }
    claimed_by_body: dict[str, str] = {}
    for row in rows:
        body = json.loads(row.body)
        if leaf_hash(body).hex() != row.leaf_hash:
            r.add("certificate", row.id, "its stored body no longer hashes to its leaf")
        if row.leaf_index not in entries:
            r.add("log", row.id, f"its leaf {row.leaf_index} is missing from the log")
        elif entries[row.leaf_index] != row.leaf_hash:
            r.add("log", row.id, f"log entry {row.leaf_index} is not this certificate's leaf")
        for ret in body["retirements"]:
            # a certificate revoked because a reorganisation removed its retirement gives its claim
            # up: the same transaction, mined again, may back a new certificate
            if claims.get(ret["id"]) == row.id:
                claimed_by_body[ret["id"]] = row.id
            elif row.revoked_at is None:
                r.add(
                    "certificate",
                    row.id,
                    f"retirement {ret['id']} is recorded as backing {claims.get(ret['id']) or 'no certificate'}",
                )
            c = chain.retirements.get(ret["id"])
            if c is None:
                # a revoked certificate vouches for nothing: one whose retirement a reorganisation
                # removed is revoked so ("retirement reorganised away"), not an inconsistency
                if row.revoked_at is None:
                    r.add(
                        "certificate",
                        row.id,
                        f"it claims retirement {ret['id']}, which is not on chain",
                        Where(ret["tx_hash"], ret["block_number"]),
                    )
                continue
            expected = (c["batch_id"], c["holder"], c["amount"], c["beneficiary_commitment"])
            found = (ret["batch_id"], ret["holder"], ret["amount_kg"], ret["beneficiary_commitment"])
            if expected != found:
                r.add(
                    "certificate",
                    row.id,
                    f"retirement {ret['id']}: chain {expected}, certificate {found}",
                    Where(c["tx_hash"], c["block_number"]),
                )
    for rid, cert_id in claims.items():
        if claimed_by_body.get(rid) != cert_id:
            r.add("certificate", cert_id, f"the claims table says it uses retirement {rid}, its body does not")


def _anchors(chain: ChainState, conn: Connection, log: TransparencyLog, r: AuditReport) -> None:
    mirror = {a.tree_size: a.root[2:] for a in conn.execute(select(AnchoredRoot.tree_size, AnchoredRoot.root))}
    size = log.size(conn)
    r.checked["anchors"] = len(chain.anchors)
    previous: tuple[int, bytes] | None = None
    for tree_size in sorted(chain.anchors):
        a = chain.anchors[tree_size]
        at = Where(a["tx_hash"], a["block_number"])
        if mirror.get(tree_size) != a["root"]:
            r.add("anchor", f"tree size {tree_size}", f"chain root {a['root']}, mirror {mirror.get(tree_size)}", at)
        if tree_size > size:
            r.add("log", f"tree size {tree_size}", f"anchored on chain, but the log has only {size} entries", at)
            continue
        own = log.root(tree_size, conn)
        if own.hex() != a["root"]:
            r.add(
                "log",
                f"tree size {tree_size}",
                f"the log's own root is {own.hex()}, the chain anchored {a['root']}",
                at,
            )
        root = bytes.fromhex(a["root"])
        if previous is not None:
            proof = log.consistency_proof(previous[0], tree_size, conn)
            if not rfc9162.verify_consistency(previous[0], tree_size, previous[1], root, proof):
                r.add(
                    "log",
                    f"tree sizes {previous[0]} → {tree_size}",
                    "no consistency proof between these anchored roots: the log was rewritten",
                    at,
                )
        previous = (tree_size, root)
    for tree_size in sorted(set(mirror) - set(chain.anchors)):
        r.add("anchor", f"tree size {tree_size}", "the mirror has an anchor the chain does not")


def _monitoring(chain: ChainState, conn: Connection, r: AuditReport) -> None:
    """Recompute every batch whose on-chain verification hash names a stored result; a batch with
    none (an import, a batch issued before reports were stored) is unverifiable, not a difference."""
    issued = {b: chain.supply_views[b][0] if b in chain.supply_views else chain.issued[b] for b in chain.batch_at}
    found = recompute_stored(conn, chain.verification, issued)
    for batch_id, detail in found.differences:
        r.add("monitoring", f"batch {batch_id}", detail, chain.batch_at.get(batch_id))
    unverifiable = sorted(set(chain.batch_at) - set(found.recomputed))
    r.checked["monitoring_reports"] = len(found.recomputed)
    charged = mrv_store.reversals(conn)
    outstanding = [
        {
            "batch_id": b,
            "reversal_kg": kg,
            "cancelled_kg": chain.reversal_cancelled.get(b, 0),
            "outstanding_kg": kg - chain.reversal_cancelled.get(b, 0),
        }
        for b, kg in sorted(charged.items())
        if kg > chain.reversal_cancelled.get(b, 0)
    ]
    r.monitoring = {
        "recomputed": len(found.recomputed),
        "unverifiable": {"count": len(unverifiable), "batches": unverifiable},
        "outstanding_reversals": outstanding,
    }


@dataclass
class Recomputed:
    recomputed: list[int] = field(default_factory=list)  # batches whose stored report was recomputed
    differences: list[tuple[int, str]] = field(default_factory=list)


def recompute_stored(conn: Connection, verification: Mapping[int, str], issued: Mapping[int, int]) -> Recomputed:
    """recompute_batches over the stored results these hashes name, a chunk of batches at a time
    (the chunk's reports are in memory together, not every report of the registry)."""
    found, batches = Recomputed(), sorted(verification)
    for start in range(0, len(batches), MONITORING_CHUNK):
        chunk = {b: verification[b] for b in batches[start : start + MONITORING_CHUNK]}
        part = recompute_batches(chunk, issued, mrv_store.found(conn, chunk.values()))
        found.recomputed += part.recomputed
        found.differences += part.differences
    return found


def recompute_batches(
    verification: Mapping[int, str], issued: Mapping[int, int], stored: Mapping[str, mrv_store.Stored]
) -> Recomputed:
    """Each batch's stored report recomputed under the bundle its result names, against the
    verification hash and the quantity the chain holds (a result shared by batches is computed once)."""
    out = Recomputed()
    results: dict[str, Any] = {}
    for batch_id in sorted(verification):
        key = verification[batch_id].lower().removeprefix("0x")
        entry = stored.get(key)
        if entry is None:
            continue
        out.recomputed.append(batch_id)
        if key not in results:
            try:
                results[key] = entry.recompute()
            except (mrv_store.StoreError, ReportErrors, MethodologyError) as exc:
                results[key] = f"its stored monitoring report does not recompute: {exc}"
        again = results[key]
        if isinstance(again, str):
            out.differences.append((batch_id, again))
            continue
        if again.sha256 != key:
            out.differences.append(
                (
                    batch_id,
                    f"the on-chain verification hash 0x{key} is not the recomputed result's 0x{again.sha256} "
                    f"(its report or {entry.methodology} changed since it was issued)",
                )
            )
        if again.quantity_kg != issued.get(batch_id):
            out.differences.append(
                (
                    batch_id,
                    f"the chain issued {issued.get(batch_id, 0):,} kg, its monitoring report recomputes to "
                    f"{again.quantity_kg:,} kg",
                )
            )
    return out


def _api(
    chain: ChainState, conn: Connection, api: Callable[[str], tuple[int, Any]], r: AuditReport, sample: int
) -> None:
    requests = 0

    def get(path: str) -> Any:
        nonlocal requests
        requests += 1
        status, body = api(path)
        return body if status == 200 else None

    roots = get("/api/v1/log/roots")
    served = {x["tree_size"]: x["root"] for x in (roots or {}).get("roots", [])}
    if served != {size: a["root"] for size, a in chain.anchors.items()}:
        r.add("api", "/api/v1/log/roots", "the anchored roots served differ from the chain's")
    for batch_id, (issued, _circulating, retired, cancelled) in spread(sorted(chain.supply_views.items()), sample):
        body = get(f"/api/v1/batches/{batch_id}")
        supply = (body or {}).get("supply", {})
        if (supply.get("issued_kg"), supply.get("retired_kg"), supply.get("cancelled_kg")) != (
            issued,
            retired,
            cancelled,
        ):
            r.add(
                "api",
                f"/api/v1/batches/{batch_id}",
                f"serves {supply or 'nothing'}, the chain says issued/retired/cancelled {(issued, retired, cancelled)}",
                chain.batch_at.get(batch_id),
            )
    for row in spread(
        conn.execute(select(CertificateRow.id, CertificateRow.body).order_by(col(CertificateRow.number))).all(), sample
    ):
        doc = get(f"/api/v1/certificates/{row.id}")
        if doc is None or doc.get("certificate") != json.loads(row.body):
            r.add("api", f"/api/v1/certificates/{row.id}", "the certificate served differs from the registry's record")
    for rid in spread(sorted(chain.retirements), sample):
        c = chain.retirements[rid]
        body = get(f"/api/v1/provenance/retirements/{rid}")
        served_amount = sum(x["amount_kg"] for x in (body or {}).get("serial_ranges", []))
        if body is None or body["retirement"]["amount"] != c["amount"] or served_amount != c["amount"]:
            r.add(
                "api",
                f"/api/v1/provenance/retirements/{rid}",
                f"does not trace the {c['amount']} kg retired on chain",
                Where(c["tx_hash"], c["block_number"]),
            )
    r.checked["api_requests"] = requests
    r.checked["api_sample"] = sample
