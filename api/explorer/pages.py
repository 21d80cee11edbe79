"""The explorer's HTML: plain strings, every value through html.escape, labels in Chinese and
English, a little inline CSS and no JavaScript."""

from __future__ import annotations

import datetime as dt
from enum import IntEnum
from html import escape
from typing import Any
from urllib.parse import quote

from eth_utils import to_checksum_address

from api.explorer.node import (
    ZERO_ADDRESS,
    AddressView,
    BatchView,
    BlockSummary,
    BlockView,
    Event,
    Failure,
    Holding,
    TxView,
)
from chain.revert import ROLE_NAMES
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

CSS = """
body{font-family:system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;
color:#1d2a22;background:#f6f8f6}
header{background:#1f5f3a;color:#fff;padding:.7rem 1.2rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header a.brand{color:#fff;font-weight:600;text-decoration:none;font-size:1.1rem}
header form{display:flex;gap:.4rem;flex:1;min-width:18rem}
header input{flex:1;padding:.4rem;border:0;border-radius:3px;font-family:ui-monospace,monospace}
header button{padding:.4rem .8rem;border:0;border-radius:3px;background:#d9efe1;cursor:pointer}
main{padding:1rem 1.2rem;max-width:86rem}
h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem;color:#1f5f3a}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.9rem}
th,td{border:1px solid #dbe3dd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef4ef;font-weight:600}
table.kv th{width:14rem}
.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1f7a3a;font-weight:600}.fail{color:#b3261e;font-weight:600}.muted{color:#6b776f}
.event{background:#fff;border:1px solid #dbe3dd;border-radius:4px;padding:.5rem .8rem;margin:.6rem 0}
.event.hl{border:2px solid #e0a100;background:#fff8e1}
.event h3{font-size:.95rem;margin:.1rem 0 .4rem}
.error{background:#fdecea;border:1px solid #f5c2bd;padding:.8rem 1rem;border-radius:4px}
footer{padding:1rem 1.2rem;color:#6b776f;font-size:.8rem}
a{color:#1b5e9b}
a.tx,a.addr{white-space:nowrap;word-break:normal}
td.args{font-size:.85rem}
"""

STATUS_ENUMS = {"Participant": ParticipantStatus, "Project": ProjectStatus, "Methodology": MethodologyStatus}
SHORT_IDS = {"projectId", "methodologyId", "successorId", "destinationRegistry", "originRegistry"}
AMOUNTS = {"amount", "value", "quantity", "reserveAmount", "issued", "retired", "cancelled", "circulating"}


# ---------------------------------------------------------------- links and values


def short(text: str, keep: int = 10) -> str:
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep + 2 :]}"


def address_link(addr: str | None, *, full: bool = False) -> str:
    if not addr:
        return '<span class="muted">— (contract creation 合约创建)</span>'
    cs = to_checksum_address(addr)
    if cs.lower() == ZERO_ADDRESS:
        return '<span class="mono muted">0x0 (mint/burn 铸造/销毁)</span>'
    text = cs if full else short(cs)
    return f'<a class="mono addr" href="/explorer/address/{cs}" title="{cs}">{escape(text)}</a>'


def tx_link(tx_hash: str, *, log: int | None = None, full: bool = False) -> str:
    href = f"/explorer/tx/{quote(tx_hash)}" + (f"?log={log}#log-{log}" if log is not None else "")
    text = tx_hash if full else short(tx_hash)
    return f'<a class="mono tx" href="{escape(href)}" title="{escape(tx_hash)}">{escape(text)}</a>'


def block_link(number: int) -> str:
    return f'<a href="/explorer/block/{number}">{number}</a>'


def batch_link(batch_id: int) -> str:
    return f'<a class="batch" href="/explorer/batch/{batch_id}">{batch_id}</a>'


def when(timestamp: int | None) -> str:
    if timestamp is None:
        return '<span class="muted">pending 待打包</span>'
    return escape(dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))


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


