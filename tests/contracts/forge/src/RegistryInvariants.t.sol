// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IRegistry} from "./IRegistry.sol";
import {RegistryHandler} from "./RegistryHandler.sol";
import {VM} from "./Vm.sol";
import {Ecosystem, IssuanceRequest, ParticipantKind, ProjectRegistration} from "registry/RegistryTypes.sol";

/// @notice The registry's five invariants, checked by forge after every one of the handler's
/// random calls (foundry.toml: 50 runs x 200 calls for each invariant_* function). The registry
/// is the project's own build (build/contracts/artifacts) behind its ERC-1967 proxy.
contract RegistryInvariants {
    // REGISTRY_ARTIFACTS points at another build (a mutant of the registry, to see these tests fail)
    string private constant _ARTIFACTS = "../../../build/contracts/artifacts/";
    string private constant _STATS = "../../../build/forge/invariant-stats.txt";

    IRegistry private registry;
    RegistryHandler private handler;
    address[] private holders; // the handler's actors and the reserve account

    function setUp() public {
        string memory artifacts = VM.envOr("REGISTRY_ARTIFACTS", _ARTIFACTS);
        address implementation = _deploy(VM.getCode(string.concat(artifacts, "CarbonRegistry.json")));
        bytes memory init = abi.encodeCall(IRegistry.initialize, (address(this), "ipfs://batches/{id}"));
        bytes memory proxyCode = VM.getCode(string.concat(artifacts, "ERC1967Proxy.json"));
        registry = IRegistry(_deploy(bytes.concat(proxyCode, abi.encode(implementation, init))));
        registry.grantRole(registry.REGISTRAR_ROLE(), address(this));
        registry.grantRole(registry.REVIEWER_ROLE(), address(this));

        ParticipantKind[6] memory kinds = [
            ParticipantKind.ProjectOwner,
            ParticipantKind.Enterprise,
            ParticipantKind.Individual,
            ParticipantKind.Enterprise,
            ParticipantKind.Platform,
            ParticipantKind.Pledgee
        ];
        address[] memory actors = new address[](kinds.length);
        uint256[] memory ops = new uint256[](kinds.length + 4);
        ops[0] = 1;
        registry.fileMethodology(1, "SCFM-001-V01", Ecosystem.Forest, 1, "DOC");
        for (uint256 i = 0; i < kinds.length; ++i) {
            actors[i] = address(uint160(uint256(keccak256(abi.encode("actor", i)))));
            ops[i + 1] = i + 2;
            registry.registerParticipant(i + 2, actors[i], kinds[i], "REF");
            holders.push(actors[i]);
        }
        holders.push(registry.RESERVE_ACCOUNT());
        bytes32[] memory parcels = new bytes32[](1);
        parcels[0] = "PARCEL-1";
        registry.registerProject(
            100,
            ProjectRegistration({
                projectId: "P-FUZZ-0001",
                methodologyId: "SCFM-001-V01",
                owner: actors[0],
                countyCode: 511802,
                areaSquareMetres: 2_000_000,
                creditingStart: 1_577_836_800,
                creditingEnd: 2_208_988_800,
                documentsHash: "DOCS",
                parcels: parcels
            })
        );
        registry.reviewProject(101, "P-FUZZ-0001", true, "REVIEW");
        uint256 batchId = registry.issue(
            102,
            IssuanceRequest({
                projectId: "P-FUZZ-0001",
                vintage: 2024,
                monitoringStart: 1_704_067_200,
                monitoringEnd: 1_735_689_600,
                quantity: 100_000,
                reserveBps: 1_000,
                verificationReportHash: "VERIFICATION",
                reviewHash: bytes32(0)
            })
        );
        (ops[7], ops[8], ops[9]) = (100, 101, 102);
        // spread the first batch so every holder has units to move, lock and retire
        for (uint256 i = 1; i < kinds.length; ++i) {
            VM.prank(actors[0]);
            registry.safeTransferFrom(actors[0], actors[i], batchId, 10_000, "");
        }
        handler = new RegistryHandler(registry, actors, ops, batchId);
        registry.grantRole(registry.REGISTRAR_ROLE(), address(handler));
    }

    /// @notice The fuzzer calls only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Per batch: issued = the sum of every balance + retired + cancelled, and each bucket
    /// equals what the successful calls put in it.
    function invariant_supplyConservedPerBatch() external view {
        uint256 n = handler.batchCount();
        for (uint256 b = 0; b < n; ++b) {
            uint256 id = handler.batches(b);
            (uint256 issued, uint256 circulating, uint256 retired, uint256 cancelled) = registry.supply(id);
            require(issued == handler.ghostIssued(id), "issued differs from the quantity issued");
            require(cancelled == handler.ghostCancelled(id), "cancelled differs from the units cancelled");
            require(issued == circulating + retired + cancelled, "issued != circulating + retired + cancelled");
            require(_sumOfBalances(id) == circulating, "the holders' balances do not add up to the circulating supply");
        }
    }

    /// @notice No transfer, retirement, cancellation or new lock ever took pledged or frozen units;
    /// every holder's locks are exactly its open pledges and exports, and covered by its balance.
    function invariant_lockedUnitsNeverMove() external view {
        require(bytes(handler.lockedMoved()).length == 0, handler.lockedMoved());
        uint256 n = handler.batchCount();
        for (uint256 b = 0; b < n; ++b) {
            uint256 id = handler.batches(b);
            for (uint256 h = 0; h < holders.length; ++h) {
                (uint256 pledged, uint256 frozen) = registry.lockedOf(holders[h], id);
                require(pledged == handler.ghostPledged(id, holders[h]), "pledged differs from the open pledges");
                require(frozen == handler.ghostFrozen(id, holders[h]), "frozen differs from the pending exports");
                require(
                    registry.balanceOf(holders[h], id) >= pledged + frozen,
                    "a holder has fewer units than it has locked"
                );
            }
        }
    }

    /// @notice No suspended or revoked participant's balance changed, other than by the registrar's
    /// cancellation, the confirmation of an export frozen earlier, or its pledgee enforcing a pledge.
    function invariant_barredParticipantsNeverMove() external view {
        require(bytes(handler.barredMoved()).length == 0, handler.barredMoved());
    }

    /// @notice The retired bucket only ever grows, by exactly the units retired, and retired units are
    /// in nobody's balance (the supply identity holds with them outside circulation).
    function invariant_retiredUnitsNeverMoveAgain() external view {
        uint256 n = handler.batchCount();
        for (uint256 b = 0; b < n; ++b) {
            uint256 id = handler.batches(b);
            (uint256 issued,, uint256 retired, uint256 cancelled) = registry.supply(id);
            require(retired == handler.ghostRetired(id), "retired differs from the units retired");
            require(_sumOfBalances(id) + retired + cancelled == issued, "retired units are back in a balance");
        }
    }

    /// @notice Every reused operation id was refused, and every applied one is marked applied.
    function invariant_operationIdsApplyOnce() external view {
        require(bytes(handler.replayApplied()).length == 0, handler.replayApplied());
        uint256 n = handler.usedOpCount();
        for (uint256 i = 0; i < n; ++i) {
            require(registry.isOperationApplied(handler.usedOps(i)), "an applied operation id is not marked applied");
        }
    }

    /// @notice One line per run of what succeeded, for tests/contracts/test_invariants.py to check the
    /// random calls did real work.
    function afterInvariant() external {
        string memory line = "";
        for (uint256 i = 0; i < 14; ++i) {
            line = string.concat(line, VM.toString(handler.ok(i)), " ");
        }
        (uint256 pledges, uint256 exports) = handler.openLocks();
        line = string.concat(
            line,
            VM.toString(handler.replaysTried()),
            " ",
            VM.toString(handler.batchCount()),
            " ",
            VM.toString(pledges + exports)
        );
        VM.writeLine(_STATS, line);
    }

    function _sumOfBalances(uint256 id) private view returns (uint256 sum) {
        for (uint256 h = 0; h < holders.length; ++h) {
            sum += registry.balanceOf(holders[h], id);
        }
    }

    function _deploy(bytes memory code) private returns (address deployed) {
        assembly {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        require(deployed != address(0), "deployment from the build artifact failed");
    }
}
