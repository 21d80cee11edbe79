// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC1155Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC1155/ERC1155Upgradeable.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {RegistryCatalog} from "./registry/RegistryCatalog.sol";
import {CatalogExtension} from "./registry/CatalogExtension.sol";
import {CertificateLogAnchor} from "./registry/CertificateLogAnchor.sol";
import {
    Ecosystem,
    ParticipantKind,
    ProjectStatus,
    MethodologyStatus,
    Movement,
    Scenario,
    CancellationReason,
    PledgeStatus,
    ExportStatus,
    IssuanceRequest,
    CreditImport,
    ProjectRegistration
} from "./registry/RegistryTypes.sol";

/// @title Sichuan forestry and grassland carbon-inclusive registry (林草碳普惠登记簿).
/// @notice One ERC-1155 token id per issuance batch; one unit is 1 kgCO2e. Credits are issued,
/// transferred, pledged, retired for a claim (注销) or cancelled by the registrar; per batch,
/// issued = circulating + retired + cancelled at all times (see {supply}).
/// @dev Deployed behind an ERC-1967 proxy (UUPS); the admin role, a multisig in production,
/// authorises upgrades. All state lives in ERC-7201 namespaces so upgrades keep it.
contract CarbonRegistry is ERC1155Upgradeable, UUPSUpgradeable, RegistryCatalog, CertificateLogAnchor {
    /// @notice A batch's supply buckets and identity.
    struct Batch {
        uint128 issued;
        uint128 retired;
        uint128 cancelled;
        uint128 firstSerial;
        bytes32 projectId;
        bytes32 originKey;
        uint16 vintage;
    }

    /// @notice Units of a holder in a batch that cannot move: pledged and frozen for export.
    struct Locks {
        uint128 pledged;
        uint128 frozen;
    }

    /// @notice A pledge (质押) of units to a pledgee.
    struct Pledge {
        address pledgor;
        PledgeStatus status;
        address pledgee;
        uint128 amount;
        uint256 batchId;
        bytes32 registrationReference;
    }

    /// @notice A request to move units to another registry.
    struct ExportRequest {
        address holder;
        ExportStatus status;
        uint128 amount;
        uint256 batchId;
        bytes32 destinationRegistry;
        bytes32 destinationAccount;
    }

    /// @custom:storage-location erc7201:sichuan.carbon.registry.ledger
    struct LedgerStorage {
        bool paused;
        uint64 nextBatchId;
        uint128 nextSerial;
        mapping(uint256 batchId => Batch) batches;
        mapping(uint256 batchId => mapping(address holder => Locks)) locks;
        mapping(uint256 pledgeId => Pledge) pledges;
        mapping(uint256 exportId => ExportRequest) exports;
        mapping(bytes32 originKey => uint256 batchId) importedOrigins;
    }

    // keccak256(abi.encode(uint256(keccak256("sichuan.carbon.registry.ledger")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant _LEDGER_SLOT = 0xe53935139955d722b524da2b194b626ae8271c6a1e70d92303fc7a04f5cb5900;

    uint256 private constant _BPS = 10_000;

    /// @dev The companion running the methodology and project administration on this storage
    /// (see {CatalogExtension}); each implementation creates its own, so an upgrade carries its code.
    address private immutable _catalogExtension = address(new CatalogExtension());

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Sets up a fresh registry: `admin` holds the admin role; the reserve account is
    /// registered; batches and serials start at 1.
    function initialize(address admin, string calldata uri_) external initializer {
        if (admin == address(0)) revert RegistryZeroAddress();
        __ERC1155_init(uri_);
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        __CertificateLogAnchor_init();
        _registerParticipant(RESERVE_ACCOUNT, ParticipantKind.Registry, bytes32(0), 0);
        LedgerStorage storage $ = _ledger();
        $.nextBatchId = 1;
        $.nextSerial = 1;
    }

    /// @notice The version of this implementation; an upgrade bumps it.
    function registryVersion() external pure virtual returns (uint256) {
        return 1;
    }

    // ---------------------------------------------------------------- catalog administration (in the companion)

    // Same signatures, roles, errors and events as in {RegistryCatalog}: the companion runs that code.

    /// @inheritdoc RegistryCatalog
    function fileMethodology(uint256, bytes32, Ecosystem, uint16, bytes32) external override {
        _delegateToCatalog();
    }

    /// @inheritdoc RegistryCatalog
    function setMethodologyStatus(uint256, bytes32, MethodologyStatus, bytes32) external override {
        _delegateToCatalog();
    }

    /// @inheritdoc RegistryCatalog
    function registerProject(uint256, ProjectRegistration calldata) external override {
        _delegateToCatalog();
    }

    /// @inheritdoc RegistryCatalog
    function reviewProject(uint256, bytes32, bool, bytes32) external override {
        _delegateToCatalog();
    }

    /// @inheritdoc RegistryCatalog
    function setProjectStatus(uint256, bytes32, ProjectStatus, bytes32) external override {
        _delegateToCatalog();
    }

    // ---------------------------------------------------------------- issuance and import

    /// @notice Issues a batch for a registered project's monitoring period: the reserve share
    /// (in basis points, rounded down) goes to the reserve account, the rest to the project owner.
    function issue(uint256 opId, IssuanceRequest calldata r) external onlyRole(REGISTRAR_ROLE) returns (uint256) {
        Project storage p = _issuableProject(r.projectId);
        if (r.quantity == 0) revert RegistryZeroAmount();
        if (r.reserveBps > _BPS) revert RegistryInvalidReserveShare(r.reserveBps);
        if (r.monitoringStart >= r.monitoringEnd || r.monitoringStart < p.creditingStart || r.monitoringEnd > p.creditingEnd)
        {
            revert RegistryInvalidPeriod(r.monitoringStart, r.monitoringEnd);
        }
        address owner = p.owner;
        _requireMay(owner, Movement.Receive);
        _useOperation(opId);
        (uint256 batchId, uint256 firstSerial) = _newBatch(r.projectId, r.quantity, r.vintage, bytes32(0));
        uint32 batchSeq = ++p.batchCount;
        uint256 reserveAmount = uint256(r.quantity) * r.reserveBps / _BPS;
        uint256 ownerAmount = r.quantity - reserveAmount;
        if (ownerAmount != 0) _mint(owner, batchId, ownerAmount, "");
        if (reserveAmount != 0) _mint(RESERVE_ACCOUNT, batchId, reserveAmount, "");
        emit BatchIssued(batchId, r.projectId, opId, owner, batchSeq, firstSerial, reserveAmount, r);
        return batchId;
    }

    /// @notice Imports credits from another registry as a new batch; `originKey` (the origin
    /// registry with its serial range or transaction) can be imported only once.
    function importCredits(uint256 opId, CreditImport calldata c) external onlyRole(REGISTRAR_ROLE) returns (uint256) {
        LedgerStorage storage $ = _ledger();
        if (c.originKey == bytes32(0)) revert RegistryZeroId();
        uint256 existing = $.importedOrigins[c.originKey];
        if (existing != 0) revert RegistryOriginAlreadyImported(c.originKey, existing);
        _issuableProject(c.projectId);
        if (c.quantity == 0) revert RegistryZeroAmount();
        _requireMay(c.to, Movement.Receive);
        _useOperation(opId);
        (uint256 batchId, uint256 firstSerial) = _newBatch(c.projectId, c.quantity, c.vintage, c.originKey);
        $.importedOrigins[c.originKey] = batchId;
        _mint(c.to, batchId, c.quantity, "");
        emit BatchImported(batchId, c.originKey, opId, firstSerial, c);
        return batchId;
    }

    // ---------------------------------------------------------------- transfers

    /// @notice ERC-1155 transfer; both parties (and an operator acting for the sender) must be active participants.
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes memory data)
        public
        override
    {
        _requireParties(from, to);
        if (value == 0) revert RegistryZeroAmount();
        super.safeTransferFrom(from, to, id, value, data);
    }

    /// @notice ERC-1155 batch transfer; both parties must be active participants.
    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) public override {
        _requireParties(from, to);
        for (uint256 i = 0; i < values.length; ++i) {
            if (values[i] == 0) revert RegistryZeroAmount();
        }
        super.safeBatchTransferFrom(from, to, ids, values, data);
    }

    /// @notice Transfer carrying the trading platform's reference and an operation id.
    /// The caller is `from` or an operator `from` approved.
    function transferWithReference(
        uint256 opId,
        address from,
        address to,
        uint256 batchId,
        uint256 amount,
        bytes32 tradeReference
    ) external {
        _requireOperator(from);
        _requireParties(from, to);
        if (amount == 0) revert RegistryZeroAmount();
        _useOperation(opId);
        _safeTransferFrom(from, to, batchId, amount, "");
        emit CreditsTransferred(batchId, from, opId, to, amount, tradeReference);
    }

    // ---------------------------------------------------------------- retirement and cancellation

    /// @notice Retires (注销) the caller's units for a claim. `beneficiaryCommitment` is a salted
    /// hash of the beneficiary, `claimHash` the hash of the claim document.
    function retire(
        uint256 opId,
        uint256 batchId,
        uint256 amount,
        Scenario scenario,
        bytes32 beneficiaryCommitment,
        bytes32 claimHash
    ) external {
        _retire(opId, msg.sender, batchId, amount, scenario, beneficiaryCommitment, claimHash);
    }

    /// @notice Retires a custodial holder's units on its behalf: the caller must be an active
    /// platform participant that `holder` approved as an ERC-1155 operator.
    function retireFor(
        uint256 opId,
        address holder,
        uint256 batchId,
        uint256 amount,
        Scenario scenario,
        bytes32 beneficiaryCommitment,
        bytes32 claimHash
    ) external {
        if (!isApprovedForAll(holder, msg.sender)) revert RegistryNotAuthorisedOperator(msg.sender, holder);
        ParticipantKind kind = _requireMay(msg.sender, Movement.Send);
        if (kind != ParticipantKind.Platform) {
            revert RegistryWrongParticipantKind(msg.sender, kind, ParticipantKind.Platform);
        }
        _retire(opId, holder, batchId, amount, scenario, beneficiaryCommitment, claimHash);
    }

    /// @notice The registrar cancels a holder's free units (invalidation, fraud, reversal such as
    /// fire or illegal logging, correction). Not a claim: backs no certificate.
    function cancel(
        uint256 opId,
        address holder,
        uint256 batchId,
        uint256 amount,
        CancellationReason reason,
        bytes32 evidenceHash
    ) external onlyRole(REGISTRAR_ROLE) {
        if (reason == CancellationReason.Exported) revert RegistryInvalidCancellationReason(reason);
        Batch storage b = _batch(batchId);
        if (amount == 0) revert RegistryZeroAmount();
        _useOperation(opId);
        _burn(holder, batchId, amount);
        // amount <= the holder's balance <= issued < 2**128, so the narrowing cannot truncate
        b.cancelled += uint128(amount);
        emit CreditsCancelled(batchId, holder, opId, amount, reason, evidenceHash, 0);
    }

    // ---------------------------------------------------------------- export to another registry

    /// @notice Freezes a holder's units pending export to `destinationRegistry`; the export id is `opId`.
    function requestExport(
        uint256 opId,
        address holder,
        uint256 batchId,
        uint256 amount,
        bytes32 destinationRegistry,
        bytes32 destinationAccount
    ) external onlyRole(REGISTRAR_ROLE) {
        _requireMay(holder, Movement.Export);
        Locks storage l = _lockable(holder, batchId, amount);
        _useOperation(opId);
        l.frozen += uint128(amount);
        _ledger().exports[opId] = ExportRequest({
            holder: holder,
            status: ExportStatus.Pending,
            amount: uint128(amount),
            batchId: batchId,
            destinationRegistry: destinationRegistry,
            destinationAccount: destinationAccount
        });
        emit ExportRequested(opId, holder, batchId, amount, destinationRegistry, destinationAccount);
    }

    /// @notice The destination registry confirmed: the frozen units are cancelled (reason Exported).
    function confirmExport(uint256 opId, uint256 exportId, bytes32 destinationReference)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        ExportRequest storage e = _pendingExport(exportId);
        _useOperation(opId);
        e.status = ExportStatus.Confirmed;
        (address holder, uint256 batchId, uint128 amount) = (e.holder, e.batchId, e.amount);
        _ledger().locks[batchId][holder].frozen -= amount;
        _burn(holder, batchId, amount);
        _ledger().batches[batchId].cancelled += amount;
        emit ExportConfirmed(exportId, opId, destinationReference);
        emit CreditsCancelled(batchId, holder, opId, amount, CancellationReason.Exported, destinationReference, exportId);
    }

    /// @notice The export did not happen: the frozen units are free again.
    function abortExport(uint256 opId, uint256 exportId, bytes32 reasonHash) external onlyRole(REGISTRAR_ROLE) {
        _requireNotPaused();
        ExportRequest storage e = _pendingExport(exportId);
        _useOperation(opId);
        e.status = ExportStatus.Aborted;
        _ledger().locks[e.batchId][e.holder].frozen -= e.amount;
        emit ExportAborted(exportId, opId, reasonHash);
    }

    // ---------------------------------------------------------------- pledges

    /// @notice Pledges (质押) the caller's free units to an active pledgee; the pledge id is `opId`.
    function pledge(uint256 opId, uint256 batchId, uint256 amount, address pledgee, bytes32 registrationReference)
        external
    {
        _requireMay(msg.sender, Movement.Pledge);
        ParticipantKind kind = _requireMay(pledgee, Movement.Receive);
        if (kind != ParticipantKind.Pledgee) revert RegistryWrongParticipantKind(pledgee, kind, ParticipantKind.Pledgee);
        Locks storage l = _lockable(msg.sender, batchId, amount);
        _useOperation(opId);
        l.pledged += uint128(amount);
        _ledger().pledges[opId] = Pledge({
            pledgor: msg.sender,
            status: PledgeStatus.Active,
            pledgee: pledgee,
            amount: uint128(amount),
            batchId: batchId,
            registrationReference: registrationReference
        });
        emit CreditsPledged(opId, msg.sender, pledgee, batchId, amount, registrationReference);
    }

    /// @notice The pledgee releases the pledge: the units are free again.
    function releasePledge(uint256 opId, uint256 pledgeId) external {
        _requireNotPaused();
        Pledge storage p = _activePledgeOfCaller(pledgeId);
        _useOperation(opId);
        p.status = PledgeStatus.Released;
        _ledger().locks[p.batchId][p.pledgor].pledged -= p.amount;
        emit PledgeReleased(pledgeId, opId);
    }

    /// @notice The pledgee enforces the pledge: the units move to the pledgee, whatever the
    /// pledgor's status (a suspended debtor cannot block its creditor).
    function enforcePledge(uint256 opId, uint256 pledgeId) external {
        Pledge storage p = _activePledgeOfCaller(pledgeId);
        _requireMay(p.pledgee, Movement.Receive);
        _useOperation(opId);
        p.status = PledgeStatus.Enforced;
        (address pledgor, uint256 batchId, uint128 amount) = (p.pledgor, p.batchId, p.amount);
        _ledger().locks[batchId][pledgor].pledged -= amount;
        _safeTransferFrom(pledgor, p.pledgee, batchId, amount, "");
        emit PledgeEnforced(pledgeId, opId);
    }

    // ---------------------------------------------------------------- pause

    /// @notice Pauses every movement of units (pauser role).
    function pause() external onlyRole(PAUSER_ROLE) {
        _requireNotPaused();
        _ledger().paused = true;
        emit RegistryPauseChanged(true, msg.sender);
    }

    /// @notice Resumes movements (admin only, so a compromised pauser key cannot undo a pause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_ledger().paused) revert RegistryNotPaused();
        _ledger().paused = false;
        emit RegistryPauseChanged(false, msg.sender);
    }

    /// @notice Whether movements are paused.
    function paused() external view returns (bool) {
        return _ledger().paused;
    }

    // ---------------------------------------------------------------- views

    /// @notice Supply buckets of a batch: issued = circulating + retired + cancelled.
    function supply(uint256 batchId)
        external
        view
        returns (uint256 issued, uint256 circulating, uint256 retired, uint256 cancelled)
    {
        Batch storage b = _ledger().batches[batchId];
        (issued, retired, cancelled) = (b.issued, b.retired, b.cancelled);
        circulating = issued - retired - cancelled;
    }

    /// @notice The batch `batchId` (issued is zero if unknown).
    function batch(uint256 batchId) external view returns (Batch memory) {
        return _ledger().batches[batchId];
    }

    /// @notice Units of `holder` in `batchId` that are pledged and frozen for export.
    function lockedOf(address holder, uint256 batchId) external view returns (uint256 pledged, uint256 frozen) {
        Locks storage l = _ledger().locks[batchId][holder];
        (pledged, frozen) = (l.pledged, l.frozen);
    }

    /// @notice Units of `holder` in `batchId` that may move or retire now.
    function freeBalanceOf(address holder, uint256 batchId) public view returns (uint256) {
        Locks storage l = _ledger().locks[batchId][holder];
        return balanceOf(holder, batchId) - l.pledged - l.frozen;
    }

    /// @notice The pledge `pledgeId` (status None if unknown).
    function pledgeOf(uint256 pledgeId) external view returns (Pledge memory) {
        return _ledger().pledges[pledgeId];
    }

    /// @notice The export `exportId` (status None if unknown).
    function exportOf(uint256 exportId) external view returns (ExportRequest memory) {
        return _ledger().exports[exportId];
    }

    /// @notice The batch an origin key was imported as (zero if never).
    function importedBatch(bytes32 originKey) external view returns (uint256) {
        return _ledger().importedOrigins[originKey];
    }

    /// @inheritdoc ERC1155Upgradeable
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155Upgradeable, AccessControlUpgradeable)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Every balance change passes here: refuse while paused, and never let a holder move
    /// pledged or frozen units.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        LedgerStorage storage $ = _ledger();
        if ($.paused) revert RegistryPaused();
        if (from != address(0)) {
            for (uint256 i = 0; i < ids.length; ++i) {
                // a batch may list an id more than once: what it needs of that id is the running sum
                uint256 needed = values[i];
                for (uint256 j = 0; j < i; ++j) {
                    if (ids[j] == ids[i]) needed += values[j];
                }
                Locks storage l = $.locks[ids[i]][from];
                uint256 balance = balanceOf(from, ids[i]);
                uint256 locked = uint256(l.pledged) + l.frozen;
                uint256 free = balance > locked ? balance - locked : 0;
                if (free < needed) revert RegistryInsufficientFreeBalance(from, ids[i], free, needed);
            }
        }
        super._update(from, to, ids, values);
    }

    function _retire(
        uint256 opId,
        address holder,
        uint256 batchId,
        uint256 amount,
        Scenario scenario,
        bytes32 beneficiaryCommitment,
        bytes32 claimHash
    ) private {
        _requireMay(holder, Movement.Retire);
        Batch storage b = _batch(batchId);
        if (amount == 0) revert RegistryZeroAmount();
        _useOperation(opId);
        _burn(holder, batchId, amount);
        // amount <= the holder's balance <= issued < 2**128, so the narrowing cannot truncate
        b.retired += uint128(amount);
        emit CreditsRetired(batchId, holder, opId, amount, scenario, beneficiaryCommitment, claimHash, msg.sender);
    }

    function _newBatch(bytes32 projectId, uint128 quantity, uint16 vintage, bytes32 originKey)
        private
        returns (uint256 batchId, uint256 firstSerial)
    {
        LedgerStorage storage $ = _ledger();
        batchId = $.nextBatchId++;
        firstSerial = $.nextSerial;
        uint256 next = firstSerial + quantity;
        if (next > type(uint128).max) revert RegistryValueTooLarge(quantity, type(uint128).max - firstSerial);
        $.nextSerial = uint128(next);
        Batch storage b = $.batches[batchId];
        b.issued = quantity;
        b.firstSerial = uint128(firstSerial);
        b.projectId = projectId;
        b.originKey = originKey;
        b.vintage = vintage;
    }

    function _issuableProject(bytes32 projectId) private view returns (Project storage p) {
        p = _project(projectId);
        if (p.status != ProjectStatus.Registered) {
            revert RegistryProjectNotInStatus(projectId, p.status, ProjectStatus.Registered);
        }
        MethodologyStatus ms = _catalog().methodologies[p.methodologyId].status;
        if (ms == MethodologyStatus.Withdrawn) revert RegistryMethodologyNotInForce(p.methodologyId, ms);
    }

    function _batch(uint256 batchId) private view returns (Batch storage b) {
        b = _ledger().batches[batchId];
        if (b.issued == 0) revert RegistryUnknownBatch(batchId);
    }

    /// @dev The holder's locks for a batch, after checking `amount` of free units can be locked.
    function _lockable(address holder, uint256 batchId, uint256 amount) private view returns (Locks storage l) {
        _requireNotPaused();
        _batch(batchId);
        if (amount == 0) revert RegistryZeroAmount();
        uint256 free = freeBalanceOf(holder, batchId);
        if (free < amount) revert RegistryInsufficientFreeBalance(holder, batchId, free, amount);
        l = _ledger().locks[batchId][holder];
    }

    function _pendingExport(uint256 exportId) private view returns (ExportRequest storage e) {
        e = _ledger().exports[exportId];
        if (e.status == ExportStatus.None) revert RegistryUnknownExport(exportId);
        if (e.status != ExportStatus.Pending) revert RegistryExportNotPending(exportId, e.status);
    }

    function _activePledgeOfCaller(uint256 pledgeId) private view returns (Pledge storage p) {
        p = _ledger().pledges[pledgeId];
        if (p.status == PledgeStatus.None) revert RegistryUnknownPledge(pledgeId);
        if (p.status != PledgeStatus.Active) revert RegistryPledgeNotActive(pledgeId, p.status);
        if (p.pledgee != msg.sender) revert RegistryNotPledgee(pledgeId, msg.sender, p.pledgee);
    }

    /// @dev Both parties of a transfer may move, and so may an operator acting for the sender.
    function _requireParties(address from, address to) private view {
        _requireMay(from, Movement.Send);
        _requireMay(to, Movement.Receive);
        if (msg.sender != from) _requireMay(msg.sender, Movement.Send);
    }

    function _requireOperator(address from) private view {
        if (from != msg.sender && !isApprovedForAll(from, msg.sender)) {
            revert RegistryNotAuthorisedOperator(msg.sender, from);
        }
    }

    function _requireNotPaused() private view {
        if (_ledger().paused) revert RegistryPaused();
    }

    /// @dev Runs the current call in the companion on this contract's storage (the proxy's) and
    /// returns or reverts with exactly what it gave: its errors and events are the registry's own.
    function _delegateToCatalog() private {
        address extension = _catalogExtension;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, 0, calldatasize())
            let ok := delegatecall(gas(), extension, ptr, calldatasize(), 0, 0)
            returndatacopy(ptr, 0, returndatasize())
            if iszero(ok) { revert(ptr, returndatasize()) }
            return(ptr, returndatasize())
        }
    }

    function _authorizeUpgrade(address) internal override onlyRole(DEFAULT_ADMIN_ROLE) {}

    function _ledger() private pure returns (LedgerStorage storage $) {
        assembly {
            $.slot := _LEDGER_SLOT
        }
    }
}
