// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IPointsLogAnchor, IRegistryRoles} from "./IPointsLogAnchor.sol";
import {VM} from "./Vm.sol";

/// @notice The fuzzer's only target. `anchorRoot` turns random seeds into one anchoring by one of
/// four actors (held roles change under `setRole`): one in eight tries the latest size again, one
/// in eight a smaller one, one in sixteen a zero root. The contract's refusal is swallowed; the
/// handler keeps a ghost of every root anchored and records the first call the contract got wrong
/// either way: accepted where it must refuse (no role, a size not growing, a zero root) or refused
/// a valid anchoring.
contract PointsLogAnchorHandler {
    IPointsLogAnchor public immutable anchor;
    IRegistryRoles public immutable registry;
    bytes32 public immutable role;
    address[] private _actors;

    uint256[] public anchoredSizes;
    mapping(uint256 treeSize => bytes32 root) public ghostRoot;
    uint256 public ghostLatest;

    /// @notice First violation seen of each kind (empty: none).
    string public unauthorisedAnchor;
    string public badAnchorAccepted;
    string public validAnchorRefused;
    string public sizeShrank;

    /// @notice Outcomes, for the test to see the campaign did real work: anchored, refused for no
    /// role, refused for a size not growing, refused for a zero root, role changes.
    uint256[5] public ok;

    constructor(IPointsLogAnchor anchor_, IRegistryRoles registry_, address[] memory actors) {
        anchor = anchor_;
        registry = registry_;
        role = anchor_.ANCHORER_ROLE();
        _actors = actors;
    }

    function anchorRoot(uint256 actorSeed, uint256 sizeSeed, uint256 rootSeed) external {
        address actor = _actors[actorSeed % _actors.length];
        uint256 mode = sizeSeed % 8;
        uint256 size = mode == 0
            ? ghostLatest // the latest again: a re-anchoring
            : mode == 1 ? (sizeSeed >> 8) % (ghostLatest + 1) : ghostLatest + 1 + (sizeSeed >> 8) % 1000;
        bytes32 root = rootSeed % 16 == 0 ? bytes32(0) : keccak256(abi.encode(rootSeed));
        bool authorised = registry.hasRole(role, actor);
        bool grows = size > ghostLatest;
        (uint256 before,) = anchor.latest();
        VM.prank(actor);
        try anchor.anchorRoot(size, root) {
            if (!authorised) _first(unauthorisedAnchor, "an account without ANCHORER_ROLE anchored", 0);
            if (!grows || root == bytes32(0)) _first(badAnchorAccepted, "a size not growing or a zero root", 1);
            // the ghost keeps the first root anchored at a size: a later one there is the contract's fault
            if (ghostRoot[size] == bytes32(0)) {
                ghostRoot[size] = root;
                anchoredSizes.push(size);
            }
            if (size > ghostLatest) ghostLatest = size;
            ++ok[0];
        } catch {
            if (authorised && grows && root != bytes32(0)) _first(validAnchorRefused, "a valid anchoring", 2);
            if (!authorised) ++ok[1];
            else if (!grows) ++ok[2];
            else ++ok[3];
        }
        (uint256 after_,) = anchor.latest();
        if (after_ < before) _first(sizeShrank, "the latest anchored size went down", 3);
    }

    /// @notice The registry's admin (this handler) grants or revokes the role of one actor.
    function setRole(uint256 actorSeed, bool grant) external {
        address actor = _actors[actorSeed % _actors.length];
        if (grant) registry.grantRole(role, actor);
        else registry.revokeRole(role, actor);
        ++ok[4];
    }

    function anchoredCount() external view returns (uint256) {
        return anchoredSizes.length;
    }

    function _first(string storage slot, string memory what, uint256 kind) private {
        if (bytes(slot).length != 0) return;
        string memory text = string.concat(what, " (size ", VM.toString(ghostLatest), ")");
        if (kind == 0) unauthorisedAnchor = text;
        else if (kind == 1) badAnchorAccepted = text;
        else if (kind == 2) validAnchorRefused = text;
        else sizeShrank = text;
    }
}
