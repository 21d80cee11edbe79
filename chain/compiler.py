"""Compile the registry with one pinned solc: a native solc through py-solc-x when that exact
version is installed, otherwise solc-js from hardhat-local/node_modules, offline.

Both receive the same standard-JSON input (every source inline, imports resolved here), so both
produce the same bytecode. Artifacts go to build/ (not committed), keyed by a hash of the input,
which holds the EVM target (LEDGER_EVM_VERSION): one cached output per target, and per-contract
JSON in build/contracts/<target>/artifacts with its manifest (chain/artifacts.py, which run time
loads instead of compiling). build/contracts/artifacts always holds the default target's, whatever
the setting, so tools reading it (forge's invariant tests) see one build.

Only `make build` (`python -m chain.compiler`), `ledger deploy` (scripts/cli.py) and the tests compile.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from chain.artifacts import Artifact, Backend, Build, write_artifacts, write_build
from chain.errors import ChainError, CompilationError, CompilerNotFoundError
from chain.paths import BUILD_DIR, HARDHAT_DIR
from chain.settings import DEFAULT_EVM_VERSION, EVM_VERSIONS, ChainSettings, EvmVersion
from chain.sources import ENTRY_POINTS, SOLC_VERSION, collect_sources, standard_input

log = logging.getLogger(__name__)

SOLCJS_SCRIPT = HARDHAT_DIR / "solc-standard-json.cjs"


def configured_evm_version() -> EvmVersion:
    """The target the operator chose (LEDGER_EVM_VERSION or evm_version in the config file)."""
    return ChainSettings().evm_version


def native_solc_available(version: str = SOLC_VERSION) -> bool:
    try:
        import solcx

        return any(str(v) == version for v in solcx.get_installed_solc_versions())
    except Exception:  # noqa: BLE001 - py-solc-x missing or its folder unreadable: no native compiler
        return False


def solcjs_available() -> bool:
    return (
        SOLCJS_SCRIPT.exists() and (HARDHAT_DIR / "node_modules" / "solc").exists() and shutil.which("node") is not None
    )


def run_compiler(solc_input: dict[str, Any], backend: Backend) -> dict[str, Any]:
    if backend == "native":
        import solcx

        return solcx.compile_standard(solc_input, solc_version=SOLC_VERSION, allow_empty=True)
    version = solcjs_version()
    if not version.startswith(SOLC_VERSION + "+"):
        raise CompilerNotFoundError(f"{SOLC_VERSION} (hardhat-local has solc-js {version})")
    done = subprocess.run(
        ["node", str(SOLCJS_SCRIPT)],
        input=json.dumps(solc_input),
        capture_output=True,
        text=True,
        cwd=HARDHAT_DIR,
        check=False,
    )
    if done.returncode != 0:
        raise CompilationError([done.stderr.strip()[-2000:]])
    output: dict[str, Any] = json.loads(done.stdout)
    return output


def solcjs_version() -> str:
    done = subprocess.run(["node", str(SOLCJS_SCRIPT), "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def choose_backend() -> Backend:
    if native_solc_available():
        return "native"
    if solcjs_available():
        return "solcjs"
    raise CompilerNotFoundError(SOLC_VERSION)


def compile_contracts(
    *,
    evm_version: EvmVersion | None = None,
    backend: Backend | None = None,
    force: bool = False,
    build_dir: Path = BUILD_DIR,
) -> Build:
    """Compile (or load the cached build of) the registry and its helpers for one EVM target,
    by default the configured one."""
    target = evm_version or configured_evm_version()
    if target not in EVM_VERSIONS:
        raise CompilationError([f"unknown EVM target {target!r}; use one of {', '.join(EVM_VERSIONS)}"])
    solc_input = standard_input(collect_sources(), target)
    input_hash = hashlib.sha256(json.dumps(solc_input, sort_keys=True).encode()).hexdigest()
    chosen: Backend = backend or choose_backend()
    cache = build_dir / f"{input_hash[:16]}-{chosen}.json"
    output = None if force else _cached(cache)
    if output is None:
        log.info("compiling contracts", extra={"backend": chosen, "solc": SOLC_VERSION, "evm_version": target})
        output = run_compiler(solc_input, chosen)
        errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
        if errors:
            raise CompilationError(errors)
        build_dir.mkdir(parents=True, exist_ok=True)
        # whole or not at all: a `make build` stopped mid-write left a cut-short cache that every
        # later build tripped over (a traceback until `make clean`)
        partial = cache.with_name(cache.name + ".tmp")
        partial.write_text(json.dumps(output))
        os.replace(partial, cache)
    build = Build(SOLC_VERSION, chosen, input_hash, _artifacts(output), target)
    write_build(build, build_dir)
    if target == DEFAULT_EVM_VERSION:
        write_artifacts(build, build_dir / "artifacts")
    return build


def _cached(cache: Path) -> dict[str, Any] | None:
    """The compiler's output cached for this input, or None to compile again (no cache, or one
    cut short or damaged: written by an older version, or by hand)."""
    try:
        output = json.loads(cache.read_text())
        _artifacts(output)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return output if isinstance(output, dict) else None


def _artifacts(output: dict[str, Any]) -> dict[str, Artifact]:
    artifacts: dict[str, Artifact] = {}
    for source, contracts in output["contracts"].items():
        for name, c in contracts.items():
            if source not in ENTRY_POINTS:
                continue
            artifacts[name] = Artifact(
                name=name,
                source=source,
                abi=c["abi"],
                bytecode=c["evm"]["bytecode"]["object"],
                deployed_bytecode=c["evm"]["deployedBytecode"]["object"],
                metadata=c["metadata"],
            )
    return artifacts


def main(argv: list[str] | None = None) -> int:
    """`make build`: compile the configured EVM target (and the default one, which forge's invariant
    tests read from build/contracts/artifacts) into build/, or every target with --all."""
    parser = argparse.ArgumentParser(prog="python -m chain.compiler", description=main.__doc__)
    parser.add_argument("--all", action="store_true", help="build every EVM target")
    parser.add_argument("--evm-version", choices=EVM_VERSIONS, help="build this target (default: LEDGER_EVM_VERSION)")
    args = parser.parse_args(argv)
    try:
        targets = list(EVM_VERSIONS) if args.all else [args.evm_version or configured_evm_version()]
        for target in dict.fromkeys([*targets, DEFAULT_EVM_VERSION]):
            build = compile_contracts(evm_version=target)
            print(
                f"build/contracts/{target}: {len(build.artifacts)} contracts (solc {build.compiler_version}, {build.backend})"
            )
    except ChainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
