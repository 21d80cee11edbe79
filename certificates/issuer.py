"""Where retirements (mirror rows) become a certificate: checked, committed, sealed, appended
to the transparency log, all in one database transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from certificates import allocation as allocations
from certificates import court_reference
from certificates import footprint_report as reports
from certificates.document import FORMAT, field_commitment, iso_utc, leaf_hash, make_claim, new_salt
from certificates.errors import ServiceError
from certificates.models import BeneficiarySecret, CertificateClaim, CertificateRow
from certificates.origins import add_origins
from certificates.scenarios import BY_ENUM_NAME, FieldSpec, ScenarioSpec, scenario
from certificates.translog.log import TransparencyLog
from certificates.vault import Vault
from chain.types import RetirementId
from indexer.models import Lot, Retirement

DEFAULT_KG_PER_TREE = 400  # China Green Carbon Foundation: 3–5 trees ≈ 1.2–2 t, i.e. ~0.4 t per tree
# the revocation reason of a certificate whose retirement a reorganisation removed (certificates/service.py)
REORG_REASON = "retirement reorganised away"


class CertificationError(ServiceError, ValueError):
    """The certificate cannot be issued as asked; the message names the problem and the fix."""


@dataclass(frozen=True)
class Issuer:
    name: str
    chain_id: int
    registry: str  # checksummed
    revocations: str  # checksummed

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "chain_id": self.chain_id,
            "registry": self.registry,
            "revocations": self.revocations,
        }


@dataclass(frozen=True)
class Issued:
    certificate_id: str
    leaf_index: int
    leaf_hash: str
    body: dict[str, Any]


def beneficiary_commitment(name: str, salt: str) -> str:
    """The bytes32 that `retire` puts on chain for this beneficiary (0x-hex)."""
    return "0x" + field_commitment("beneficiary", name, salt)


@dataclass(frozen=True)
class SealedBeneficiary:
    """A beneficiary and a fresh salt, sealed, not yet stored: the commitment can be simulated
    on chain first, so a retirement that would fail leaves nothing behind."""

    commitment: str  # 0x + 64 hex, for the chain
    sealed: bytes


def prepare_beneficiary(vault: Vault, name: str) -> SealedBeneficiary:
    salt = new_salt()
    commitment = beneficiary_commitment(name, salt)
    return SealedBeneficiary(commitment, vault.seal(commitment, {"value": name, "salt": salt}))


def store_beneficiary(conn: Connection, sealed: SealedBeneficiary) -> str:
    conn.execute(
        insert(BeneficiarySecret).values(
            commitment=sealed.commitment, sealed=sealed.sealed, created_at=int(time.time())
        )
    )
    return sealed.commitment


def forget_beneficiary(conn: Connection, commitment: str) -> None:
    """Drop a sealed beneficiary whose retirement never happened (it reverted)."""
    conn.execute(delete(BeneficiarySecret).where(col(BeneficiarySecret.commitment) == commitment))


def seal_beneficiary(conn: Connection, vault: Vault, name: str) -> str:
    """Choose a salt for a beneficiary about to be named in a retirement; keep both sealed.
    Returns the commitment for the chain."""
    return store_beneficiary(conn, prepare_beneficiary(vault, name))


def check_request(
    scenario_key: str,
    fields: dict[str, Any],
    *,
    beneficiary: str | None,
    quantity: int,
    footprint_kg: int | None = None,
    trees: int | None = None,
    kg_per_tree: int = DEFAULT_KG_PER_TREE,
    footprint_report: dict[str, Any] | None = None,
    conversion: dict[str, Any] | None = None,  # the published rule the claim converts by (document.make_claim)
) -> None:
    """Refuse what `certify` would refuse about the request itself (scenario, fields, claim), so
    `retire --certify` can stop before anything is mined."""
    try:
        spec = scenario(scenario_key)
    except ValueError as exc:
        raise CertificationError(str(exc)) from None
    values = dict(fields)
    if beneficiary is not None:
        values.setdefault("beneficiary", beneficiary)
    footprint_kg = _from_report(spec, footprint_report, values, footprint_kg)
    _fields(spec, values)
    try:
        make_claim(
            spec, quantity, footprint_kg=footprint_kg, trees=trees, kg_per_tree=kg_per_tree, conversion=conversion
        )
    except ValueError as exc:
        raise CertificationError(str(exc)) from None


def _from_report(
    spec: ScenarioSpec, report: dict[str, Any] | None, values: dict[str, Any], footprint_kg: int | None
) -> int | None:
    """The claim's footprint, and into `values` the fields the footprint report fills in (its hash, a
    large event's per-source totals); unchanged without a report."""
    if report is None:
        return footprint_kg
    try:
        derived, total = reports.derive(spec, report, fields=values, footprint_kg=footprint_kg)
    except reports.FootprintReportError as exc:
        raise CertificationError(str(exc)) from None
    values.update(derived)
    return total


