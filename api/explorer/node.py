"""What the explorer reads from the node: blocks, transactions, decoded registry events, revert
reasons and the registry's views. JSON-RPC only (chain.rpc.JsonRpc): never the SQL mirror.

Every read is bounded: the front page reads a fixed number of blocks, an address's history stops
after `limit` events (newest first, scanning backwards in windows), and eth_getLogs is always sent
in block ranges of at most `chunk` blocks (a range the node refuses is split in two and retried).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import astuple, dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from chain.abi import ContractAbi
from chain.artifacts import contract_abi
from chain.deploy import Deployment
from chain.logs import LogFetcher
from chain.registry import open_contract
from chain.roles import ROLES
from chain.rpc import JsonRpc, RpcError
from chain.transactions import replay_call
from chain.types import RetirementId

TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
ZERO_ADDRESS = "0x" + "00" * 20
MAX_BATCH_ID = 2**256 - 1


class ExplorerError(Exception):
    """Something the explorer answers with an HTML error page: `status`, a title and the detail."""

    status = 500
    title = "Error 错误"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ExplorerNotFoundError(ExplorerError):
    status = 404
    title = "Not found 未找到"


class BadInput(ExplorerError):
    status = 400
    title = "Invalid input 输入无效"


def address_topic(addr: str) -> str:
    return "0x" + "00" * 12 + addr[2:].lower()


def uint_topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def parse_address(text: str) -> str:
    text = text.strip()
    if not ADDRESS.match(text):
        raise BadInput(f"{text[:80]!r} is not an address: 0x followed by 40 hex digits")
    return to_checksum_address(text)


def parse_tx_hash(text: str) -> str:
    text = text.strip()
    if not TX_HASH.match(text):
        raise BadInput(f"{text[:80]!r} is not a transaction hash: 0x followed by 64 hex digits")
    return text.lower()


def parse_batch_id(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or not text.isascii() or len(text) > 78 or int(text) > MAX_BATCH_ID:
        raise BadInput(f"{text[:80]!r} is not a batch id: a whole number (batches start at 1)")
    return int(text)


@dataclass(frozen=True)
class TxLog:
    """One log of a transaction; `name` is None for a log our ABIs do not know."""

    name: str | None
    args: dict[str, Any]
    contract: str  # "registry", "revocations" or "other"
    address: str
    block_number: int
    tx_hash: str
    log_index: int
    topics: list[str] = field(default_factory=list)
    data: str = "0x"


@dataclass(frozen=True)
class BlockSummary:
    number: int
    hash: str
    timestamp: int
    tx_count: int
    events: int


@dataclass(frozen=True)
class TxRow:
    hash: str
    sender: str
    to: str | None
    value: int
    status: int | None
    events: int
    method: str | None


@dataclass(frozen=True)
class BlockView:
    block: dict[str, Any]
    number: int
    timestamp: int
    txs: list[TxRow]
    tx_count: int
    latest: int


@dataclass(frozen=True)
class Failure:
    """Why a mined transaction failed: the registry's custom error when the replay names one."""

    name: str
    args: dict[str, Any]
    explanation: str


@dataclass(frozen=True)
class TxView:
    tx: dict[str, Any]
    receipt: dict[str, Any] | None
    timestamp: int | None
    events: list[TxLog]
    method: str | None
    call_args: dict[str, Any] | None
    failure: Failure | None
    contract: str  # of the `to` address


@dataclass(frozen=True)
class Holding:
    batch_id: int
    balance: int
    free: int
    pledged: int
    frozen: int


@dataclass(frozen=True)
class AddressView:
    address: str
    participant: dict[str, Any]
    roles: list[str]
    is_reserve: bool
    is_contract: bool
    label: str | None
    holdings: list[Holding]
    history: list[TxLog]
    more_before: int | None  # the next page: events in blocks below this one


@dataclass(frozen=True)
class BatchView:
    batch_id: int
    record: dict[str, Any]
    supply: dict[str, int]
    first_serial: int
    last_serial: int
    origin: TxLog | None
    holders: list[tuple[str, Holding]]  # (checksummed address, its balances), largest first
    retirements: list[TxLog]


