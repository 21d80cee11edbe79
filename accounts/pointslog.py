"""The points log: every entry of the points ledger appended to an RFC 9162 log of its own, whose
roots are anchored in contracts/PointsLogAnchor.sol, so the platform cannot rewrite a balance unseen.

- `append_pending` appends the entries not yet in the log (a separate step: the ledger's hot paths
  take no global lock), one transaction per round, under the log's write lock.
- `anchor_due` / `anchor`: the certificate log's policy (certificates/anchoring.py: every N entries
  or after T seconds); a log that does not extend the anchored one is never anchored.
- `proofs` / `verify_entry`: a statement's inclusion proofs to the latest anchored root, and their
  check (pure).
- `audit` / `check`: the tamper check (`ledger audit` runs it): every logged entry re-hashed against
  its leaf, the log's roots against the chain's, every transaction balanced, no entry left out of the
  log longer than the policy allows.

A leaf is RFC 9162's leaf hash of the canonical JSON (chain/canonical.py) of the entry's fields but
`log_idx`, with "format" naming the leaf format:

    {"account":"person:acc_…","amount":120,"created_at":1767225600,"expires_at":2082758400,
     "format":"sichuan-points-entry/1","id":7,"kind":"credit","ref":"…","txn":"credit:…"}
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from accounts.ledger_models import PointsEntry
from accounts.pointslog_models import ENTRIES, NODES, TABLES, PointsLogAnchor
from certificates.anchoring import AnchorPolicy, AnchorRefusedError
from certificates.translog.log import LogTables, TransparencyLog
from chain import rfc9162
from chain.canonical import CanonicalJsonError, canonical_json
from chain.client import RegistryClient, TxResult
from chain.deploy import Deployment
from chain.registry import open_contract
from chain.rpc import RpcError
from indexer.db import read_snapshot

POINTS_LOG = LogTables(ENTRIES, NODES, "sichuan-carbon-ledger-points-log")
LEAF_FORMAT = "sichuan-points-entry/1"
# the entry's fields a leaf commits to: every column of points_entries but log_idx (a test keeps it so)
LEAF_FIELDS = ("id", "txn", "account", "amount", "kind", "ref", "created_at", "expires_at")
NOT_ANCHORED = "not yet anchored"
NOT_LOGGED = "not yet in the log"
CHUNK = 10_000  # entries re-hashed per fetch in the audit
_LIMIT = 2**53  # canonical JSON's integers (chain/canonical.py)
_string = json.encoder.encode_basestring  # a JSON string, non-ASCII kept: json.dumps(ensure_ascii=False)

_LOG_ENTRIES = TABLES[0]
_ENTRY = PointsEntry.__table__  # type: ignore[attr-defined]  # set by SQLModel
_COLUMNS = [_ENTRY.c[name] for name in LEAF_FIELDS]
_ANCHORS = PointsLogAnchor.__table__  # type: ignore[attr-defined]


def points_log(engine: Engine) -> TransparencyLog:
    return TransparencyLog(engine, POINTS_LOG)


# ---------------------------------------------------------------------- leaves


def leaf_entry(entry: Mapping[Any, Any]) -> bytes:
    """The bytes a leaf commits to: canonical JSON of the entry's LEAF_FIELDS and the format.
    KeyError for an entry without one of them.

    The usual entry (integers within ±2^53, strings of text) is written directly, keys in their
    sorted order: the same bytes as chain.canonical.canonical_json (a test compares them), at
    about a fifth of its cost (3 µs against 14 µs here), since append_pending and the audit hash
    every entry. Anything else goes through canonical_json, which refuses it or writes it exactly."""
    return _leaf_bytes(*(entry[name] for name in LEAF_FIELDS))


def _leaf_bytes(i: Any, txn: Any, account: Any, amount: Any, kind: Any, ref: Any, created: Any, expires: Any) -> bytes:
    if (
        _whole(i)
        and _whole(amount)
        and _whole(created)
        and (expires is None or _whole(expires))
        and type(txn) is str
        and type(account) is str
        and type(kind) is str
        and type(ref) is str
    ):
        s = _string
        text = (
            f'{{"account":{s(account)},"amount":{amount},"created_at":{created},'
            f'"expires_at":{"null" if expires is None else expires},"format":"{LEAF_FORMAT}","id":{i},'
            f'"kind":{s(kind)},"ref":{s(ref)},"txn":{s(txn)}}}'
        )
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate: canonical_json names it
            pass
    body = dict(zip(LEAF_FIELDS, (i, txn, account, amount, kind, ref, created, expires), strict=True))
    body["format"] = LEAF_FORMAT
    return canonical_json(body)


def _whole(value: Any) -> bool:
    return type(value) is int and -_LIMIT < value < _LIMIT


def leaf_hash(entry: Mapping[Any, Any]) -> bytes:
    return rfc9162.leaf_hash(leaf_entry(entry))


# ---------------------------------------------------------------------- appending


def append_pending(engine: Engine, limit: int = 10_000) -> int:
    """Append every entry not yet in the log, in id order, `limit` per round, each round one
    transaction (a process killed mid-round leaves nothing of that round). Returns how many.

    The round reads what to append only after taking the log's write lock, so two appenders at
    once never append an entry twice; and it selects by `log_idx IS NULL`, never by "id above the
    last appended", so an entry whose transaction committed after a later id was appended is
    still appended (at a later index)."""
    if limit < 1:
        raise ValueError(f"limit is a positive number of entries per round, not {limit}")
    log = points_log(engine)
    claim = _claim_postgres if engine.dialect.name == "postgresql" else _claim
    total = 0
    while True:
        with engine.begin() as conn:
            log.lock(conn)
            size = log.size(conn)
            rows = claim(conn, size, limit)
            if not rows:
                return total
            # rows are in LEAF_FIELDS order: id, txn, account, amount, kind, ref, created_at, expires_at
            appended = log.append(conn, [(rfc9162.leaf_hash(_leaf_bytes(*r)), r[4], str(r[0])) for r in rows])
            if appended[0] != size:  # the lock held: nothing else can have appended in between
                raise RuntimeError(f"the points log grew from {size} to {appended[0]} under its own lock")
        total += len(rows)
        if len(rows) < limit:
            return total


_CLAIM = f"""
UPDATE points_entries AS p SET log_idx = %s + u.n - 1
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n
      FROM (SELECT id FROM points_entries WHERE log_idx IS NULL ORDER BY id LIMIT %s) AS q) AS u
