"""`ledger certify`, `ledger certificate …`, `ledger log …`, `ledger verify`, `ledger serve`:
certificates, their transparency log, and checking one against a node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import requests
import typer
from rich.markup import escape
from rich.table import Table

from certificates.claim_rules import tree_conversion
from certificates.document import hide
from certificates.evidence import ChainEvidence
from certificates.footprint_report import read as read_report
from certificates.scenarios import scenario as scenario_spec
from certificates.service import CertificateService
from certificates.verify import EvidenceError, verify_document
from chain.canonical import printable
from chain.errors import InvalidInputError, shown_url
from chain.rpc import JsonRpc
from chain.types import RetirementId
from footprint.errors import FootprintError
from indexer.db import make_engine
from scripts import web
from scripts.console import console, err_console, operator_errors
from scripts.context import deployment, registry_client, settings
from scripts.outfile import check_writable, write_whole
from scripts.output import confirm

certificate_app = typer.Typer(
    help="Certificates: list, show (public or holder's copy), revoke, print.", no_args_is_help=True
)
log_app = typer.Typer(help="The certificate transparency log: status, anchor its root on chain.", no_args_is_help=True)

Fields = Annotated[list[str] | None, typer.Option("--field", help="a scenario field, name=value (repeat)")]
Disclose = Annotated[list[str] | None, typer.Option("--disclose", help="show this personal field publicly (repeat)")]
Footprint = Annotated[
    int | None, typer.Option(help="the footprint the claim covers, kgCO2e (events, organisations, personal)")
]
FootprintReport = Annotated[
    Path | None,
    typer.Option(
        "--footprint-report",
        help="a footprint report (`ledger footprint compute --json`): its total is the footprint, its hash is committed",
    ),
]
Trees = Annotated[int | None, typer.Option(help="tree-planting duty: trees owed")]
TreeRule = Annotated[
    str | None,
    typer.Option("--rule", help="tree-planting duty: the conversion rule, ID@VERSION (default: the current one)"),
]
Out = Annotated[Path | None, typer.Option(help="write the holder's copy (every field opened) to this file")]
JsonOut = Annotated[bool, typer.Option("--json", help="print JSON")]


def open_service(*, signer_required: bool = True) -> CertificateService:
    return CertificateService.open(make_engine(), deployment(), registry_client(signer_required=signer_required))


def parse_fields(scenario_key: str, pairs: list[str] | None) -> dict[str, Any]:
    try:
        spec = scenario_spec(scenario_key)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    kinds = {f.name: f.integer for f in spec.fields}
    fields: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--field {pair!r}: write name=value")
        if kinds.get(name):
            try:
                fields[name] = int(value)
            except ValueError:
                raise InvalidInputError(f"--field {name} is a whole number, not {value!r}") from None
        else:
            fields[name] = value
    return fields


def certify_options(
    scenario_key: str,
    field: list[str] | None,
    disclose: list[str] | None,
    footprint: int | None,
    trees: int | None,
    footprint_report: Path | None = None,
    rule: str | None = None,
) -> dict[str, Any]:
    options: dict[str, Any] = dict(
        scenario_key=scenario_key,
        fields=parse_fields(scenario_key, field),
        disclose=set(disclose or ()),
        footprint_kg=footprint,
        trees=trees,
    )
    if footprint_report is not None:  # only then: a certificate without a report is issued as before
        options["footprint_report"] = read_report(footprint_report)
    if scenario_spec(scenario_key).trees:
        # the rate is a published rule's, printed in the claim, not a setting (docs/certificate-format.md §5.2)
        try:
            options["kg_per_tree"], options["conversion"], tree_rule = tree_conversion(rule)
        except FootprintError as exc:
            raise InvalidInputError(str(exc)) from None
        if tree_rule.illustrative:
            err_console.print(
                f"warning: conversion rule {tree_rule.ref} is illustrative (no public source gives its numbers); "
                "the certificate names it",
                style="yellow",
                highlight=False,
                markup=False,
            )
    elif rule is not None:
        raise InvalidInputError(f"--rule converts trees; a {scenario_key} certificate takes no rule")
    return options


def report_certificate(service: CertificateService, cert_id: str, out: Path | None, as_json: bool) -> None:
    doc = service.document(cert_id, holder_copy=True)
    if out is not None:
        try:
            write_whole(out, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode(), mode=0o600)
        except InvalidInputError as exc:  # issued all the same: say so, and how to get the copy
            raise InvalidInputError(
                f"certificate {cert_id} was issued, but {exc}; get the holder's copy with "
                f"`ledger certificate show {cert_id} --holder-copy --out FILE`"
            ) from None
    url = service.context.verify_url(cert_id)
    if as_json:
        console.print_json(
            data={
                "certificate_id": cert_id,
                "verify_url": url,
                "anchored": doc["proof"] is not None,
                "holder_copy": str(out) if out else None,
            }
        )
        return
    proof = doc["proof"]
    console.print(
        f"certificate [bold]{cert_id}[/]: {doc['certificate']['claim']['quantity_kg']:,} kg, "
        f"leaf {proof['leaf_index'] if proof else '?'}, "
        + (
            f"anchored at tree size {proof['tree_size']} (tx {proof['anchor']['tx_hash']})"
            if proof
            else "not anchored yet (policy: LEDGER_ANCHOR_EVERY / LEDGER_ANCHOR_INTERVAL; or `ledger log anchor`)"
        )
    )
    console.print(f"verify: {url}" + (f"\nholder's copy (personal data, keep it safe): {out}" if out else ""))


@operator_errors
def certify(
    retirement: Annotated[list[str], typer.Argument(help=f"retirement ids, {RetirementId.FORM}")],
    scenario: Annotated[
        str,
        typer.Option(
            help="large-event, organisation, product, building, region, "
            "tree-planting-duty, ecological-justice, personal, voluntary"
        ),
    ],
    field: Fields = None,
    disclose: Disclose = None,
    footprint: Footprint = None,
    footprint_report: FootprintReport = None,
    trees: Trees = None,
    rule: TreeRule = None,
    beneficiary: Annotated[str | None, typer.Option(help="only if the retirement's salt is not on record")] = None,
    beneficiary_salt: Annotated[str | None, typer.Option(help="the salt used at retirement (32 hex)")] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="wait for the confirmations LEDGER_CONFIRMATIONS asks (else a retirement with fewer is refused)",
        ),
    ] = False,
    out: Out = None,
    as_json: JsonOut = False,
) -> None:
    """Issue a certificate for retirements the indexer has seen, once they have the confirmations
    LEDGER_CONFIRMATIONS asks (--wait waits for them), append it to the log, anchor per policy."""
    from scripts.retire_certify import WAIT_LIMIT

    if out is not None:
        check_writable(out)
    service = open_service()
    options = certify_options(scenario, field, disclose, footprint, trees, footprint_report, rule)
    if beneficiary is not None:
        options["fields"]["beneficiary"] = beneficiary
    service.catch_up(int(service.client.rpc.call("eth_blockNumber"), 16))  # the mirror must have the retirements

    def waiting(have: int, need: int) -> None:
        console.print(
            f"waiting for {need} confirmations (the youngest retirement has {have}); Ctrl-C stops", highlight=False
        )

    issued = service.certify(
        retirement,
        beneficiary_salt=beneficiary_salt,
        wait=WAIT_LIMIT if wait else 0.0,
        on_wait=None if as_json else waiting,
        **options,
    )
    report_certificate(service, issued.certificate_id, out, as_json)


@certificate_app.command("list")
@operator_errors
def list_certificates(as_json: JsonOut = False) -> None:
    """Every certificate, oldest first."""
    from sqlmodel import col, select

    from certificates.models import CertificateRow

    service = open_service()
    with service.engine.connect() as conn:
        rows = conn.execute(select(CertificateRow).order_by(col(CertificateRow.number))).all()
    items = [
        {
            "id": r.id,
            "scenario": r.scenario,
            "quantity_kg": r.quantity_kg,
            "leaf_index": r.leaf_index,
            "revoked": r.revoked_at is not None,
        }
        for r in rows
    ]
    if as_json:
        console.print_json(data=items)
        return
    table = Table("certificate", "scenario", "kg", "leaf", "revoked")
    for i in items:
        table.add_row(
            i["id"], i["scenario"], f"{i['quantity_kg']:,}", str(i["leaf_index"]), "yes" if i["revoked"] else ""
        )
    console.print(table)


@certificate_app.command("show")
@operator_errors
def show(
    certificate_id: str,
    holder_copy: Annotated[bool, typer.Option(help="open every field (personal data: for the holder only)")] = False,
    hide_field: Annotated[list[str] | None, typer.Option("--hide", help="leave this field hidden (repeat)")] = None,
    tree_size: Annotated[int | None, typer.Option(help="prove inclusion in this anchored tree size")] = None,
    out: Annotated[Path | None, typer.Option(help="write the document here instead of printing it")] = None,
) -> None:
    """The certificate document (public copy by default), ready for `ledger verify`."""
    if out is not None:
        check_writable(out)
    doc = hide(open_service().document(certificate_id, holder_copy=holder_copy, tree_size=tree_size), hide_field or [])
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        console.print_json(text)
    else:
        write_whole(out, text.encode(), mode=0o600 if holder_copy else 0o644)
        console.print(f"wrote {out}")


@certificate_app.command("revoke")
@operator_errors
def revoke(
    certificate_id: str,
    reason: Annotated[str, typer.Option(help="published in the log")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Revoke a certificate: on chain (the revocation list), then in the log. Cannot be undone."""
    confirm(f"revoke {certificate_id} ({reason})", yes)
    tx = open_service().revoke(certificate_id, reason)
    console.print(f"revoked {certificate_id}" + (f" in tx {tx}" if tx else " (the chain already had it)"))


