"""Python mirrors of the registry's enums, ids and records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from typing import Any, NewType

BatchId = NewType("BatchId", int)
OperationId = NewType("OperationId", int)


@dataclass(frozen=True)
class RetirementId:
    """A retirement's name everywhere (mirror, certificates, explorer, audit, CLI):
    `<chain id>-<transaction hash>-<log index>` of its CreditsRetired event, the hash in lowercase."""

    chain_id: int
    tx_hash: str
    log_index: int

    FORM = "<chain id>-<tx hash>-<log index>"
    _PATTERN = re.compile(r"^(\d{1,20})-(0x[0-9a-fA-F]{64})-(\d{1,9})$")

    def __str__(self) -> str:
        return f"{self.chain_id}-{self.tx_hash.lower()}-{self.log_index}"

    @classmethod
    def of(cls, chain_id: int, tx_hash: str, log_index: int) -> str:
        """The id of the retirement logged at (`tx_hash`, `log_index`) on `chain_id`, as text."""
        return str(cls(chain_id, tx_hash, log_index))

    @classmethod
    def parse(cls, text: str) -> RetirementId:
        """The parts of `text`; ValueError naming the expected form if it is not a retirement id."""
        m = cls._PATTERN.match(text.strip())
        if not m:
            raise ValueError(f"{text[:120]!r} is not a retirement id: {cls.FORM}")
        return cls(int(m.group(1)), m.group(2).lower(), int(m.group(3)))


class Ecosystem(IntEnum):
    FOREST = 0
    GRASSLAND = 1
    WETLAND = 2


class MethodologyStatus(IntEnum):
    NONE = 0
    FILED = 1
    SUPERSEDED = 2
    WITHDRAWN = 3


class ParticipantKind(IntEnum):
    PROJECT_OWNER = 0
    ENTERPRISE = 1
    INDIVIDUAL = 2
    PLATFORM = 3
    PLEDGEE = 4
    REGISTRY = 5


class ParticipantStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    RESTRICTED = 2
    SUSPENDED = 3
    REVOKED = 4


class ProjectStatus(IntEnum):
    NONE = 0
    SUBMITTED = 1
    REGISTERED = 2
    REJECTED = 3
    SUSPENDED = 4
    REVOKED = 5
    CLOSED = 6


class Scenario(IntEnum):
    LARGE_EVENT = 0
    ORGANISATION = 1
    PRODUCT = 2
    BUILDING = 3
    REGION = 4
    TREE_PLANTING_DUTY = 5
    ECOLOGICAL_JUSTICE = 6
    PERSONAL = 7
    VOLUNTARY = 8


class CancellationReason(IntEnum):
    INVALIDATION = 0
    FRAUD = 1
    REVERSAL = 2
    CORRECTION = 3
    EXPORTED = 4
    OTHER = 5


class Movement(IntEnum):
    SEND = 0
    RECEIVE = 1
    RETIRE = 2
    PLEDGE = 3
    EXPORT = 4


class PledgeStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    RELEASED = 2
    ENFORCED = 3


class ExportStatus(IntEnum):
    NONE = 0
    PENDING = 1
    CONFIRMED = 2
    ABORTED = 3


ENUMS_BY_SOLIDITY_NAME: dict[str, type[IntEnum]] = {
    "Ecosystem": Ecosystem,
    "MethodologyStatus": MethodologyStatus,
    "ParticipantKind": ParticipantKind,
    "ParticipantStatus": ParticipantStatus,
    "ProjectStatus": ProjectStatus,
    "Scenario": Scenario,
    "CancellationReason": CancellationReason,
    "Movement": Movement,
    "PledgeStatus": PledgeStatus,
    "ExportStatus": ExportStatus,
}


@cache  # the mirror names every enum field of every event: no enum member built per call
def enum_name(enum: type[IntEnum], value: int) -> str:
    """An enum value as the mirror, the API, the explorer and the CLI show it: ParticipantStatus 1 → "active"."""
    return enum(value).name.lower()


def abi_enum(item: dict[str, Any]) -> type[IntEnum] | None:
    """The Python enum of an ABI parameter whose internalType is a registry enum
    ("enum CarbonRegistry.Scenario" → Scenario), or None."""
    internal = str(item.get("internalType", ""))
    if not internal.startswith("enum "):
        return None
    return ENUMS_BY_SOLIDITY_NAME.get(internal.rsplit(".", 1)[-1].rsplit(" ", 1)[-1])


def short_id(text: str) -> bytes:
    """A registry id such as "SCFM-001-V01" as the bytes32 the contract stores (left-aligned ASCII)."""
    raw = text.encode("ascii", errors="strict") if text.isascii() else b""
    if not raw or len(raw) > 31 or not text.isprintable():
        raise ValueError(f"id {text!r} must be 1-31 printable ASCII characters")
    return raw.ljust(32, b"\0")


def from_short_id(value: bytes) -> str:
    return value.rstrip(b"\0").decode("ascii", errors="replace")


@dataclass(frozen=True)
class Supply:
    """issued = circulating + retired + cancelled, in kgCO2e."""

    issued: int
    circulating: int
    retired: int
    cancelled: int


@dataclass(frozen=True)
class Participant:
    kind: ParticipantKind
    status: ParticipantStatus
    reference_hash: bytes


@dataclass(frozen=True)
class Methodology:
    ecosystem: Ecosystem
    status: MethodologyStatus
    version: int
    document_hash: bytes


@dataclass(frozen=True)
class Project:
    owner: str
    county_code: int
    status: ProjectStatus
    batch_count: int
    methodology_id: str
    area_square_metres: int
    crediting_start: int
    crediting_end: int
    documents_hash: bytes
    review_report_hash: bytes


@dataclass(frozen=True)
class Batch:
    issued: int
    retired: int
    cancelled: int
    first_serial: int
    project_id: str
    origin_key: bytes
    vintage: int


@dataclass(frozen=True)
class Pledge:
    pledgor: str
    status: PledgeStatus
    pledgee: str
    amount: int
    batch_id: int
    registration_reference: bytes


@dataclass(frozen=True)
class ExportRequest:
    holder: str
    status: ExportStatus
    amount: int
    batch_id: int
    destination_registry: str
    destination_account: bytes
