// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IImportingRegistry} from "./registry/IImportingRegistry.sol";
import {CreditImport} from "./registry/RegistryTypes.sol";

/// @title Methodology recognition (方法学互认) and the import gate of a destination registry.
/// @notice Which methodologies of which other registry this registry accepts imports under, and
/// the one door imports from another registry come through. {importCredits} checks, in the
/// transaction that imports, that the methodology of the project is recognised, that the origin
/// key is the source's (chain id, registry, export id) and that the evidence hash commits to the
/// source batch and serial range; it emits {ImportOrigin} so the destination alone names where
/// its imported units came from. {refuse} records, once, that an origin key will never be
/// imported here: the relay aborts an export on the source only after that record, so an
/// export is never both imported (on the destination) and released (on the source), whichever
/// relay sent what. Recording and withdrawing recognitions need the registry's REGISTRAR_ROLE,
/// relaying needs its BRIDGE_RELAYER_ROLE, so the registry's admin governs all of it; the gate
/// itself holds REGISTRAR_ROLE on the registry.
/// @dev A separate contract because the registry is at the EIP-170 size limit.
contract MethodologyRecognitions {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    bytes32 public constant RELAYER_ROLE = keccak256("BRIDGE_RELAYER_ROLE");

    /// @notice The registry whose roles govern recognitions, and that imports go into.
    IImportingRegistry public immutable registry;

    /// @notice Where an export came from: the source chain and registry, the export, and the
    /// source batch with its serial range (one serial is one kilogram).
    struct Origin {
        uint256 sourceChainId;
        address sourceRegistry;
        uint256 exportId;
        uint256 sourceBatch;
        uint256 firstSerial;
        uint256 lastSerial;
    }

    mapping(bytes32 originRegistry => mapping(bytes32 methodologyId => bool)) private _recognised;
    mapping(bytes32 originKey => bytes32 reasonHash) private _refused;

    /// @notice `methodologyId` of `originRegistry` is recognised; `evidenceHash` is the hash of
    /// the published decision (agreement, equivalence review).
    event MethodologyRecognised(
        bytes32 indexed originRegistry, bytes32 indexed methodologyId, bytes32 evidenceHash, address operator
    );

    /// @notice The recognition was withdrawn; exports not yet imported under it will be aborted.
    event RecognitionWithdrawn(
        bytes32 indexed originRegistry, bytes32 indexed methodologyId, bytes32 reasonHash, address operator
    );

    /// @notice Destination batch `batchId` was imported under `originKey` from this origin.
    event ImportOrigin(
        bytes32 indexed originKey,
        uint256 indexed batchId,
        uint256 sourceChainId,
        address sourceRegistry,
        uint256 exportId,
        uint256 sourceBatch,
        uint256 firstSerial,
        uint256 lastSerial
    );

    /// @notice `originKey` will never be imported here; `reasonHash` is the hash of the refusal.
    event ImportRefused(bytes32 indexed originKey, bytes32 reasonHash, address operator);

    error RecognitionNotAuthorised(address account);
    error RecognitionUnchanged(bytes32 originRegistry, bytes32 methodologyId, bool recognised);
    error InvalidRecognitionId();
    error ImportMethodologyNotRecognised(bytes32 originRegistry, bytes32 methodologyId);
    error ImportOriginMismatch(bytes32 originKey);
    error ImportEvidenceMismatch(bytes32 originKey);
    error ImportOriginRefused(bytes32 originKey);
    error ImportOriginImported(bytes32 originKey, uint256 batchId);
    error InvalidRefusal();

    constructor(IImportingRegistry registry_) {
        registry = registry_;
    }

    function recognise(bytes32 originRegistry, bytes32 methodologyId, bytes32 evidenceHash) external {
        _set(originRegistry, methodologyId, true);
        emit MethodologyRecognised(originRegistry, methodologyId, evidenceHash, msg.sender);
    }

    function withdraw(bytes32 originRegistry, bytes32 methodologyId, bytes32 reasonHash) external {
        _set(originRegistry, methodologyId, false);
        emit RecognitionWithdrawn(originRegistry, methodologyId, reasonHash, msg.sender);
    }

    /// @notice Imports `c` into the registry if its project's methodology is recognised for
    /// `c.originRegistry`, `c.originKey` is `o`'s and not refused, and `c.evidenceHash` commits to
    /// `o`'s source batch and range; the registry's own checks (origin once, operation once) follow.
    function importCredits(uint256 opId, CreditImport calldata c, Origin calldata o) external returns (uint256) {
        _authorise(RELAYER_ROLE);
        bytes32 key = c.originKey;
        if (key != keccak256(abi.encode(o.sourceChainId, o.sourceRegistry, o.exportId))) {
            revert ImportOriginMismatch(key);
        }
        if (c.evidenceHash != keccak256(abi.encode(key, o.sourceBatch, o.firstSerial, o.lastSerial))) {
            revert ImportEvidenceMismatch(key);
        }
        if (_refused[key] != bytes32(0)) revert ImportOriginRefused(key);
        bytes32 methodologyId = registry.project(c.projectId).methodologyId;
        // a project the registry does not know has no methodology: the registry names that refusal
        if (methodologyId != bytes32(0) && !_recognised[c.originRegistry][methodologyId]) {
            revert ImportMethodologyNotRecognised(c.originRegistry, methodologyId);
        }
        uint256 batchId = registry.importCredits(opId, c);
        emit ImportOrigin(
            key, batchId, o.sourceChainId, o.sourceRegistry, o.exportId, o.sourceBatch, o.firstSerial, o.lastSerial
        );
        return batchId;
    }

    /// @notice Records that `originKey` will never be imported here (it was not, and now cannot be).
    function refuse(bytes32 originKey, bytes32 reasonHash) external {
        _authorise(RELAYER_ROLE);
        if (originKey == bytes32(0) || reasonHash == bytes32(0)) revert InvalidRefusal();
        if (_refused[originKey] != bytes32(0)) revert ImportOriginRefused(originKey);
        uint256 batchId = registry.importedBatch(originKey);
        if (batchId != 0) revert ImportOriginImported(originKey, batchId);
        _refused[originKey] = reasonHash;
        emit ImportRefused(originKey, reasonHash, msg.sender);
    }

    /// @notice Whether imports of `methodologyId` from `originRegistry` are accepted.
    function isRecognised(bytes32 originRegistry, bytes32 methodologyId) external view returns (bool) {
        return _recognised[originRegistry][methodologyId];
    }

    /// @notice The hash of the refusal recorded for `originKey`, or zero if it was not refused.
    function refusedWith(bytes32 originKey) external view returns (bytes32) {
        return _refused[originKey];
    }

    /// @notice The registry's exactly-once bitmap word, for senders that check ids before resending.
    function appliedOperationBits(uint256 word) external view returns (uint256) {
        return registry.appliedOperationBits(word);
    }

    /// @notice Whether the registry applied operation `opId` (its exactly-once record).
    function isOperationApplied(uint256 opId) external view returns (bool) {
        return registry.isOperationApplied(opId);
    }

    function _authorise(bytes32 role) private view {
        if (!registry.hasRole(role, msg.sender)) revert RecognitionNotAuthorised(msg.sender);
    }

    function _set(bytes32 originRegistry, bytes32 methodologyId, bool recognised) private {
        _authorise(REGISTRAR_ROLE);
        if (originRegistry == bytes32(0) || methodologyId == bytes32(0)) revert InvalidRecognitionId();
        if (_recognised[originRegistry][methodologyId] == recognised) {
            revert RecognitionUnchanged(originRegistry, methodologyId, recognised);
        }
        _recognised[originRegistry][methodologyId] = recognised;
    }
}
