"""What a certificate is checked against: the node (trusting nothing else) or the SQL mirror."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from certificates.origins import retirement_origin
from certificates.scenarios import BY_ENUM_NAME, ORDER
from certificates.verify import EvidenceError, OnChainRetirement
from chain.abi import ContractAbi
from chain.errors import NodeUnreachableError
from chain.rpc import JsonRpc, RpcError
from chain.types import RetirementId
from indexer.models import AnchoredRoot

# The three things a verifier reads from the chain, as ABI fragments: a verifier needs no build of ours.
VERIFIER_ABI = ContractAbi(
    [
        {
            "type": "event",
            "name": "CreditsRetired",
            "anonymous": False,
            "inputs": [
                {"name": "batchId", "type": "uint256", "indexed": True},
                {"name": "holder", "type": "address", "indexed": True},
                {"name": "opId", "type": "uint256", "indexed": True},
                {"name": "amount", "type": "uint256", "indexed": False},
                {"name": "scenario", "type": "uint8", "indexed": False},
                {"name": "beneficiaryCommitment", "type": "bytes32", "indexed": False},
                {"name": "claimHash", "type": "bytes32", "indexed": False},
                {"name": "operator", "type": "address", "indexed": False},
            ],
        },
        {
            "type": "function",
            "name": "anchoredRoot",
            "stateMutability": "view",
            "inputs": [{"name": "treeSize", "type": "uint256"}],
            "outputs": [{"name": "", "type": "bytes32"}],
        },
        {
            "type": "function",
            "name": "registry",
            "stateMutability": "view",
            "inputs": [],
            "outputs": [{"name": "", "type": "address"}],
        },
        {
            "type": "function",
            "name": "revokedAt",
            "stateMutability": "view",
            "inputs": [{"name": "leafHash", "type": "bytes32"}],
            "outputs": [{"name": "", "type": "uint256"}],
        },
    ]
)


class ChainEvidence:
    """Reads the node only: receipts for retirements, eth_call for roots and revocations."""

    source = "node"

    def __init__(self, rpc: JsonRpc, *, chain_id: int | None = None, registry: str, revocations: str) -> None:
        """`chain_id` None: asked of the node when a check needs it (`eth_chainId`), so a node that
        does not answer fails those checks instead of the whole verification."""
        self.rpc, self._chain_id = rpc, chain_id
        self.registry, self.revocations = registry.lower(), revocations.lower()
        self._unreachable: str | None = None

    def _ask(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call. Once the node has proved unreachable, later calls fail at once with the
        same reason rather than each waiting for its own timeout."""
        if self._unreachable is not None:
            raise EvidenceError(self._unreachable)
        try:
            return self.rpc.call(method, *params)
        except NodeUnreachableError as exc:
            self._unreachable = str(exc)
            raise EvidenceError(self._unreachable) from None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            try:
                self._chain_id = int(self._ask("eth_chainId"), 16)
            except EvidenceError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever the node answers, never a crash
                raise EvidenceError(f"eth_chainId: {type(exc).__name__}: {exc}") from None
        return self._chain_id

    def _call(self, to: str, fn: str, *args: Any) -> Any:
        """A view's answer; any failure to get one (no node, no code, a revert, an undecodable
        answer, an argument the ABI cannot encode) is an EvidenceError: the check fails,
        verification goes on."""
        try:
            data = "0x" + VERIFIER_ABI.encode_call(fn, args).hex()
            answer = self._ask("eth_call", {"to": to, "data": data}, "latest")
            if answer in ("0x", "0x0"):  # a call to an address without code "succeeds" with no data
                code = self._ask("eth_getCode", to, "latest")
                if code in ("0x", "0x0"):
                    raise EvidenceError(f"{fn}: there is no contract at {to} on this chain; check the address")
            return VERIFIER_ABI.decode_output(fn, bytes.fromhex(answer[2:]))
        except EvidenceError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the node answers, never a crash
            raise EvidenceError(f"{fn} on {to}: {type(exc).__name__}: {exc}") from None

    def anchored_root(self, tree_size: int) -> str | None:
        root = self._call(self.registry, "anchoredRoot", tree_size)
        return None if root == b"\0" * 32 else root.hex()

    def retirement(self, tx_hash: str, log_index: int) -> OnChainRetirement | None:
        try:
            receipt = self._ask("eth_getTransactionReceipt", tx_hash)
            return None if receipt is None else self._retirement_in(receipt, log_index)
        except RpcError:
            return None
        except EvidenceError:
            raise
        except Exception as exc:  # noqa: BLE001 - no node, or an answer not shaped like a receipt
            raise EvidenceError(f"the receipt of {tx_hash}: {type(exc).__name__}: {exc}") from None

    def _retirement_in(self, receipt: dict[str, Any], log_index: int) -> OnChainRetirement | None:
        if int(receipt["status"], 16) != 1:
            return None
        for log in receipt["logs"]:
            if int(log["logIndex"], 16) == log_index and log["address"].lower() == self.registry:
                event = VERIFIER_ABI.decode_log(log, checksum=False)
                if event is None or event.name != "CreditsRetired":
                    return None
                a = event.args
                scenario = ORDER[a["scenario"]] if a["scenario"] < len(ORDER) else f"unknown {a['scenario']}"
                return OnChainRetirement(
                    self.registry,
                    a["batchId"],
                    a["holder"].lower(),
                    a["amount"],
                    "0x" + a["beneficiaryCommitment"].hex(),
                    int(log["blockNumber"], 16),
                    scenario=scenario,
                    claim_hash="0x" + a["claimHash"].hex(),
                )
        return None

    def revoked(self, leaf_hash: str) -> bool:
        """Fails closed: a missing revocation list, or one not governed by this registry, fails the
        check (as unreadable evidence, so the verdict is invalid rather than revoked)."""
        if not self.revocations:
            raise EvidenceError("the certificate names no revocation list")
        governor = str(self._call(self.revocations, "registry")).lower()
        if governor != self.registry:
            raise EvidenceError(
                f"the revocation list {self.revocations} is governed by {governor}, not by the registry {self.registry}"
            )
        return bool(self._call(self.revocations, "revokedAt", bytes.fromhex(leaf_hash)))


