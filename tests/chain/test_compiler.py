"""One pinned solc; the same bytecode from solc-js and a native solc; under the EIP-170 limit."""

from __future__ import annotations

import json

import pytest

from chain.compiler import compile_contracts, native_solc_available, solcjs_version
from chain.paths import HARDHAT_DIR
from chain.sources import SOLC_VERSION

EIP170_LIMIT = 24_576


def test_the_pinned_version_is_the_one_in_hardhat_local() -> None:
    package = json.loads((HARDHAT_DIR / "package.json").read_text())
    assert package["dependencies"]["solc"] == SOLC_VERSION
    assert solcjs_version().startswith(SOLC_VERSION + "+")


def test_the_registry_fits_the_contract_size_limit_of_every_evm_chain(build) -> None:
    size = len(build["CarbonRegistry"].deployed_bytecode) // 2
    assert 0 < size <= EIP170_LIMIT, f"CarbonRegistry is {size} bytes"


def test_compiling_again_gives_the_same_bytecode(build, tmp_path) -> None:
    again = compile_contracts(force=True, build_dir=tmp_path)
    assert again["CarbonRegistry"].bytecode == build["CarbonRegistry"].bytecode
    assert json.loads(again["CarbonRegistry"].metadata)["compiler"]["version"].startswith(SOLC_VERSION)


@pytest.mark.skipif(
    not native_solc_available(),
    reason=f"no native solc {SOLC_VERSION} installed (py-solc-x cannot download one offline)",
)
def test_native_solc_and_solcjs_give_the_same_bytecode(tmp_path) -> None:
    native = compile_contracts(backend="native", force=True, build_dir=tmp_path / "native")
    js = compile_contracts(backend="solcjs", force=True, build_dir=tmp_path / "js")
    assert native["CarbonRegistry"].bytecode == js["CarbonRegistry"].bytecode
