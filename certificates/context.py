"""The registry as the certificate service and the API see it: the database, the log, the
deployment (chain id, registry, revocation list) and the data key."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from eth_utils import to_checksum_address
from sqlalchemy import Engine

from certificates.anchoring import AnchorPolicy
from certificates.evidence import MirrorEvidence
from certificates.issuer import Issuer
from certificates.settings import ServiceSettings
from certificates.translog.log import TransparencyLog
from certificates.vault import Vault
from chain.deploy import Deployment
from chain.rpc import JsonRpc
from indexer.sync import FollowStatus


@dataclass
class ServiceContext:
    engine: Engine
    deployment: Deployment
    settings: ServiceSettings
    rpc: JsonRpc | None = None  # for /health's indexer lag only; verification never calls the node
    indexer_status: FollowStatus | None = None  # this process's following indexer (`ledger up`), for /health

    @cached_property
    def log(self) -> TransparencyLog:
        return TransparencyLog(self.engine)

    @cached_property
    def issuer(self) -> Issuer:
        d = self.deployment
        return Issuer(
            self.settings.registry_name,
            d.chain_id,
            to_checksum_address(d.address),
            to_checksum_address(d.revocations) if d.revocations else "",
        )

    @cached_property
    def evidence(self) -> MirrorEvidence:
        return MirrorEvidence(self.engine, chain_id=self.deployment.chain_id, registry=self.deployment.address)

    @cached_property
    def vault(self) -> Vault:
        return Vault()

    @property
    def policy(self) -> AnchorPolicy:
        return AnchorPolicy(self.settings.anchor_every, self.settings.anchor_interval)

    @classmethod
    def from_environment(cls) -> ServiceContext:
        """The context of one API worker, from the environment (LEDGER_*, DATABASE_URL): its own pool,
        sized for the requests it admits (docs/api.md, "Load"), the schema brought up to date."""
        from certificates.db import api_engine, create_schema
        from chain.connection import connect
        from chain.deploy import require_deployment
        from chain.settings import ChainSettings

        chain = ChainSettings()
        deployment = require_deployment(chain.deployments_path, chain.chain_id)
        settings = ServiceSettings()
        engine = api_engine(settings)
        create_schema(engine)
        return cls(engine, deployment, settings, connect(chain.effective_rpc_url, chain.chain_id))

    def verify_url(self, cert_id: str) -> str:
        return f"{self.settings.base_url}/verify/{cert_id}"
