"""`ledger`, the registry operator's command line (drives chain/ only)."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Annotated

import typer
from rich.table import Table

from accounts import pointslog
from certificates.errors import ServiceError
from certificates.service import CertificateService
from chain import artifacts
from chain.compiler import compile_contracts
from chain.connection import connect
from chain.deploy import ensure_deployed, record_path
from chain.errors import ChainError, shown_url
from chain.keys import load_signer
from chain.node import rpc_ready
from chain.paths import BUILD_DIR
from chain.registry import open_contract, open_registry
from chain.roles import OPERATOR_ROLES
from chain.rpc import JsonRpc
from chain.settings import ChainSettings
from indexer.db import WriterLock
from scripts import (
    accounts_commands,
    admin,
    audit_commands,
    backup_commands,
    bridge_commands,
    certificate_commands,
    court_commands,
    credits,
    exports,
    footprint_commands,
    index_commands,
    keys_commands,
    methodology,
    mrv_commands,
    node_commands,
    offsets_commands,
    participants,
    pledges,
    projects,
    public_commands,
    web,
)
from scripts.console import console, fail, operator_errors
from scripts.demo import load_demo
from scripts.node_watch import keep_node_running
from scripts.supervisor import Supervisor

app = typer.Typer(
    help="Operate the Sichuan forestry and grassland carbon-inclusive registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(node_commands.app, name="node")
app.add_typer(keys_commands.app, name="keys")
app.add_typer(methodology.app, name="methodology")
app.add_typer(mrv_commands.app, name="mrv")
app.add_typer(participants.app, name="participant")
app.add_typer(projects.app, name="project")
credits.register(app)
app.add_typer(exports.app, name="export")
app.add_typer(pledges.app, name="pledge")
admin.register(app)
app.add_typer(index_commands.app, name="index")
app.add_typer(backup_commands.app, name="backup")
certificate_commands.register(app)
footprint_commands.register(app)
court_commands.register(app)
offsets_commands.register(app)
app.command("audit")(audit_commands.audit)
app.add_typer(public_commands.app, name="public")
app.add_typer(bridge_commands.app, name="bridge")
accounts_commands.register(app)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    refuse_undecodable_arguments(sys.argv[1:])


def refuse_undecodable_arguments(argv: list[str]) -> None:
    """Bytes that are not UTF-8 reach Python as lone surrogates, which no output, database or hash
    accepts: refuse them by position before anything runs, without echoing them (they may be a name)."""
    for position, arg in enumerate(argv, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            fail(
                f"argument {position} of the command line is not valid UTF-8 text; retype it in a UTF-8 terminal "
                "(LANG=C.UTF-8) or give it in a UTF-8 file"
            )


@app.command()
@operator_errors
def up(
    wait: Annotated[bool, typer.Option(help="Keep running until Ctrl-C (--no-wait: set up, report, stop).")] = True,
    demo: Annotated[
        bool, typer.Option(help="On a fresh local chain, load the demo registry with certificates.")
    ] = True,
) -> None:
    """The main job: start the local node unless LEDGER_RPC_URL is set, deploy the build of `make build`
    if needed, run the indexer, load the demo on a fresh local chain, serve the API, and print where
    everything is."""
    settings = ChainSettings()
    build = artifacts.load()  # before starting anything: a missing or stale build is one line naming `make build`
    node = None
    url = settings.effective_rpc_url
    if settings.rpc_url is None and not rpc_ready(url):
        node = node_commands.local_node(settings, background=False).start()
        console.print(f"started {settings.node} on {url} (state: {node.state_file or 'not kept'})")
    supervisor = Supervisor()
    stop = supervisor.stop
    node_lock = threading.Lock()  # a restart of the node and the final stop never overlap
    try:
        report = deploy_and_describe(settings, force=False, build=build)
        console.print(report)
        indexer = index_commands.make_indexer()
        with WriterLock(indexer.engine):
            events = indexer.sync_once()
            console.print(f"indexer: {events:,} new events mirrored into {index_commands.database_url_shown()}")
            service = certificate_commands.open_service()
            if demo and settings.is_local and settings.node == "anvil" and not service.has_certificates():
                service.indexer = indexer  # the lock is ours: index in this thread while loading
                with console.status(
                    "loading the demo registry (projects, batches, trades, one certificate per scenario)"
                ):
                    # block_time 0: afterwards the node's keeper mines again (no interval mining, no empty blocks)
                    ids = load_demo(service.client, service, block_time=0)
                service.indexer = None
                console.print(f"demo: {len(ids)} certificates issued and anchored")
            shown = show_verified_certificate(service)
            if wait:
                supervisor.start("indexer", indexer.follow, stop)
                supervisor.start("anchorer", anchor_periodically, anchoring_service(service), stop)
                if node is not None and node.durable:
                    supervisor.start("node", keep_node_running, node, stop, console.print, node_lock)
                console.print("[bold]running[/] (node, registry, indexer, API); press Ctrl-C to stop")
                serve_supervised(service, supervisor, shown)
    finally:
        stop.set()
        if node is not None:
            with node_lock:
                node.stop()
            if wait:
                console.print("node stopped; its state is kept for next time")


def show_verified_certificate(service: CertificateService) -> str | None:
    """Verify the newest valid certificate through the mirror and say where a person can see it."""
    from certificates.verify import verify_document

    for cert_id in reversed(service.recent_certificates()):
        verdict = verify_document(service.document(cert_id), service.context.evidence)
        if verdict.status == "valid":
            url = service.context.verify_url(cert_id)
            console.print(
                f"verified certificate {cert_id}: [bold]{url}[/] (PDF: {url.replace('/verify/', '/certificates/')}.pdf)"
            )
            return url
    return None


def anchoring_service(service: CertificateService) -> CertificateService:
    """The service on an engine of its own: anchoring waits for the node and the mirror, and
    must never hold a connection the API's requests are waiting for (issue 12, item 4)."""
    from certificates.context import ServiceContext
    from indexer.db import make_engine

    ctx = service.context
    return CertificateService(
        ServiceContext(make_engine(pool_size=2, max_overflow=2), ctx.deployment, ctx.settings, ctx.rpc), service.client
    )


