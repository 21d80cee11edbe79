"""Methodologies, projects, and land-parcel uniqueness."""

from __future__ import annotations

import pytest

from chain.errors import RegistryRevertError
from chain.types import Ecosystem, MethodologyStatus, ProjectStatus
from tests.conftest import HASH, METHODOLOGY, MONITORING, PROJECT, World

PARCEL_TAKEN = b"\x01" * 32


def register(world: World, project_id: str, parcels: list[bytes], methodology: str = METHODOLOGY):
    return world.client.register_project(
        world.op(),
        project_id=project_id,
        methodology_id=methodology,
        owner=world.cast.owner.address,
        county_code=510100,
        area_square_metres=10_000,
        crediting_start=1,
        crediting_end=2,
        documents_hash=HASH,
        parcels=parcels,
    )


def test_a_parcel_of_a_live_project_cannot_join_another(world: World) -> None:
    with pytest.raises(RegistryRevertError) as refused:
        register(world, "P-DUP", [b"\x03" * 32, PARCEL_TAKEN])
    assert refused.value.name == "RegistryParcelClaimed"
    assert refused.value.args_by_name == {"parcel": PARCEL_TAKEN, "projectId": PROJECT}
    # nothing was half-applied: the first parcel is still free
    assert world.client.view("parcelProject", b"\x03" * 32) == b"\0" * 32


def test_a_parcel_listed_twice_is_refused(world: World) -> None:
    with pytest.raises(RegistryRevertError, match="RegistryParcelClaimed"):
        register(world, "P-TWICE", [b"\x04" * 32, b"\x04" * 32])


def test_a_parcel_is_free_again_once_its_project_is_revoked(world: World) -> None:
    world.client.set_project_status(world.op(), PROJECT, ProjectStatus.REVOKED, HASH)
    register(world, "P-NEXT", [PARCEL_TAKEN])
    assert world.client.view("parcelProject", PARCEL_TAKEN) == b"P-NEXT".ljust(32, b"\0")


def test_the_review_decides_registration_and_only_registered_projects_issue(world: World) -> None:
    c = world.client
    register(world, "P-NEW", [b"\x05" * 32])
    assert c.project("P-NEW").status == ProjectStatus.SUBMITTED
    issue = dict(
        project_id="P-NEW",
        vintage=2024,
        monitoring_start=1,
        monitoring_end=2,
        quantity=5,
        reserve_bps=0,
        verification_report_hash=HASH,
    )
    with pytest.raises(RegistryRevertError, match="RegistryProjectNotInStatus"):
        c.issue(world.op(), **issue)
    c.review_project(world.op(), "P-NEW", False, HASH, sender=world.cast.reviewer)
    assert c.project("P-NEW").status == ProjectStatus.REJECTED
    with pytest.raises(RegistryRevertError, match="RegistryProjectNotInStatus"):
        c.review_project(world.op(), "P-NEW", True, HASH, sender=world.cast.reviewer)


def test_project_status_transitions(world: World) -> None:
    c = world.client
    c.set_project_status(world.op(), PROJECT, ProjectStatus.SUSPENDED, HASH)
    with pytest.raises(RegistryRevertError, match="RegistryProjectNotInStatus"):
        c.issue(
            world.op(),
            project_id=PROJECT,
            vintage=2024,
            monitoring_start=MONITORING[0],
            monitoring_end=MONITORING[1],
            quantity=5,
            reserve_bps=0,
            verification_report_hash=HASH,
        )
    c.set_project_status(world.op(), PROJECT, ProjectStatus.REGISTERED, HASH)
    c.set_project_status(world.op(), PROJECT, ProjectStatus.CLOSED, HASH)
    with pytest.raises(RegistryRevertError, match="RegistryInvalidProjectTransition"):
        c.set_project_status(world.op(), PROJECT, ProjectStatus.REGISTERED, HASH)


def test_issuance_outside_the_crediting_period_is_refused(world: World) -> None:
    with pytest.raises(RegistryRevertError, match="RegistryInvalidPeriod"):
        world.client.issue(
            world.op(),
            project_id=PROJECT,
            vintage=2041,
            monitoring_start=2_208_988_800,
            monitoring_end=2_240_524_800,
            quantity=5,
            reserve_bps=0,
            verification_report_hash=HASH,
        )


def test_methodology_lifecycle(world: World) -> None:
    c = world.client
    c.file_methodology(world.op(), "SCFM-001-V02", Ecosystem.FOREST, 2, HASH)
    with pytest.raises(RegistryRevertError, match="RegistryMethodologyExists"):
        c.file_methodology(world.op(), "SCFM-001-V02", Ecosystem.FOREST, 2, HASH)
    c.set_methodology_status(world.op(), METHODOLOGY, MethodologyStatus.SUPERSEDED, "SCFM-001-V02")
    assert c.methodology(METHODOLOGY).status == MethodologyStatus.SUPERSEDED
    with pytest.raises(RegistryRevertError, match="RegistryMethodologyNotInForce"):
        register(world, "P-OLD", [b"\x06" * 32])
    register(world, "P-V2", [b"\x06" * 32], methodology="SCFM-001-V02")
    # existing projects keep issuing under a superseded methodology; a withdrawn one stops them
    c.issue(
        world.op(),
        project_id=PROJECT,
        vintage=2024,
        monitoring_start=MONITORING[0],
        monitoring_end=MONITORING[1],
        quantity=5,
        reserve_bps=0,
        verification_report_hash=HASH,
    )
    with pytest.raises(RegistryRevertError, match="RegistryInvalidMethodologyTransition"):
        c.set_methodology_status(world.op(), METHODOLOGY, MethodologyStatus.WITHDRAWN)
    c.set_methodology_status(world.op(), "SCFM-001-V02", MethodologyStatus.WITHDRAWN)
    assert c.methodology("SCFM-001-V02").status == MethodologyStatus.WITHDRAWN


def test_an_unknown_methodology_or_owner_is_named(world: World) -> None:
    with pytest.raises(RegistryRevertError) as refused:
        register(world, "P-X", [b"\x07" * 32], methodology="NOPE-001")
    assert refused.value.args_by_name == {"methodologyId": "NOPE-001"}
    with pytest.raises(RegistryRevertError, match="RegistryUnknownParticipant"):
        world.client.register_project(
            world.op(),
            project_id="P-Y",
            methodology_id=METHODOLOGY,
            owner=world.cast.stranger.address,
            county_code=510100,
            area_square_metres=1,
            crediting_start=1,
            crediting_end=2,
            documents_hash=HASH,
            parcels=[b"\x08" * 32],
        )
