// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {RegistryCatalog} from "./RegistryCatalog.sol";

/// @title The registry's methodology and project administration, as a companion contract.
/// @notice CarbonRegistry's constructor creates it and forwards fileMethodology,
/// setMethodologyStatus, registerProject, reviewProject and setProjectStatus to it by DELEGATECALL:
/// the code runs on the proxy's storage (every namespace is ERC-7201, so the layout is the
/// registry's own), checks the proxy's roles, and its events are logged at the proxy's address.
/// @dev Apart so that the registry stays under the EIP-170 limit at every EVM target (without
/// PUSH0 its code grows by about 2 %). Called directly, it has its own empty storage: nobody holds
/// a role there, so every operation is refused.
contract CatalogExtension is RegistryCatalog {}