def serve_supervised(service: CertificateService, supervisor: Supervisor, shown: str | None) -> None:
    """The API (its own engine, sized for the requests it admits: certificates/db.py) beside the
    supervised workers; returns on Ctrl-C, raises WorkerDiedError if a worker died."""
    s = service.context.settings
    console.print(
        f"API: http://{s.api_host}:{s.api_port}/api/v1 (OpenAPI /openapi.json, docs /docs); "
        f"verify page: http://{s.api_host}:{s.api_port}/verify"
    )
    if shown:
        console.print(f"open {shown}")
    supervisor.serve(web.APP, s.api_host, s.api_port, factory=True)


def anchor_periodically(service: CertificateService, stop: threading.Event) -> None:
    """The time half of the anchoring policy (LEDGER_ANCHOR_INTERVAL)."""
    while not stop.wait(min(5.0, service.context.settings.anchor_interval)):
        try:
            service.anchor()
            if service.can_anchor():  # the points log of the personal carbon accounts, on the same policy
                pointslog.tick(service.engine, service.client, service.context.deployment, service.context.policy)
        except Exception as exc:  # noqa: BLE001 - keep the main job running; the next round tries again
            # a refusal of ours (ServiceError, ChainError) is one line meant for the operator; anything else is named by
            # its class only, since its text may carry a node URL with a key in it
            detail = str(exc) if isinstance(exc, ServiceError | ChainError) else type(exc).__name__
            logging.getLogger("ledger.anchor").warning("anchoring failed: %s", detail)


@app.command()
@operator_errors
def deploy(force: Annotated[bool, typer.Option(help="Deploy a new registry even if one is recorded.")] = False) -> None:
    """Compile the contracts into build/ and deploy the registry to the configured chain (once; again
    only with --force)."""
    console.print(deploy_and_describe(ChainSettings(), force=force, build=compile_contracts()))


@app.command()
@operator_errors
def status() -> None:
    """Chain id, contract, block, and the roles the current key holds."""
    settings = ChainSettings()
    signer = load_signer(settings, settings.chain_id)
    client = open_registry(settings, signer=signer)
    rpc = client.rpc
    table = Table(show_header=False, box=None)
    table.add_row("chain id", str(settings.chain_id))
    table.add_row("rpc", shown_url(settings.effective_rpc_url))
    table.add_row("registry", client.address)
    table.add_row("block", str(int(rpc.call("eth_blockNumber"), 16)))
    table.add_row("paused", str(client.paused()))
    table.add_row("key", signer.address)
    table.add_row("roles", ", ".join(client.roles_of(signer.address)) or "none")
    table.add_row("indexer lag", indexer_lag(settings.chain_id, client.address, rpc))
    for name, value in settings.describe().items():
        table.add_row(f"config: {name}", value)
    console.print(table)


def indexer_lag(chain_id: int, address: str, rpc: JsonRpc) -> str:
    from indexer import store
    from indexer.db import make_engine

    try:
        at = store.cursor(make_engine(), chain_id, address.lower())
    except Exception:  # noqa: BLE001 - no mirror database yet (or none reachable): say so, not a traceback
        at = None
    if at is None:
        return "not indexed yet (run `ledger index`)"
    head = int(rpc.call("eth_blockNumber"), 16)
    return f"{head - at[0]} blocks (mirror at block {at[0]}, head {head})"


def deploy_and_describe(settings: ChainSettings, *, force: bool, build: artifacts.Build) -> Table:
    rpc = connect(settings.effective_rpc_url, settings.chain_id)
    signer = load_signer(settings, settings.chain_id)
    deployment, created = ensure_deployed(
        rpc,
        chain_id=settings.chain_id,
        build=build,
        deployer=signer,
        directory=settings.deployments_path,
        uri=settings.contract_uri,
        force=force,
    )
    client = open_contract(rpc, deployment, build=build, signer=signer)
    if created and settings.is_local:
        for role in OPERATOR_ROLES:  # on the local chain the one dev key plays every operator role
            client.grant_role(role, signer.address)
    table = Table(title="Sichuan carbon-inclusive registry", show_header=False)
    table.add_row("RPC", shown_url(settings.effective_rpc_url))
    table.add_row("chain id", str(settings.chain_id))
    table.add_row("registry (proxy)", deployment.address + ("  [green]deployed now[/]" if created else "  (recorded)"))
    table.add_row("implementation", deployment.implementation)
    table.add_row("deployed in block", f"{deployment.block_number} (tx {deployment.tx_hash})")
    table.add_row("compiler", f"solc {deployment.compiler_version} ({deployment.compiler_backend})")
    table.add_row("deployment record", str(record_path(settings.deployments_path, settings.chain_id)))
    table.add_row("build artifacts", str(BUILD_DIR))
    table.add_row("operator key", signer.address)
    table.add_row("roles", ", ".join(client.roles_of(signer.address)) or "none")
    return table


if __name__ == "__main__":
    app()
