// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {
    MethodologyStatus,
    ParticipantKind,
    ParticipantStatus,
    ProjectStatus,
    Movement,
    PledgeStatus,
    ExportStatus,
    CancellationReason
} from "./RegistryTypes.sol";

/// @title Custom errors of the carbon registry, each with the values needed to diagnose it.
interface IRegistryErrors {
    /// @notice The operation id was already applied; the operation is not applied twice.
    error RegistryOperationAlreadyApplied(uint256 opId);

    /// @notice An amount or quantity of zero was given.
    error RegistryZeroAmount();

    /// @notice The zero address was given where an account is required.
    error RegistryZeroAddress();

    /// @notice An id of zero was given where an identifier is required.
    error RegistryZeroId();

    /// @notice All movements are paused.
    error RegistryPaused();

    /// @notice Unpause was asked while not paused.
    error RegistryNotPaused();

    /// @notice The methodology id is already filed.
    error RegistryMethodologyExists(bytes32 methodologyId);

    /// @notice No methodology with this id.
    error RegistryUnknownMethodology(bytes32 methodologyId);

    /// @notice The methodology cannot go from `current` to `requested`.
    error RegistryInvalidMethodologyTransition(
        bytes32 methodologyId, MethodologyStatus current, MethodologyStatus requested
    );

    /// @notice The methodology is not in force (withdrawn, or superseded for new projects).
    error RegistryMethodologyNotInForce(bytes32 methodologyId, MethodologyStatus status);

    /// @notice The account is already a participant.
    error RegistryParticipantExists(address account);

    /// @notice The account is not a registered participant.
    error RegistryUnknownParticipant(address account);

    /// @notice The participant's status forbids this movement.
    error RegistryParticipantNotAllowed(address account, ParticipantStatus status, Movement movement);

    /// @notice The participant cannot go from `current` to `requested`.
    error RegistryInvalidParticipantTransition(
        address account, ParticipantStatus current, ParticipantStatus requested
    );

    /// @notice The participant is of the wrong kind for this role.
    error RegistryWrongParticipantKind(address account, ParticipantKind kind, ParticipantKind expected);

    /// @notice The project id is already used.
    error RegistryProjectExists(bytes32 projectId);

    /// @notice No project with this id.
    error RegistryUnknownProject(bytes32 projectId);

    /// @notice The project is not in the status this operation needs.
    error RegistryProjectNotInStatus(bytes32 projectId, ProjectStatus status, ProjectStatus required);

    /// @notice The project cannot go from `current` to `requested`.
    error RegistryInvalidProjectTransition(bytes32 projectId, ProjectStatus current, ProjectStatus requested);

    /// @notice The land parcel already belongs to another live project (uniqueness, 唯一性).
    error RegistryParcelClaimed(bytes32 parcel, bytes32 projectId);

    /// @notice A period whose start is not before its end, or that lies outside the crediting period.
    error RegistryInvalidPeriod(uint64 start, uint64 end);

    /// @notice The reserve share, in basis points, is above 10,000.
    error RegistryInvalidReserveShare(uint16 reserveBps);

    /// @notice No batch with this id.
    error RegistryUnknownBatch(uint256 batchId);

    /// @notice The holder's free balance (balance less pledged and frozen units) is too small.
    error RegistryInsufficientFreeBalance(address holder, uint256 batchId, uint256 free, uint256 needed);

    /// @notice The reserve account never sends, retires, pledges or exports.
    error RegistryReserveLocked(address reserve);

    /// @notice The caller may not retire or move for this holder (not the holder, or not an
    /// approved active platform).
    error RegistryNotAuthorisedOperator(address operator, address holder);

    /// @notice Exported is reachable only through the export flow.
    error RegistryInvalidCancellationReason(CancellationReason reason);

    /// @notice The origin key was already imported as `batchId`.
    error RegistryOriginAlreadyImported(bytes32 originKey, uint256 batchId);

    /// @notice No pledge with this id.
    error RegistryUnknownPledge(uint256 pledgeId);

    /// @notice The pledge is not active.
    error RegistryPledgeNotActive(uint256 pledgeId, PledgeStatus status);

    /// @notice Only the pledgee may release or enforce a pledge.
    error RegistryNotPledgee(uint256 pledgeId, address caller, address pledgee);

    /// @notice No export with this id.
    error RegistryUnknownExport(uint256 exportId);

    /// @notice The export is not pending.
    error RegistryExportNotPending(uint256 exportId, ExportStatus status);

    /// @notice An anchored tree size must be larger than the last anchored size.
    error RegistryTreeSizeNotGrowing(uint256 latest, uint256 given);

    /// @notice A root of zero cannot be anchored.
    error RegistryZeroRoot();

    /// @notice A value does not fit the registry's storage width.
    error RegistryValueTooLarge(uint256 value, uint256 max);
}
