// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {CarbonRegistry} from "../CarbonRegistry.sol";

/// @title A second implementation, used by the tests to prove that an upgrade keeps all state.
contract CarbonRegistryV2Example is CarbonRegistry {
    /// @inheritdoc CarbonRegistry
    function registryVersion() external pure override returns (uint256) {
        return 2;
    }
}
