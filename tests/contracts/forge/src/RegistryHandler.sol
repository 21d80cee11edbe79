// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IRegistry} from "./IRegistry.sol";
import {VM} from "./Vm.sol";
import {
    CancellationReason,
    CreditImport,
    IssuanceRequest,
    ParticipantKind,
    ParticipantStatus,
    Scenario
} from "registry/RegistryTypes.sol";

/// @notice The fuzzer's only target: each function turns random seeds into one registry call
/// (as the registrar, a holder, the platform or the pledgee), swallows the registry's refusal,
/// and on success updates a ghost model of what the registry must hold. Any call that succeeds
/// where it must not (a locked or barred unit moving, an operation id applied twice) is recorded
/// as a violation for the invariants to report. About one call in eight reuses an applied id.
contract RegistryHandler {
    /// @notice A pledge or export that still locks units.
    struct Lock {
        uint256 id;
        address holder;
        uint256 batchId;
        uint256 amount;
    }

    /// @notice One movement's holder, batch, amount, the holder's free units before it, and its id.
    struct Move {
        address holder;
        uint256 batchId;
        uint256 amount;
        uint256 free;
        uint256 opId;
        bool replay;
    }

    uint256 public constant MAX_BATCHES = 4;
    bytes32 public constant PROJECT = "P-FUZZ-0001";
    uint256 private constant _OP_BASE = 1 << 40;

    IRegistry public immutable registry;
    address public immutable reserve;
    address public immutable platform;
    address public immutable pledgee;
    address[] private _actors;

    uint256[] public batches;
    mapping(uint256 batchId => uint256) public ghostIssued;
    mapping(uint256 batchId => uint256) public ghostRetired;
    mapping(uint256 batchId => uint256) public ghostCancelled;
    mapping(uint256 batchId => mapping(address holder => uint256)) public ghostPledged;
    mapping(uint256 batchId => mapping(address holder => uint256)) public ghostFrozen;
    uint256[] public usedOps;
    Lock[] private _pledges;
    Lock[] private _exports;
    uint256 private _opCounter;

    /// @notice First violation seen of each kind (empty: none).
    string public lockedMoved;
    string public barredMoved;
    string public replayApplied;

    /// @notice Successful calls per kind: issue, import, transfer, retire, retireFor, cancel,
    /// requestExport, confirmExport, abortExport, pledge, release, enforce, status, approve.
    uint256[14] public ok;
    uint256 public replaysTried;

    constructor(IRegistry registry_, address[] memory actors_, uint256[] memory setupOps, uint256 firstBatch) {
        registry = registry_;
        reserve = registry_.RESERVE_ACCOUNT();
        _actors = actors_;
        platform = actors_[actors_.length - 2];
        pledgee = actors_[actors_.length - 1];
        usedOps = setupOps;
        batches.push(firstBatch);
        (ghostIssued[firstBatch],,,) = registry_.supply(firstBatch);
    }

    // ------------------------------------------------------------------ actions

    function issue(uint256 quantitySeed, uint256 bpsSeed, uint256 opSeed) external {
        if (batches.length >= MAX_BATCHES) return;
        (uint256 opId, bool replay) = _op(opSeed);
        uint128 quantity = uint128(1 + quantitySeed % 1_000_000);
        IssuanceRequest memory r = IssuanceRequest({
            projectId: PROJECT,
            vintage: 2024,
            monitoringStart: 1_704_067_200,
            monitoringEnd: 1_735_689_600,
            quantity: quantity,
            reserveBps: uint16(bpsSeed % 10_001),
            verificationReportHash: bytes32(opSeed),
            reviewHash: bytes32(0)
        });
        uint256[] memory before = _balances();
        try registry.issue(opId, r) returns (uint256 batchId) {
            _applied(opId, replay, 0);
            batches.push(batchId);
            ghostIssued[batchId] = quantity;
            _checkBarred(before, address(0), 0, 0);
        } catch {}
    }

    function importCredits(uint256 toSeed, uint256 quantitySeed, uint256 opSeed) external {
        if (batches.length >= MAX_BATCHES) return;
        (uint256 opId, bool replay) = _op(opSeed);
        uint128 quantity = uint128(1 + quantitySeed % 1_000_000);
        CreditImport memory c = CreditImport({
            originKey: keccak256(abi.encode("origin", opId, replay)),
            originRegistry: "CQ-TANHUITONG",
            projectId: PROJECT,
            to: _holder(toSeed),
            vintage: 2023,
            quantity: quantity,
            evidenceHash: bytes32(0)
        });
        uint256[] memory before = _balances();
        try registry.importCredits(opId, c) returns (uint256 batchId) {
            _applied(opId, replay, 1);
            batches.push(batchId);
            ghostIssued[batchId] = quantity;
            _checkBarred(before, address(0), 0, 0);
        } catch {}
    }

    /// @param mode 0: ERC-1155 safeTransferFrom by the holder (no operation id); 1: transferWithReference
    /// by the holder; 2: transferWithReference by the platform as the holder's operator; 3: ERC-1155
    /// safeBatchTransferFrom by the holder, the batch split in two entries.
    function transfer(
        uint256 fromSeed,
        uint256 toSeed,
        uint256 batchSeed,
        uint256 amountSeed,
        uint256 opSeed,
        uint8 mode
    ) external {
        (address from, uint256 batchId) = _target(_holder(fromSeed), fromSeed, batchSeed);
        address to = _holderOrReserve(toSeed);
        uint256 free = _free(from, batchId);
        uint256 amount = _amount(amountSeed, from, batchId, free);
        uint256[] memory before = _balances();
        bool success;
        uint256 opId;
        bool replay;
        if (mode % 4 == 0) {
            VM.prank(from);
            try registry.safeTransferFrom(from, to, batchId, amount, "") {
                success = true;
            } catch {}
        } else if (mode % 4 == 3) {
            // the same batch listed twice: the registry must check the sum against the free units
            (uint256[] memory ids, uint256[] memory values) = (new uint256[](2), new uint256[](2));
            (ids[0], ids[1], values[0], values[1]) = (batchId, batchId, amount / 2, amount - amount / 2);
            VM.prank(from);
            try registry.safeBatchTransferFrom(from, to, ids, values, "") {
                success = true;
            } catch {}
        } else {
            (opId, replay) = _op(opSeed);
            VM.prank(mode % 4 == 1 ? from : platform);
            try registry.transferWithReference(opId, from, to, batchId, amount, "TRADE") {
                success = true;
            } catch {}
        }
        if (!success) return;
        if (mode % 4 == 1 || mode % 4 == 2) _applied(opId, replay, 2);
        else ok[2]++;
        _checkFree("transfer", amount, free);
        _checkBarred(before, address(0), 0, 0);
    }

    function approve(uint256 holderSeed, bool approved) external {
        address holder = _holder(holderSeed);
        VM.prank(holder);
        registry.setApprovalForAll(platform, approved);
        ok[13]++;
    }

    function retire(uint256 holderSeed, uint256 batchSeed, uint256 amountSeed, uint256 opSeed) external {
        Move memory m = _move(holderSeed, batchSeed, amountSeed, opSeed);
        uint256[] memory before = _balances();
        VM.prank(m.holder);
        try registry.retire(m.opId, m.batchId, m.amount, Scenario.Voluntary, bytes32(opSeed), "CLAIM") {
            _retired(m, before, 3);
        } catch {}
    }

    /// @dev The platform retires for a custodial holder (who must have approved it).
    function retireFor(uint256 holderSeed, uint256 batchSeed, uint256 amountSeed, uint256 opSeed) external {
        Move memory m = _move(holderSeed, batchSeed, amountSeed, opSeed);
        uint256[] memory before = _balances();
        VM.prank(platform);
        try registry.retireFor(m.opId, m.holder, m.batchId, m.amount, Scenario.Personal, bytes32(opSeed), "CLAIM") {
            _retired(m, before, 4);
        } catch {}
    }

    function _retired(Move memory m, uint256[] memory before, uint256 kind) private {
        _applied(m.opId, m.replay, kind);
        ghostRetired[m.batchId] += m.amount;
        _checkFree("retirement", m.amount, m.free);
        _checkBarred(before, address(0), 0, 0);
    }

    function cancel(uint256 holderSeed, uint256 batchSeed, uint256 amountSeed, uint256 reasonSeed, uint256 opSeed)
        external
    {
        (address holder, uint256 batchId) = _target(_holderOrReserve(holderSeed), holderSeed, batchSeed);
        uint256 free = _free(holder, batchId);
        uint256 amount = _amount(amountSeed, holder, batchId, free);
        (uint256 opId, bool replay) = _op(opSeed);
        uint256[] memory before = _balances();
        CancellationReason reason = CancellationReason(reasonSeed % 6);
        try registry.cancel(opId, holder, batchId, amount, reason, "EVIDENCE") {
            _applied(opId, replay, 5);
            ghostCancelled[batchId] += amount;
            _checkFree("cancellation", amount, free);
            // the registrar's cancellation is the one way units leave a barred holder by decision
            _checkBarred(before, holder, batchId, amount);
        } catch {}
    }

    function requestExport(uint256 holderSeed, uint256 batchSeed, uint256 amountSeed, uint256 opSeed) external {
        (address holder, uint256 batchId) = _target(_holder(holderSeed), holderSeed, batchSeed);
        uint256 free = _free(holder, batchId);
        uint256 amount = _amount(amountSeed, holder, batchId, free);
        (uint256 opId, bool replay) = _op(opSeed);
        uint256[] memory before = _balances();
        try registry.requestExport(opId, holder, batchId, amount, "CQ-TANHUITONG", "ACCOUNT") {
            _applied(opId, replay, 6);
            ghostFrozen[batchId][holder] += amount;
            _exports.push(Lock(opId, holder, batchId, amount));
            _checkFree("export freeze", amount, free);
            _checkBarred(before, address(0), 0, 0);
        } catch {}
    }

    function settleExport(uint256 indexSeed, uint256 opSeed, bool confirm) external {
        (Lock memory e, uint256 index) = _pick(_exports, indexSeed);
        (uint256 opId, bool replay) = _op(opSeed);
        uint256[] memory before = _balances();
        bool success;
        if (confirm) {
            try registry.confirmExport(opId, e.id, "DESTINATION") {
                success = true;
            } catch {}
        } else {
            try registry.abortExport(opId, e.id, "ABORTED") {
                success = true;
            } catch {}
        }
        if (!success) return;
        _applied(opId, replay, confirm ? 7 : 8);
        if (index == type(uint256).max) {
            _violation(lockedMoved, "an export that was never requested was settled");
            return;
        }
        ghostFrozen[e.batchId][e.holder] -= e.amount;
        if (confirm) ghostCancelled[e.batchId] += e.amount;
        _remove(_exports, index);
        // a confirmed export cancels units frozen while the holder could still export them
        _checkBarred(before, confirm ? e.holder : address(0), e.batchId, confirm ? e.amount : 0);
    }

    function pledge(uint256 holderSeed, uint256 batchSeed, uint256 amountSeed, uint256 opSeed) external {
        (address holder, uint256 batchId) = _target(_holder(holderSeed), holderSeed, batchSeed);
        uint256 free = _free(holder, batchId);
        uint256 amount = _amount(amountSeed, holder, batchId, free);
        (uint256 opId, bool replay) = _op(opSeed);
        uint256[] memory before = _balances();
        VM.prank(holder);
        try registry.pledge(opId, batchId, amount, pledgee, "REGISTRATION") {
            _applied(opId, replay, 9);
            ghostPledged[batchId][holder] += amount;
            _pledges.push(Lock(opId, holder, batchId, amount));
            _checkFree("pledge", amount, free);
            _checkBarred(before, address(0), 0, 0);
        } catch {}
    }

    function settlePledge(uint256 indexSeed, uint256 opSeed, bool enforce) external {
        (Lock memory p, uint256 index) = _pick(_pledges, indexSeed);
        (uint256 opId, bool replay) = _op(opSeed);
        uint256[] memory before = _balances();
        bool success;
        VM.prank(pledgee);
        if (enforce) {
            try registry.enforcePledge(opId, p.id) {
                success = true;
            } catch {}
        } else {
            try registry.releasePledge(opId, p.id) {
                success = true;
            } catch {}
        }
        if (!success) return;
        _applied(opId, replay, enforce ? 11 : 10);
        if (index == type(uint256).max) {
            _violation(lockedMoved, "a pledge that was never made was settled");
            return;
        }
        ghostPledged[p.batchId][p.holder] -= p.amount;
        _remove(_pledges, index);
        // enforcement moves pledged units to the pledgee whatever the pledgor's status (by design)
        _checkBarred(before, enforce ? p.holder : address(0), p.batchId, enforce ? p.amount : 0);
    }

    /// @dev Mostly reinstates or restricts; suspends often; revokes (terminal) rarely.
    function setStatus(uint256 actorSeed, uint256 statusSeed, uint256 opSeed) external {
        address account = _holder(actorSeed);
        uint256 s = statusSeed % 16;
        ParticipantStatus status = s < 9
            ? ParticipantStatus.Active
            : s < 11 ? ParticipantStatus.Restricted : s < 15 ? ParticipantStatus.Suspended : ParticipantStatus.Revoked;
        (uint256 opId, bool replay) = _op(opSeed);
        try registry.setParticipantStatus(opId, account, status, "REASON") {
            _applied(opId, replay, 12);
        } catch {}
    }

    // ------------------------------------------------------------------ views for the invariants

    function actors() external view returns (address[] memory) {
        return _actors;
    }

    function batchCount() external view returns (uint256) {
        return batches.length;
    }

    function usedOpCount() external view returns (uint256) {
        return usedOps.length;
    }

    function openLocks() external view returns (uint256 pledges, uint256 exports) {
        return (_pledges.length, _exports.length);
    }

    // ------------------------------------------------------------------ internals

    function _move(uint256 holderSeed, uint256 batchSeed, uint256 amountSeed, uint256 opSeed)
        private
        returns (Move memory m)
    {
        (m.holder, m.batchId) = _target(_holder(holderSeed), holderSeed, batchSeed);
        m.free = _free(m.holder, m.batchId);
        m.amount = _amount(amountSeed, m.holder, m.batchId, m.free);
        (m.opId, m.replay) = _op(opSeed);
    }

    /// @dev A fresh id (consecutive ones share bitmap words, hashed ones spread) or, one time in
    /// eight, an id already applied, which the registry must refuse.
    function _op(uint256 seed) private returns (uint256 opId, bool replay) {
        if (seed % 8 == 0 && usedOps.length != 0) {
            ++replaysTried;
            return (usedOps[(seed >> 3) % usedOps.length], true);
        }
        uint256 n = ++_opCounter;
        opId = seed % 2 == 0 ? _OP_BASE + n : uint256(keccak256(abi.encode("op", n)));
    }

    function _applied(uint256 opId, bool replay, uint256 kind) private {
        if (replay) _violation(replayApplied, string.concat("operation id applied twice: ", VM.toString(opId)));
        usedOps.push(opId);
        ok[kind]++;
    }

    function _holder(uint256 seed) private view returns (address) {
        return _actors[seed % _actors.length];
    }

    /// @dev One draw in eight is the reserve account, which only the registrar's cancellation may touch.
    function _holderOrReserve(uint256 seed) private view returns (address) {
        return seed % 8 == 7 ? reserve : _actors[(seed >> 3) % _actors.length];
    }

    /// @dev `holder` and a batch drawn from `batchSeed`, or, one draw in four while units are locked,
    /// the holder and batch of an open pledge or export, so that moving locked units is attempted.
    function _target(address holder, uint256 holderSeed, uint256 batchSeed) private view returns (address, uint256) {
        if ((holderSeed >> 16) % 4 == 0) {
            Lock[] storage locks = (holderSeed >> 18) % 2 == 0 ? _pledges : _exports;
            if (locks.length != 0) {
                Lock storage l = locks[(holderSeed >> 20) % locks.length];
                return (l.holder, l.batchId);
            }
        }
        return (holder, _batch(batchSeed));
    }

    function _batch(uint256 seed) private view returns (uint256) {
        // one draw in sixteen names a batch that does not exist
        if (seed % 16 == 15) return 1_000 + seed % 7;
        return batches[(seed >> 4) % batches.length];
    }

    function _free(address holder, uint256 batchId) private view returns (uint256) {
        (uint256 pledged, uint256 frozen) = registry.lockedOf(holder, batchId);
        uint256 balance = registry.balanceOf(holder, batchId);
        return balance > pledged + frozen ? balance - pledged - frozen : 0;
    }

    /// @dev Usually within the free units; one time in four beyond them, into the locked units and a
    /// little past the balance, so that taking locked or missing units is attempted.
    function _amount(uint256 seed, address holder, uint256 batchId, uint256 free) private view returns (uint256) {
        if (seed % 4 == 0) return free + 1 + (seed >> 2) % (registry.balanceOf(holder, batchId) - free + 2);
        return free == 0 ? 1 : 1 + (seed >> 2) % free;
    }

    function _pick(Lock[] storage locks, uint256 seed) private view returns (Lock memory, uint256) {
        // one draw in ten (and every draw when none is open) names an id that is not open
        if (locks.length == 0 || seed % 10 == 9) {
            return (Lock(uint256(keccak256(abi.encode("none", seed))), address(0), 0, 0), type(uint256).max);
        }
        uint256 index = (seed >> 4) % locks.length;
        return (locks[index], index);
    }

    function _remove(Lock[] storage locks, uint256 index) private {
        locks[index] = locks[locks.length - 1];
        locks.pop();
    }

    function _checkFree(string memory what, uint256 amount, uint256 free) private {
        if (amount > free) {
            _violation(
                lockedMoved,
                string.concat(what, " took ", VM.toString(amount), " units with only ", VM.toString(free), " free")
            );
        }
    }

    /// @dev Balances of every actor that is suspended or revoked, per batch (max uint256 for the others).
    function _balances() private view returns (uint256[] memory b) {
        uint256 n = _actors.length;
        b = new uint256[](n * MAX_BATCHES);
        for (uint256 i = 0; i < n; ++i) {
            ParticipantStatus s = registry.participant(_actors[i]).status;
            bool barred = s == ParticipantStatus.Suspended || s == ParticipantStatus.Revoked;
            for (uint256 j = 0; j < MAX_BATCHES; ++j) {
                b[i * MAX_BATCHES + j] =
                    !barred ? type(uint256).max : j < batches.length ? registry.balanceOf(_actors[i], batches[j]) : 0;
            }
        }
    }

    /// @dev After a successful call: no suspended or revoked actor's balance changed, except
    /// `exempt` losing exactly `amount` of `batchId` by the call's own design.
    function _checkBarred(uint256[] memory before, address exempt, uint256 batchId, uint256 amount) private {
        for (uint256 i = 0; i < _actors.length; ++i) {
            for (uint256 j = 0; j < MAX_BATCHES; ++j) {
                uint256 was = before[i * MAX_BATCHES + j];
                if (was == type(uint256).max) continue;
                uint256 id = j < batches.length ? batches[j] : 0;
                uint256 expected = was;
                if (_actors[i] == exempt && id == batchId) expected = was >= amount ? was - amount : type(uint256).max;
                uint256 now_ = id == 0 ? 0 : registry.balanceOf(_actors[i], id);
                if (now_ != expected) {
                    _violation(
                        barredMoved,
                        string.concat(
                            "a barred participant's balance moved from ", VM.toString(was), " to ", VM.toString(now_)
                        )
                    );
                }
            }
        }
    }

    function _violation(string storage slot, string memory what) private {
        // keep the first: a storage string parameter cannot be assigned a memory one, so copy bytewise
        if (bytes(slot).length == 0) _set(slot, what);
    }

    function _set(string storage slot, string memory what) private {
        bytes storage s = bytes(slot);
        for (uint256 i = 0; i < bytes(what).length; ++i) {
            s.push(bytes(what)[i]);
        }
    }
}
