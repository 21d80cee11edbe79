// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {GateHandler} from "./GateHandler.sol";
import {IGate, IGateRegistry} from "./IGate.sol";
import {VM} from "./Vm.sol";
import {Ecosystem, ParticipantKind, ProjectRegistration} from "registry/RegistryTypes.sol";

/// @notice The import gate's invariants, checked by forge after every one of the handler's random
/// calls (foundry.toml: 50 runs x 200 calls for each invariant_* function). The registry and the
/// gate are the project's own build (build/contracts/artifacts).
contract GateInvariants {
    string private constant _ARTIFACTS = "../../../../build/contracts/artifacts/";
    string private constant _STATS = "../../../../build/forge-gate/invariant-stats.txt";

    IGateRegistry private registry;
    IGate private gate;
    GateHandler private handler;

    function setUp() public {
        // REGISTRY_ARTIFACTS points at another build (a mutant, tests/contracts/forge/compile_mutant.py)
        string memory artifacts = VM.envOr("REGISTRY_ARTIFACTS", _ARTIFACTS);
        address implementation = _deploy(VM.getCode(string.concat(artifacts, "CarbonRegistry.json")));
        bytes memory init = abi.encodeCall(IGateRegistry.initialize, (address(this), "ipfs://batches/{id}"));
        bytes memory proxyCode = VM.getCode(string.concat(artifacts, "ERC1967Proxy.json"));
        registry = IGateRegistry(_deploy(bytes.concat(proxyCode, abi.encode(implementation, init))));
        registry.grantRole(registry.REGISTRAR_ROLE(), address(this));
        registry.grantRole(registry.REVIEWER_ROLE(), address(this));
        bytes memory gateCode = VM.getCode(string.concat(artifacts, "MethodologyRecognitions.json"));
        gate = IGate(_deploy(bytes.concat(gateCode, abi.encode(address(registry)))));

        bytes32[2] memory methodologies = [bytes32("SCFM-001-V01"), bytes32("SCGM-002-V01")];
        bytes32[2] memory projects = [bytes32("P-GATE-0001"), bytes32("P-GATE-0002")];
        address owner = address(0x0A);
        address buyer = address(0x0B);
        registry.registerParticipant(1, owner, ParticipantKind.ProjectOwner, "REF");
        registry.registerParticipant(2, buyer, ParticipantKind.Enterprise, "REF");
        for (uint256 i = 0; i < 2; ++i) {
            registry.fileMethodology(10 + i, methodologies[i], Ecosystem.Forest, 1, "DOC");
            bytes32[] memory parcels = new bytes32[](1);
            parcels[0] = bytes32(i + 1);
            registry.registerProject(
                20 + i,
                ProjectRegistration({
                    projectId: projects[i],
                    methodologyId: methodologies[i],
                    owner: owner,
                    countyCode: 511802,
                    areaSquareMetres: 2_000_000,
                    creditingStart: 1_577_836_800,
                    creditingEnd: 2_208_988_800,
                    documentsHash: "DOCS",
                    parcels: parcels
                })
            );
            registry.reviewProject(30 + i, projects[i], true, "REVIEW");
        }
        handler = new GateHandler(registry, gate, buyer, address(0x5757), methodologies, projects);
        // the gate imports; the handler relays and (as the registry's registrar) records recognitions
        registry.grantRole(registry.REGISTRAR_ROLE(), address(gate));
        registry.grantRole(keccak256("BRIDGE_RELAYER_ROLE"), address(handler));
        registry.grantRole(registry.REGISTRAR_ROLE(), address(handler));
    }

    /// @notice The fuzzer calls only the handler.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice An origin key is imported or refused on the destination, never both.
    function invariant_aKeyIsImportedOrRefusedNeverBoth() external view {
        uint256 n = handler.keyCount();
        for (uint256 i = 0; i < n; ++i) {
            bytes32 key = handler.keys(i);
            require(
                registry.importedBatch(key) == 0 || gate.refusedWith(key) == bytes32(0),
                "an origin key is both imported and refused"
            );
        }
    }

    /// @notice No import succeeded unrecognised, refused, twice, with a wrong origin, or by a stranger.
    function invariant_noImportPassesWhatTheGateChecks() external view {
        require(bytes(handler.violation()).length == 0, handler.violation());
    }

    /// @notice The imported batches hold exactly what the successful imports carried, each under its key.
    function invariant_importedSupplyIsWhatWasImported() external view {
        uint256 n = handler.batchCount();
        uint256 sum;
        for (uint256 i = 0; i < n; ++i) {
            (uint256 issued, uint256 circulating,,) = registry.supply(handler.importedBatches(i));
            require(issued == circulating, "an imported batch lost units without a retirement");
            sum += issued;
        }
        require(sum == handler.importedKg(), "the imported batches do not hold what was imported");
    }

    /// @notice One line per run: imports, refusals, imports refused, for the Python test to check
    /// the random calls did real work on every side.
    function afterInvariant() external {
        VM.writeLine(
            _STATS,
            string.concat(
                VM.toString(handler.imports()),
                " ",
                VM.toString(handler.refusals()),
                " ",
                VM.toString(handler.refusedImports())
            )
        );
    }

    function _deploy(bytes memory code) private returns (address deployed) {
        assembly {
            deployed := create(0, add(code, 0x20), mload(code))
        }
        require(deployed != address(0), "deployment from the build artifact failed");
    }
}