class MirrorEvidence:
    """Reads the SQL mirror (kept equal to the canonical chain by the indexer) and the certificate
    tables. Verification is the hot path: statements go straight to the DBAPI cursor (SQLAlchemy's
    statement building cost more than SQLite's work), anchored roots and retirements found are
    cached for `cache_seconds`, so a reorganisation that removes an anchoring or a retirement is
    seen within that time; revocations are read on every call (a revoked certificate is reported
    revoked at once), and a retirement not found is never cached."""

    source = "mirror"
    MAX_CACHED = 100_000

    def __init__(self, engine: Engine, *, chain_id: int, registry: str, cache_seconds: float = 1.0) -> None:
        self.engine, self.chain_id, self.registry = engine, chain_id, registry.lower()
        self._roots: dict[int, str] = {}
        self._roots_at = 0.0
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._retirements: dict[str, tuple[float, OnChainRetirement]] = {}
        self._sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql_retirement = (
            "SELECT r.batch_id, r.holder, r.amount, r.beneficiary_commitment, r.block_number, r.scenario, "
            "r.claim_hash, l.first_serial, l.last_serial FROM retirements r LEFT JOIN lots l ON "
            f"l.batch_id = r.batch_id AND l.retirement_id = r.id WHERE r.id = {mark} "
            "ORDER BY l.first_serial"
        )
        self._sql_revoked = f"SELECT revoked_at FROM certificates WHERE leaf_hash = {mark}"

    def _rows(self, sql: str, *params: Any) -> list[Any]:
        if self._sqlite:
            # SQLite: one connection per thread, kept out of the pool (checking one out and rolling it
            # back on return cost as much as the query). A SELECT there opens no transaction that
            # outlives it, so each one sees every commit made before it.
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self.engine.raw_connection()
                conn.detach()
            return _fetch(conn, sql, params)
        raw = self.engine.raw_connection()  # from the pool; rolled back and returned on close
        try:
            return _fetch(raw, sql, params)
        finally:
            raw.close()

    def import_origin(self, batch_id: int) -> dict[str, Any] | None:
        """The origin of an imported batch as the mirror holds it (certificates/origins.py)."""
        with self.engine.connect() as conn:
            return retirement_origin(conn, batch_id)

    def anchored_root(self, tree_size: int) -> str | None:
        now = time.monotonic()
        age = now - self._roots_at
        # refresh each second, and at once (at most 20 times a second) for a size not seen yet
        if age > self._cache_seconds or (tree_size not in self._roots and age > 0.05):
            with self.engine.connect() as conn:
                roots = {
                    r.tree_size: r.root[2:] for r in conn.execute(select(AnchoredRoot.tree_size, AnchoredRoot.root))
                }
            with self._lock:
                self._roots, self._roots_at = roots, now
        return self._roots.get(tree_size)

    def retirement(self, tx_hash: str, log_index: int) -> OnChainRetirement | None:
        rid = RetirementId.of(self.chain_id, tx_hash, log_index)
        now = time.monotonic()
        cached = self._retirements.get(rid)
        if cached is not None and now - cached[0] <= self._cache_seconds:
            return cached[1]
        rows = self._rows(self._sql_retirement, rid)
        if not rows:
            return None
        batch_id, holder, amount, commitment, block_number, scenario, claim_hash = rows[0][:7]
        found = OnChainRetirement(
            self.registry,
            batch_id,
            holder,
            amount,
            commitment,
            block_number,
            [[r[7], r[8]] for r in rows if r[7] is not None],
            scenario=BY_ENUM_NAME.get(scenario),
            claim_hash=claim_hash.lower() if isinstance(claim_hash, str) else None,  # the indexer writes 0x + hex
        )
        with self._lock:
            if len(self._retirements) >= self.MAX_CACHED:
                self._retirements.clear()
            self._retirements[rid] = (now, found)
        return found

    def revoked(self, leaf_hash: str) -> bool:
        rows = self._rows(self._sql_revoked, leaf_hash)
        return bool(rows) and rows[0][0] is not None


def _fetch(conn: Any, sql: str, params: tuple[Any, ...]) -> list[Any]:
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()
