"""The daily snapshot: every public list in one JSON Lines file, its sha256 appended to the
transparency log (certificates/translog/), whose roots are anchored on chain; so a downloaded
file can be checked by anyone against the chain (docs/public-registry.md, "Checking a snapshot").

The file: a header line (`record_type` "snapshot": schema, date, the mirror's sync cursors), then
the rows of each list in SNAPSHOT_LISTS, each with its `record_type`. It is read in one read
transaction, so it is the mirror at one moment.

The log entry is the canonical JSON {"date", "sha256", "type"}; its `ref` is "<date> <sha256>",
from which the entry is rebuilt: the leaf is RFC 9162's sha256(0x00 || entry)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from certificates.translog.log import TransparencyLog
from certificates.translog.models import LogEntry
from chain import rfc9162
from chain.canonical import canonical_json
from indexer.db import read_snapshot
from indexer.models import AnchoredRoot, SyncCursor
from public.errors import PublicQueryError
from public.export import Export
from public.lists import _table, query

SCHEMA = "sichuan-ccw/public-snapshot/1"
KIND = "public-snapshot"
SNAPSHOT_LISTS = (
    "methodologies",
    "projects",
    "batches",
    "participants",
    "status_changes",
    "retirements",
    "cancellations",
    "exports",
    "reserve",
)


@dataclass(frozen=True)
class Snapshot:
    path: Path
    date: str
    sha256: str
    size: int
    records: int
    leaf_index: int


@dataclass(frozen=True)
class SnapshotProof:
    """A snapshot's place in the log and, once anchored, its inclusion proof to an anchored root."""

    date: str
    sha256: str
    leaf_index: int
    entry: str  # the canonical JSON whose RFC 9162 leaf hash is in the log
    leaf_hash: str
    tree_size: int | None  # the anchored tree size the proof is to; None until anchored
    root: str | None
    anchor_tx: str | None
    proof: list[str]


def entry(day: str, sha256: str) -> bytes:
    return canonical_json({"date": day, "sha256": sha256, "type": SCHEMA})


def _day(text: str) -> str:
    try:
        return Date.fromisoformat(text).isoformat()
    except ValueError:
        raise PublicQueryError(f"date {text[:20]!r} is not YYYY-MM-DD") from None


def _logged(conn: Connection, day: str | None = None) -> list[tuple[int, str, str]]:
    """(leaf index, date, sha256) of the snapshots in the log, oldest first."""
    e = _table(LogEntry)
    q = select(e.c.idx, e.c.ref).where(e.c.kind == KIND).order_by(e.c.idx)
    if day is not None:
        q = q.where(e.c.ref.startswith(f"{day} "))
    return [(int(idx), *ref.split(" ", 1)) for idx, ref in conn.execute(q)]


