"""The certificate service as the operator's commands, the main job and the tests drive it:
certify retirements once the mirror has them, anchor per policy, revoke, and hand out documents."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from api.certificates import anchoring, documents, issuer, revocation
from api.context import ServiceContext
from api.db import create_schema
from api.errors import ServiceError
from api.settings import ApiSettings
from chain.abi import ContractAbi
from chain.client import RegistryClient, TxResult
from chain.compiler import compile_contracts
from chain.deploy import Deployment
from indexer.db import IndexerLockedError, WriterLock
from indexer.models import SyncCursor
from indexer.sync import Indexer


class MirrorBehindError(ServiceError):
    pass


@dataclass
class CertificateService:
    context: ServiceContext
    client: RegistryClient  # signs anchors and revocations (ANCHORER_ROLE)
    indexer: Indexer | None = None  # this process's own indexer while nothing else runs it (`ledger up`)

    @classmethod
    def open(cls, engine: Engine, deployment: Deployment, client: RegistryClient,
             settings: ApiSettings | None = None) -> CertificateService:
        create_schema(engine)
        return cls(ServiceContext(engine, deployment, settings or ApiSettings(), client.rpc), client)

    @property
    def engine(self) -> Engine:
        return self.context.engine

    def revocations(self) -> RegistryClient:
        abi = ContractAbi(compile_contracts()["CertificateRevocations"].abi)
        c = self.client
        return RegistryClient(c.rpc, self.context.deployment.revocations, abi, chain_id=c.chain_id, signer=c.signer)

    # ------------------------------------------------------------ the mirror

    def indexed_block(self) -> int:
        with self.engine.connect() as conn:
            at = conn.execute(select(SyncCursor.block_number).where(
                SyncCursor.chain_id == self.context.deployment.chain_id)).scalar()
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
                Indexer(self.client.rpc, self.engine, self.client.abi, chain_id=d.chain_id, address=d.address,
                        start_block=d.block_number).sync_once(until=block)
        except IndexerLockedError:
            pass
        deadline = time.monotonic() + timeout
        while self.indexed_block() < block:
            if time.monotonic() > deadline:
                raise MirrorBehindError(f"the SQL mirror has not reached block {block} after {timeout:.0f} s; "
                                        "is the indexer running (`ledger index`)?")
            time.sleep(0.1)

    # ------------------------------------------------------------ certificates

    def has_certificates(self) -> bool:
        return bool(self.recent_certificates(1))

    def recent_certificates(self, limit: int = 20) -> list[str]:
        from api.certificates.models import CertificateRow

        with self.engine.connect() as conn:
            return list(conn.execute(select(CertificateRow.id).order_by(CertificateRow.number.desc()).limit(limit)).scalars())  # type: ignore[attr-defined]

    def seal_beneficiary(self, name: str) -> str:
        with self.engine.begin() as conn:
            return issuer.seal_beneficiary(conn, self.context.vault, name)

    def certify(self, retirement_ids: list[str], *, anchor: bool | None = None, **kwargs: Any) -> issuer.Issued:
        """Issue the certificate; then anchor per policy (`anchor=True` forces, False skips)."""
        kwargs.setdefault("kg_per_tree", self.context.settings.kg_per_tree)
        issued = issuer.certify(self.engine, self.context.log, self.context.vault, self.context.issuer,
                                retirement_ids=retirement_ids, **kwargs)
        if anchor is not False:
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
        result = anchoring.anchor(self.client, self.engine, self.context.log, self.context.policy, force=force)
        if result is not None:
            self.catch_up(result.block_number)
        return result

    def revoke(self, cert_id: str, reason: str) -> str:
        tx = revocation.revoke(self.engine, self.context.log, self.revocations(), cert_id, reason)
        self.anchor()
        return tx

    def document(self, cert_id: str, *, holder_copy: bool = False, tree_size: int | None = None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return documents.document(conn, self.context.log, cert_id, tree_size=tree_size,
                                      vault=self.context.vault if holder_copy else None)


def retire_and_certify(service: CertificateService, retire: Callable[[str], TxResult], beneficiary: str,
                       **certify_kwargs: Any) -> tuple[TxResult, issuer.Issued]:
    """Seal the beneficiary, retire with its commitment, wait for the mirror, certify."""
    commitment = service.seal_beneficiary(beneficiary)
    result = retire(commitment)
    event = result.event("CreditsRetired")
    service.catch_up(result.block_number)
    rid = f"{service.context.deployment.chain_id}-{event.tx_hash}-{event.log_index}"
    return result, service.certify([rid], **certify_kwargs)