def value_html(context: str, name: str, value: Any, *, compact: bool = False) -> str:
    """One decoded argument, for people: enums by name, ids as links, bytes as hex (shortened
    when `compact`, with the full value in the title)."""
    if isinstance(value, dict):
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{value_html(context, k, v)}</td></tr>" for k, v in value.items())
        return f'<table class="kv inner">{rows}</table>'
    if isinstance(value, list | tuple):
        if name in ("ids",):
            return ", ".join(batch_link(int(v)) for v in value)
        return "[" + ", ".join(value_html(context, name, v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray):
        hexed = "0x" + bytes(value).hex()
        if name == "role" or name.endswith("Role"):
            role = ROLE_NAMES.get(hexed)
            if role:
                return f'{escape(role)} <span class="mono muted">{escape(short(hexed))}</span>'
        text = bytes(value).rstrip(b"\0")
        if name in SHORT_IDS and text and text.isascii() and text.decode().isprintable():
            return f'{escape(text.decode())} <span class="mono muted">({escape(short(hexed))})</span>'
        if compact:
            return f'<span class="mono" title="{escape(hexed)}">{escape(short(hexed))}</span>'
        return f'<span class="mono">{escape(hexed)}</span>'
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return address_link(value)
    if isinstance(value, int):
        if name in ("batchId", "id"):
            return batch_link(value)
        enum = enum_for(context, name)
        if enum is not None and value in enum._value2member_map_:
            return f"{escape(enum(value).name)} ({value})"
        if name in AMOUNTS:
            return f'<span class="amount">{value}</span> kgCO2e'
        return escape(str(value))
    return escape(str(value))


def args_table(context: str, args: dict[str, Any]) -> str:
    if not args:
        return '<p class="muted">no arguments 无参数</p>'
    rows = "".join(
        f'<tr><th>{escape(k)}</th><td data-arg="{escape(k)}">{value_html(context, k, v)}</td></tr>'
        for k, v in args.items()
    )
    return f'<table class="kv args">{rows}</table>'


def args_inline(context: str, args: dict[str, Any]) -> str:
    parts = []
    for k, v in args.items():
        if isinstance(v, dict):
            continue
        parts.append(f"{escape(k)}={value_html(context, k, v, compact=True)}")
    return "; ".join(parts)


# ---------------------------------------------------------------- the frame


def layout(
    title: str,
    body: str,
    *,
    chain_id: int | None = None,
    registry: str | None = None,
    revocations: str | None = None,
    q: str = "",
) -> str:
    foot = []
    if chain_id is not None:
        foot.append(f"链 Chain id {chain_id}")
    if registry:
        foot.append(f"登记簿合约 Registry {address_link(registry, full=True)}")
    if revocations:
        foot.append(f"证书撤销 Revocations {address_link(revocations, full=True)}")
    foot.append("直接读取节点（JSON-RPC），不经登记簿数据库 · Read from the node over JSON-RPC, not from our database")
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)} · 林草碳普惠 区块浏览器</title><style>{CSS}</style></head>
<body>
<header><a class="brand" href="/explorer">林草碳普惠 区块浏览器 · Registry explorer</a>
<form action="/explorer/search" method="get" role="search">
<input id="q" name="q" value="{escape(q)}" aria-label="search 搜索"
 placeholder="交易哈希 / 地址 / 批次号 / 注销编号 — tx hash / address / batch id / retirement id">
<button id="search" type="submit">搜索 Search</button></form></header>
<main>
{body}
</main>
<footer>{" · ".join(foot)}</footer>
</body></html>
"""


def error_page(status: int, title: str, detail: str, **frame: Any) -> str:
    body = f"""<h1>{status} · {escape(title)}</h1>
<div class="error" id="error"><p>{escape(detail)}</p></div>
<p><a href="/explorer">← 返回最新区块 Back to the latest blocks</a></p>"""
    return layout(f"{status} {title}", body, **frame)


# ---------------------------------------------------------------- pages


def home_page(blocks: list[BlockSummary], latest: int, *, count: int, **frame: Any) -> str:
    rows = "".join(
        f'<tr><td class="num">{block_link(b.number)}</td><td class="mono">{escape(short(b.hash))}</td>'
        f'<td>{when(b.timestamp)}</td><td class="num">{b.tx_count}</td><td class="num">{b.events}</td></tr>'
        for b in blocks
    )
    older = ""
    if blocks and blocks[-1].number > 0:
        older = f'<p><a id="older" href="/explorer?upto={blocks[-1].number - 1}">更早的区块 Older blocks →</a></p>'
    body = f"""<h1>最新区块 Latest blocks <span class="muted">(latest 最新: {latest})</span></h1>
