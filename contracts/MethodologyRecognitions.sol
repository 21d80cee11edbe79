// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @title Methodology recognition (方法学互认) of a destination registry.
/// @notice Which methodologies of which other registry this registry accepts imports under. The
/// relay between two registries (bridge/relay.py) reads {isRecognised} before it imports and
/// aborts the export on the source when the methodology is not recognised. Recording and
/// withdrawing need the registry's REGISTRAR_ROLE, so the registry's admin governs both.
/// @dev A separate contract because the registry is at the EIP-170 size limit.
contract MethodologyRecognitions {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice The registry whose roles govern recognitions.
    IAccessControl public immutable registry;

    mapping(bytes32 originRegistry => mapping(bytes32 methodologyId => bool)) private _recognised;

    /// @notice `methodologyId` of `originRegistry` is recognised; `evidenceHash` is the hash of
    /// the published decision (agreement, equivalence review).
    event MethodologyRecognised(
        bytes32 indexed originRegistry, bytes32 indexed methodologyId, bytes32 evidenceHash, address operator
    );

    /// @notice The recognition was withdrawn; exports not yet imported under it will be aborted.
    event RecognitionWithdrawn(
        bytes32 indexed originRegistry, bytes32 indexed methodologyId, bytes32 reasonHash, address operator
    );

    error RecognitionNotAuthorised(address account);
    error RecognitionUnchanged(bytes32 originRegistry, bytes32 methodologyId, bool recognised);
    error InvalidRecognitionId();

    constructor(IAccessControl registry_) {
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

    /// @notice Whether imports of `methodologyId` from `originRegistry` are accepted.
    function isRecognised(bytes32 originRegistry, bytes32 methodologyId) external view returns (bool) {
        return _recognised[originRegistry][methodologyId];
    }

    function _set(bytes32 originRegistry, bytes32 methodologyId, bool recognised) private {
        if (!registry.hasRole(REGISTRAR_ROLE, msg.sender)) revert RecognitionNotAuthorised(msg.sender);
        if (originRegistry == bytes32(0) || methodologyId == bytes32(0)) revert InvalidRecognitionId();
        if (_recognised[originRegistry][methodologyId] == recognised) {
            revert RecognitionUnchanged(originRegistry, methodologyId, recognised);
        }
        _recognised[originRegistry][methodologyId] = recognised;
    }
}