def _fields(spec: ScenarioSpec, given: dict[str, Any]) -> dict[str, FieldSpec]:
    known = {f.name: f for f in spec.fields}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise CertificationError(
            f"{spec.key} certificates have no field {', '.join(unknown)}; the fields are {', '.join(known)}"
        )
    missing = [f.name for f in spec.fields if f.required and given.get(f.name) in (None, "")]
    if missing:
        raise CertificationError(f"{spec.key} certificates need {', '.join(missing)}")
    for name, value in given.items():
        if known[name].integer and (isinstance(value, bool) or not isinstance(value, int)):
            raise CertificationError(f"field {name} is a whole number, not {value!r}")
        if not known[name].integer and not isinstance(value, str):
            raise CertificationError(f"field {name} is text, not {value!r}")
    return known


def certify(
    engine: Engine,
    log: TransparencyLog,
    vault: Vault,
    issuer: Issuer,
    *,
    retirement_ids: list[str],
    scenario_key: str,
    fields: dict[str, Any],
    disclose: AbstractSet[str] = frozenset(),
    footprint_kg: int | None = None,
    trees: int | None = None,
    kg_per_tree: int = DEFAULT_KG_PER_TREE,
    beneficiary_salt: str | None = None,
    now: int | None = None,
    footprint_report: dict[str, Any] | None = None,
    conversion: dict[str, Any] | None = None,
    allocation: dict[str, Any] | None = None,
    on_issued: Callable[[Connection, str], None] | None = None,
) -> Issued:
    """Issue the certificate of `retirement_ids`. With `footprint_report` (a footprint/ report), the
    claim's footprint is the report's total and the report is committed (certificates/footprint_report.py).
    With `allocation` ({"leaf", "proof"}, docs/offsets.md) it is one person's share of an aggregated
    retirement, which backs many such certificates; `on_issued` runs in the issuing transaction."""
    try:
        spec = scenario(scenario_key)
    except ValueError as exc:
        raise CertificationError(str(exc)) from None
    fields = dict(fields)
    footprint_kg = _from_report(spec, footprint_report, fields, footprint_kg)  # before any SQL: it recomputes
    if not retirement_ids or len(set(retirement_ids)) != len(retirement_ids):
        raise CertificationError(f"name each retirement once ({RetirementId.FORM})")
    with engine.begin() as conn:
        retirements = _retirement_rows(conn, spec, retirement_ids)
        ranges = _serial_ranges(conn, retirement_ids)
        claimed = conn.execute(
            select(CertificateClaim.retirement_id, CertificateClaim.certificate_id, CertificateRow.revocation_reason)
            .join(CertificateRow, col(CertificateRow.id) == CertificateClaim.certificate_id)
            .where(col(CertificateClaim.retirement_id).in_(retirement_ids))
        ).all()
        # a retirement whose transaction was mined again after a reorganisation keeps its id; the
        # certificate revoked for the reorganisation gives the claim up
        released = [c.retirement_id for c in claimed if c.revocation_reason == REORG_REASON]
        claimed = [c for c in claimed if c.revocation_reason != REORG_REASON]
        if released:
            conn.execute(delete(CertificateClaim).where(col(CertificateClaim.retirement_id).in_(released)))
        if claimed:
            raise CertificationError(
                "retirement "
                + ", ".join(f"{c.retirement_id} already backs {c.certificate_id}" for c in claimed)
                + "; a retirement backs one certificate"
            )
        values = dict(fields)
        on_chain = retirements[0].beneficiary_commitment
        if allocation is None:
            salts = _beneficiary(conn, vault, values, on_chain, beneficiary_salt)
            specs = _fields(spec, values)
            for name in values:
                salts.setdefault(name, new_salt())
            commitments = {n: field_commitment(n, v, salts[n]) for n, v in values.items()}
            quantity = sum(r.amount for r in retirements)
        else:
            salts, specs = {}, {}
            commitments, quantity = _allocated(spec, retirements, allocation, values, ranges)
            footprint_kg = quantity if footprint_kg is None else footprint_kg
        claim = _claim(
            spec, quantity, footprint_kg=footprint_kg, trees=trees, kg_per_tree=kg_per_tree, conversion=conversion
        )
        _require_case_committed(spec, claim, values, retirements)
        now = now or int(time.time())
        number = _next_number(conn)
        cert_id = _certificate_id(issuer, number)
        body = _body(cert_id, spec, issuer, now, claim, commitments, retirements, ranges, allocation)
        add_origins(conn, body)
        leaf = leaf_hash(body)
        public = {n: {"value": values[n], "salt": salts[n]} for n in values if not specs[n].personal or n in disclose}
        personal = {n: {"value": values[n], "salt": salts[n]} for n in values if n not in public}
        if footprint_report is not None:
            reports.store(conn, vault, footprint_report, sealed=reports.FIELD not in public)
        [index] = log.append(conn, [(leaf, "certificate", cert_id)])
        try:
            conn.execute(
                insert(CertificateRow).values(
                    _row(
                        Issued(cert_id, index, leaf.hex(), body),
                        number,
                        retirements[0].holder,
                        public,
                        vault.seal(cert_id, personal) if personal else None,
                        quantity,
                        now,
                    )
                )
            )
            if allocation is None:  # an aggregated retirement backs one certificate a person instead
                conn.execute(
                    insert(CertificateClaim), [{"retirement_id": r, "certificate_id": cert_id} for r in retirement_ids]
                )
            if on_issued is not None:
                on_issued(conn, cert_id)
        except IntegrityError:
            raise CertificationError(RACED) from None
        return Issued(cert_id, index, leaf.hex(), body)


