"""Where the project keeps things on disk."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
HARDHAT_DIR = PROJECT_ROOT / "hardhat-local"
BUILD_DIR = PROJECT_ROOT / "build" / "contracts"
VAR_DIR = PROJECT_ROOT / "var"
