"""Deployment is idempotent and recorded per chain id; re-deploying happens only when asked."""

from __future__ import annotations

import json

from chain.deploy import load_deployment
from chain.local import open_local_registry


def test_a_second_deploy_reuses_the_recorded_contract(anvil, build, tmp_deployments) -> None:
    first = open_local_registry(anvil.url, deployments_dir=tmp_deployments, build=build)
    again = open_local_registry(anvil.url, deployments_dir=tmp_deployments, build=build)
    assert first.created and not again.created
    assert again.deployment == first.deployment
    record = json.loads((tmp_deployments / "31337.json").read_text())
    assert record["address"] == first.deployment.address
    assert record["compiler_version"] == build.compiler_version
    assert record["bytecode_hash"] == build["CarbonRegistry"].bytecode_hash
    assert {"block_number", "block_hash", "tx_hash", "implementation", "admin"} <= record.keys()
    forced = open_local_registry(anvil.url, deployments_dir=tmp_deployments, build=build, force=True)
    assert forced.created and forced.deployment.address != first.deployment.address
    assert load_deployment(tmp_deployments, 31337) == forced.deployment
    assert forced.client.roles_of(forced.admin.address) == [
        "REGISTRAR_ROLE",
        "REVIEWER_ROLE",
        "ANCHORER_ROLE",
        "PAUSER_ROLE",
        "DEFAULT_ADMIN_ROLE",
    ]
