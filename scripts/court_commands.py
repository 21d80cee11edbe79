"""`ledger court quote | retire`: a court's order of alternative restoration (生态司法), from its case
file to one retirement and a certificate addressed to the court (certificates/court.py)."""

from __future__ import annotations

import stat
import sys
import unicodedata
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import select

from certificates import court
from certificates.court import CourtCase, Quote
from certificates.errors import ServiceError
from certificates.issuer import check_request
from certificates.scenarios import SCENARIOS
from certificates.service import CertificateService
from chain.client import RegistryClient, TxResult
from chain.errors import ChainError, InvalidInputError, RegistryRevertError
from chain.types import RetirementId, Scenario
from indexer.models import Retirement
from scripts import args, outfile, preflight
from scripts.certificate_commands import Out, open_service, report_certificate
from scripts.console import console, err_console, operator_errors
from scripts.context import registry_client
from scripts.retire_certify import WAIT_LIMIT

app = typer.Typer(
    help="生态司法: a court's order of alternative restoration: quote it, retire it once, certify it to the court.",
    no_args_is_help=True,
)
SCENARIO = SCENARIOS["EcologicalJustice"]

CaseFile = Annotated[
    Path, typer.Option("--case", help="the case, JSON: case_number, court, damages_yuan, judgment_date, rule")
]
RuleOption = Annotated[
    str | None, typer.Option("--rule", help="the damages rule, ID@VERSION (default: the case's, else the current one)")
]
JsonOut = Annotated[bool, typer.Option("--json", help="print JSON")]
MAX_CASE_BYTES = 64 * 1024  # a case is a few hundred bytes; a larger file is not a case
MAX_NAME_BYTES = 4 * 1024  # a liable party's name, a person's or a company's, is one short line


