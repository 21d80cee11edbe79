// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {RegistryRoles} from "./RegistryRoles.sol";
import {OperationIds} from "./OperationIds.sol";
import {IRegistryEvents} from "./IRegistryEvents.sol";
import {
    Ecosystem,
    MethodologyStatus,
    ParticipantKind,
    ParticipantStatus,
    ProjectStatus,
    Movement,
    ProjectRegistration
} from "./RegistryTypes.sol";

/// @title What the registry knows before any credit exists: methodologies, participants, projects
/// and their land parcels.
/// @dev The methodology and project administration is `virtual`: CarbonRegistry forwards it to
/// {CatalogExtension} (this code, deployed apart) to stay under the EIP-170 size limit at every EVM target.
abstract contract RegistryCatalog is RegistryRoles, OperationIds, IRegistryEvents {
    /// @notice A filed methodology.
    struct Methodology {
        Ecosystem ecosystem;
        MethodologyStatus status;
        uint16 version;
        bytes32 documentHash;
    }

    /// @notice A participant: who may hold, send and retire credits.
    struct Participant {
        ParticipantKind kind;
        ParticipantStatus status;
        bytes32 referenceHash;
    }

    /// @notice A project and the expert committee's decision on it.
    struct Project {
        address owner;
        uint32 countyCode;
        ProjectStatus status;
        uint32 batchCount;
        bytes32 methodologyId;
        uint64 areaSquareMetres;
        uint64 creditingStart;
        uint64 creditingEnd;
        bytes32 documentsHash;
        bytes32 reviewReportHash;
    }

    /// @custom:storage-location erc7201:sichuan.carbon.registry.catalog
    struct CatalogStorage {
        mapping(bytes32 methodologyId => Methodology) methodologies;
        mapping(address account => Participant) participants;
        mapping(bytes32 projectId => Project) projects;
        mapping(bytes32 parcel => bytes32 projectId) parcelProjects;
    }

    // keccak256(abi.encode(uint256(keccak256("sichuan.carbon.registry.catalog")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _CATALOG_SLOT = 0x30c0771eeef7b669eed7458f8b22f019098c40a5c1314f3e8c1274f362924100;

    /// @notice The reserve account: an address whose key nobody holds (a hash, not a key pair), so its
    /// units back reversals and can only ever be cancelled by the registrar.
    address public constant RESERVE_ACCOUNT = address(uint160(uint256(keccak256("sichuan.carbon.registry.reserve"))));

    function _catalog() internal pure returns (CatalogStorage storage $) {
        assembly {
            $.slot := _CATALOG_SLOT
        }
    }

    // ---------------------------------------------------------------- methodologies

    /// @notice Files methodology `methodologyId` (a short string such as "SCFM-001-V01").
    function fileMethodology(
        uint256 opId,
        bytes32 methodologyId,
        Ecosystem ecosystem,
        uint16 version,
        bytes32 documentHash
    ) external virtual onlyRole(REGISTRAR_ROLE) {
        if (methodologyId == bytes32(0)) revert RegistryZeroId();
        Methodology storage m = _catalog().methodologies[methodologyId];
        if (m.status != MethodologyStatus.None) revert RegistryMethodologyExists(methodologyId);
        _useOperation(opId);
        m.ecosystem = ecosystem;
        m.status = MethodologyStatus.Filed;
        m.version = version;
        m.documentHash = documentHash;
        emit MethodologyFiled(methodologyId, opId, ecosystem, version, documentHash);
    }

    /// @notice Supersedes (by `successorId`, which must be filed) or withdraws a filed methodology.
    function setMethodologyStatus(uint256 opId, bytes32 methodologyId, MethodologyStatus status, bytes32 successorId)
        external
        virtual
        onlyRole(REGISTRAR_ROLE)
    {
        CatalogStorage storage $ = _catalog();
        Methodology storage m = $.methodologies[methodologyId];
        if (m.status == MethodologyStatus.None) revert RegistryUnknownMethodology(methodologyId);
        bool allowed = m.status == MethodologyStatus.Filed
            && (status == MethodologyStatus.Superseded || status == MethodologyStatus.Withdrawn);
        if (!allowed) revert RegistryInvalidMethodologyTransition(methodologyId, m.status, status);
        if (status == MethodologyStatus.Superseded) {
            MethodologyStatus successor = $.methodologies[successorId].status;
            if (successor != MethodologyStatus.Filed || successorId == methodologyId) {
                revert RegistryMethodologyNotInForce(successorId, successor);
            }
        }
        _useOperation(opId);
        m.status = status;
        emit MethodologyStatusChanged(methodologyId, opId, status, successorId);
    }

    /// @notice The methodology `methodologyId` (status None if unknown).
    function methodology(bytes32 methodologyId) external view returns (Methodology memory) {
        return _catalog().methodologies[methodologyId];
    }

    // ---------------------------------------------------------------- participants

    /// @notice Registers `account` as an active participant of `kind`; `referenceHash` commits to
    /// its off-chain registration file (never the personal data itself).
    function registerParticipant(uint256 opId, address account, ParticipantKind kind, bytes32 referenceHash)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (account == address(0)) revert RegistryZeroAddress();
        _useOperation(opId);
        _registerParticipant(account, kind, referenceHash, opId);
    }

    /// @notice Changes a participant's status (suspend, restrict, reinstate, revoke).
    /// Revoked is terminal; the reserve account's status never changes.
    function setParticipantStatus(uint256 opId, address account, ParticipantStatus status, bytes32 reasonHash)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        Participant storage p = _catalog().participants[account];
        ParticipantStatus current = p.status;
        if (current == ParticipantStatus.None) revert RegistryUnknownParticipant(account);
        if (account == RESERVE_ACCOUNT) revert RegistryReserveLocked(account);
        if (current == ParticipantStatus.Revoked || status == ParticipantStatus.None || status == current) {
            revert RegistryInvalidParticipantTransition(account, current, status);
        }
        _useOperation(opId);
        p.status = status;
        emit ParticipantStatusChanged(account, opId, current, status, reasonHash);
    }

    /// @notice The participant `account` (status None if unknown).
    function participant(address account) external view returns (Participant memory) {
        return _catalog().participants[account];
    }

    function _registerParticipant(address account, ParticipantKind kind, bytes32 referenceHash, uint256 opId)
        internal
    {
        Participant storage p = _catalog().participants[account];
        if (p.status != ParticipantStatus.None) revert RegistryParticipantExists(account);
        p.kind = kind;
        p.status = ParticipantStatus.Active;
        p.referenceHash = referenceHash;
        emit ParticipantRegistered(account, opId, kind, referenceHash);
    }

    /// @dev Reverts unless `account` may make `movement`; returns its kind. Active may do all;
    /// Restricted may only retire; the reserve account makes no movement (issuance mints its share
    /// directly, and only the registrar's cancellation takes from it).
    function _requireMay(address account, Movement movement) internal view returns (ParticipantKind kind) {
        if (account == RESERVE_ACCOUNT) revert RegistryReserveLocked(account);
        Participant storage p = _catalog().participants[account];
        ParticipantStatus status = p.status;
        kind = p.kind;
        if (status == ParticipantStatus.Active) return kind;
        if (status == ParticipantStatus.Restricted && movement == Movement.Retire) return kind;
        if (status == ParticipantStatus.None) revert RegistryUnknownParticipant(account);
        revert RegistryParticipantNotAllowed(account, status, movement);
    }

    // ---------------------------------------------------------------- projects

    /// @notice Submits a project for expert review. Its land parcels (hashes) must not belong to
    /// another live project; its owner must be an active participant; its methodology filed.
    function registerProject(uint256 opId, ProjectRegistration calldata r) external virtual onlyRole(REGISTRAR_ROLE) {
        CatalogStorage storage $ = _catalog();
        if (r.projectId == bytes32(0)) revert RegistryZeroId();
        Project storage p = $.projects[r.projectId];
        if (p.status != ProjectStatus.None) revert RegistryProjectExists(r.projectId);
        MethodologyStatus ms = $.methodologies[r.methodologyId].status;
        if (ms == MethodologyStatus.None) revert RegistryUnknownMethodology(r.methodologyId);
        if (ms != MethodologyStatus.Filed) revert RegistryMethodologyNotInForce(r.methodologyId, ms);
        if (r.creditingStart >= r.creditingEnd) revert RegistryInvalidPeriod(r.creditingStart, r.creditingEnd);
        _requireMay(r.owner, Movement.Receive);
        _useOperation(opId);
        _claimParcels(r.projectId, r.parcels);
        p.owner = r.owner;
        p.countyCode = r.countyCode;
        p.status = ProjectStatus.Submitted;
        p.methodologyId = r.methodologyId;
        p.areaSquareMetres = r.areaSquareMetres;
        p.creditingStart = r.creditingStart;
        p.creditingEnd = r.creditingEnd;
        p.documentsHash = r.documentsHash;
        emit ProjectSubmitted(r.projectId, opId, r);
    }

    /// @notice Records the expert committee's decision: approved projects become Registered,
    /// rejected ones Rejected (their parcels are free again).
    function reviewProject(uint256 opId, bytes32 projectId, bool approved, bytes32 reviewReportHash)
        external
        virtual
        onlyRole(REVIEWER_ROLE)
    {
        Project storage p = _project(projectId);
        if (p.status != ProjectStatus.Submitted) {
            revert RegistryProjectNotInStatus(projectId, p.status, ProjectStatus.Submitted);
        }
        _useOperation(opId);
        p.status = approved ? ProjectStatus.Registered : ProjectStatus.Rejected;
        p.reviewReportHash = reviewReportHash;
        emit ProjectReviewed(projectId, opId, approved, reviewReportHash);
    }

    /// @notice Suspends, reinstates, revokes or closes a reviewed project.
    function setProjectStatus(uint256 opId, bytes32 projectId, ProjectStatus status, bytes32 reasonHash)
        external
        virtual
        onlyRole(REGISTRAR_ROLE)
    {
        Project storage p = _project(projectId);
        ProjectStatus current = p.status;
        bool live = current == ProjectStatus.Registered || current == ProjectStatus.Suspended;
        bool allowed = live
            && (
                status == ProjectStatus.Revoked || status == ProjectStatus.Closed
                    || (current == ProjectStatus.Registered && status == ProjectStatus.Suspended)
                    || (current == ProjectStatus.Suspended && status == ProjectStatus.Registered)
            );
        if (!allowed) revert RegistryInvalidProjectTransition(projectId, current, status);
        _useOperation(opId);
        p.status = status;
        emit ProjectStatusChanged(projectId, opId, current, status, reasonHash);
    }

    /// @notice The project `projectId` (status None if unknown).
    function project(bytes32 projectId) external view returns (Project memory) {
        return _catalog().projects[projectId];
    }

    /// @notice The project holding land parcel `parcel`, if that project is still live; else zero.
    function parcelProject(bytes32 parcel) public view returns (bytes32) {
        CatalogStorage storage $ = _catalog();
        bytes32 projectId = $.parcelProjects[parcel];
        return _isLive($.projects[projectId].status) ? projectId : bytes32(0);
    }

    function _project(bytes32 projectId) internal view returns (Project storage p) {
        p = _catalog().projects[projectId];
        if (p.status == ProjectStatus.None) revert RegistryUnknownProject(projectId);
    }

    function _claimParcels(bytes32 projectId, bytes32[] calldata parcels) private {
        CatalogStorage storage $ = _catalog();
        for (uint256 i = 0; i < parcels.length; ++i) {
            bytes32 holder = $.parcelProjects[parcels[i]];
            if (holder == projectId || (holder != bytes32(0) && _isLive($.projects[holder].status))) {
                revert RegistryParcelClaimed(parcels[i], holder);
            }
            $.parcelProjects[parcels[i]] = projectId;
        }
    }

    function _isLive(ProjectStatus status) private pure returns (bool) {
        return status == ProjectStatus.Submitted || status == ProjectStatus.Registered
            || status == ProjectStatus.Suspended;
    }
}
