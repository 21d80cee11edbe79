"""The registry's access-control roles: each name and the bytes32 the contract knows it by."""

from __future__ import annotations

from eth_utils import keccak

from chain.errors import InvalidInputError

ADMIN_ROLE = "DEFAULT_ADMIN_ROLE"
# the roles the operator's key plays on a local chain (and that a new deployment grants there)
OPERATOR_ROLES = ("REGISTRAR_ROLE", "REVIEWER_ROLE", "ANCHORER_ROLE", "PAUSER_ROLE")
# name -> bytes32, as AccessControl computes it (the admin role is zero)
ROLES: dict[str, bytes] = {**{name: keccak(text=name) for name in OPERATOR_ROLES}, ADMIN_ROLE: b"\0" * 32}
# "0x…" (64 hex digits) -> name, for showing a role found in a revert or an event
ROLE_NAMES: dict[str, str] = {"0x" + value.hex(): name for name, value in ROLES.items()}


def role_id(name: str) -> bytes:
    """The bytes32 of a role given by name; one line naming the choices when there is no such role."""
    if name not in ROLES:
        raise InvalidInputError(f"unknown role {name!r}; one of {', '.join(sorted(ROLES))}")
    return ROLES[name]


def role_name(value: bytes) -> str | None:
    """The name of a role's bytes32, or None for a value that is no role of the registry."""
    return ROLE_NAMES.get("0x" + bytes(value).hex())
