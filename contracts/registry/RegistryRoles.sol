// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";

/// @title Roles of the registry.
/// @notice DEFAULT_ADMIN_ROLE (a multisig in production) grants roles, unpauses and upgrades.
abstract contract RegistryRoles is AccessControlUpgradeable {
    /// @notice Registers methodologies, participants and projects; issues, cancels, exports, imports.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Records the expert committee's decisions on projects.
    bytes32 public constant REVIEWER_ROLE = keccak256("REVIEWER_ROLE");
    /// @notice Anchors certificate-log roots.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");
    /// @notice Pauses all movements (unpausing needs the admin).
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
}
