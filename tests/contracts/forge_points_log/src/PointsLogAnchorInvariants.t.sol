// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IPointsLogAnchor, IRegistryRoles} from "./IPointsLogAnchor.sol";
import {PointsLogAnchorHandler} from "./PointsLogAnchorHandler.sol";
import {VM} from "./Vm.sol";

/// @notice PointsLogAnchor's three invariants, checked by forge after every one of the handler's
/// random calls (foundry.toml: 50 runs x 200 calls for each invariant_* function). The registry
/// (behind its ERC-1967 proxy) and the anchor contract are the project's own build.
contract PointsLogAnchorInvariants {
    string private constant _ARTIFACTS = "../../../build/contracts/artifacts/";
    string private constant _STATS = "../../../build/forge-points-log/invariant-stats.txt";

    IRegistryRoles private registry;
    IPointsLogAnchor private anchor;
    PointsLogAnchorHandler private handler;

    function setUp() public {
        address implementation = _deploy(VM.getCode(string.concat(_ARTIFACTS, "CarbonRegistry.json")));
        bytes memory init = abi.encodeCall(IRegistryRoles.initialize, (address(this), "ipfs://batches/{id}"));
        bytes memory proxyCode = VM.getCode(string.concat(_ARTIFACTS, "ERC1967Proxy.json"));
        registry = IRegistryRoles(_deploy(bytes.concat(proxyCode, abi.encode(implementation, init))));
        // ANCHOR_ARTIFACT points at another build of the anchor contract (a mutant, to see these tests fail)
        string memory anchorArtifact = VM.envOr("ANCHOR_ARTIFACT", string.concat(_ARTIFACTS, "PointsLogAnchor.json"));
        bytes memory anchorCode = VM.getCode(anchorArtifact);
        anchor = IPointsLogAnchor(_deploy(bytes.concat(anchorCode, abi.encode(address(registry)))));

        address[] memory actors = new address[](4);
        for (uint256 i = 0; i < actors.length; ++i) {
            actors[i] = address(uint160(uint256(keccak256(abi.encode("anchor actor", i)))));
        }
        // two actors start as anchorers; setRole moves the role around during the run
        registry.grantRole(anchor.ANCHORER_ROLE(), actors[0]);
        registry.grantRole(anchor.ANCHORER_ROLE(), actors[1]);
        handler = new PointsLogAnchorHandler(anchor, registry, actors);
        registry.grantRole(registry.DEFAULT_ADMIN_ROLE(), address(handler));
    }

    /// @notice The fuzzer calls only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice The latest anchored size is the largest ever anchored: it never went down, and no
    /// anchoring at a size that does not grow was accepted.
    function invariant_sizesOnlyGrow() external view {
        require(bytes(handler.sizeShrank()).length == 0, handler.sizeShrank());
        require(bytes(handler.badAnchorAccepted()).length == 0, handler.badAnchorAccepted());
        (uint256 size, bytes32 root) = anchor.latest();
        require(size == handler.ghostLatest(), "latest() differs from the last size anchored");
        require(root == handler.ghostRoot(size), "latest() root differs from the root anchored at that size");
        uint256 n = handler.anchoredCount();
        for (uint256 i = 1; i < n; ++i) {
            require(handler.anchoredSizes(i) > handler.anchoredSizes(i - 1), "an anchored size did not grow");
        }
    }

    /// @notice Every root once anchored is still the one anchored at its size.
    function invariant_rootsNeverChange() external view {
        uint256 n = handler.anchoredCount();
        for (uint256 i = 0; i < n; ++i) {
            uint256 size = handler.anchoredSizes(i);
            require(anchor.anchoredRoot(size) == handler.ghostRoot(size), "an anchored root changed");
        }
    }

    /// @notice Only a holder of the registry's ANCHORER_ROLE ever anchored, and a holder's valid
    /// anchoring was never refused.
    function invariant_onlyTheRoleAnchors() external view {
        require(bytes(handler.unauthorisedAnchor()).length == 0, handler.unauthorisedAnchor());
        require(bytes(handler.validAnchorRefused()).length == 0, handler.validAnchorRefused());
    }

    /// @notice One line per run of the outcomes, for tests/contracts/test_points_log_anchor_invariants.py
    /// to check the random calls did real work.
    function afterInvariant() external {
        string memory line = "";
        for (uint256 i = 0; i < 5; ++i) {
            line = string.concat(line, VM.toString(handler.ok(i)), " ");
        }
        VM.writeLine(_STATS, line);
    }

    function _deploy(bytes memory code) private returns (address deployed) {
        assembly {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        require(deployed != address(0), "deployment from the build artifact failed");
    }
}