@certificate_app.command("pdf")
@operator_errors
def pdf(certificate_id: str, out: Annotated[Path, typer.Option(help="where to write the PDF")]) -> None:
    """The printable certificate (public fields, Chinese and English, QR code to its verify page)."""
    from certificates.printable import certificate_view
    from certificates.render.pdf import certificate_pdf

    check_writable(out)  # before any work: a PDF rendered for a directory that does not exist is lost
    service = open_service()
    data = certificate_pdf(
        certificate_view(service.document(certificate_id), service.context.verify_url(certificate_id))
    )
    write_whole(out, data)
    console.print(f"wrote {out}")


@log_app.command("status")
@operator_errors
def log_status() -> None:
    """The log's size and root, and the last anchor on chain."""
    service = open_service()
    size, (anchored, root) = service.context.log.size(), service.client.latest_anchor()
    console.print(f"log: {size:,} entries, root {service.context.log.root(size).hex() if size else '-'}")
    console.print(
        f"anchored on chain: tree size {anchored:,}, root {root.hex() if anchored else '-'}"
        + (f"; {size - anchored} entries await anchoring" if size > anchored else "")
    )


@log_app.command("anchor")
@operator_errors
def log_anchor(force: Annotated[bool, typer.Option(help="anchor now, whatever the policy says")] = True) -> None:
    """Anchor the log's current (size, root) on the registry contract."""
    result = open_service().anchor(force=force)
    console.print(
        "nothing to anchor" if result is None else f"anchored in tx {result.tx_hash} (block {result.block_number})"
    )


