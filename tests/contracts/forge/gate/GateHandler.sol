// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IGate, IGateRegistry} from "./IGate.sol";
import {VM} from "./Vm.sol";
import {CreditImport} from "registry/RegistryTypes.sol";

/// @notice The fuzzer's only target: random recognitions and withdrawals, imports through the gate
/// (with the right origin and evidence, or one field wrong), refusals, and a stranger's attempts.
/// It swallows refusals and keeps a ghost of what must hold; a call that succeeds where it must not
/// is recorded as a violation for the invariants to report.
contract GateHandler {
    bytes32 public constant ORIGIN = "SC-LINCAO";
    uint256 public constant SOURCE_CHAIN = 31_337;
    address public constant SOURCE_REGISTRY = address(0x5C);
    uint256 public constant EXPORTS = 24; // a small set of export ids, so keys are contested

    IGateRegistry public immutable registry;
    IGate public immutable gate;
    address public immutable buyer;
    address public immutable stranger;
    bytes32[2] private _methodologies;
    bytes32[2] private _projects; // project i is under methodology i

    uint256 public importedKg; // the sum of every import that succeeded
    uint256[] public importedBatches;
    bytes32[] public keys; // every key an import or refusal was tried on
    mapping(bytes32 key => bool) private _tried;
    uint256 public imports;
    uint256 public refusals;
    uint256 public refusedImports; // imports the gate turned down (any reason)
    uint256 private _op = 1 << 48;
    string public violation;

    constructor(
        IGateRegistry registry_,
        IGate gate_,
        address buyer_,
        address stranger_,
        bytes32[2] memory methodologies,
        bytes32[2] memory projects
    ) {
        (registry, gate, buyer, stranger) = (registry_, gate_, buyer_, stranger_);
        (_methodologies, _projects) = (methodologies, projects);
    }

    function keyOf(uint256 exportId) public pure returns (bytes32) {
        return keccak256(abi.encode(SOURCE_CHAIN, SOURCE_REGISTRY, exportId));
    }

    function recognise(uint256 seed) external {
        bytes32 m = _methodologies[seed % 2];
        if (gate.isRecognised(ORIGIN, m)) gate.withdraw(ORIGIN, m, "WITHDRAWN");
        else gate.recognise(ORIGIN, m, "AGREEMENT");
    }

    /// @notice An import through the gate; `wrong` 0..2 is a correct call, 3 a wrong export id in
    /// the origin, 4 another serial range than the evidence committed to.
    function importThroughGate(uint256 seed, uint256 amount, uint8 wrong) external {
        uint256 exportId = seed % EXPORTS;
        uint256 which = (seed >> 8) % 2;
        bytes32 key = keyOf(exportId);
        _note(key);
        bool recognised = gate.isRecognised(ORIGIN, _methodologies[which]);
        bool refusedBefore = gate.refusedWith(key) != bytes32(0);
        bool importedBefore = registry.importedBatch(key) != 0;
        (CreditImport memory c, IGate.Origin memory o) = _call(key, exportId, which, 1 + amount % 5_000);
        wrong %= 5;
        if (wrong == 3) o.exportId = exportId + 1;
        if (wrong == 4) o.lastSerial -= 1;
        try gate.importCredits(++_op, c, o) returns (uint256 batchId) {
            if (!recognised) violation = "an import succeeded under a methodology not recognised";
            if (refusedBefore) violation = "an import succeeded under a refused origin key";
            if (importedBefore) violation = "an origin key was imported twice";
            if (wrong >= 3) violation = "an import succeeded with an origin or evidence not the export's";
            importedKg += c.quantity;
            importedBatches.push(batchId);
            ++imports;
        } catch {
            ++refusedImports;
        }
    }

    function refuse(uint256 seed) external {
        bytes32 key = keyOf(seed % EXPORTS);
        _note(key);
        bool importedBefore = registry.importedBatch(key) != 0;
        try gate.refuse(key, "REFUSED") {
            if (importedBefore) violation = "an imported origin key was refused";
            ++refusals;
        } catch {}
    }

    function strangerTries(uint256 seed) external {
        uint256 exportId = seed % EXPORTS;
        (CreditImport memory c, IGate.Origin memory o) = _call(keyOf(exportId), exportId, seed % 2, 1_000);
        VM.prank(stranger);
        try gate.importCredits(++_op, c, o) returns (uint256) {
            violation = "a stranger imported through the gate";
        } catch {}
        VM.prank(stranger);
        try gate.refuse(keyOf(exportId), "STRANGER") {
            violation = "a stranger refused an origin key";
        } catch {}
        VM.prank(stranger);
        try gate.recognise(ORIGIN, _methodologies[seed % 2], "STRANGER") {
            violation = "a stranger changed a recognition";
        } catch {}
    }

    function keyCount() external view returns (uint256) {
        return keys.length;
    }

    function batchCount() external view returns (uint256) {
        return importedBatches.length;
    }

    function _call(bytes32 key, uint256 exportId, uint256 which, uint256 amount)
        private
        view
        returns (CreditImport memory c, IGate.Origin memory o)
    {
        uint256 sourceBatch = 1 + exportId % 3;
        uint256 first = 1 + (sourceBatch - 1) * 100_000;
        uint256 last = first + 99_999;
        o = IGate.Origin(SOURCE_CHAIN, SOURCE_REGISTRY, exportId, sourceBatch, first, last);
        c = CreditImport({
            originKey: key,
            originRegistry: ORIGIN,
            projectId: _projects[which],
            to: buyer,
            vintage: 2024,
            quantity: uint128(amount),
            evidenceHash: keccak256(abi.encode(key, sourceBatch, first, last))
        });
    }

    function _note(bytes32 key) private {
        if (!_tried[key]) {
            _tried[key] = true;
            keys.push(key);
        }
    }
}