class ExplorerNode:
    """The registry and its revocation list as the node shows them."""

    def __init__(self, rpc: JsonRpc, deployment: Deployment, *, chunk: int = 10_000, history: int = 25) -> None:
        self.rpc = rpc
        self.deployment = deployment
        self.chain_id = deployment.chain_id
        self.registry = to_checksum_address(deployment.address)
        self.revocations = to_checksum_address(deployment.revocations) if deployment.revocations else None
        self.start = deployment.block_number
        self.chunk = chunk
        self.history_limit = history
        self.client = open_contract(rpc, deployment)
        self.abi = self.client.abi
        self._abis: dict[str, tuple[str, ContractAbi]] = {self.registry.lower(): ("registry", self.abi)}
        if self.revocations:
            self._abis[self.revocations.lower()] = ("revocations", contract_abi("CertificateRevocations"))

    # ------------------------------------------------------------ plumbing

    def latest(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def contracts(self) -> list[str]:
        return [str(self.registry)] + ([str(self.revocations)] if self.revocations else [])

    def decode(self, log: dict[str, Any]) -> TxLog:
        contract, abi = self._abis.get(log["address"].lower(), ("other", None))
        decoded = None
        if abi is not None:
            try:
                decoded = abi.decode_log(log, checksum=False)
            except Exception:  # noqa: BLE001 - a log that does not fit its ABI is shown raw
                decoded = None
        return TxLog(
            name=decoded.name if decoded else None,
            args=decoded.args if decoded else {},
            contract=contract,
            address=log["address"].lower(),
            block_number=int(log["blockNumber"], 16),
            tx_hash=log["transactionHash"],
            log_index=int(log["logIndex"], 16),
            topics=list(log["topics"]),
            data=log["data"],
        )

    def logs(self, topics: list[Any], lo: int, hi: int, *, addresses: list[str] | None = None) -> list[dict[str, Any]]:
        """eth_getLogs over [lo, hi] through the one log-range fetcher (chain/logs.py), in ranges of at
        most `chunk` blocks; a range the node refuses (too many results) is split and asked again."""
        fetcher = LogFetcher(
            self.rpc,
            addresses or [self.registry],
            topics=topics,
            max_range=self.chunk,
            start_range=self.chunk,
            retries=0,
        )
        return fetcher.fetch_all(max(lo, 0), hi)

    def _views(self, calls: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Several registry views in one JSON-RPC batch."""
        batch = [
            ("eth_call", [{"to": self.registry, "data": "0x" + self.abi.encode_call(fn, args).hex()}, "latest"])
            for fn, args in calls
        ]
        out = []
        for (fn, _), reply in zip(calls, self.rpc.batch(batch), strict=True):
            if isinstance(reply, RpcError):
                raise self.client.revert_error(reply)
            out.append(self.abi.decode_output(fn, bytes.fromhex(reply[2:])))
        return out

    # ------------------------------------------------------------ blocks

    def blocks(self, count: int = 20, upto: int | None = None) -> tuple[list[BlockSummary], int]:
        """The `count` blocks up to `upto` (default the latest), newest first, and the latest number."""
        latest = self.latest()
        top = latest if upto is None else min(upto, latest)
        numbers = list(range(top, max(top - count, -1), -1))
        if not numbers:
            return [], latest
        replies = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        per_block: Counter[int] = Counter()
        for log in self.logs([], numbers[-1], numbers[0], addresses=self.contracts()):
            per_block[int(log["blockNumber"], 16)] += 1
        out = []
        for n, b in zip(numbers, replies, strict=True):
            if isinstance(b, RpcError) or b is None:
                continue
            out.append(BlockSummary(n, b["hash"], int(b["timestamp"], 16), len(b["transactions"]), per_block[n]))
        return out, latest

    def block(self, ident: str, *, max_txs: int = 500) -> BlockView:
        ident = ident.strip()
        if TX_HASH.match(ident):
            block = self.rpc.call("eth_getBlockByHash", ident, True)
            what = f"no block with hash {ident}"
        elif ident.isascii() and ident.isdigit() and len(ident) <= 20:
            block = self.rpc.call("eth_getBlockByNumber", hex(int(ident)), True)
            what = f"no block number {ident} yet"
        elif ident == "latest":
            block = self.rpc.call("eth_getBlockByNumber", "latest", True)
            what = "no latest block"
        else:
            raise BadInput(f"{ident[:80]!r} is neither a block number (digits) nor a block hash (0x and 64 hex digits)")
        latest = self.latest()
        if block is None:
            raise ExplorerNotFoundError(f"{what} (the latest block is {latest})")
        txs = block["transactions"][:max_txs]
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [t["hash"]]) for t in txs])
        rows = []
        for t, r in zip(txs, receipts, strict=True):
            ok = r if isinstance(r, dict) else None
            ours = sum(1 for lg in (ok or {}).get("logs", []) if lg["address"].lower() in self._abis)
            rows.append(
                TxRow(
                    t["hash"],
                    t["from"],
                    t.get("to"),
                    int(t.get("value", "0x0"), 16),
                    int(ok["status"], 16) if ok and "status" in ok else None,
                    ours,
                    self.method_name(t),
                )
            )
        return BlockView(
            block, int(block["number"], 16), int(block["timestamp"], 16), rows, len(block["transactions"]), latest
        )

    # ------------------------------------------------------------ transactions

    def method_name(self, tx: dict[str, Any]) -> str | None:
        to = (tx.get("to") or "").lower()
        if to not in self._abis:
            return None
        data = bytes.fromhex(tx.get("input", "0x")[2:])
        item = self._abis[to][1].functions_by_selector.get(data[:4])
        return item["name"] if item else None

    def call_args(self, tx: dict[str, Any]) -> dict[str, Any] | None:
        to = (tx.get("to") or "").lower()
        if to not in self._abis:
            return None
        data = bytes.fromhex(tx.get("input", "0x")[2:])
        try:
            decoded = self._abis[to][1].decode_call(data)
        except Exception:  # noqa: BLE001 - malformed call data: shown raw
            return None
        return decoded[1] if decoded else None

    def tx(self, tx_hash: str) -> TxView:
        tx_hash = parse_tx_hash(tx_hash)
        tx = self.rpc.call("eth_getTransactionByHash", tx_hash)
        if tx is None:
            raise ExplorerNotFoundError(f"the node knows no transaction {tx_hash}")
        receipt = self.rpc.call("eth_getTransactionReceipt", tx_hash)
        timestamp = None
        if tx.get("blockNumber"):
            block = self.rpc.call("eth_getBlockByNumber", tx["blockNumber"], False)
            timestamp = int(block["timestamp"], 16) if block else None
        events = [self.decode(log) for log in (receipt or {}).get("logs", [])]
        failure = None
        if receipt is not None and int(receipt.get("status", "0x1"), 16) == 0:
            failure = self.replay_failure(tx, receipt)
        contract = self._abis.get((tx.get("to") or "").lower(), ("other", None))[0]
        return TxView(tx, receipt, timestamp, events, self.method_name(tx), self.call_args(tx), failure, contract)

    def replay_failure(self, tx: dict[str, Any], receipt: dict[str, Any]) -> Failure:
        """Why a mined transaction failed: the one replay of chain/transactions.py, decoded with the
        ABI of the contract it called."""
        abi = self._abis.get((tx.get("to") or "").lower(), ("other", self.abi))[1]
        err = self.client.replay(replay_call(tx), int(receipt["blockNumber"], 16), abi)
        if err is not None:
            return Failure(err.name, err.args_by_name, err.explanation)
        if int(receipt["gasUsed"], 16) >= int(tx["gas"], 16):
            return Failure("OutOfGas", {}, "the transaction used all its gas")
        return Failure(
            "Unknown",
            {},
            "the replay at the parent block succeeded: an earlier transaction in the "
            "same block changed the state, or the transaction ran out of gas",
        )

    # ------------------------------------------------------------ addresses

    def address(self, addr: str, *, before: int | None = None) -> AddressView:
        addr = parse_address(addr)
        roles = list(ROLES)
        views = self._views(
            [("participant", (addr,)), ("RESERVE_ACCOUNT", ())] + [("hasRole", (ROLES[r], addr)) for r in roles]
        )
        participant, reserve, held = views[0], views[1], views[2:]
        code = self.rpc.call("eth_getCode", addr, "latest")
        label = None
        if addr == self.registry:
            label = "the registry contract 登记簿合约"
        elif self.revocations and addr == self.revocations:
            label = "the certificate revocation list 证书撤销合约"
        history, more = self.history(addr, before=before)
        return AddressView(
            addr,
            participant,
            [r for r, h in zip(roles, held, strict=True) if h],
            reserve.lower() == addr.lower(),
            code not in (None, "0x", "0x0"),
            label,
            self.holdings(addr),
            history,
            more,
        )

    def holdings(self, addr: str) -> list[Holding]:
        """The balances of every batch the address ever received (TransferSingle/TransferBatch to it)."""
        ts, tb = self.abi.event_topics["TransferSingle"], self.abi.event_topics["TransferBatch"]
        topics = [["0x" + ts.hex(), "0x" + tb.hex()], None, None, address_topic(addr)]
        ids: set[int] = set()
        for log in self.logs(topics, self.start, self.latest()):
            e = self.abi.decode_log(log, checksum=False)
            if e is None:
                continue
            ids.update([e.args["id"]] if e.name == "TransferSingle" else e.args["ids"])
        return self.balances([(addr, i) for i in sorted(ids)])

    def balances(self, pairs: list[tuple[str, int]]) -> list[Holding]:
        if not pairs:
            return []
        calls = [(to_checksum_address(a), i) for a, i in pairs]
        balance = self.client.view_many("balanceOf", calls)
        free = self.client.view_many("freeBalanceOf", calls)
        locked = self.client.view_many("lockedOf", calls)
        return [
            Holding(i, int(b), int(f), int(lk[0]), int(lk[1]))
            for (_, i), b, f, lk in zip(calls, balance, free, locked, strict=True)
        ]

    def history(
        self, addr: str, *, before: int | None = None, limit: int | None = None
    ) -> tuple[list[TxLog], int | None]:
        """The newest registry events (`limit`) in which `addr` is an indexed topic, in blocks
        below `before`, scanning backwards in growing windows; whole blocks only, so the next page
        (`before` = the returned block) misses nothing."""
        limit = limit or self.history_limit
        topic = address_topic(addr)
        hi = self.latest() if before is None else min(before - 1, self.latest())
        found: dict[tuple[int, int], TxLog] = {}
        window = self.chunk
        lo = hi + 1
        while hi >= self.start and len(found) < limit:
            lo = max(self.start, hi - window + 1)
            for position in (1, 2, 3):
                for log in self.logs([None] * position + [topic], lo, hi, addresses=self.contracts()):
                    e = self.decode(log)
                    found[(e.block_number, e.log_index)] = e
            hi = lo - 1
            window = min(window * 4, self.chunk * 64)
        events = [found[k] for k in sorted(found, reverse=True)]
        if len(events) <= limit:
            return events, (lo if hi >= self.start and events else None)
        cut = events[limit - 1].block_number
        kept = [e for e in events if e.block_number >= cut]
        return kept, cut

    # ------------------------------------------------------------ batches

    def batch(self, batch_id: int, *, retirements: int = 20) -> BatchView:
        record, supply = self._views([("batch", (batch_id,)), ("supply", (batch_id,))])
        if int(record["issued"]) == 0:
            raise ExplorerNotFoundError(f"no batch {batch_id}: the registry has issued or imported no such batch")
        issued, circulating, retired, cancelled = (int(v) for v in supply)
        latest = self.latest()
        origin_logs = self.logs(
            [["0x" + self.abi.event_topics[n].hex() for n in ("BatchIssued", "BatchImported")], uint_topic(batch_id)],
            self.start,
            latest,
        )
        origin = self.decode(origin_logs[0]) if origin_logs else None
        holders = self.holders(batch_id, latest)
        retired_logs = self.logs(
            ["0x" + self.abi.event_topics["CreditsRetired"].hex(), uint_topic(batch_id)], self.start, latest
        )
        recent = [self.decode(lg) for lg in retired_logs[-retirements:]][::-1]
        first = int(record["firstSerial"])
        return BatchView(
            batch_id,
            record,
            {"issued": issued, "circulating": circulating, "retired": retired, "cancelled": cancelled},
            first,
            first + int(record["issued"]) - 1,
            origin,
            holders,
            recent,
        )

    def holders(self, batch_id: int, latest: int) -> list[tuple[str, Holding]]:
        """Who holds the batch now: every address a TransferSingle/TransferBatch of this id went to,
        confirmed with balanceOf (JSON-RPC batches); those with a balance, the largest first."""
        ts, tb = self.abi.event_topics["TransferSingle"], self.abi.event_topics["TransferBatch"]
        candidates: dict[str, None] = {}
        for log in self.logs([["0x" + ts.hex(), "0x" + tb.hex()]], self.start, latest):
            e = self.abi.decode_log(log, checksum=False)
            if e is None:
                continue
            ids = [e.args["id"]] if e.name == "TransferSingle" else e.args["ids"]
            if batch_id in ids and e.args["to"] != ZERO_ADDRESS:
                candidates[e.args["to"]] = None
        addresses = list(candidates)
        held = self.balances([(a, batch_id) for a in addresses])
        rows = [(a, h) for a, h in zip(addresses, held, strict=True) if h.balance > 0]
        rows.sort(key=lambda r: (-r[1].balance, r[0]))
        return [(to_checksum_address(a), h) for a, h in rows]

    # ------------------------------------------------------------ search

    def retirement(self, rid: str) -> tuple[str, int]:
        """The transaction and log index of a retirement id `<chainId>-<txHash>-<logIndex>`."""
        try:
            chain_id, tx_hash, index = astuple(RetirementId.parse(rid))
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        if chain_id != self.chain_id:
            raise ExplorerNotFoundError(
                f"retirement {rid} is on chain {chain_id}; this registry is on chain {self.chain_id}"
            )
        receipt = self.rpc.call("eth_getTransactionReceipt", tx_hash)
        if receipt is None:
            raise ExplorerNotFoundError(f"the node knows no transaction {tx_hash} (from retirement {rid})")
        retired = "0x" + self.abi.event_topics["CreditsRetired"].hex()
        for log in receipt["logs"]:
            if int(log["logIndex"], 16) == index:
                if log["address"].lower() != self.registry.lower() or log["topics"][:1] != [retired]:
                    raise ExplorerNotFoundError(
                        f"log {index} of {tx_hash} is not a registry retirement (CreditsRetired)"
                    )
                return tx_hash, index
        raise ExplorerNotFoundError(f"transaction {tx_hash} has no log {index}")

    def resolve(self, q: str) -> str:
        """The explorer path a search term leads to."""
        q = q.strip()
        if not q:
            return "/explorer"
        if TX_HASH.match(q):
            if self.rpc.call("eth_getTransactionByHash", q) is not None:
                return f"/explorer/tx/{q.lower()}"
            if self.rpc.call("eth_getBlockByHash", q, False) is not None:
                return f"/explorer/block/{q.lower()}"
            raise ExplorerNotFoundError(f"no transaction and no block has the hash {q}")
        if ADDRESS.match(q):
            return f"/explorer/address/{to_checksum_address(q)}"
        if q.isascii() and q.isdigit():
            return f"/explorer/batch/{parse_batch_id(q)}"
        if q.count("-") == 2:
            tx_hash, index = self.retirement(q)
            return f"/explorer/tx/{tx_hash}?log={index}#log-{index}"
        raise BadInput(
            f"{q[:120]!r} is none of: a transaction hash (0x + 64 hex digits), an address (0x + 40 hex "
            f"digits), a batch id (a number) or a retirement id ({RetirementId.FORM})"
        )