<table id="blocks"><thead><tr><th>区块 Block</th><th>哈希 Hash</th><th>时间 Time</th>
<th>交易数 Transactions</th><th>登记簿事件 Registry events</th></tr></thead>
<tbody>{rows or '<tr><td colspan="5" class="muted">no blocks 无区块</td></tr>'}</tbody></table>
{older}
<p class="muted">显示 {len(blocks)} 个区块，每页最多 {count} 个 · Showing {len(blocks)} blocks, at most {count} a page.</p>"""
    return layout("Latest blocks 最新区块", body, **frame)


def _status(status: int | None) -> str:
    if status is None:
        return '<span class="muted">pending 待打包</span>'
    return '<span class="ok">success 成功</span>' if status == 1 else '<span class="fail">failed 失败</span>'


def block_page(view: BlockView, **frame: Any) -> str:
    b = view.block
    nav = []
    if view.number > 0:
        nav.append(f'<a href="/explorer/block/{view.number - 1}">← 上一区块 Previous</a>')
    if view.number < view.latest:
        nav.append(f'<a href="/explorer/block/{view.number + 1}">下一区块 Next →</a>')
    base_fee = b.get("baseFeePerGas")
    kv = [
        ("区块号 Number", str(view.number)),
        ("哈希 Hash", f'<span class="mono">{escape(b["hash"])}</span>'),
        (
            "父区块 Parent",
            f'<a class="mono" href="/explorer/block/{escape(b["parentHash"])}">{escape(b["parentHash"])}</a>'
            if view.number > 0
            else f'<span class="mono">{escape(b["parentHash"])}</span>',
        ),
        ("时间 Time", when(view.timestamp)),
        ("出块者 Miner", address_link(b.get("miner"), full=True)),
        ("Gas 用量 / 上限 Gas used / limit", f"{int(b['gasUsed'], 16)} / {int(b['gasLimit'], 16)}"),
        ("基础费 Base fee (wei)", str(int(base_fee, 16)) if base_fee else "—"),
        ("交易数 Transactions", str(view.tx_count)),
    ]
    rows = "".join(
        f"<tr><td>{tx_link(t.hash)}</td><td>{address_link(t.sender)}</td><td>{address_link(t.to)}</td>"
        f'<td>{escape(t.method or "—")}</td><td class="num">{t.value}</td><td>{_status(t.status)}</td>'
        f'<td class="num">{t.events}</td></tr>'
        for t in view.txs
    )
    cut = ""
    if view.tx_count > len(view.txs):
        cut = (
            f'<p class="muted">只显示前 {len(view.txs)} 笔 · Only the first {len(view.txs)} transactions are shown.</p>'
        )
    body = f"""<h1>区块 Block {view.number}</h1>