def write(engine: Engine, log: TransparencyLog, out_dir: Path, day: str) -> Snapshot:
    """Write the snapshot of `day` into `out_dir` and append its hash to the log. One snapshot
    per day: a second for the same day is refused, since the log would then vouch for two files."""
    day = _day(day)
    with engine.connect() as conn:
        done = _logged(conn, day)
    if done:
        raise PublicQueryError(f"the snapshot of {day} is already in the log (sha256 {done[0][2]}); give another date")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"registry-{day}.jsonl"
    # a part file of this writer's own: two writers of one day shared one and one's rename failed
    fd, name = tempfile.mkstemp(dir=out_dir, prefix=f"registry-{day}.", suffix=".jsonl.part")
    part = Path(name)
    os.chmod(part, 0o644)  # a published file, readable as the plain open() made it (mkstemp's is 0600)
    try:
        made = _write(engine, log, day, fd, part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return made


def _write(engine: Engine, log: TransparencyLog, day: str, fd: int, part: Path, path: Path) -> Snapshot:
    digest = hashlib.sha256()
    size = records = 0
    # one read transaction, so every list is read at the same moment while the indexer writes
    with os.fdopen(fd, "wb") as out, read_snapshot(engine) as conn:
        s = _table(SyncCursor)
        cursors = [
            {"address": a, "block_number": int(n), "block_hash": h}
            for a, n, h in conn.execute(select(s.c.address, s.c.block_number, s.c.block_hash).order_by(s.c.address))
        ]
        header = {"record_type": "snapshot", "schema": SCHEMA, "date": day, "sync": cursors, "lists": SNAPSHOT_LISTS}
        first = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        digest.update(first)
        out.write(first)
        size = len(first)
        for name in SNAPSHOT_LISTS:
            spec, f = query(name, {})
            export = Export(name, "jsonl", ((spec, f),), ("record_type", *spec.names))
            for chunk in export.chunks(conn):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                records += chunk.count(b"\n")
        out.flush()
        os.fsync(out.fileno())
    sha = digest.hexdigest()
    with engine.begin() as conn:
        [index] = log.append(conn, [(rfc9162.leaf_hash(entry(day, sha)), KIND, f"{day} {sha}")])
        # asked again under the log's write lock, which append took: a writer that checked at the
        # same moment and logged first wins, and this one rolls back before its file replaces that
        others = [logged for idx, _, logged in _logged(conn, day) if idx != index]
        if others:
            raise PublicQueryError(
                f"the snapshot of {day} is already in the log (sha256 {others[0]}); give another date"
            )
        # in place before the commit: a crash now leaves a file not yet logged, never a logged day without its file
        os.replace(part, path)
        _sync_directory(path.parent)
    return Snapshot(path, day, sha, size, records, index)


def _sync_directory(directory: Path) -> None:
    """The rename made durable before the log vouches for the file (POSIX: fsync the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def proofs(conn: Connection, log: TransparencyLog, day: str | None = None) -> list[SnapshotProof]:
    """Every logged snapshot (or the one of `day`), with its inclusion proof to the largest
    anchored root that covers it."""
    if day is not None:
        day = _day(day)
    a = _table(AnchoredRoot)
    size = log.size(conn)
    anchored = None  # the largest anchored size that is a root of this log (a stray anchor is skipped)
    for tree_size, root, tx in conn.execute(
        select(a.c.tree_size, a.c.root, a.c.tx_hash).where(a.c.tree_size <= size).order_by(a.c.tree_size.desc())
    ):
        if log.root(int(tree_size), conn).hex() == str(root).removeprefix("0x"):
            anchored = (int(tree_size), str(root).removeprefix("0x"), str(tx))
            break
    out = []
    for idx, d, sha in _logged(conn, day):
        e = entry(d, sha)
        covered = anchored if anchored is not None and anchored[0] > idx else None
        out.append(
            SnapshotProof(
                date=d,
                sha256=sha,
                leaf_index=idx,
                entry=e.decode(),
                leaf_hash=rfc9162.leaf_hash(e).hex(),
                tree_size=covered[0] if covered else None,
                root=covered[1] if covered else None,
                anchor_tx=covered[2] if covered else None,
                proof=[p.hex() for p in log.inclusion_proof(idx, covered[0], conn)] if covered else [],
            )
        )
    return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check(file_hash: str, p: SnapshotProof, anchored_root: bytes | None) -> list[str]:
    """What is wrong with a downloaded file whose sha256 is `file_hash`, given its logged proof
    and the root the chain holds for `p.tree_size` (read by the caller, from a node it trusts):
    an empty list when the file is the one the registry logged and anchored."""
    problems = []
    if file_hash != p.sha256:
        problems.append(f"the file's sha256 {file_hash} is not the logged {p.sha256}: it is not the published file")
    leaf = rfc9162.leaf_hash(entry(p.date, p.sha256))
    if leaf.hex() != p.leaf_hash:
        problems.append("the log entry does not hash to its leaf")
    if p.tree_size is None or p.root is None:
        problems.append("the log entry is not anchored on chain yet; check again after the next anchoring")
        return problems
    if not rfc9162.verify_inclusion(
        p.leaf_index, p.tree_size, leaf, [bytes.fromhex(h) for h in p.proof], bytes.fromhex(p.root)
    ):
        problems.append(f"the inclusion proof does not lead to the root of size {p.tree_size}")
    if anchored_root is None or anchored_root.hex() != p.root:
        problems.append(f"the chain's anchored root of size {p.tree_size} is not {p.root}")
    return problems
