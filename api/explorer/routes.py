"""The explorer's routes (HTML, not part of the OpenAPI document). Every failure is an HTML page
that names the problem: 400 for input that cannot be a block, tx, address or batch, 404 for one
the node does not know, 502 when the node cannot be reached or refuses, 503 with no node configured."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.explorer import pages
from api.explorer.node import BadInput, ExplorerError, ExplorerNode, parse_batch_id
from api.explorer.pages import Frame
from certificates.context import ServiceContext
from chain.errors import NodeUnreachableError, RegistryRevertError
from chain.rpc import RpcError
from chain.types import from_short_id
from land.store import project_parcels

log = logging.getLogger(__name__)

router = APIRouter(tags=["explorer"])
BLOCKS_PER_PAGE = 20


def _frame(ctx: ServiceContext | None) -> Frame:
    if ctx is None:
        return Frame()
    d = ctx.deployment
    return Frame(chain_id=d.chain_id, registry=d.address, revocations=d.revocations or None)


def _serve(request: Request, build: Callable[[ExplorerNode, Frame], Response | str]) -> Response:
    ctx: ServiceContext | None = getattr(request.app.state, "context", None)
    frame = _frame(ctx)
    if request.url.path.endswith("/search"):
        frame = dataclasses.replace(frame, q=request.query_params.get("q", ""))
    try:
        if ctx is None or ctx.rpc is None:
            return HTMLResponse(
                pages.error_page(
                    503,
                    "No node configured 未配置节点",
                    "this API process has no JSON-RPC node configured (set LEDGER_RPC_URL), so the explorer, which "
                    "reads the chain directly, cannot show anything 此 API 进程未配置区块链节点，浏览器无法读取链上数据",
                    frame,
                ),
                status_code=503,
            )
        node = ExplorerNode(ctx.rpc, ctx.deployment)
        out = build(node, frame)
        return out if isinstance(out, Response) else HTMLResponse(out)
    except ExplorerError as exc:
        return HTMLResponse(pages.error_page(exc.status, exc.title, exc.detail, frame), status_code=exc.status)
    except NodeUnreachableError as exc:
        return HTMLResponse(pages.error_page(502, "Node unreachable 节点不可达", str(exc), frame), status_code=502)
    except RpcError as exc:
        return HTMLResponse(
            pages.error_page(502, "The node refused 节点拒绝请求", f"JSON-RPC error: {exc}", frame), status_code=502
        )
    except RegistryRevertError as exc:
        return HTMLResponse(
            pages.error_page(502, "A registry view reverted 合约视图调用失败", str(exc), frame), status_code=502
        )
    except Exception as exc:  # never a traceback to the browser
        log.exception("explorer failed on %s: %s", request.url.path, type(exc).__name__)
        return HTMLResponse(
            pages.error_page(
                500, "Internal error 内部错误", "the explorer failed on this request; it was logged", frame
            ),
            status_code=500,
        )


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        raise BadInput(f"the query parameter {name}={raw[:40]!r} must be a whole number")
    return int(raw)


@router.get("/explorer", response_class=HTMLResponse, include_in_schema=False)
def explorer_home(request: Request) -> Response:
    def build(node: ExplorerNode, frame: Frame) -> str:
        blocks, latest = node.blocks(BLOCKS_PER_PAGE, _int_param(request, "upto"))
        return pages.home_page(blocks, latest, count=BLOCKS_PER_PAGE, frame=frame)

    return _serve(request, build)


@router.get("/explorer/search", include_in_schema=False)
def explorer_search(request: Request) -> Response:
    def build(node: ExplorerNode, frame: Frame) -> Response:
        return RedirectResponse(node.resolve(request.query_params.get("q", "")), status_code=303)

    return _serve(request, build)


@router.get("/explorer/block/{ident}", response_class=HTMLResponse, include_in_schema=False)
def explorer_block(request: Request, ident: str) -> Response:
    return _serve(request, lambda node, frame: pages.block_page(node.block(ident), frame=frame))


@router.get("/explorer/tx/{tx_hash}", response_class=HTMLResponse, include_in_schema=False)
def explorer_tx(request: Request, tx_hash: str) -> Response:
    def build(node: ExplorerNode, frame: Frame) -> str:
        highlight = _int_param(request, "log")
        return pages.tx_page(node.tx(tx_hash), highlight=highlight, frame=frame)

    return _serve(request, build)


@router.get("/explorer/address/{address}", response_class=HTMLResponse, include_in_schema=False)
def explorer_address(request: Request, address: str) -> Response:
    def build(node: ExplorerNode, frame: Frame) -> str:
        return pages.address_page(node.address(address, before=_int_param(request, "before")), frame=frame)

    return _serve(request, build)


@router.get("/explorer/batch/{batch_id}", response_class=HTMLResponse, include_in_schema=False)
def explorer_batch(request: Request, batch_id: str) -> Response:
    return _serve(request, lambda node, frame: pages.batch_page(node.batch(parse_batch_id(batch_id)), frame=frame))


@router.get("/explorer/project/{project_id}", response_class=HTMLResponse, include_in_schema=False)
def explorer_project(request: Request, project_id: str) -> Response:
    """The project's parcels drawn from the stored geometry, each hash confirmed on chain."""

    def build(node: ExplorerNode, frame: Frame) -> str:
        ctx: ServiceContext = request.app.state.context
        with ctx.engine.connect() as conn:
            parcels = project_parcels(conn, project_id[:64])
        held = node.client.view_many("parcelProject", [(bytes.fromhex(p.parcel_hash),) for p in parcels])
        on_chain = [from_short_id(h) == p.project_id for h, p in zip(held, parcels, strict=True)]
        return pages.project_page(project_id[:64], parcels, on_chain, frame=frame)

    return _serve(request, build)


@router.get("/explorer/{rest:path}", response_class=HTMLResponse, include_in_schema=False)
def explorer_unknown(request: Request, rest: str) -> Response:
    if rest == "":
        return RedirectResponse("/explorer", status_code=307)
    frame = _frame(getattr(request.app.state, "context", None))
    detail = (
        f"the explorer has no page /explorer/{rest[:120]}; its pages are /explorer, /explorer/block/<number or "
        "hash>, /explorer/tx/<hash>, /explorer/address/<address>, /explorer/batch/<id>, /explorer/project/<id> and "
        "/explorer/search?q="
    )
    return HTMLResponse(pages.error_page(404, "Not found 未找到", detail, frame), status_code=404)