<p>{" · ".join(nav)}</p>
<table class="kv" id="block">{"".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in kv)}</table>
<h2>交易 Transactions</h2>
<table id="txs"><thead><tr><th>交易哈希 Tx hash</th><th>发送方 From</th><th>接收方 To</th><th>方法 Method</th>
<th>金额 Value (wei)</th><th>状态 Status</th><th>登记簿事件 Registry events</th></tr></thead>
<tbody>{rows or '<tr><td colspan="7" class="muted">no transactions 无交易</td></tr>'}</tbody></table>{cut}"""
    return layout(f"Block {view.number} 区块", body, **frame)


def event_html(e: Event, *, chain_id: int, highlight: int | None) -> str:
    cls = "event hl" if highlight == e.log_index else "event"
    if e.name is None:
        topics = "".join(f'<li class="mono">{escape(t)}</li>' for t in e.topics)
        inner = (
            f'<p class="muted">未解码的日志 Log not decoded (not a registry event)</p>'
            f'<table class="kv"><tr><th>topics</th><td><ol start="0">{topics}</ol></td></tr>'
            f'<tr><th>data</th><td class="mono">{escape(e.data)}</td></tr></table>'
        )
        name = "?"
    else:
        inner = args_table(e.name, e.args)
        name = e.name
        if e.name == "CreditsRetired" and e.contract == "registry":
            rid = RetirementId.of(chain_id, e.tx_hash, e.log_index)
            inner = f'<p>注销编号 Retirement id: <code class="retirement-id">{escape(rid)}</code></p>' + inner
    where = {"registry": "登记簿 registry", "revocations": "证书撤销 revocations"}.get(
        e.contract, "other contract 其他合约"
    )
    return (
        f'<section class="{cls}" id="log-{e.log_index}" data-event="{escape(name)}">'
        f'<h3>#{e.log_index} <span class="event-name">{escape(name)}</span> '
        f'<span class="muted">· {escape(where)} {address_link(e.address)}</span></h3>{inner}</section>'
    )


def failure_html(f: Failure) -> str:
    args = args_table(f.name, f.args) if f.args else ""
    return (
        f'<div class="error" id="revert"><p><strong>回滚原因 Revert reason:</strong> '
        f'<code class="error-name">{escape(f.name)}</code></p><p>{escape(f.explanation)}</p>{args}'
        f'<p class="muted">在父区块上用 eth_call 重放得到 · Replayed with eth_call at the parent block.</p></div>'
    )


def tx_page(view: TxView, *, highlight: int | None, **frame: Any) -> str:
    t, r = view.tx, view.receipt
    chain_id = int(frame["chain_id"])
    status = int(r["status"], 16) if r and "status" in r else None
    block = int(t["blockNumber"], 16) if t.get("blockNumber") else None
    price = (r or {}).get("effectiveGasPrice") or t.get("gasPrice")
    kv = [
        ("交易哈希 Hash", f'<span class="mono">{escape(t["hash"])}</span>'),
        ("状态 Status", f'<span id="status">{_status(status)}</span>'),
        ("区块 Block", block_link(block) if block is not None else '<span class="muted">pending 待打包</span>'),
        ("时间 Time", when(view.timestamp)),
        ("发送方 From", address_link(t["from"], full=True)),
        (
            "接收方 To",
            address_link(t.get("to"), full=True)
            + (f' <span class="muted">({escape(view.contract)})</span>' if view.contract != "other" else ""),
        ),
        ("方法 Method", escape(view.method or "—")),
        ("金额 Value (wei)", str(int(t.get("value", "0x0"), 16))),
        ("Gas 上限 Gas limit", str(int(t["gas"], 16))),
        ("Gas 用量 Gas used", str(int(r["gasUsed"], 16)) if r else "—"),
        ("Gas 价格 Gas price (wei)", str(int(price, 16)) if price else "—"),
        ("Nonce", str(int(t["nonce"], 16))),
    ]
    failure = failure_html(view.failure) if view.failure else ""
    call = ""
    if view.call_args is not None and view.method:
        call = f"<h2>调用参数 Call arguments · {escape(view.method)}</h2>{args_table(view.method, view.call_args)}"
    events = "".join(event_html(e, chain_id=chain_id, highlight=highlight) for e in view.events)
    body = f"""<h1>交易 Transaction</h1>
{failure}
<table class="kv" id="tx">{"".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in kv)}</table>
<h2>事件 Events ({len(view.events)})</h2>
<div id="events">{events or '<p class="muted">no events 无事件</p>'}</div>
{call}"""
    return layout("Transaction 交易", body, **frame)


def _holding_rows(rows: list[tuple[str, str, Holding]]) -> str:
    """(key, first cell's HTML, balances) per row."""
    return "".join(
        f'<tr data-holding="{escape(key)}"><td>{label}</td><td class="num balance">{h.balance}</td>'
        f'<td class="num free">{h.free}</td><td class="num pledged">{h.pledged}</td>'
        f'<td class="num frozen">{h.frozen}</td></tr>'
        for key, label, h in rows
    )


def address_page(view: AddressView, **frame: Any) -> str:
    p = view.participant
    status = int(p["status"])
    if status == 0:
        who = '<span class="muted">not a registered participant 非登记参与方</span>'
        kind = "—"
    else:
        who = f'<span id="participant-status">{escape(ParticipantStatus(status).name)}</span> ({status})'
        kind = f'<span id="participant-kind">{escape(ParticipantKind(int(p["kind"])).name)}</span> ({int(p["kind"])})'
    kv = [
        ("地址 Address", f'<span class="mono">{escape(view.address)}</span>'),
        ("参与方状态 Participant status", who),
        ("参与方类型 Participant kind", kind),
        (
            "备案哈希 Reference hash",
            f'<span class="mono">0x{bytes(p["referenceHash"]).hex()}</span>' if status else "—",
        ),
        ("角色 Roles", escape(", ".join(view.roles)) if view.roles else "—"),
        (
            "说明 Note",
            " · ".join(
                x
                for x in [
                    "the registry's reserve account 登记簿缓冲储备账户" if view.is_reserve else "",
                    escape(view.label or ("a contract 合约" if view.is_contract else "")),
                ]
                if x
            )
            or "—",
        ),
    ]
    holdings = _holding_rows([(str(h.batch_id), batch_link(h.batch_id), h) for h in view.holdings])
    history = "".join(
        f'<tr><td class="num">{block_link(e.block_number)}</td><td>{tx_link(e.tx_hash, log=e.log_index)}</td>'
        f'<td>{escape(e.name or "?")}</td><td class="args">{args_inline(e.name or "", e.args)}</td></tr>'
        for e in view.history
    )
    more = ""
    if view.more_before is not None:
        more = (
            f'<p><a id="more" href="/explorer/address/{view.address}?before={view.more_before}">'
            f"更早的记录 More (blocks below {view.more_before}) →</a></p>"
        )
    body = f"""<h1>地址 Address <span class="mono">{escape(view.address)}</span></h1>
<table class="kv" id="address">{"".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in kv)}</table>
<h2>各批次余额 Balances per batch (kgCO2e)</h2>
<table id="holdings"><thead><tr><th>批次 Batch</th><th>余额 Balance</th><th>可用 Free</th><th>质押 Pledged</th>
<th>冻结 Frozen (export 出口)</th></tr></thead>
<tbody>{holdings or '<tr><td colspan="5" class="muted">no batches received 未收到任何批次</td></tr>'}</tbody></table>
<h2>历史 History <span class="muted">(registry events naming this address, newest first 最新在前)</span></h2>
<table id="history"><thead><tr><th>区块 Block</th><th>交易 Tx</th><th>事件 Event</th><th>参数 Arguments</th></tr></thead>
<tbody>{history or '<tr><td colspan="4" class="muted">no events 无事件</td></tr>'}</tbody></table>
{more}"""
    return layout(f"Address {view.address} 地址", body, **frame)


def batch_page(view: BatchView, **frame: Any) -> str:
    rec = view.record
    project = bytes(rec["projectId"]).rstrip(b"\0").decode("ascii", errors="replace")
    origin_key = bytes(rec["originKey"])
    kv = [
        ("批次号 Batch id", str(view.batch_id)),
        ("项目 Project", escape(project)),
        ("年份 Vintage", str(rec["vintage"])),
        ("序列号范围 Serial range", f'<span id="serials">{view.first_serial} – {view.last_serial}</span>'),
        (
            "来源 Origin",
            "imported 导入 " + f'<span class="mono">0x{origin_key.hex()}</span>'
            if any(origin_key)
            else "issued here 本登记簿签发",
        ),
        ("签发交易 Issuance tx", tx_link(view.origin.tx_hash, log=view.origin.log_index) if view.origin else "—"),
    ]
    supply = "".join(
        f'<tr><th>{label}</th><td class="num" id="supply-{key}">{view.supply[key]}</td></tr>'
        for key, label in [
            ("issued", "签发 Issued"),
            ("circulating", "流通 Circulating"),
            ("retired", "注销 Retired"),
            ("cancelled", "作废 Cancelled"),
        ]
    )
    holders = _holding_rows([(a, address_link(a), h) for a, h in view.holders])
    retired = "".join(
        f'<tr><td class="num">{block_link(e.block_number)}</td><td>{tx_link(e.tx_hash, log=e.log_index)}</td>'
        f'<td>{address_link(e.args.get("holder"))}</td><td class="num">{e.args.get("amount")}</td>'
        f"<td>{value_html('CreditsRetired', 'scenario', e.args.get('scenario'))}</td></tr>"
        for e in view.retirements
    )
    body = f"""<h1>批次 Batch {view.batch_id}</h1>
<table class="kv" id="batch">{"".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in kv)}</table>
<h2>供应 Supply (kgCO2e)</h2>
<table class="kv" id="supply">{supply}</table>
<h2>持有人 Holders <span class="muted">(from TransferSingle/TransferBatch logs, confirmed with balanceOf)</span></h2>
<table id="holders"><thead><tr><th>地址 Address</th><th>余额 Balance</th><th>可用 Free</th><th>质押 Pledged</th>
<th>冻结 Frozen</th></tr></thead>
<tbody>{holders or '<tr><td colspan="5" class="muted">no holders 无持有人</td></tr>'}</tbody></table>
<h2>最近注销 Latest retirements</h2>
<table id="retirements"><thead><tr><th>区块 Block</th><th>交易 Tx</th><th>持有人 Holder</th><th>数量 Amount</th>
<th>场景 Scenario</th></tr></thead>
<tbody>{retired or '<tr><td colspan="5" class="muted">none 无</td></tr>'}</tbody></table>"""
    return layout(f"Batch {view.batch_id} 批次", body, **frame)
