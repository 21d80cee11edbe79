// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice The few forge cheatcodes these tests use (forge-std is not on npm in a current version).
interface Vm {
    function prank(address sender) external;
    function getCode(string calldata artifactPath) external view returns (bytes memory);
    function writeLine(string calldata path, string calldata data) external;
    function toString(uint256 value) external pure returns (string memory);
    function envOr(string calldata name, string calldata defaultValue) external view returns (string memory);
}

Vm constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
