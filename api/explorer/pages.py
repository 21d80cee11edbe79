"""The explorer's pages: what the node shows (api.explorer.node's views) turned into typed page
models, then laid out by the Jinja2 templates in api/templates/explorer/ (autoescaped, labels in
Chinese and English, a little inline CSS and no JavaScript).

Every decision about a value (its enum name, its link, how short it is shown) is made here; the
templates only place the models, so nothing from the chain or the request reaches a page as
markup: a project id of `<script>…` is text on the page."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal
from urllib.parse import quote

import shapely
from eth_utils import to_checksum_address
from markupsafe import Markup

from api.explorer.node import (
    ZERO_ADDRESS,
    AddressView,
    BatchView,
    BlockSummary,
    BlockView,
    Failure,
    Holding,
    TxLog,
    TxView,
)
from api.templates import render
from chain.roles import ROLE_NAMES
from chain.types import (
    CancellationReason,
    Ecosystem,
    MethodologyStatus,
    ParticipantKind,
    ParticipantStatus,
    ProjectStatus,
    RetirementId,
    Scenario,
)
from land.store import StoredParcel
from land.svg import Layer
from land.svg import render as render_svg

# the stylesheet every explorer page inlines; api/headers.py allows exactly this text by its hash
CSS = render("explorer/style.css")

STATUS_ENUMS = {"Participant": ParticipantStatus, "Project": ProjectStatus, "Methodology": MethodologyStatus}
SHORT_IDS = {"projectId", "methodologyId", "successorId", "destinationRegistry", "originRegistry"}
AMOUNTS = {"amount", "value", "quantity", "reserveAmount", "issued", "retired", "cancelled", "circulating"}


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class Link:
    href: str  # always built here from a checked hash, address or number under /explorer
    text: str
    cls: str = ""
    title: str = ""


@dataclass(frozen=True)
class Value:
    """One value as people read it; `kind` picks its markup in explorer/macros.html:
    text, span (`cls`, `note` as its title), named (a name with `note` beside it in grey), link,
    amount (kgCO2e), list (`items`, in brackets or not) and table (`fields`)."""

    kind: Literal["text", "span", "named", "link", "amount", "list", "table"]
    text: str = ""
    cls: str = ""
    note: str = ""
    link: Link | None = None
    items: tuple[Value, ...] = ()
    brackets: bool = True
    fields: tuple[tuple[str, Value], ...] = ()


def text(value: object) -> Value:
    return Value("text", str(value))


def span(cls: str, content: str, *, title: str = "") -> Value:
    return Value("span", content, cls=cls, note=title)


def link(href: str, content: str, *, cls: str = "", title: str = "") -> Value:
    return Value("link", link=Link(href, content, cls, title))


PENDING = span("muted", "pending 待打包")
DASH = text("—")


def short(full: str, keep: int = 10) -> str:
    return full if len(full) <= 2 * keep + 1 else f"{full[:keep]}…{full[-keep + 2 :]}"


def address_value(addr: str | None, *, full: bool = False) -> Value:
    if not addr:
        return span("muted", "— (contract creation 合约创建)")
    cs = to_checksum_address(addr)
    if cs.lower() == ZERO_ADDRESS:
        return span("mono muted", "0x0 (mint/burn 铸造/销毁)")
    return link(f"/explorer/address/{cs}", cs if full else short(cs), cls="mono addr", title=cs)


def tx_value(tx_hash: str, *, log: int | None = None, full: bool = False) -> Value:
    href = f"/explorer/tx/{quote(tx_hash)}" + (f"?log={log}#log-{log}" if log is not None else "")
    return link(href, tx_hash if full else short(tx_hash), cls="mono tx", title=tx_hash)


def block_value(number: int) -> Value:
    return link(f"/explorer/block/{number}", str(number))


def batch_value(batch_id: int) -> Value:
    return link(f"/explorer/batch/{batch_id}", str(batch_id), cls="batch")


def when(timestamp: int | None) -> Value:
    if timestamp is None:
        return PENDING
    return text(dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))


def status_value(status: int | None) -> Value:
    if status is None:
        return PENDING
    return span("ok", "success 成功") if status == 1 else span("fail", "failed 失败")


def enum_for(context: str, name: str) -> type[IntEnum] | None:
    if name == "scenario":
        return Scenario
    if name == "reason":
        return CancellationReason
    if name == "kind":
        return ParticipantKind
    if name == "ecosystem":
        return Ecosystem
    if name in ("status", "previous"):
        for key, enum in STATUS_ENUMS.items():
            if key in context:
                return enum
    return None


def decoded_value(context: str, name: str, value: Any, *, compact: bool = False) -> Value:
    """One decoded argument of event or call `context`, for people: enums by name, ids as links,
    bytes as hex (shortened when `compact`, with the full value in the title)."""
    if isinstance(value, dict):
        return Value("table", fields=tuple((k, decoded_value(context, k, v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        if name == "ids":
            return Value("list", items=tuple(batch_value(int(v)) for v in value), brackets=False)
        return Value("list", items=tuple(decoded_value(context, name, v) for v in value))
    if isinstance(value, bool):
        return text("true" if value else "false")
    if isinstance(value, bytes | bytearray):
        hexed = "0x" + bytes(value).hex()
        if name == "role" or name.endswith("Role"):
            role = ROLE_NAMES.get(hexed)
            if role:
                return Value("named", role, note=short(hexed))
        raw = bytes(value).rstrip(b"\0")
        if name in SHORT_IDS and raw and raw.isascii() and raw.decode().isprintable():
            return Value("named", raw.decode(), note=f"({short(hexed)})")
        if compact:
            return span("mono", short(hexed), title=hexed)
        return span("mono", hexed)
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return address_value(value)
    if isinstance(value, int):
        if name in ("batchId", "id"):
            return batch_value(value)
        enum = enum_for(context, name)
        if enum is not None and value in enum._value2member_map_:
            return text(f"{enum(value).name} ({value})")
        if name in AMOUNTS:
            return Value("amount", str(value))
        return text(value)
    return text(value)


def decoded_args(context: str, args: dict[str, Any], *, compact: bool = False) -> list[tuple[str, Value]]:
    """(name, value) per argument; the compact form (one line in a table cell) leaves out structs."""
    return [
        (k, decoded_value(context, k, v, compact=compact))
        for k, v in args.items()
        if not (compact and isinstance(v, dict))
    ]


# ---------------------------------------------------------------- the frame


@dataclass(frozen=True)
class Frame:
    """What every explorer page shows around its content: the search box and the footer."""

    chain_id: int | None = None
    registry: str | None = None
    revocations: str | None = None
    q: str = ""

    def footer(self) -> list[tuple[str, Value | None]]:
        parts: list[tuple[str, Value | None]] = []
        if self.chain_id is not None:
            parts.append((f"链 Chain id {self.chain_id}", None))
        if self.registry:
            parts.append(("登记簿合约 Registry", address_value(self.registry, full=True)))
        if self.revocations:
            parts.append(("证书撤销 Revocations", address_value(self.revocations, full=True)))
        parts.append(
            (
                "直接读取节点（JSON-RPC），不经登记簿数据库 · Read from the node over JSON-RPC, not from our database",
                None,
            )
        )
        return parts


def page(template: str, title: str, frame: Frame, **models: Any) -> str:
    return render(f"explorer/{template}", title=title, frame=frame, **models)


@dataclass(frozen=True)
class ErrorPage:
    status: int
    title: str
    detail: str


def error_page(status: int, title: str, detail: str, frame: Frame) -> str:
    return page("error.html", f"{status} {title}", frame, error=ErrorPage(status, title, detail))


# ---------------------------------------------------------------- latest blocks


@dataclass(frozen=True)
class BlockRow:
    link: Value
    hash: str
    time: Value
    tx_count: int
    events: int


@dataclass(frozen=True)
class HomePage:
    latest: int
    per_page: int
    blocks: list[BlockRow]
    older: int | None  # the first block of the next page, if there is one


def home_page(blocks: list[BlockSummary], latest: int, *, count: int, frame: Frame) -> str:
    rows = [BlockRow(block_value(b.number), short(b.hash), when(b.timestamp), b.tx_count, b.events) for b in blocks]
    older = blocks[-1].number - 1 if blocks and blocks[-1].number > 0 else None
    return page("home.html", "Latest blocks 最新区块", frame, home=HomePage(latest, count, rows, older))


# ---------------------------------------------------------------- a block


@dataclass(frozen=True)
class TxLine:
    link: Value
    sender: Value
    to: Value
    method: str
    value: int
    status: Value
    events: int


@dataclass(frozen=True)
class BlockPage:
    number: int
    previous: int | None
    next: int | None
    hash: str
    parent: Value
    time: Value
    miner: Value
    gas_used: int
    gas_limit: int
    base_fee: str
    tx_count: int
    txs: list[TxLine]


def block_page(view: BlockView, *, frame: Frame) -> str:
    b = view.block
    base_fee = b.get("baseFeePerGas")
    parent = b["parentHash"]
    model = BlockPage(
        number=view.number,
        previous=view.number - 1 if view.number > 0 else None,
        next=view.number + 1 if view.number < view.latest else None,
        hash=b["hash"],
        parent=link(f"/explorer/block/{parent}", parent, cls="mono") if view.number > 0 else span("mono", parent),
        time=when(view.timestamp),
        miner=address_value(b.get("miner"), full=True),
        gas_used=int(b["gasUsed"], 16),
        gas_limit=int(b["gasLimit"], 16),
        base_fee=str(int(base_fee, 16)) if base_fee else "—",
        tx_count=view.tx_count,
        txs=[
            TxLine(
                tx_value(t.hash),
                address_value(t.sender),
                address_value(t.to),
                t.method or "—",
                t.value,
                status_value(t.status),
                t.events,
            )
            for t in view.txs
        ],
    )
    return page("block.html", f"Block {view.number} 区块", frame, block=model)


# ---------------------------------------------------------------- a transaction


@dataclass(frozen=True)
class EventBox:
    log_index: int
    highlight: bool
    name: str  # "?" for a log our ABIs do not know
    decoded: bool
    where: str
    address: Value
    args: list[tuple[str, Value]]
    retirement_id: str | None
    topics: list[str] = field(default_factory=list)
    data: str = "0x"


@dataclass(frozen=True)
class FailureBox:
    name: str
    explanation: str
    args: list[tuple[str, Value]]


@dataclass(frozen=True)
class TxPage:
    hash: str
    status: Value
    block: Value
    time: Value
    sender: Value
    to: Value
    contract: str | None  # the registry's contracts by name
    method: str | None
    value: int
    gas: int
    gas_used: str
    gas_price: str
    nonce: int
    failure: FailureBox | None
    call_args: list[tuple[str, Value]] | None
    events: list[EventBox]


def event_box(e: TxLog, *, chain_id: int, highlight: int | None) -> EventBox:
    where = {"registry": "登记簿 registry", "revocations": "证书撤销 revocations"}.get(
        e.contract, "other contract 其他合约"
    )
    rid = None
    if e.name == "CreditsRetired" and e.contract == "registry":
        rid = RetirementId.of(chain_id, e.tx_hash, e.log_index)
    return EventBox(
        log_index=e.log_index,
        highlight=highlight == e.log_index,
        name=e.name or "?",
        decoded=e.name is not None,
        where=where,
        address=address_value(e.address),
        args=decoded_args(e.name, e.args) if e.name is not None else [],
        retirement_id=rid,
        topics=list(e.topics),
        data=e.data,
    )


def failure_box(f: Failure) -> FailureBox:
    return FailureBox(f.name, f.explanation, decoded_args(f.name, f.args))


def tx_page(view: TxView, *, highlight: int | None, frame: Frame) -> str:
    t, r = view.tx, view.receipt
    chain_id = frame.chain_id or 0
    block = int(t["blockNumber"], 16) if t.get("blockNumber") else None
    price = (r or {}).get("effectiveGasPrice") or t.get("gasPrice")
    model = TxPage(
        hash=t["hash"],
        status=status_value(int(r["status"], 16) if r and "status" in r else None),
        block=block_value(block) if block is not None else PENDING,
        time=when(view.timestamp),
        sender=address_value(t["from"], full=True),
        to=address_value(t.get("to"), full=True),
        contract=view.contract if view.contract != "other" else None,
        method=view.method,
        value=int(t.get("value", "0x0"), 16),
        gas=int(t["gas"], 16),
        gas_used=str(int(r["gasUsed"], 16)) if r else "—",
        gas_price=str(int(price, 16)) if price else "—",
        nonce=int(t["nonce"], 16),
        failure=failure_box(view.failure) if view.failure else None,
        call_args=decoded_args(view.method, view.call_args) if view.call_args is not None and view.method else None,
        events=[event_box(e, chain_id=chain_id, highlight=highlight) for e in view.events],
    )
    return page("tx.html", "Transaction 交易", frame, tx=model)


# ---------------------------------------------------------------- an address


@dataclass(frozen=True)
class HoldingRow:
    key: str
    label: Value
    balance: int
    free: int
    pledged: int
    frozen: int


def holding_row(key: str, label: Value, h: Holding) -> HoldingRow:
    return HoldingRow(key, label, h.balance, h.free, h.pledged, h.frozen)


@dataclass(frozen=True)
class ParticipantView:
    status: str
    status_code: int
    kind: str
    kind_code: int
    reference_hash: str


@dataclass(frozen=True)
class HistoryRow:
    block: Value
    tx: Value
    event: str
    args: list[tuple[str, Value]]


@dataclass(frozen=True)
class AddressPage:
    address: str
    participant: ParticipantView | None  # None: not a registered participant
    roles: list[str]
    notes: list[str]
    holdings: list[HoldingRow]
    history: list[HistoryRow]
    more_before: int | None


def address_page(view: AddressView, *, frame: Frame) -> str:
    p = view.participant
    status = int(p["status"])
    participant = None
    if status != 0:
        kind = int(p["kind"])
        participant = ParticipantView(
            ParticipantStatus(status).name,
            status,
            ParticipantKind(kind).name,
            kind,
            "0x" + bytes(p["referenceHash"]).hex(),
        )
    notes = [
        "the registry's reserve account 登记簿缓冲储备账户" if view.is_reserve else "",
        view.label or ("a contract 合约" if view.is_contract else ""),
    ]
    model = AddressPage(
        address=view.address,
        participant=participant,
        roles=view.roles,
        notes=[n for n in notes if n],
        holdings=[holding_row(str(h.batch_id), batch_value(h.batch_id), h) for h in view.holdings],
        history=[
            HistoryRow(
                block_value(e.block_number),
                tx_value(e.tx_hash, log=e.log_index),
                e.name or "?",
                decoded_args(e.name or "", e.args, compact=True),
            )
            for e in view.history
        ],
        more_before=view.more_before,
    )
    return page("address.html", f"Address {view.address} 地址", frame, address=model)


# ---------------------------------------------------------------- a batch


@dataclass(frozen=True)
class RetirementRow:
    block: Value
    tx: Value
    holder: Value
    amount: object
    scenario: Value


@dataclass(frozen=True)
class BatchPage:
    batch_id: int
    project: str
    vintage: int
    first_serial: int
    last_serial: int
    origin_key: str | None  # hex, for an imported batch
    issuance: Value
    supply: dict[str, int]
    holders: list[HoldingRow]
    retirements: list[RetirementRow]


def batch_page(view: BatchView, *, frame: Frame) -> str:
    rec = view.record
    origin_key = bytes(rec["originKey"])
    model = BatchPage(
        batch_id=view.batch_id,
        project=bytes(rec["projectId"]).rstrip(b"\0").decode("ascii", errors="replace"),
        vintage=int(rec["vintage"]),
        first_serial=view.first_serial,
        last_serial=view.last_serial,
        origin_key="0x" + origin_key.hex() if any(origin_key) else None,
        issuance=tx_value(view.origin.tx_hash, log=view.origin.log_index) if view.origin else DASH,
        supply=view.supply,
        holders=[holding_row(a, address_value(a), h) for a, h in view.holders],
        retirements=[
            RetirementRow(
                block_value(e.block_number),
                tx_value(e.tx_hash, log=e.log_index),
                address_value(e.args.get("holder")),
                e.args.get("amount"),
                decoded_value("CreditsRetired", "scenario", e.args.get("scenario")),
            )
            for e in view.retirements
        ],
    )
    return page("batch.html", f"Batch {view.batch_id} 批次", frame, batch=model)


# ---------------------------------------------------------------- project parcels (land/)


@dataclass(frozen=True)
class ParcelRow:
    parcel_id: str
    area: str
    hash: str
    on_chain: bool


@dataclass(frozen=True)
class ProjectPage:
    project_id: str
    svg: Markup  # land/svg.py's own output: labels escaped there
    parcels: list[ParcelRow]


def project_page(project_id: str, parcels: list[StoredParcel], on_chain: list[bool], *, frame: Frame) -> str:
    layers = [
        Layer(f"{p.parcel_id} ({p.area_m2:,.0f} m²)", shapely.from_geojson(json.dumps(p.geometry)), "project")
        for p in parcels
    ]
    rows = [
        ParcelRow(p.parcel_id, f"{p.area_m2:,.0f}", p.parcel_hash, held)
        for p, held in zip(parcels, on_chain, strict=True)
    ]
    svg = Markup(render_svg(layers, title=f"{project_id}: {len(parcels)} parcels"))  # escaped in land/svg.py
    return page("project.html", f"Project {project_id}", frame, project=ProjectPage(project_id, svg, rows))
