// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice Benchmark helper, deployed only on a benchmark's own anvil: sends many registry
/// operations in one transaction. anvil keeps every transaction (with its traces) in memory, so a
/// chain of a million registry events sent one operation per transaction outgrows this machine;
/// at a hundred operations per transaction it takes a few thousand. The registry sees an ordinary
/// caller: a platform participant the holders approved as their operator, holding the registrar role.
contract BenchRelay {
    address private immutable _owner;

    constructor() {
        _owner = msg.sender;
    }

    /// @notice Calls `target` with each of `calls` in order; any failure reverts them all.
    function relay(address target, bytes[] calldata calls) external {
        require(msg.sender == _owner, "BenchRelay: owner only");
        for (uint256 i = 0; i < calls.length; ++i) {
            (bool ok, bytes memory reason) = target.call(calls[i]);
            if (!ok) {
                assembly {
                    revert(add(reason, 32), mload(reason))
                }
            }
        }
    }
}
