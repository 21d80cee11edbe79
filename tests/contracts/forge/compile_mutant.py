"""Compile a mutant of the registry (one text replacement in one source) into build/forge/mutants/NAME/,
never touching build/contracts, to see the invariant campaigns fail on it:

    .venv/bin/python tests/contracts/forge/compile_mutant.py locks contracts/CarbonRegistry.sol \\
        'if (free < needed) revert' 'if (free < needed && from == address(1)) revert'
    cd tests/contracts/forge && REGISTRY_ARTIFACTS=../../../build/forge/mutants/locks/ \\
        FOUNDRY_INVARIANT_RUNS=10 FOUNDRY_INVARIANT_DEPTH=100 ../../../hardhat-local/node_modules/@foundry-rs/forge-linux-amd64/bin/forge test

Compiling the registry with solc-js (via-IR) takes 20-30 s of CPU.
"""

from __future__ import annotations

import sys

from chain.artifacts import Build, write_artifacts
from chain.compiler import _artifacts, run_compiler
from chain.paths import BUILD_DIR
from chain.sources import SOLC_VERSION, collect_sources, standard_input


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: compile_mutant.py NAME SOURCE_KEY OLD_TEXT NEW_TEXT")
        return 2
    name, source, old, new = argv
    sources = collect_sources()
    if source not in sources or old not in sources[source]:
        print(f"{old!r} is not in {source}: give a source key such as contracts/CarbonRegistry.sol and its exact text")
        return 2
    sources[source] = sources[source].replace(old, new, 1)
    output = run_compiler(standard_input(sources), "solcjs")
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        print(f"the mutant does not compile: {errors[0].splitlines()[0]}")
        return 1
    target = BUILD_DIR.parent / "forge" / "mutants" / name
    write_artifacts(Build(SOLC_VERSION, "solcjs", f"mutant-{name}", _artifacts(output)), target)
    print(f"REGISTRY_ARTIFACTS=../../../build/forge/mutants/{name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
