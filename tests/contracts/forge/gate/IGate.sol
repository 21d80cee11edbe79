// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CreditImport, Ecosystem, IssuanceRequest, ParticipantKind, ProjectRegistration} from "registry/RegistryTypes.sol";

/// @notice The registry as these tests call it (deployed from the project's build).
interface IGateRegistry {
    function initialize(address admin, string calldata uri_) external;
    function grantRole(bytes32 role, address account) external;
    function REGISTRAR_ROLE() external view returns (bytes32);
    function REVIEWER_ROLE() external view returns (bytes32);
    function fileMethodology(uint256 opId, bytes32 id, Ecosystem ecosystem, uint16 version, bytes32 doc) external;
    function registerParticipant(uint256 opId, address account, ParticipantKind kind, bytes32 ref) external;
    function registerProject(uint256 opId, ProjectRegistration calldata r) external;
    function reviewProject(uint256 opId, bytes32 projectId, bool approved, bytes32 report) external;
    function importCredits(uint256 opId, CreditImport calldata c) external returns (uint256);
    function importedBatch(bytes32 originKey) external view returns (uint256);
    function supply(uint256 batchId)
        external
        view
        returns (uint256 issued, uint256 circulating, uint256 retired, uint256 cancelled);
}

/// @notice The gate (contracts/MethodologyRecognitions.sol) as these tests call it.
interface IGate {
    struct Origin {
        uint256 sourceChainId;
        address sourceRegistry;
        uint256 exportId;
        uint256 sourceBatch;
        uint256 firstSerial;
        uint256 lastSerial;
    }

    function recognise(bytes32 originRegistry, bytes32 methodologyId, bytes32 evidenceHash) external;
    function withdraw(bytes32 originRegistry, bytes32 methodologyId, bytes32 reasonHash) external;
    function importCredits(uint256 opId, CreditImport calldata c, Origin calldata o) external returns (uint256);
    function refuse(bytes32 originKey, bytes32 reasonHash) external;
    function isRecognised(bytes32 originRegistry, bytes32 methodologyId) external view returns (bool);
    function refusedWith(bytes32 originKey) external view returns (bytes32);
}
