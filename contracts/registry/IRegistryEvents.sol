// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {
    Ecosystem,
    MethodologyStatus,
    ParticipantKind,
    ParticipantStatus,
    ProjectStatus,
    Scenario,
    CancellationReason,
    ProjectRegistration,
    IssuanceRequest,
    CreditImport
} from "./RegistryTypes.sol";

/// @title Events of the carbon registry.
/// @notice Every event carries everything an indexer needs, so it never calls back into the contract.
/// `opId` is the operation id that made the change; it is applied at most once.
interface IRegistryEvents {
    /// @notice A methodology was filed.
    event MethodologyFiled(
        bytes32 indexed methodologyId, uint256 indexed opId, Ecosystem ecosystem, uint16 version, bytes32 documentHash
    );

    /// @notice A methodology changed status (superseded or withdrawn).
    event MethodologyStatusChanged(
        bytes32 indexed methodologyId, uint256 indexed opId, MethodologyStatus status, bytes32 successorId
    );

    /// @notice A participant was registered (always Active).
    event ParticipantRegistered(
        address indexed account, uint256 indexed opId, ParticipantKind kind, bytes32 referenceHash
    );

    /// @notice A participant's status changed; `reasonHash` commits to the published decision.
    event ParticipantStatusChanged(
        address indexed account,
        uint256 indexed opId,
        ParticipantStatus previous,
        ParticipantStatus status,
        bytes32 reasonHash
    );

    /// @notice A project was submitted with its land parcels (hashes) and documents.
    event ProjectSubmitted(bytes32 indexed projectId, uint256 indexed opId, ProjectRegistration project);

    /// @notice The expert committee's decision on a project was recorded.
    event ProjectReviewed(bytes32 indexed projectId, uint256 indexed opId, bool approved, bytes32 reviewReportHash);

    /// @notice A project changed status (suspended, reinstated, revoked, closed).
    event ProjectStatusChanged(
        bytes32 indexed projectId,
        uint256 indexed opId,
        ProjectStatus previous,
        ProjectStatus status,
        bytes32 reasonHash
    );

    /// @notice A batch was issued: `request.quantity - reserveAmount` to `owner`, then
    /// `reserveAmount` to the reserve account; serials `firstSerial .. firstSerial + quantity - 1`
    /// in that order. `batchSeq` numbers the project's batches from 1.
    event BatchIssued(
        uint256 indexed batchId,
        bytes32 indexed projectId,
        uint256 indexed opId,
        address owner,
        uint32 batchSeq,
        uint256 firstSerial,
        uint256 reserveAmount,
        IssuanceRequest request
    );

    /// @notice Credits from another registry were imported as a new batch.
    event BatchImported(
        uint256 indexed batchId,
        bytes32 indexed originKey,
        uint256 indexed opId,
        uint256 firstSerial,
        CreditImport credit
    );

    /// @notice A transfer carrying a trading-platform reference (the ERC-1155 TransferSingle
    /// event of the same transaction carries the balance change).
    event CreditsTransferred(
        uint256 indexed batchId,
        address indexed from,
        uint256 indexed opId,
        address to,
        uint256 amount,
        bytes32 tradeReference
    );

    /// @notice Credits were retired (注销) for a claim. `beneficiaryCommitment` is a salted hash,
    /// never a name. `operator` is the holder or the platform that retired on its behalf.
    event CreditsRetired(
        uint256 indexed batchId,
        address indexed holder,
        uint256 indexed opId,
        uint256 amount,
        Scenario scenario,
        bytes32 beneficiaryCommitment,
        bytes32 claimHash,
        address operator
    );

    /// @notice The registrar cancelled credits (not a claim). For exports, `evidenceHash` is
    /// the destination registry's reference and `exportId` the export; otherwise `exportId` is 0.
    event CreditsCancelled(
        uint256 indexed batchId,
        address indexed holder,
        uint256 indexed opId,
        uint256 amount,
        CancellationReason reason,
        bytes32 evidenceHash,
        uint256 exportId
    );

    /// @notice Credits were frozen pending export; `exportId` is the opId of this request.
    event ExportRequested(
        uint256 indexed exportId,
        address indexed holder,
        uint256 indexed batchId,
        uint256 amount,
        bytes32 destinationRegistry,
        bytes32 destinationAccount
    );

    /// @notice A pending export was confirmed by the destination (units cancelled, see CreditsCancelled).
    event ExportConfirmed(uint256 indexed exportId, uint256 indexed opId, bytes32 destinationReference);

    /// @notice A pending export was aborted; the units are free again.
    event ExportAborted(uint256 indexed exportId, uint256 indexed opId, bytes32 reasonHash);

    /// @notice Credits were pledged; `pledgeId` is the opId of this pledge.
    event CreditsPledged(
        uint256 indexed pledgeId,
        address indexed pledgor,
        address indexed pledgee,
        uint256 batchId,
        uint256 amount,
        bytes32 registrationReference
    );

    /// @notice The pledgee released a pledge; the units are free again.
    event PledgeReleased(uint256 indexed pledgeId, uint256 indexed opId);

    /// @notice The pledgee enforced a pledge; the units moved to the pledgee.
    event PledgeEnforced(uint256 indexed pledgeId, uint256 indexed opId);

    /// @notice A certificate-log root (RFC 9162, sha256) was anchored.
    event LogRootAnchored(uint256 indexed treeSize, bytes32 root, uint256 anchoredAt);

    /// @notice All movements were paused or unpaused.
    event RegistryPauseChanged(bool paused, address by);
}
