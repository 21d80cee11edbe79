"""Every role-gated function called by every role: only the right one passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chain.client import RegistryClient
from chain.errors import RegistryRevertError
from chain.types import CancellationReason, MethodologyStatus, ParticipantKind, ParticipantStatus, ProjectStatus
from tests.conftest import HASH, METHODOLOGY, MONITORING, PROJECT, World

ROLES = ("admin", "registrar", "reviewer", "anchorer", "pauser", "owner", "stranger")

Call = Callable[[World, RegistryClient, Any], object]

GATED: dict[str, tuple[str, Call]] = {
    "fileMethodology": ("registrar", lambda w, c, s: c.file_methodology(w.op(), "SCFM-009-V01", 1, 1, HASH, sender=s)),
    "setMethodologyStatus": (
        "registrar",
        lambda w, c, s: c.set_methodology_status(w.op(), METHODOLOGY, MethodologyStatus.WITHDRAWN, sender=s),
    ),
    "registerParticipant": (
        "registrar",
        lambda w, c, s: c.register_participant(w.op(), w.cast.newcomer.address, ParticipantKind.ENTERPRISE, sender=s),
    ),
    "setParticipantStatus": (
        "registrar",
        lambda w, c, s: c.set_participant_status(w.op(), w.cast.buyer.address, ParticipantStatus.SUSPENDED, sender=s),
    ),
    "registerProject": (
        "registrar",
        lambda w, c, s: c.register_project(
            w.op(),
            project_id="P-2",
            methodology_id=METHODOLOGY,
            owner=w.cast.owner.address,
            county_code=511802,
            area_square_metres=1,
            crediting_start=1,
            crediting_end=2,
            documents_hash=HASH,
            parcels=[b"\x09" * 32],
            sender=s,
        ),
    ),
    "setProjectStatus": (
        "registrar",
        lambda w, c, s: c.set_project_status(w.op(), PROJECT, ProjectStatus.SUSPENDED, sender=s),
    ),
    "issue": (
        "registrar",
        lambda w, c, s: c.issue(
            w.op(),
            project_id=PROJECT,
            vintage=2024,
            monitoring_start=MONITORING[0],
            monitoring_end=MONITORING[1],
            quantity=10,
            reserve_bps=0,
            verification_report_hash=HASH,
            sender=s,
        ),
    ),
    "importCredits": (
        "registrar",
        lambda w, c, s: c.import_credits(
            w.op(),
            origin_key=b"\x0a" * 32,
            origin_registry="CQ",
            project_id=PROJECT,
            to=w.cast.buyer.address,
            vintage=2023,
            quantity=5,
            evidence_hash=HASH,
            sender=s,
        ),
    ),
    "cancel": (
        "registrar",
        lambda w, c, s: c.cancel(
            w.op(), w.cast.holder.address, w.batch_id, 1, CancellationReason.FRAUD, HASH, sender=s
        ),
    ),
    "requestExport": (
        "registrar",
        lambda w, c, s: c.request_export(w.op(), w.cast.holder.address, w.batch_id, 1, "CQ", HASH, sender=s),
    ),
    "anchorLogRoot": ("anchorer", lambda w, c, s: c.anchor_log_root(7, HASH, sender=s)),
    "pause": ("pauser", lambda w, c, s: c.pause(sender=s)),
    "grantRole": ("admin", lambda w, c, s: c.grant_role("REGISTRAR_ROLE", w.cast.newcomer.address, sender=s)),
    "upgradeToAndCall": ("admin", lambda w, c, s: c.upgrade_to(w.registry.deployment.implementation, sender=s)),
}


def test_review_is_gated_by_the_reviewer_role(world: World) -> None:
    c = world.client
    c.register_project(
        world.op(),
        project_id="P-REVIEW",
        methodology_id=METHODOLOGY,
        owner=world.cast.owner.address,
        county_code=511802,
        area_square_metres=1,
        crediting_start=1,
        crediting_end=2,
        documents_hash=HASH,
        parcels=[b"\x0b" * 32],
    )
    for role in ROLES:
        account = getattr(world.cast, role)
        sim = c.simulate("reviewProject", (world.op(), b"P-REVIEW".ljust(32, b"\0"), True, HASH), sender=account)
        assert sim.ok == (role == "reviewer"), role


@pytest.mark.parametrize("function", sorted(GATED))
def test_only_the_right_role_may_call(world: World, function: str) -> None:
    required, call = GATED[function]
    for role in ROLES:
        account = getattr(world.cast, role)
        snapshot = world.client.rpc.call("evm_snapshot")
        try:
            if role == required:
                call(world, world.client, account)
            else:
                with pytest.raises(RegistryRevertError) as refused:
                    call(world, world.client, account)
                assert refused.value.name == "AccessControlUnauthorizedAccount", (function, role)
                assert refused.value.args_by_name["account"] == account.address
        finally:
            world.client.rpc.call("evm_revert", snapshot)


def test_unpause_needs_the_admin(world: World) -> None:
    world.client.pause(sender=world.cast.pauser)
    for role in ROLES:
        sim = world.client.simulate("unpause", (), sender=getattr(world.cast, role))
        assert sim.ok == (role == "admin"), role