def _read_small(path: Path, limit: int, what: str) -> str:
    """A regular file's UTF-8 text of at most `limit` bytes: a FIFO, a device (/dev/zero) or a
    directory is refused before it is opened, so nothing blocks or fills the memory."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise InvalidInputError(f"{what} is not a regular file; give a file")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise InvalidInputError(f"{what} is larger than {limit:,} bytes; give the file itself, not another")
        return data.decode("utf-8-sig")  # Notepad's byte-order mark is not part of the text
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise InvalidInputError(f"cannot read {what} ({reason}); give a readable UTF-8 file") from None


def read_case(path: Path) -> CourtCase:
    return court.parse_case(_read_small(path, MAX_CASE_BYTES, f"the case file {path}"), f"case file {path}")


def read_defendant(path: Path | None) -> str:
    """The liable party's name from a file, or standard input for '-': never from the command line,
    where `ps` shows it to every local user."""
    if path is None:
        raise InvalidInputError(
            "give the liable party (赔偿义务人): --defendant-file PATH (one line, UTF-8), or --defendant-file - "
            "for standard input; the name is sealed, never printed"
        )
    where = "standard input" if str(path) == "-" else f"--defendant-file {path}"
    if str(path) == "-":
        try:
            text = sys.stdin.read(MAX_NAME_BYTES + 1).removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {where} ({type(exc).__name__}); give the name in UTF-8") from None
        if len(text.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise InvalidInputError(f"{where} is larger than {MAX_NAME_BYTES:,} bytes; give the name alone")
    else:
        text = _read_small(path, MAX_NAME_BYTES, where)
    name = text.strip()
    if not name or "\n" in name or "\r" in name:
        raise InvalidInputError(f"{where} must hold the liable party's name on one line")
    if len(name) > court.MAX_TEXT or any(unicodedata.category(c) in court.UNSEEN for c in name):
        # never the name itself in the message: it is personal data
        raise InvalidInputError(
            f"{where} must hold the name alone, at most {court.MAX_TEXT} characters, without control or "
            "invisible characters; fix the file"
        )
    return name


def _rule_line(quote: Quote) -> str:
    rule = quote.rule
    chosen = "" if quote.rule_named else " (the case names no rule: the only current damages rule)"
    marked = "; ILLUSTRATIVE: no public source gives its price" if rule.illustrative else ""
    if rule.superseded_by:
        marked += f"; SUPERSEDED by {rule.superseded_by}: check the judgment names this version"
    return f"rule {rule.ref}{chosen}: ¥{quote.conversion['price']['yuan']} for {quote.conversion['price']['tonnes']} t{marked}"


def _arithmetic(quote: Quote) -> str:
    price = quote.conversion["price"]
    return (
        f"¥{quote.conversion['yuan']} × {price['tonnes']} t × 1000 ÷ ¥{price['yuan']} = "
        f"{quote.obligation_kg:,} kg ({quote.conversion['tonnes']} t), rounded up to a whole kg"
    )


def _quote_json(quote: Quote) -> dict[str, Any]:
    return {
        "case": {k: v for k, v in quote.reference.items() if k not in ("format", "rule", "obligation_kg")},
        "rule": {**quote.claim_conversion["rule"], "illustrative": quote.rule.illustrative, "named": quote.rule_named},
        "conversion": quote.conversion,
        "obligation_kg": quote.obligation_kg,
        "claim_hash": "0x" + quote.claim_hash.hex(),
    }


@app.command("quote")
@operator_errors
def quote_command(case: CaseFile, rule: RuleOption = None, as_json: JsonOut = False) -> None:
    """What a case's damages buy at its rule: the kilograms to retire (nothing is written)."""
    quote = court.quote(read_case(case), rule)
    if as_json:
        console.print_json(data=_quote_json(quote))
        return
    say = console.print
    say(
        f"case {quote.case.case_number} ({quote.case.court}), damages ¥{quote.conversion['yuan']}",
        markup=False,
        soft_wrap=True,
    )
    say(_rule_line(quote), markup=False, highlight=False, soft_wrap=True)
    say(_arithmetic(quote), markup=False, highlight=False, soft_wrap=True)
    say(
        f"retire {quote.obligation_kg:,} kg: `ledger court retire --case {case} --batch N --defendant-file PATH`",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _already(service: CertificateService, op_id: int) -> tuple[str, str | None] | None:
    service.catch_up(int(service.client.rpc.call("eth_blockNumber"), 16))
    return service.retirement_by_op_id(op_id)


def _same_reference(service: CertificateService, rid: str, quote: Quote, cert_id: str | None) -> None:
    """Refuse a re-run whose case file is not the one retired: its certificate would state damages,
    a rule or a date the retirement's claim hash does not commit to."""
    with service.engine.connect() as conn:
        committed = conn.execute(select(Retirement.claim_hash).where(Retirement.id == rid)).scalar()
    if committed is not None and committed.lower() == "0x" + quote.claim_hash.hex():
        return
    issued = f"; its certificate is {cert_id}" if cert_id is not None else ", not yet certified"
    raise InvalidInputError(
        f"case {quote.case.case_number} was already retired as {rid} for another case reference (court, date, "
        f"damages or rule differ from this case file){issued}; nothing was retired or certified. Run again with "
        "the case file it was retired with"
    )


def _seller(client: RegistryClient, holder: str | None) -> str:
    return holder or args.signer_address(client)


def _simulate(client: RegistryClient, op_id: int, call: dict[str, Any], seller: str, quote: Quote) -> None:
    """Refuse, with nothing sealed or sent, a retirement the chain would refuse."""
    batch, owed = call["batch_id"], quote.obligation_kg
    free = client.free_balance_of(seller, batch)
    if free < owed:
        raise InvalidInputError(
            f"the seller {seller} has {free:,} kg of batch {batch} free to retire, the order needs {owed:,} kg; "
            "choose a batch (--batch) or seller (--holder) with enough, nothing was retired"
        )
    simulation = client.dry_run.retire(op_id, **call)
    if simulation.ok:
        return
    assert simulation.error is not None
    if simulation.error.name == "RegistryOperationAlreadyApplied":
        raise ChainError(
            f"case {quote.case.case_number} was already retired, but the mirror has not seen it yet; nothing was "
            "sent. Run `ledger index --once` and this command again"
        )
    raise simulation.error


@app.command("retire")
@operator_errors
def retire_command(
    case: CaseFile,
    batch: Annotated[int, typer.Option("--batch", help="the batch the seller retires from")],
    defendant_file: Annotated[
        Path | None,
        typer.Option(
            help="the liable party's name (赔偿义务人), one line; '-' reads standard input. Sealed, never shown"
        ),
    ] = None,
    holder: Annotated[
        str | None, typer.Option(help="retire a custodial seller's units on its behalf (platform key: retireFor)")
    ] = None,
    rule: RuleOption = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="wait for the confirmations LEDGER_CONFIRMATIONS asks before certifying")
    ] = False,
    out: Out = None,
    as_json: JsonOut = False,
) -> None:
    """Retire the kilograms a case's damages buy, from the seller's own balance, in one transaction
    whose claim hash commits to the case; certify it to the court. Running it again for the same case
    retires nothing more: it reports (or finishes) the case's certificate."""
    quote = court.quote(read_case(case), rule)
    name = read_defendant(defendant_file)
    if out is not None:
        outfile.check_writable(out)
    options: dict[str, Any] = dict(
        scenario_key=SCENARIO.key, fields=quote.fields, disclose=set(), conversion=quote.claim_conversion
    )
    check_request(
        SCENARIO.key, quote.fields, beneficiary=name, quantity=quote.obligation_kg, conversion=options["conversion"]
    )
    if quote.rule.illustrative or quote.rule.superseded_by:
        err_console.print(
            f"warning: {_rule_line(quote)}", style="yellow", highlight=False, markup=False, soft_wrap=True
        )
    client = registry_client()
    preflight.existing_batch(client, batch, amount=quote.obligation_kg)
    holder = args.account("holder", holder) if holder else None
    service = open_service()
    _ = service.required_confirmations  # a bad LEDGER_CONFIRMATIONS is refused before anything is sent
    d = service.context.deployment
    op_id = court.operation_id(service.context.vault, d.chain_id, d.address, quote.case)
    found = _already(service, op_id)
    if found is not None:
        rid, cert_id = found
        _same_reference(service, rid, quote, cert_id)
        if cert_id is None:  # retired by an earlier run that stopped before certifying: finish it
            cert_id = _certify(service, rid, options, case, wait=wait)
        if not as_json:
            console.print(
                f"case {quote.case.case_number} was already retired ({rid}); nothing more was retired",
                markup=False,
                soft_wrap=True,
            )
        report_certificate(service, cert_id, out, as_json)
        return
    seller = _seller(client, holder)
    sealed = service.prepare_beneficiary(name)
    call: dict[str, Any] = {
        "batch_id": batch,
        "quantity": quote.obligation_kg,
        "scenario": Scenario.ECOLOGICAL_JUSTICE,
        "beneficiary_commitment": bytes.fromhex(sealed.commitment[2:]),
        "claim_hash": quote.claim_hash,
        "holder": holder,
    }
    _simulate(client, op_id, call, seller, quote)
    service.store_beneficiary(sealed)  # only now: a retirement that would fail leaves no sealed name behind
    try:
        result: TxResult = client.retire(op_id, **call)
    except RegistryRevertError:
        service.forget_beneficiary(sealed.commitment)
        raise
    event = result.event("CreditsRetired")
    rid = RetirementId.of(d.chain_id, event.tx_hash, event.log_index)
    if not as_json:
        console.print(
            f"retired {quote.obligation_kg:,} kg of batch {batch} from {seller} for case {quote.case.case_number}: "
            f"{rid}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    service.catch_up(result.block_number)
    report_certificate(service, _certify(service, rid, options, case, wait=wait), out, as_json)


def _certify(service: CertificateService, rid: str, options: dict[str, Any], case: Path, *, wait: bool) -> str:
    """Certify the case's retirement; if that fails, say how to finish (the same command again)."""
    try:
        return service.certify([rid], wait=WAIT_LIMIT if wait else 0.0, **options).certificate_id
    except (ServiceError, ChainError) as exc:
        raise ChainError(
            f"retired as {rid}, but the certificate was not issued: {exc}. Finish with the same command "
            f"(`ledger court retire --case {case} …`): it retires nothing twice"
        ) from None


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="court")