WHERE p.id = u.id
RETURNING {", ".join("p." + name for name in LEAF_FIELDS)}, p.log_idx
"""


def _claim_postgres(conn: Connection, size: int, limit: int) -> list[tuple[Any, ...]]:
    """The first `limit` unlogged entries, given log_idx size, size + 1, ... in id order, in one
    statement (its own snapshot: the rows it marks are the rows it returns); in log_idx order."""
    rows = conn.exec_driver_sql(_CLAIM, (size, limit)).all()
    return [tuple(r[:-1]) for r in sorted(rows, key=lambda r: r[-1])]


def _claim(conn: Connection, size: int, limit: int) -> list[tuple[Any, ...]]:
    """SQLite: read the first `limit` unlogged entries (the write lock is held), then mark them."""
    rows = [
        tuple(r)
        for r in conn.execute(select(*_COLUMNS).where(_ENTRY.c.log_idx.is_(None)).order_by(_ENTRY.c.id).limit(limit))
    ]
    if rows:
        stmt = update(_ENTRY).where(_ENTRY.c.id == bindparam("entry_id")).values(log_idx=bindparam("idx"))
        conn.execute(stmt, [{"entry_id": r[0], "idx": size + n} for n, r in enumerate(rows)])
    return rows


# ---------------------------------------------------------------------- anchoring


def open_anchor(client: RegistryClient, deployment: Deployment) -> RegistryClient:
    """The points log's anchor contract of `deployment`, on the registry client's node and key."""
    return open_contract(client.rpc, deployment, contract="PointsLogAnchor", signer=client.signer)


def chain_latest(client: RegistryClient) -> tuple[int, bytes]:
    """The last anchored (tree size, root) on chain; (0, zero bytes) before the first anchoring."""
    size, root = client.view("latest")
    return int(size), bytes(root)


def anchor_due(engine: Engine, anchored: int, policy: AnchorPolicy | None = None, now: float | None = None) -> bool:
    """Whether the log has grown `policy.every` entries past the anchored size, or its oldest
    entry beyond it was appended `policy.interval` seconds ago or more."""
    policy = policy or AnchorPolicy()
    size = points_log(engine).size()
    if size <= anchored:
        return False
    if size - anchored >= policy.every:
        return True
    with engine.connect() as conn:
        oldest = conn.execute(select(_LOG_ENTRIES.c.appended_at).where(_LOG_ENTRIES.c.idx == anchored)).scalar()
    return oldest is not None and (now if now is not None else time.time()) - oldest >= policy.interval


def anchor(
    client: RegistryClient,
    engine: Engine,
    policy: AnchorPolicy | None = None,
    *,
    force: bool = False,
    now: float | None = None,
) -> TxResult | None:
    """Anchor the log's current root in the PointsLogAnchor contract `client` if the policy (or
    `force`) says so; None when there is nothing to do. Refuses (AnchorRefusedError) a log that
    does not extend the anchored one: fewer entries, or another root at the anchored size."""
    log = points_log(engine)
    anchored, anchored_root = chain_latest(client)
    size = log.size()
    if anchored and (size < anchored or log.root(anchored) != anchored_root):
        raise AnchorRefusedError(_not_extending(anchored, size))
    if anchored:
        _recover(engine, client, anchored, anchored_root)
    if size <= anchored or not (force or anchor_due(engine, anchored, policy, now)):
        return None
    root = log.root(size)
    result = client.transact("anchorRoot", (size, root))
    _record(engine, size, root, result.tx_hash, result.block_number)
    return result


def tick(
    engine: Engine, client: RegistryClient, deployment: Deployment, policy: AnchorPolicy | None = None
) -> TxResult | None:
    """One round of the main job's anchoring loop: append what is pending, then anchor per policy
    (with `client`'s key, which holds ANCHORER_ROLE). A deployment recorded before the contract
    existed is only appended to, until `ledger deploy` adds the contract."""
    append_pending(engine)
    return anchor(open_anchor(client, deployment), engine, policy) if deployment.points_log else None


def _record(engine: Engine, size: int, root: bytes, tx_hash: str, block_number: int) -> None:
    with engine.begin() as conn:
        if conn.execute(select(_ANCHORS.c.tree_size).where(_ANCHORS.c.tree_size == size)).first() is None:
            conn.execute(
                insert(_ANCHORS).values(
                    tree_size=size,
                    root=root.hex(),
                    tx_hash=tx_hash,
                    block_number=block_number,
                    anchored_at=int(time.time()),
                )
            )


def _recover(engine: Engine, client: RegistryClient, size: int, root: bytes) -> None:
    """Record the chain's latest anchor if this database missed it (a process killed between the
    transaction and its record): the log extends it, so it is this log's own."""
    with engine.connect() as conn:
        if conn.execute(select(_ANCHORS.c.tree_size).where(_ANCHORS.c.tree_size == size)).first() is not None:
            return
    tx_hash, block = "", 0
    try:
        found = client.rpc.call(
            "eth_getLogs",
            {
                "address": client.address,
                "topics": ["0x" + client.abi.event_topics["PointsLogRootAnchored"].hex(), "0x" + f"{size:064x}"],
                "fromBlock": "0x0",
                "toBlock": "latest",
            },
        )
        if found:
            tx_hash, block = found[-1]["transactionHash"], int(found[-1]["blockNumber"], 16)
    except RpcError:  # a node that limits log ranges: the anchor is recorded without its transaction
        pass
    _record(engine, size, root, tx_hash, block)


