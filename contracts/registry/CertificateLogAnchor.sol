// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {RegistryRoles} from "./RegistryRoles.sol";
import {IRegistryErrors} from "./IRegistryErrors.sol";
import {IRegistryEvents} from "./IRegistryEvents.sol";

/// @title Anchors of the certificate transparency log (RFC 9162, sha256).
/// @notice The anchorer posts (tree size, root) pairs whose sizes strictly grow; anyone checks an
/// RFC 9162 inclusion proof against an anchored root with one eth_call to {verifyInclusion}.
/// The tree size is the anchoring's operation id: a size is anchored at most once.
abstract contract CertificateLogAnchor is RegistryRoles, IRegistryErrors, IRegistryEvents {
    /// @custom:storage-location erc7201:sichuan.carbon.registry.anchors
    struct AnchorStorage {
        // the last anchored size plus one, set to 1 at initialisation: the first anchoring then
        // rewrites a used slot (5,000 gas) instead of filling an empty one (22,100 gas)
        uint256 latestTreeSizePlusOne;
        mapping(uint256 treeSize => bytes32 root) roots;
    }

    // keccak256(abi.encode(uint256(keccak256("sichuan.carbon.registry.anchors")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _ANCHORS_SLOT = 0x1300437e34a70d5a38ea066bfaaf33a38746858065325644a5ddd0c145569c00;

    function _anchors() private pure returns (AnchorStorage storage $) {
        assembly {
            $.slot := _ANCHORS_SLOT
        }
    }

    /// @notice Anchors the log root `root` of a tree of `treeSize` entries.
    /// @dev Reverts with RegistryTreeSizeNotGrowing unless treeSize exceeds the last anchored size.
    function anchorLogRoot(uint256 treeSize, bytes32 root) external onlyRole(ANCHORER_ROLE) {
        AnchorStorage storage $ = _anchors();
        uint256 latest = _latestTreeSize($);
        if (treeSize <= latest) revert RegistryTreeSizeNotGrowing(latest, treeSize);
        if (root == bytes32(0)) revert RegistryZeroRoot();
        $.latestTreeSizePlusOne = treeSize + 1;
        $.roots[treeSize] = root;
        emit LogRootAnchored(treeSize, root, block.timestamp);
    }

    /// @notice The root anchored for `treeSize`, or zero if that size was never anchored.
    function anchoredRoot(uint256 treeSize) external view returns (bytes32) {
        return _anchors().roots[treeSize];
    }

    /// @notice The last anchored tree size and its root (0, 0 before the first anchoring).
    function latestAnchor() external view returns (uint256 treeSize, bytes32 root) {
        AnchorStorage storage $ = _anchors();
        treeSize = _latestTreeSize($);
        root = $.roots[treeSize];
    }

    function __CertificateLogAnchor_init() internal {
        _anchors().latestTreeSizePlusOne = 1;
    }

    function _latestTreeSize(AnchorStorage storage $) private view returns (uint256) {
        uint256 plusOne = $.latestTreeSizePlusOne;
        return plusOne == 0 ? 0 : plusOne - 1;
    }

    /// @notice Whether `proof` shows that the leaf with hash `leafHash` (sha256(0x00 || entry)) sits
    /// at `leafIndex` in the anchored tree of `treeSize` entries. False for a size never anchored.
    function verifyInclusion(uint256 treeSize, uint256 leafIndex, bytes32 leafHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _anchors().roots[treeSize];
        if (root == bytes32(0) || leafIndex >= treeSize) return false;
        (bool ok, bytes32 computed) = _rootFromInclusionProof(treeSize, leafIndex, leafHash, proof);
        return ok && computed == root;
    }

    /// @dev RFC 9162 section 2.1.3.2: the root an inclusion proof leads to; `ok` is false when the
    /// proof's length does not fit the tree.
    function _rootFromInclusionProof(uint256 treeSize, uint256 leafIndex, bytes32 leafHash, bytes32[] calldata proof)
        internal
        pure
        returns (bool ok, bytes32 root)
    {
        if (leafIndex >= treeSize) return (false, bytes32(0));
        uint256 fn = leafIndex;
        uint256 sn = treeSize - 1;
        root = leafHash;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return (false, bytes32(0));
            if (fn & 1 == 1 || fn == sn) {
                root = sha256(abi.encodePacked(bytes1(0x01), proof[i], root));
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                root = sha256(abi.encodePacked(bytes1(0x01), root, proof[i]));
            }
            fn >>= 1;
            sn >>= 1;
        }
        ok = sn == 0;
    }
}
