// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @title Anchors of the personal carbon accounts' points log (RFC 9162, sha256).
/// @notice Every entry of the points ledger is a leaf of its own transparency log; the anchorer
/// posts (tree size, root) pairs whose sizes strictly grow, so a rewritten balance no longer
/// matches a root anchored here. Anchoring needs the registry's ANCHORER_ROLE, so the registry's
/// admin governs it, as it governs the certificate log's anchors and revocations.
/// @dev A separate contract because the registry is at the EIP-170 size limit.
contract PointsLogAnchor {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @notice The registry whose roles govern anchoring.
    IAccessControl public immutable registry;

    uint256 private _latestSize;
    mapping(uint256 treeSize => bytes32 root) private _roots;

    /// @notice The points log's root of a tree of `treeSize` entries was anchored.
    event PointsLogRootAnchored(uint256 indexed treeSize, bytes32 root, address operator);

    error AnchorNotAuthorised(address account);
    error TreeSizeNotGrowing(uint256 latest, uint256 treeSize);
    error ZeroRoot();

    constructor(IAccessControl registry_) {
        registry = registry_;
    }

    /// @notice Anchors the root `root` of the points log of `treeSize` entries.
    function anchorRoot(uint256 treeSize, bytes32 root) external {
        if (!registry.hasRole(ANCHORER_ROLE, msg.sender)) revert AnchorNotAuthorised(msg.sender);
        uint256 latest_ = _latestSize;
        if (treeSize <= latest_) revert TreeSizeNotGrowing(latest_, treeSize);
        if (root == bytes32(0)) revert ZeroRoot();
        _latestSize = treeSize;
        _roots[treeSize] = root;
        emit PointsLogRootAnchored(treeSize, root, msg.sender);
    }

    /// @notice The root anchored for `treeSize`, or zero if that size was never anchored.
    function anchoredRoot(uint256 treeSize) external view returns (bytes32) {
        return _roots[treeSize];
    }

    /// @notice The last anchored tree size and its root (0, 0 before the first anchoring).
    function latest() external view returns (uint256 treeSize, bytes32 root) {
        treeSize = _latestSize;
        root = _roots[treeSize];
    }
}