RACED = "another certificate was issued at the same moment for these retirements, or took this number; run the command again"


def certify_shares(
    engine: Engine,
    log: TransparencyLog,
    issuer: Issuer,
    *,
    retirement_id: str,
    allocations: Sequence[dict[str, Any]],
    now: int | None = None,
    on_issued: Callable[[Connection, list[str]], None] | None = None,
) -> list[Issued]:
    """The bulk form of `certify(..., allocation=...)`: one personal certificate per share of ONE
    aggregated retirement (docs/offsets.md §6), each checked and built by the same code as a single
    one, all in ONE transaction: one read of the retirement and its serials, one log append of every
    leaf, one multi-row insert of the rows, then `on_issued(conn, certificate ids)` (in the order of
    `allocations`). A crash or a refused share leaves none of them issued. No vault: a share has
    no personal field to seal (the person is known by the account commitment only)."""
    spec = scenario("Personal")
    if not allocations:
        return []
    with engine.begin() as conn:
        retirements = _retirement_rows(conn, spec, [retirement_id])
        ranges = _serial_ranges(conn, [retirement_id])
        now = now or int(time.time())
        first = _next_number(conn)
        holder = retirements[0].holder
        issued: list[Issued] = []
        quantities: list[int] = []
        origins: dict[int, dict[str, Any] | None] = {}
        for n, allocation in enumerate(allocations):
            try:
                commitments, quantity = _allocated(spec, retirements, allocation, {}, ranges)
            except CertificationError as exc:
                leaf = allocation.get("leaf") if isinstance(allocation, dict) else None
                pid = leaf.get("purchase_id") if isinstance(leaf, dict) else None
                raise CertificationError(f"share {n + 1} (purchase {pid}): {exc}") from None
            claim = _claim(spec, quantity, footprint_kg=quantity)
            cert_id = _certificate_id(issuer, first + n)
            body = _body(cert_id, spec, issuer, now, claim, commitments, retirements, ranges, allocation)
            add_origins(conn, body, origins)
            issued.append(Issued(cert_id, -1, leaf_hash(body).hex(), body))
            quantities.append(quantity)
        indexes = log.append(conn, [(bytes.fromhex(i.leaf_hash), "certificate", i.certificate_id) for i in issued])
        issued = [
            Issued(i.certificate_id, index, i.leaf_hash, i.body) for i, index in zip(issued, indexes, strict=True)
        ]
        try:
            conn.execute(
                insert(CertificateRow),
                [
                    _row(i, first + n, holder, {}, None, q, now)
                    for n, (i, q) in enumerate(zip(issued, quantities, strict=True))
                ],
            )
            if on_issued is not None:
                on_issued(conn, [i.certificate_id for i in issued])
        except IntegrityError:
            raise CertificationError(RACED) from None
    return issued


