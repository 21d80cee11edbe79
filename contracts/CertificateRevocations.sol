// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @title Revocations of carbon-neutrality-witness certificates.
/// @notice A certificate is named by its leaf hash in the certificate transparency log (RFC 9162),
/// whose roots the registry anchors. Revoking is one-way and needs the registry's ANCHORER_ROLE,
/// so the registry's admin governs both. Anyone checks a certificate with one eth_call to
/// {revokedAt}; the revocation is also appended to the log itself.
/// @dev A separate contract because the registry is at the EIP-170 size limit.
contract CertificateRevocations {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @notice The registry whose roles govern revocations.
    IAccessControl public immutable registry;

    mapping(bytes32 leafHash => uint256 blockNumber) private _revokedAt;

    /// @notice The certificate with log leaf `leafHash` was revoked; `reasonHash` is the sha256 of
    /// the published reason (the reason itself is a log entry).
    event CertificateRevoked(bytes32 indexed leafHash, bytes32 reasonHash, address operator);

    error RevocationNotAuthorised(address account);
    error CertificateAlreadyRevoked(bytes32 leafHash);
    error InvalidLeafHash();

    constructor(IAccessControl registry_) {
        registry = registry_;
    }

    function revoke(bytes32 leafHash, bytes32 reasonHash) external {
        if (!registry.hasRole(ANCHORER_ROLE, msg.sender)) revert RevocationNotAuthorised(msg.sender);
        if (leafHash == bytes32(0)) revert InvalidLeafHash();
        if (_revokedAt[leafHash] != 0) revert CertificateAlreadyRevoked(leafHash);
        _revokedAt[leafHash] = block.number;
        emit CertificateRevoked(leafHash, reasonHash, msg.sender);
    }

    /// @notice The block in which the certificate was revoked, or zero if it is not revoked.
    function revokedAt(bytes32 leafHash) external view returns (uint256) {
        return _revokedAt[leafHash];
    }
}
