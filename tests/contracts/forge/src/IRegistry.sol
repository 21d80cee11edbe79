// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {
    CancellationReason,
    CreditImport,
    Ecosystem,
    IssuanceRequest,
    ParticipantKind,
    ParticipantStatus,
    ProjectRegistration,
    Scenario
} from "registry/RegistryTypes.sol";

/// @notice The part of CarbonRegistry's ABI the invariant handler drives. The registry itself is
/// deployed from the project's build artifact, so this file is all forge compiles of it.
interface IRegistry {
    struct ParticipantView {
        ParticipantKind kind;
        ParticipantStatus status;
        bytes32 referenceHash;
    }

    function initialize(address admin, string calldata uri_) external;
    function grantRole(bytes32 role, address account) external;
    function REGISTRAR_ROLE() external view returns (bytes32);
    function REVIEWER_ROLE() external view returns (bytes32);
    function RESERVE_ACCOUNT() external view returns (address);

    function fileMethodology(uint256 opId, bytes32 id, Ecosystem ecosystem, uint16 version, bytes32 doc) external;
    function registerParticipant(uint256 opId, address account, ParticipantKind kind, bytes32 ref) external;
    function setParticipantStatus(uint256 opId, address account, ParticipantStatus status, bytes32 reason) external;
    function participant(address account) external view returns (ParticipantView memory);
    function registerProject(uint256 opId, ProjectRegistration calldata r) external;
    function reviewProject(uint256 opId, bytes32 projectId, bool approved, bytes32 report) external;

    function issue(uint256 opId, IssuanceRequest calldata r) external returns (uint256);
    function importCredits(uint256 opId, CreditImport calldata c) external returns (uint256);
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data) external;
    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] calldata ids,
        uint256[] calldata values,
        bytes calldata data
    ) external;
    function transferWithReference(uint256 opId, address from, address to, uint256 batchId, uint256 amount, bytes32 ref)
        external;
    function setApprovalForAll(address operator, bool approved) external;
    function retire(uint256 opId, uint256 batchId, uint256 amount, Scenario s, bytes32 commitment, bytes32 claim)
        external;
    function retireFor(
        uint256 opId,
        address holder,
        uint256 batchId,
        uint256 amount,
        Scenario s,
        bytes32 commitment,
        bytes32 claim
    ) external;
    function cancel(uint256 opId, address holder, uint256 batchId, uint256 amount, CancellationReason r, bytes32 ev)
        external;
    function requestExport(uint256 opId, address holder, uint256 batchId, uint256 amount, bytes32 reg, bytes32 acct)
        external;
    function confirmExport(uint256 opId, uint256 exportId, bytes32 ref) external;
    function abortExport(uint256 opId, uint256 exportId, bytes32 reason) external;
    function pledge(uint256 opId, uint256 batchId, uint256 amount, address pledgee, bytes32 ref) external;
    function releasePledge(uint256 opId, uint256 pledgeId) external;
    function enforcePledge(uint256 opId, uint256 pledgeId) external;

    function balanceOf(address holder, uint256 id) external view returns (uint256);
    function supply(uint256 batchId)
        external
        view
        returns (uint256 issued, uint256 circulating, uint256 retired, uint256 cancelled);
    function lockedOf(address holder, uint256 batchId) external view returns (uint256 pledged, uint256 frozen);
    function isOperationApplied(uint256 opId) external view returns (bool);
}