def _retirement_rows(conn: Connection, spec: ScenarioSpec, retirement_ids: list[str]) -> list[Any]:
    """The mirror's rows of the retirements, in the order named, once they can back one certificate."""
    rows = {r.id: r for r in conn.execute(select(Retirement).where(col(Retirement.id).in_(retirement_ids)))}
    unseen = [r for r in retirement_ids if r not in rows]
    if unseen:
        raise CertificationError(
            f"the mirror has no retirement {', '.join(unseen)}; check the id, "
            "or let the indexer catch up (`ledger index --once`)"
        )
    retirements = [rows[r] for r in retirement_ids]
    wrong = [r.id for r in retirements if BY_ENUM_NAME.get(r.scenario) != spec.key]
    if wrong:
        raise CertificationError(f"retirement {', '.join(wrong)} was not made for the {spec.key} scenario")
    if len({r.beneficiary_commitment for r in retirements}) != 1:
        raise CertificationError("the retirements name different beneficiaries; certify them separately")
    if len({r.holder for r in retirements}) != 1:
        raise CertificationError("the retirements were made by different holders; certify them separately")
    return retirements


def _claim(spec: ScenarioSpec, quantity: int, **kwargs: Any) -> dict[str, Any]:
    try:
        return make_claim(spec, quantity, **kwargs)
    except ValueError as exc:
        raise CertificationError(str(exc)) from None


def _next_number(conn: Connection) -> int:
    return int(conn.execute(select(func.max(CertificateRow.number))).scalar() or 0) + 1


def _certificate_id(issuer: Issuer, number: int) -> str:
    return f"SCCW-{issuer.chain_id}-{number:06d}"


def _body(
    cert_id: str,
    spec: ScenarioSpec,
    issuer: Issuer,
    now: int,
    claim: dict[str, Any],
    commitments: dict[str, str],
    retirements: list[Any],
    ranges: dict[str, list[tuple[int, int]]],
    allocation: dict[str, Any] | None,
) -> dict[str, Any]:
    """The certificate body: what the log leaf commits to (docs/certificate-format.md)."""
    body: dict[str, Any] = {
        "format": FORMAT,
        "id": cert_id,
        "scenario": spec.key,
        "issuer": issuer.as_json(),
        "issued_at": iso_utc(now),
        "claim": claim,
        "fields": commitments,
        "retirements": [
            {
                "id": r.id,
                "chain_id": issuer.chain_id,
                "registry": issuer.registry,
                "tx_hash": r.tx_hash,
                "log_index": r.log_index,
                "block_number": r.block_number,
                "batch_id": r.batch_id,
                "holder": r.holder,
                "amount_kg": r.amount,
                "beneficiary_commitment": r.beneficiary_commitment,
                "serial_ranges": [[first, last] for first, last in ranges[r.id]],
            }
            for r in retirements
        ],
    }
    if allocation is not None:
        body["allocation"] = allocation
    return body


def _row(
    issued: Issued,
    number: int,
    holder: str,
    public: dict[str, Any],
    sealed: bytes | None,
    quantity: int,
    now: int,
) -> dict[str, Any]:
    """The `certificates` row of an issued certificate."""
    return {
        "id": issued.certificate_id,
        "number": number,
        "scenario": issued.body["scenario"],
        "holder": holder,
        "leaf_index": issued.leaf_index,
        "leaf_hash": issued.leaf_hash,
        "body": json.dumps(issued.body, ensure_ascii=False, sort_keys=True),
        "public_fields": json.dumps(public, ensure_ascii=False, sort_keys=True),
        "sealed_fields": sealed,
        "quantity_kg": quantity,
        "issued_at": now,
    }


