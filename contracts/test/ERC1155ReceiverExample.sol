// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title A contract holder (e.g. a multisig) for the ERC-1155 receiver-hook tests; accepts or refuses.
contract ERC1155ReceiverExample is IERC1155Receiver {
    bool public immutable accepts;
    uint256 public received;

    constructor(bool accepts_) {
        accepts = accepts_;
    }

    function onERC1155Received(address, address, uint256, uint256 value, bytes calldata)
        external
        returns (bytes4)
    {
        received += value;
        return accepts ? this.onERC1155Received.selector : bytes4(0);
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata values, bytes calldata)
        external
        returns (bytes4)
    {
        for (uint256 i = 0; i < values.length; ++i) received += values[i];
        return accepts ? this.onERC1155BatchReceived.selector : bytes4(0);
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC1155Receiver).interfaceId || interfaceId == type(IERC165).interfaceId;
    }
}