def _not_extending(anchored: int, size: int) -> str:
    held = "fewer entries" if size < anchored else "a different root at that size"
    return (
        f"not anchoring the points log: the chain has anchored a log of {anchored} entries and this database's "
        f"points log has {held} ({size} entries); it is not the log the chain vouches for: restore the latest "
        "backup (`ledger backup restore`) or point DATABASE_URL at the registry's own database"
    )


# ---------------------------------------------------------------------- proofs


@dataclass(frozen=True)
class Proof:
    """Where one entry sits in the points log and the path from its leaf to a root. `anchored`:
    the root is the one anchored on chain at `tree_size`; otherwise `note` says why not and `root`
    is the log's current root (a path is given if the entry is in the log at all)."""

    entry_id: int
    leaf_index: int | None
    tree_size: int
    root: str  # 64 hex digits
    path: list[str] = field(default_factory=list)  # hex, bottom-up (RFC 9162 PATH)
    anchored: bool = False
    note: str | None = None
    anchor_tx: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "leaf_format": LEAF_FORMAT,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "root": self.root,
            "path": self.path,
            "anchored": self.anchored,
            "note": self.note,
            "anchor_tx": self.anchor_tx,
        }


def latest_anchor(conn: Connection, size: int | None = None) -> tuple[int, str, str] | None:
    """(tree size, root hex, tx hash) of the latest anchor this database recorded, or of `size`."""
    q = select(_ANCHORS.c.tree_size, _ANCHORS.c.root, _ANCHORS.c.tx_hash)
    q = q.where(_ANCHORS.c.tree_size == size) if size is not None else q.order_by(_ANCHORS.c.tree_size.desc())
    row = conn.execute(q.limit(1)).first()
    return None if row is None else (int(row[0]), str(row[1]), str(row[2]))


