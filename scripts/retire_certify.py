"""`ledger retire … --certify` without half-applied states: everything that can be checked is
checked before the retirement is mined (the scenario's fields, the claim, a simulation of the
retirement itself); the beneficiary is sealed only once the simulation succeeded and forgotten
if the retirement reverts; a re-run of the same retirement is refused by the chain (its operation
id is derived from the request) with a pointer to the one already made; and a certificate that
still cannot be issued after mining ends with the retirement id and the command that finishes it."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from rich.markup import escape

from certificates import issuer
from certificates.errors import ServiceError
from certificates.scenarios import scenario as scenario_spec
from certificates.service import CertificateService
from chain.client import RegistryClient, Simulation, TxResult
from chain.errors import ChainError
from chain.types import RetirementId
from scripts.console import err_console, fail

WAIT_LIMIT = 3600.0  # seconds `--wait` waits for confirmations before giving up (the command can be run again)


def check_request(options: dict[str, Any], *, beneficiary: str, quantity: int) -> None:
    """What `certify` would refuse about the request itself, before anything is mined."""
    issuer.check_request(
        options["scenario_key"],
        options["fields"],
        beneficiary=beneficiary,
        quantity=quantity,
        footprint_kg=options["footprint_kg"],
        trees=options["trees"],
        # a tree duty's rate comes from its published rule (certify_options)
        kg_per_tree=options.get("kg_per_tree", issuer.DEFAULT_KG_PER_TREE),
        footprint_report=options.get("footprint_report"),
        conversion=options.get("conversion"),
    )


def simulate_retirement(client: RegistryClient, op_id: int, call: dict[str, Any]) -> Simulation:
    """The retirement as a dry run: the gas it would use, or the error it would revert with."""
    return client.dry_run.retire(op_id, **call)


def simulate_first(
    client: RegistryClient,
    service: CertificateService,
    op_id: int,
    call: dict[str, Any],
    *,
    certify_args: list[str] | None,
) -> None:
    """Simulate the retirement; refuse, with nothing sealed or sent, if it would fail. A re-run of a
    retirement already made is pointed at it (and at the command that certifies it, if it is not yet)."""
    simulation = simulate_retirement(client, op_id, call)
    if simulation.ok:
        return
    error = simulation.error
    assert error is not None
    if error.name != "RegistryOperationAlreadyApplied":
        raise error
    service.catch_up(int(client.rpc.call("eth_blockNumber"), 16))
    found = service.retirement_by_op_id(op_id)
    again = "; to retire the same again on purpose, pass --op-id with a number not used before"
    if found is None:
        raise ChainError(
            f"this retirement was already made (operation id {hex(op_id)}), but the mirror has not seen "
            f"it yet; nothing was sent. Run `ledger index --once` and then this command again{again}"
        )
    rid, cert_id = found
    if cert_id is not None:
        raise ChainError(
            f"this retirement was already made and certified: retirement {rid}, certificate {cert_id} "
            f"(`ledger certificate show {cert_id}`); nothing was sent{again}"
        )
    finish = f"; certify it with: {certify_command(rid, certify_args)}" if certify_args is not None else ""
    raise ChainError(f"this retirement was already made: retirement {rid}; nothing was sent{finish}{again}")


def certify_args(
    scenario: str,
    field: list[str] | None,
    disclose: list[str] | None,
    footprint: int | None,
    trees: int | None,
    out: Path | None,
    footprint_report: Path | None = None,
) -> list[str]:
    """The `ledger certify` options that repeat a `retire --certify`, personal fields' values left as
    placeholders (they are not printed back)."""
    personal = {f.name for f in scenario_spec(scenario).fields if f.personal}
    words = ["--scenario", scenario]
    for pair in field or []:
        name, _, _ = pair.partition("=")
        words += ["--field", f"{name}=<{name}>" if name in personal else pair]
    for name in disclose or []:
        words += ["--disclose", name]
    if footprint is not None:
        words += ["--footprint", str(footprint)]
    if footprint_report is not None:
        words += ["--footprint-report", str(footprint_report)]
    if trees is not None:
        words += ["--trees", str(trees)]
    if out is not None:
        words += ["--out", str(out)]
    return words + ["--wait"]


def certify_command(rid: str, words: list[str] | None) -> str:
    return shlex.join(["ledger", "certify", rid, *(words or [])])


def certify_retired(
    service: CertificateService, result: TxResult, options: dict[str, Any], words: list[str], *, wait: bool
) -> str:
    """Certify the retirement just mined; if that fails, say which retirement it was and how to finish."""
    event = result.event("CreditsRetired")
    rid = RetirementId.of(service.context.deployment.chain_id, event.tx_hash, event.log_index)

    def waiting(have: int, need: int) -> None:
        err_console.print(
            f"waiting for {need} confirmations of retirement {rid} (it has {have}); Ctrl-C stops, "
            f"and `{certify_command(rid, words)}` finishes later",
            highlight=False,
            markup=False,
        )

    try:
        service.catch_up(result.block_number)
        return service.certify([rid], wait=WAIT_LIMIT if wait else 0.0, on_wait=waiting, **options).certificate_id
    except (ServiceError, ChainError, KeyboardInterrupt) as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
        placeholders = any("=<" in w for w in words)
        fail(
            escape(
                f"retired as {rid}, but the certificate was not issued: {reason}. Finish "
                f"with: {certify_command(rid, words)}"
                + (" (type the personal fields' values where <…> stands)" if placeholders else "")
            )
        )
        raise  # fail() has already exited