def load_document(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        url = source.replace("/verify/", "/api/v1/certificates/") if "/api/v1/" not in source else source
        try:
            reply = requests.get(url, timeout=30)
        except requests.RequestException as exc:
            raise InvalidInputError(f"cannot fetch {url}: {type(exc).__name__}") from None
        if reply.status_code != 200:
            raise InvalidInputError(f"{url} answered {reply.status_code}; check the address")
        text = reply.text
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"no file {source}; give a certificate file or its URL")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{source} is not UTF-8 text; give a certificate document (JSON)") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise InvalidInputError(f"{source} is not JSON; give a certificate document") from None
    if not isinstance(doc, dict):
        raise InvalidInputError(f"{source} is not a certificate document")
    return doc


@operator_errors
def verify(
    source: Annotated[str, typer.Argument(help="a certificate file, or its URL")],
    rpc: Annotated[str | None, typer.Option(help="the node to trust (default: the configured one)")] = None,
    registry: Annotated[
        str | None, typer.Option(help="the registry to trust (default: the one the document names)")
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """Check a certificate trusting only a node: commitments, inclusion proof, the anchored root
    (contract view), each retirement in its receipt, and the revocation list. Exit code 1 unless valid."""
    doc = load_document(source)
    issuer = doc.get("certificate", {}).get("issuer", {}) if isinstance(doc.get("certificate"), dict) else {}
    issuer = issuer if isinstance(issuer, dict) else {}
    url = rpc or settings().effective_rpc_url
    # the document's own words, printed back: a lone surrogate in them must not crash the output
    trusted = printable(registry or str(issuer.get("registry", "")))
    # the chain id is read by the checks that need it: a node that does not answer fails those
    # checks (marked), and the verdict still lists every check (docs/certificate-format.md §8)
    evidence = ChainEvidence(JsonRpc(url), registry=trusted, revocations=printable(str(issuer.get("revocations", ""))))
    verdict = verify_document(doc, evidence)
    unreadable = [c.name for c in verdict.checks if c.unreadable]
    if as_json:
        console.print_json(
            data={**verdict.as_json(), "unreadable": unreadable, "node": shown_url(url), "registry": trusted}
        )
    else:
        if registry is None:
            console.print(
                f"[yellow]trusting the registry the document names ({escape(trusted)}); pin it with --registry[/]",
                highlight=False,
            )
        for check in verdict.checks:
            mark = "[green]✔[/]" if check.ok else "[yellow]?[/]" if check.unreadable else "[red]✘[/]"
            titles = check.as_json()
            console.print(
                f"{mark} {titles['title_zh']} / {titles['title_en']}: {escape(check.detail)}", highlight=False
            )
        colour = {"valid": "green", "revoked": "yellow"}.get(verdict.status, "red")
        try:
            chain = str(evidence.chain_id)
        except EvidenceError:
            chain = "?"
        console.print(f"[bold {colour}]{verdict.status}[/] (node {shown_url(url)}, chain {chain})")
        if unreadable:
            console.print(
                f"[yellow]? = not checked: {', '.join(unreadable)} could not be read from the node at "
                f"{shown_url(url)}; check that it runs and is the registry's chain, or pass --rpc URL[/]",
                highlight=False,
            )
    if verdict.status != "valid":
        raise typer.Exit(code=1)


def run_api(service: CertificateService, shown: str | None = None) -> None:
    s = service.context.settings
    console.print(
        f"API: http://{s.api_host}:{s.api_port}/api/v1 (OpenAPI /openapi.json, docs /docs); "
        f"verify page: http://{s.api_host}:{s.api_port}/verify"
    )
    if shown:
        console.print(f"open {shown}")
    web.serve(s.api_host, s.api_port)


@operator_errors
def serve() -> None:
    """Serve the public API and the verify page (LEDGER_API_HOST, LEDGER_API_PORT). For several
    workers behind one address: `uvicorn --factory api.asgi:app --workers N`."""
    run_api(open_service())


def register(app: typer.Typer) -> None:
    app.command("certify")(certify)
    app.add_typer(certificate_app, name="certificate")
    app.add_typer(log_app, name="log")
    app.command("verify")(verify)
    app.command("serve")(serve)