def proofs(engine: Engine, entry_ids: Iterable[int], size: int | None = None) -> dict[int, Proof]:
    """Each entry's inclusion proof to the root anchored at `size` (default: the latest anchored
    size). Entries beyond it say "not yet anchored" and prove to the current root; entries not
    yet appended say so. Ids the ledger does not hold are left out. A handful of queries whatever
    the number of entries: the anchor, the entries' indexes, one per tree proved against."""
    ids = sorted(set(entry_ids))
    log = points_log(engine)
    with engine.connect() as conn:
        anchor_row = latest_anchor(conn, size)
        if size is not None and anchor_row is None:
            raise ValueError(f"the points log was never anchored at size {size}; omit the size for the latest anchor")
        at: dict[int, int | None] = (
            dict(conn.execute(select(_ENTRY.c.id, _ENTRY.c.log_idx).where(_ENTRY.c.id.in_(ids))).all()) if ids else {}
        )
        anchored_size, anchored_root, tx = anchor_row if anchor_row is not None else (0, "", "")
        logged = {i: idx for i, idx in at.items() if idx is not None}
        inside = [i for i in ids if i in logged and logged[i] < anchored_size]
        outside = [i for i in ids if i in at and i not in set(inside)]
        out: dict[int, Proof] = {}
        paths = log.inclusion_proofs([logged[i] for i in inside], anchored_size, conn)
        for i, path in zip(inside, paths, strict=True):
            out[i] = Proof(i, logged[i], anchored_size, anchored_root, [p.hex() for p in path], True, None, tx or None)
        if outside:
            current = log.size(conn)
            root = log.root(current, conn).hex()
            later = [i for i in outside if i in logged and logged[i] < current]
            by_id = dict(zip(later, log.inclusion_proofs([logged[i] for i in later], current, conn), strict=True))
            for i in outside:
                if i in by_id:
                    out[i] = Proof(i, logged[i], current, root, [p.hex() for p in by_id[i]], False, NOT_ANCHORED)
                else:
                    out[i] = Proof(i, None, current, root, [], False, f"{NOT_LOGGED}; {NOT_ANCHORED}")
    return {i: out[i] for i in ids if i in out}


def verify_entry(entry: Mapping[str, Any], proof: Proof, anchored_root: bytes | str) -> bool:
    """Whether `entry` (its LEAF_FIELDS) is the leaf `proof` places in the tree whose root is
    `anchored_root` (bytes, or 64 hex digits). Pure: no database, no node."""
    try:
        if proof.leaf_index is None or entry.get("id") != proof.entry_id:
            return False
        root = bytes.fromhex(anchored_root) if isinstance(anchored_root, str) else anchored_root
        path = [bytes.fromhex(p) for p in proof.path]
        return rfc9162.verify_inclusion(proof.leaf_index, proof.tree_size, leaf_hash(entry), path, root)
    except (KeyError, ValueError, TypeError, CanonicalJsonError):  # a malformed entry or proof proves nothing
        return False


# ---------------------------------------------------------------------- the tamper check


@dataclass
class Audit:
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)


def check(
    engine: Engine, client: RegistryClient | None, policy: AnchorPolicy | None = None, now: float | None = None
) -> list[str]:
    """Every way the points ledger and its log disagree with each other or with the chain, one
    line each (empty: none). `client` is the PointsLogAnchor contract; None skips the chain."""
    return audit(engine, client, policy, now).problems


def audit(
    engine: Engine, client: RegistryClient | None, policy: AnchorPolicy | None = None, now: float | None = None
) -> Audit:
    policy = policy or AnchorPolicy()
    now = now if now is not None else time.time()
    result = Audit()
    log = points_log(engine)
    # the chain's latest anchor before the database's moment: one the main job makes during the
    # scan is then in neither, not on the chain alone (which reads as an anchor the database lost)
    latest = chain_latest(client) if client is not None else None
    with read_snapshot(engine) as conn:  # the log and the ledger read at one moment
        size = log.size(conn)
        result.checked["points log entries"] = size
        _leaves(conn, size, result)
        _balanced(conn, result)
        _overdue(conn, size, policy, now, result)
        _anchors(conn, log, size, client, latest, policy, now, result)
    return result


