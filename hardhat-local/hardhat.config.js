// Hardhat 2 is the alternative local node; anvil is the default. Hardhat's node keeps nothing on
// disk: its chain is gone after a restart. Contracts are compiled by chain/compiler.py, not here.
module.exports = {
  solidity: "0.8.30",
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      blockGasLimit: 300000000,
      mining: { auto: true },
      accounts: { count: 20 },
    },
  },
};
