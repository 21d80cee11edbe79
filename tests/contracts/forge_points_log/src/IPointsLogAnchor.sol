// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice What the invariant tests call of contracts/PointsLogAnchor.sol (deployed from the build).
interface IPointsLogAnchor {
    function ANCHORER_ROLE() external view returns (bytes32);
    function anchorRoot(uint256 treeSize, bytes32 root) external;
    function anchoredRoot(uint256 treeSize) external view returns (bytes32);
    function latest() external view returns (uint256 treeSize, bytes32 root);
}

/// @notice The registry's initialiser and role administration (OpenZeppelin AccessControl).
interface IRegistryRoles {
    function initialize(address admin, string calldata uri_) external;
    function hasRole(bytes32 role, address account) external view returns (bool);
    function grantRole(bytes32 role, address account) external;
    function revokeRole(bytes32 role, address account) external;
    function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
}