def _leaves(conn: Connection, size: int, r: Audit) -> None:
    """Every leaf re-derived from the entry it names (a rewritten or deleted row shows), and
    every entry's log_idx pointing into the log."""
    q = (
        select(
            _LOG_ENTRIES.c.idx.label("leaf_idx"),
            _LOG_ENTRIES.c.ref.label("leaf_ref"),
            _LOG_ENTRIES.c.leaf_hash,
            *_COLUMNS,
            _ENTRY.c.log_idx,
        )
        .select_from(_LOG_ENTRIES.outerjoin(_ENTRY, _ENTRY.c.log_idx == _LOG_ENTRIES.c.idx))
        .order_by(_LOG_ENTRIES.c.idx)
        .execution_options(yield_per=CHUNK)
    )
    for row in conn.execute(q):
        if row.log_idx is None:
            r.problems.append(
                f"points log leaf {row.leaf_idx} names entry {row.leaf_ref}, which the ledger no longer holds at that index: "
                "a ledger row was deleted or re-indexed"
            )
        elif leaf_hash(row._mapping) != bytes(row.leaf_hash):
            r.problems.append(
                f"points entry {row.id} (txn {row.txn}) does not match its log leaf {row.leaf_idx}: "
                "the row was rewritten after it was logged"
            )
    stray = conn.execute(select(func.count()).select_from(_ENTRY).where(_ENTRY.c.log_idx >= size)).scalar() or 0
    if stray:
        r.problems.append(f"{stray} points entries claim a log index beyond the log's {size} entries")


def _balanced(conn: Connection, r: Audit) -> None:
    amount = func.sum(_ENTRY.c.amount)
    rows = conn.execute(select(_ENTRY.c.txn, amount).group_by(_ENTRY.c.txn).having(amount != 0)).all()
    r.checked["points transactions"] = conn.execute(select(func.count(func.distinct(_ENTRY.c.txn)))).scalar() or 0
    for txn, total in rows:
        r.problems.append(f"points transaction {txn} does not balance: its postings sum to {total}, not 0")


def _overdue(conn: Connection, size: int, policy: AnchorPolicy, now: float, r: Audit) -> None:
    late = now - policy.interval
    unlogged = conn.execute(
        select(func.count(), func.min(_ENTRY.c.created_at)).where(
            _ENTRY.c.log_idx.is_(None), _ENTRY.c.created_at < late
        )
    ).one()
    if unlogged[0]:
        r.problems.append(
            f"{unlogged[0]} points entries are not in the points log {int(now - unlogged[1])} s after they were "
            f"written (the policy allows {policy.interval:g} s): run the points log's append step"
        )


def _anchors(
    conn: Connection,
    log: TransparencyLog,
    size: int,
    client: RegistryClient | None,
    on_chain: tuple[int, bytes] | None,
    policy: AnchorPolicy,
    now: float,
    r: Audit,
) -> None:
    """`on_chain`: the chain's latest anchor (size, root), read before the database's moment."""
    recorded = {int(s): str(root) for s, root in conn.execute(select(_ANCHORS.c.tree_size, _ANCHORS.c.root))}
    chain: dict[int, str] = {}
    if client is not None and on_chain is not None:
        latest, latest_root = on_chain
        if latest:
            chain[latest] = latest_root.hex()
        others = sorted(set(recorded) - {latest})
        for s, root in zip(others, client.view_many("anchoredRoot", [(s,) for s in others]), strict=True):
            chain[s] = bytes(root).hex() if any(root) else ""
        for s in sorted(recorded):
            if chain.get(s) != recorded[s]:
                r.problems.append(
                    f"points log anchor at size {s}: this database records root {recorded[s]}, "
                    f"the chain {chain.get(s) or 'none'}"
                )
        if latest and latest not in recorded:
            r.problems.append(f"the chain anchored the points log at size {latest}; this database has no record of it")
    r.checked["points log anchors"] = len(chain or recorded)
    anchored = max(chain or recorded, default=0)
    for s, root in sorted((chain or recorded).items()):
        if s > size:
            r.problems.append(f"the points log was anchored at size {s}, but it has only {size} entries")
        elif root and log.root(s, conn).hex() != root:
            r.problems.append(
                f"the points log's own root at size {s} is {log.root(s, conn).hex()}, the anchored one {root}: "
                "the log was rewritten"
            )
    if size > anchored:
        oldest = conn.execute(select(_LOG_ENTRIES.c.appended_at).where(_LOG_ENTRIES.c.idx == anchored)).scalar()
        # one interval for the anchoring to fall due, one more for the loop that runs it to come round
        if oldest is not None and now - oldest > policy.interval * 2:
            r.problems.append(
                f"points log entries from {anchored} on are not anchored {int(now - oldest)} s after they were "
                f"appended (the policy anchors within {policy.interval:g} s): run the points log's anchoring"
            )