def _allocated(
    spec: ScenarioSpec,
    retirements: list[Any],
    allocation: dict[str, Any],
    values: dict[str, Any],
    serial_ranges: dict[str, list[tuple[int, int]]],
) -> tuple[dict[str, str], int]:
    """The fields and quantity of one person's share of an aggregated retirement, once the share is
    proven to the retirement's claim hash and serials. The person is known by their account's
    commitment only; the beneficiary commitment on chain is the allocation root (docs/offsets.md)."""
    if spec.key != "Personal" or len(retirements) != 1 or values:
        raise CertificationError("a personal share names one Personal retirement and no fields of its own")
    if not isinstance(allocation, dict) or set(allocation) != {"leaf", "proof"}:
        raise CertificationError('an allocation is {"leaf": …, "proof": …} (docs/offsets.md)')
    r = retirements[0]
    ranges = [[a, b] for a, b in serial_ranges[r.id]]
    failure = allocations.check(allocation["leaf"], allocation["proof"], str(r.claim_hash), ranges)
    if failure is not None:
        raise CertificationError(f"the allocation fails its {failure.check} check: {failure.detail}")
    leaf = allocation["leaf"]
    return {
        "beneficiary": str(r.beneficiary_commitment).removeprefix("0x"),
        "account": leaf["account_commitment"],
    }, int(leaf["kg"])


def _require_case_committed(
    spec: ScenarioSpec, claim: dict[str, Any], values: dict[str, Any], retirements: list[Any]
) -> None:
    """A court order's certificate (a damages claim with its rule) only for retirements whose claim hash
    commits to the case it names: every verifier compares the two (docs/certificate-format.md §5.2), so
    a retirement made otherwise (`ledger retire`) would give a certificate that fails. `ledger court
    retire` is the one way to retire a court order."""
    if not court_reference.is_court_claim(spec.key, claim):
        return
    ref = court_reference.reference(
        **{name: values.get(name) for name in court_reference.CASE_FIELDS},
        damages_yuan=claim["damages_yuan"],
        rule=claim["rule"],
        obligation_kg=claim["obligation_kg"],
    )
    expected = court_reference.claim_hash(ref)
    other = [r.id for r in retirements if str(r.claim_hash).lower() != expected]
    if other:
        raise CertificationError(
            f"retirement {', '.join(other)} does not commit to case {values.get('case_number')} (its claim hash is "
            "not this case's reference); retire a court order with `ledger court retire --case FILE`, which commits it"
        )


def _beneficiary(
    conn: Connection, vault: Vault, values: dict[str, Any], on_chain: str, salt: str | None
) -> dict[str, str]:
    """The salt of the beneficiary field, such that its commitment is the one on chain."""
    if salt is None:
        row = conn.execute(select(BeneficiarySecret).where(BeneficiarySecret.commitment == on_chain)).first()
        if row is None:
            raise CertificationError(
                "the beneficiary's salt for this retirement is not on record; give the "
                "beneficiary and the salt used at retirement (--beneficiary, --beneficiary-salt)"
            )
        secret = vault.open(on_chain, row.sealed)
        values.setdefault("beneficiary", secret["value"])
        salt = secret["salt"]
    if "beneficiary" not in values:
        raise CertificationError("name the beneficiary (--field beneficiary=...)")
    if beneficiary_commitment(values["beneficiary"], salt) != on_chain:
        raise CertificationError("the beneficiary and salt do not match the commitment the retirement put on chain")
    return {"beneficiary": salt}


def _serial_ranges(conn: Connection, retirement_ids: list[str]) -> dict[str, list[tuple[int, int]]]:
    ranges: dict[str, list[tuple[int, int]]] = {r: [] for r in retirement_ids}
    for lot in conn.execute(
        select(Lot.retirement_id, Lot.first_serial, Lot.last_serial)
        .where(col(Lot.retirement_id).in_(retirement_ids))
        .order_by(col(Lot.first_serial))
    ):
        ranges[lot.retirement_id].append((lot.first_serial, lot.last_serial))
    return ranges
