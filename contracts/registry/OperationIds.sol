// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IRegistryErrors} from "./IRegistryErrors.sol";

/// @title Exactly-once operation ids.
/// @notice Every state-changing registry operation carries a caller-chosen uint256 operation id,
/// applied at most once. Ids are kept in a bitmap (after Permit2's unordered nonces): the top 248
/// bits select a word, the low 8 bits a bit in it. A bulk run that numbers its operations
/// consecutively pays for a fresh storage word once per 256 operations.
abstract contract OperationIds is IRegistryErrors {
    /// @custom:storage-location erc7201:sichuan.carbon.registry.operations
    struct OperationIdsStorage {
        mapping(uint256 word => uint256 bits) applied;
    }

    // keccak256(abi.encode(uint256(keccak256("sichuan.carbon.registry.operations")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _OPERATIONS_SLOT = 0xd186e53a987de381bd7357b1b5074e5fcd47db89116ce9e38d61ae7b03f1d100;

    function _operations() private pure returns (OperationIdsStorage storage $) {
        assembly {
            $.slot := _OPERATIONS_SLOT
        }
    }

    /// @notice Whether the operation id `opId` has been applied.
    function isOperationApplied(uint256 opId) public view returns (bool) {
        return _operations().applied[opId >> 8] & (1 << (opId & 0xff)) != 0;
    }

    /// @notice The applied-bit word holding ids `word * 256 .. word * 256 + 255` (bit i = id word*256+i).
    function appliedOperationBits(uint256 word) external view returns (uint256) {
        return _operations().applied[word];
    }

    /// @dev Marks `opId` applied, reverting with its id if it already was.
    function _useOperation(uint256 opId) internal {
        mapping(uint256 => uint256) storage applied = _operations().applied;
        uint256 word = opId >> 8;
        uint256 bit = 1 << (opId & 0xff);
        uint256 bits = applied[word];
        if (bits & bit != 0) revert RegistryOperationAlreadyApplied(opId);
        applied[word] = bits | bit;
    }
}
