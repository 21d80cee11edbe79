// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Shared enums and structs of the Sichuan forestry and grassland carbon-inclusive registry.
/// @dev Enum values are part of the ABI: append new members, never reorder.

/// @notice The ecosystem a methodology applies to.
enum Ecosystem {
    Forest,
    Grassland,
    Wetland
}

/// @notice Lifecycle of a filed methodology: Filed -> Superseded | Withdrawn.
enum MethodologyStatus {
    None,
    Filed,
    Superseded,
    Withdrawn
}

/// @notice What kind of party a participant is.
enum ParticipantKind {
    ProjectOwner,
    Enterprise,
    Individual,
    Platform,
    Pledgee,
    Registry
}

/// @notice Participant status. Active may do everything; Restricted may hold and retire only;
/// Suspended and Revoked may do nothing (Revoked is terminal).
enum ParticipantStatus {
    None,
    Active,
    Restricted,
    Suspended,
    Revoked
}

/// @notice Project lifecycle: Submitted -> (Registered | Rejected) ; Registered <-> Suspended ; -> Revoked | Closed.
enum ProjectStatus {
    None,
    Submitted,
    Registered,
    Rejected,
    Suspended,
    Revoked,
    Closed
}

/// @notice Why credits were retired (the consumption scenarios of the guideline).
enum Scenario {
    LargeEvent,
    Organisation,
    Product,
    Building,
    Region,
    TreePlantingDuty,
    EcologicalJustice,
    Personal,
    Voluntary
}

/// @notice Why the registrar cancelled credits. Exported is only reachable through the export flow.
enum CancellationReason {
    Invalidation,
    Fraud,
    Reversal,
    Correction,
    Exported,
    Other
}

/// @notice A movement, named in errors that refuse one because of a participant's status.
enum Movement {
    Send,
    Receive,
    Retire,
    Pledge,
    Export
}

/// @notice Lifecycle of a pledge (质押).
enum PledgeStatus {
    None,
    Active,
    Released,
    Enforced
}

/// @notice Lifecycle of an export to another registry.
enum ExportStatus {
    None,
    Pending,
    Confirmed,
    Aborted
}

/// @notice A project as submitted by the registrar.
struct ProjectRegistration {
    bytes32 projectId;
    bytes32 methodologyId;
    address owner;
    uint32 countyCode;
    uint64 areaSquareMetres;
    uint64 creditingStart;
    uint64 creditingEnd;
    bytes32 documentsHash;
    bytes32[] parcels;
}

/// @notice One issuance request: a monitoring period of a registered project.
struct IssuanceRequest {
    bytes32 projectId;
    uint16 vintage;
    uint64 monitoringStart;
    uint64 monitoringEnd;
    uint128 quantity;
    uint16 reserveBps;
    bytes32 verificationReportHash;
    bytes32 reviewHash;
}

/// @notice Credits brought in from another registry, identified by an origin key usable once.
struct CreditImport {
    bytes32 originKey;
    bytes32 originRegistry;
    bytes32 projectId;
    address to;
    uint16 vintage;
    uint128 quantity;
    bytes32 evidenceHash;
}
