"""Decode a revert's data into the registry's error name, its arguments and a sentence: the one
table of explanations, keyed by error name (the selectors are ContractAbi's, chain/abi.py)."""

from __future__ import annotations

from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from chain.abi import ContractAbi, abi_type
from chain.errors import RegistryRevertError
from chain.roles import role_name
from chain.types import abi_enum, from_short_id

EXPLANATIONS: dict[str, str] = {
    "RegistryOperationAlreadyApplied": "this operation id was already applied; nothing was done twice",
    "RegistryZeroAmount": "the amount must be at least 1 kgCO2e",
    "RegistryZeroAddress": "an account address is required",
    "RegistryZeroId": "an id is required",
    "RegistryPaused": "the registry is paused; the admin must unpause it first",
    "RegistryNotPaused": "the registry is not paused",
    "RegistryMethodologyExists": "that methodology id is already filed; choose a new version id",
    "RegistryUnknownMethodology": "no such methodology; file it first",
    "RegistryInvalidMethodologyTransition": "only a filed methodology can be superseded or withdrawn",
    "RegistryMethodologyNotInForce": "that methodology is not filed (it was superseded or withdrawn)",
    "RegistryParticipantExists": "that account is already a participant",
    "RegistryUnknownParticipant": "that account is not a registered participant; register it first",
    "RegistryParticipantNotAllowed": "the participant's status forbids this movement; reinstate it first",
    "RegistryInvalidParticipantTransition": "that participant status change is not allowed (revoked is final)",
    "RegistryWrongParticipantKind": "the participant is of the wrong kind for this role",
    "RegistryProjectExists": "that project id is already used",
    "RegistryUnknownProject": "no such project",
    "RegistryProjectNotInStatus": "the project is not in the status this operation needs",
    "RegistryInvalidProjectTransition": "that project status change is not allowed",
    "RegistryParcelClaimed": "a land parcel already belongs to another live project (uniqueness)",
    "RegistryInvalidPeriod": "the period's start must be before its end and inside the crediting period",
    "RegistryInvalidReserveShare": "the reserve share is in basis points and at most 10000",
    "RegistryUnknownBatch": "no such batch",
    "RegistryInsufficientFreeBalance": "not enough free units (pledged and frozen units cannot move)",
    "RegistryReserveLocked": "the reserve account makes no movement; only the registrar's cancellation draws on it",
    "RegistryNotAuthorisedOperator": "the caller may not act for this holder; the holder must approve it",
    "RegistryInvalidCancellationReason": "use the export flow (request, then confirm) to cancel for export",
    "RegistryOriginAlreadyImported": "these credits were already imported from that origin",
    "RegistryUnknownPledge": "no such pledge",
    "RegistryPledgeNotActive": "the pledge is no longer active",
    "RegistryNotPledgee": "only the pledgee may release or enforce the pledge",
    "RegistryUnknownExport": "no such export",
    "RegistryExportNotPending": "the export is no longer pending",
    "RegistryTreeSizeNotGrowing": "an anchored tree size must exceed the last anchored size",
    "RegistryZeroRoot": "a log root of zero cannot be anchored",
    "RegistryValueTooLarge": "the value is too large",
    "AccessControlUnauthorizedAccount": "the signing key lacks the role this operation needs; ask the admin to grant it",
    "ERC1155MissingApprovalForAll": "the caller is not approved to move this holder's units",
    "ERC1155InvalidReceiver": "the receiving contract does not accept ERC-1155 units",
    "ERC1155InsufficientBalance": "the holder's balance is too small",
    "InvalidInitialization": "the contract is already initialised",
    "Error": "the contract reverted with a message",
    "Panic": "the contract hit an internal check (panic)",
}


def decode_revert(abi: ContractAbi, data: bytes) -> RegistryRevertError:
    """A revert's data as the contract's custom error (name, arguments by name, a sentence), from
    the ABI's one error table (chain/abi.py); "UnknownRevert" for data no error of the ABI matches."""
    item = abi.errors_by_selector.get(data[:4]) if len(data) >= 4 else None
    if item is None:
        hint = "0x" + data.hex() if data else "no data"
        return RegistryRevertError("UnknownRevert", {"data": hint}, "the transaction reverted without a known error")
    inputs = item["inputs"]
    values = abi_decode([abi_type(i) for i in inputs], data[4:])
    args = {i["name"] or f"arg{n}": _present(i, v) for n, (i, v) in enumerate(zip(inputs, values, strict=True))}
    name = item["name"]
    return RegistryRevertError(name, args, EXPLANATIONS.get(name, "the contract refused the operation"))


def _present(item: dict[str, Any], value: Any) -> Any:
    enum = abi_enum(item)
    if enum is not None:
        return enum(value).name if value in enum._value2member_map_ else value
    if item["type"] == "address":
        return to_checksum_address(value)
    if item["type"] == "bytes32":
        name = role_name(value)
        if name:
            return name
        if item["name"] in ("methodologyId", "projectId") and value.rstrip(b"\0").isascii():
            return from_short_id(value)
    return value


def revert_data_from_rpc_error(error: Any) -> bytes | None:
    """The revert data inside a JSON-RPC error object (anvil and Hardhat put it in different places)."""
    if not isinstance(error, dict):
        return None
    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data") or data.get("result")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None
