"""The certificate service as the operator's commands, the main job and the tests drive it:
certify retirements once the mirror has them, anchor per policy, revoke, and hand out documents."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlmodel import col, select

from certificates import anchoring, claim_rules, copies, finality, issuer, revocation
from certificates.context import ServiceContext
from certificates.db import create_schema
from certificates.errors import ServiceError
from certificates.settings import ServiceSettings
from chain.client import RegistryClient, TxResult
from chain.deploy import Deployment
from chain.errors import RegistryRevertError
from chain.registry import open_contract
from chain.types import RetirementId
from indexer.db import IndexerLockedError, WriterLock
from indexer.models import Retirement, SyncCursor
from indexer.sync import Indexer

log = logging.getLogger("ledger.certificates")
SNAPSHOT_WAIT = 30.0  # seconds a certification waits for the durable local node's snapshot to cover its retirements


class MirrorBehindError(ServiceError):
    pass


@dataclass
class CertificateService:
    context: ServiceContext
    client: RegistryClient  # signs anchors and revocations (ANCHORER_ROLE)
    indexer: Indexer | None = None  # this process's own indexer while nothing else runs it (`ledger up`)
    confirmations: int | None = None  # blocks on top of a retirement before certifying; None: LEDGER_CONFIRMATIONS
    settled: int = 0  # certificates numbered up to this are final: the reorganisation check starts above it

    @property
    def required_confirmations(self) -> int:
        if self.confirmations is not None:
            return self.confirmations
        return finality.required_confirmations(self.context.deployment.chain_id)

    @classmethod
    def open(
        cls, engine: Engine, deployment: Deployment, client: RegistryClient, settings: ServiceSettings | None = None
    ) -> CertificateService:
        create_schema(engine)
        return cls(ServiceContext(engine, deployment, settings or ServiceSettings(), client.rpc), client)

    @property
    def engine(self) -> Engine:
        return self.context.engine

    def revocations(self) -> RegistryClient:
        return open_contract(
            self.client.rpc, self.context.deployment, contract="CertificateRevocations", signer=self.client.signer
        )

    # ------------------------------------------------------------ the mirror

    def indexed_block(self) -> int:
        with self.engine.connect() as conn:
            at = conn.execute(
                select(SyncCursor.block_number).where(SyncCursor.chain_id == self.context.deployment.chain_id)
            ).scalar()
        return -1 if at is None else int(at)

    def catch_up(self, block: int, *, timeout: float = 60.0) -> None:
        """Make sure the mirror has seen `block`: index it ourselves, or, when an indexer is
        already running (`ledger up`), wait for it."""
        if self.indexed_block() >= block:
            return
        if self.indexer is not None:
            self.indexer.sync_once(until=block)
            return
        d = self.context.deployment
        try:
            with WriterLock(self.engine):
                Indexer(
                    self.client.rpc,
                    self.engine,
                    self.client.abi,
                    chain_id=d.chain_id,
                    address=d.address,
                    start_block=d.block_number,
                ).sync_once(until=block)
        except IndexerLockedError:
            pass
        deadline = time.monotonic() + timeout
        while self.indexed_block() < block:
            if time.monotonic() > deadline:
                raise MirrorBehindError(
                    f"the SQL mirror has not reached block {block} after {timeout:.0f} s; "
                    "is the indexer running (`ledger index`)?"
                )
            time.sleep(0.1)

    # ------------------------------------------------------------ certificates

    def has_certificates(self) -> bool:
        return bool(self.recent_certificates(1))

    def recent_certificates(self, limit: int = 20) -> list[str]:
        from certificates.models import CertificateRow

        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(CertificateRow.id).order_by(col(CertificateRow.number).desc()).limit(limit)
                ).scalars()
            )

    def seal_beneficiary(self, name: str) -> str:
        with self.engine.begin() as conn:
            return issuer.seal_beneficiary(conn, self.context.vault, name)

    def prepare_beneficiary(self, name: str) -> issuer.SealedBeneficiary:
        return issuer.prepare_beneficiary(self.context.vault, name)

    def store_beneficiary(self, sealed: issuer.SealedBeneficiary) -> str:
        with self.engine.begin() as conn:
            return issuer.store_beneficiary(conn, sealed)

    def forget_beneficiary(self, commitment: str) -> None:
        with self.engine.begin() as conn:
            issuer.forget_beneficiary(conn, commitment)

    def retirement_op_id(
        self, holder: str, batch: int, amount: int, scenario: str, beneficiary: str, claim_hash: bytes
    ) -> int:
        """The operation id of "this holder retires this much of this batch for this beneficiary and
        claim": the same on a re-run, so the chain refuses a second one. Keyed by the data key, so the
        id on chain does not reveal the beneficiary to someone trying names."""
        d = self.context.deployment
        request = "|".join(
            (
                str(d.chain_id),
                d.address.lower(),
                holder.lower(),
                str(batch),
                str(amount),
                scenario,
                claim_hash.hex(),
                beneficiary,
            )
        )
        return int.from_bytes(self.context.vault.fingerprint("retire", request), "big")

    def retirement_by_op_id(self, op_id: int) -> tuple[str, str | None] | None:
        """(retirement id, the certificate it backs, if any) for the retirement the mirror holds with this op id."""
        from certificates.models import CertificateClaim

        with self.engine.connect() as conn:
            rid = conn.execute(select(Retirement.id).where(Retirement.op_id == hex(op_id))).scalar()
            if rid is None:
                return None
            cert = conn.execute(
                select(CertificateClaim.certificate_id).where(CertificateClaim.retirement_id == rid)
            ).scalar()
        return rid, cert

    def retirement_refs(self, retirement_ids: list[str]) -> list[finality.RetirementRef]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Retirement.id, Retirement.tx_hash, Retirement.log_index, Retirement.block_number).where(
                    col(Retirement.id).in_(retirement_ids)
                )
            ).all()
        return [finality.RetirementRef(r.id, r.tx_hash, r.log_index, r.block_number) for r in rows]

    def require_final(
        self, retirement_ids: list[str], *, wait: float = 0.0, on_wait: Callable[[int, int], None] | None = None
    ) -> None:
        """Refuse retirements that are no longer on chain, have fewer confirmations than required
        (after waiting up to `wait` seconds for them), or, on the durable local node, lie above what
        its last snapshot covers (after waiting up to SNAPSHOT_WAIT seconds, or `wait`)."""
        refs = self.retirement_refs(retirement_ids)  # ids the mirror lacks are refused by name by the issuer
        finality.require_final(self.client.rpc, refs, self.required_confirmations, wait=wait, on_wait=on_wait)
        self._require_on_chain(refs)
        # the keeper snapshots within a second or two of a block: worth waiting for even without --wait;
        # a kill of the node meanwhile re-mines the blocks above its last snapshot, so look once more after
        finality.require_durable(self.client.rpc, refs, wait=max(wait, SNAPSHOT_WAIT))
        self._require_on_chain(refs)

    def _require_on_chain(self, refs: list[finality.RetirementRef]) -> None:
        gone = finality.missing(
            self.client.rpc, self.client.address, self.client.abi.event_topics["CreditsRetired"], refs
        )
        if gone:
            raise issuer.CertificationError(
                f"retirement {', '.join(r.id for r in gone)} is no longer on chain where the mirror has it (the chain "
                "reorganised); let the indexer catch up (`ledger index --once`) and retire again if it is gone"
            )

    def certify(
        self,
        retirement_ids: list[str],
        *,
        anchor: bool | None = None,
        wait: float = 0.0,
        on_wait: Callable[[int, int], None] | None = None,
        **kwargs: Any,
    ) -> issuer.Issued:
        """Issue the certificate once its retirements are final (LEDGER_CONFIRMATIONS; up to `wait`
        seconds are waited for them); then anchor per policy (`anchor=True` forces, False skips)."""
        self.require_final(retirement_ids, wait=wait, on_wait=on_wait)
        if kwargs.get("trees") is not None and "conversion" not in kwargs:
            # a tree duty converts at a published rule, named in the claim, never at a setting
            kwargs["kg_per_tree"], kwargs["conversion"], _ = claim_rules.tree_conversion()
        issued = issuer.certify(
            self.engine,
            self.context.log,
            self.context.vault,
            self.context.issuer,
            retirement_ids=retirement_ids,
            **kwargs,
        )
        if anchor is not False:
            self.anchor(force=bool(anchor))
        return issued

    def certify_shares(
        self,
        retirement_id: str,
        allocations: list[dict[str, Any]],
        *,
        anchor: bool | None = None,
        on_issued: Callable[[Connection, list[str]], None] | None = None,
    ) -> list[issuer.Issued]:
        """Many people's shares of one aggregated retirement in one transaction (issuer.certify_shares):
        the retirement is checked final once for all of them; then anchor per policy as `certify`."""
        self.require_final([retirement_id])
        issued = issuer.certify_shares(
            self.engine,
            self.context.log,
            self.context.issuer,
            retirement_id=retirement_id,
            allocations=allocations,
            on_issued=on_issued,
        )
        if anchor is not False and issued:
            self.anchor(force=bool(anchor))
        return issued

    def can_anchor(self) -> bool:
        signer = self.client.signer
        return signer is not None and self.client.has_role("ANCHORER_ROLE", signer.address)

    def anchor(self, *, force: bool = False) -> TxResult | None:
        """Anchor per policy; None when there is nothing to anchor, or when this key may not
        (a holder certifying its own retirement: the operator's next anchoring covers it)."""
        if not self.can_anchor():
            return None
        result = anchoring.anchor(
            self.client, self.engine, self.context.log, self.context.policy, force=force, settle=self.revoke_reorganised
        )
        if result is not None:
            self.catch_up(result.block_number)
        return result

    def revoke_reorganised(self) -> int:
        """Revoke every certificate whose retirement a reorganisation removed from the chain, through
        the ordinary revocation path (on chain, then a revocation entry in the log); tell the operator.
        Returns the certificate number up to which all are final (the next check starts above it)."""
        check = anchoring.reorganised(self.client, self.engine, after=self.settled)
        revoked: list[str] = []
        for cert_id, ref in check.vanished:
            if cert_id in revoked:
                continue
            tx = revocation.revoke(self.engine, self.context.log, self.revocations(), cert_id, finality.REORG_REASON)
            revoked.append(cert_id)
            log.warning(
                "revoked certificate %s automatically: its retirement %s (tx %s, block %d) is no longer on "
                "chain (%s); revocation tx %s",
                cert_id,
                ref.id,
                ref.tx_hash,
                ref.block_number,
                finality.REORG_REASON,
                tx or "already on chain",
                extra={"certificate_id": cert_id, "retirement_id": ref.id},
            )
        self.settled = check.settled
        return check.settled

    def revoke(self, cert_id: str, reason: str) -> str:
        tx = revocation.revoke(self.engine, self.context.log, self.revocations(), cert_id, reason)
        self.anchor()
        return tx

    def document(self, cert_id: str, *, holder_copy: bool = False, tree_size: int | None = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return copies.document(
                conn, self.context.log, cert_id, tree_size=tree_size, vault=self.context.vault if holder_copy else None
            )


def retire_and_certify(
    service: CertificateService, retire: Callable[[str], TxResult], beneficiary: str, **certify_kwargs: Any
) -> tuple[TxResult, issuer.Issued]:
    """Seal the beneficiary, retire with its commitment, wait for the mirror, certify. A retirement
    that reverts takes its sealed beneficiary with it."""
    commitment = service.seal_beneficiary(beneficiary)
    try:
        result = retire(commitment)
    except RegistryRevertError:
        service.forget_beneficiary(commitment)
        raise
    event = result.event("CreditsRetired")
    service.catch_up(result.block_number)
    rid = RetirementId.of(service.context.deployment.chain_id, event.tx_hash, event.log_index)
    return result, service.certify([rid], **certify_kwargs)
