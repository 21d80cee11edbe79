// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {RegistryCatalog} from "./RegistryCatalog.sol";
import {CreditImport} from "./RegistryTypes.sol";

/// @notice What the gate calls on the destination registry.
interface IImportingRegistry is IAccessControl {
    function importCredits(uint256 opId, CreditImport calldata c) external returns (uint256);
    function importedBatch(bytes32 originKey) external view returns (uint256);
    function project(bytes32 projectId) external view returns (RegistryCatalog.Project memory);
    function appliedOperationBits(uint256 word) external view returns (uint256);
    function isOperationApplied(uint256 opId) external view returns (bool);
}
