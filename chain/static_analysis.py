"""Slither on the registry without a native solc.

The build's own standard-JSON input (every source inline) goes to solc-js asking for the ASTs; the
input and output are written as a Hardhat build-info into a scratch folder that crytic-compile reads
with `--hardhat-ignore-compile`, so Slither never looks for a compiler. High and medium findings are
checked against contracts/slither-triage.toml, where each accepted one says why.

    .venv/bin/python -m chain.static_analysis     # exit 1 and a list if a finding is not triaged
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.compiler import run_compiler, solcjs_version
from chain.errors import CompilationError
from chain.paths import CONTRACTS_DIR, HARDHAT_DIR
from chain.sources import SOLC_VERSION, collect_sources, standard_input

TRIAGE_FILE = CONTRACTS_DIR / "slither-triage.toml"
GATED_IMPACTS = ("High", "Medium")
# Slither only needs the ASTs: asking for no bytecode spares solc-js the via-IR code generation
_OUTPUT_SELECTION = {"*": {"": ["ast"], "*": ["abi", "devdoc", "userdoc"]}}
_ANALYSED = re.compile(r"analyzed \((\d+) contracts with (\d+) detectors\)")


@dataclass(frozen=True)
class Finding:
    """One Slither result, located by source file and the contract member it starts in."""

    detector: str
    impact: str
    confidence: str
    file: str
    location: str
    description: str

    def key(self) -> tuple[str, str, str]:
        return (self.detector, self.file, self.location)


@dataclass(frozen=True)
class TriageEntry:
    detector: str
    file: str
    location: str
    reason: str

    def key(self) -> tuple[str, str, str]:
        return (self.detector, self.file, self.location)


@dataclass(frozen=True)
class SlitherReport:
    findings: list[Finding]
    contracts_analysed: int
    detectors_run: int

    def gated(self) -> list[Finding]:
        return [f for f in self.findings if f.impact in GATED_IMPACTS]


def write_build_info(directory: Path, sources: dict[str, str] | None = None) -> Path:
    """A Hardhat-shaped project in `directory`: an empty config, links to the sources, and one
    build-info holding the solc-js input and output."""
    solc_input = copy.deepcopy(standard_input(sources if sources is not None else collect_sources()))
    solc_input["settings"]["outputSelection"] = _OUTPUT_SELECTION
    output = run_compiler(solc_input, "solcjs")
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise CompilationError(errors)
    for contracts in output.get("contracts", {}).values():
        for contract in contracts.values():
            # crytic-compile reads these fields; without code generation they are empty
            empty = {"object": "", "sourceMap": ""}
            contract["evm"] = {"bytecode": dict(empty), "deployedBytecode": dict(empty)}
    build_id = hashlib.sha256(json.dumps(solc_input, sort_keys=True).encode()).hexdigest()[:32]
    build_info = directory / "artifacts" / "build-info" / f"{build_id}.json"
    build_info.parent.mkdir(parents=True, exist_ok=True)
    build_info.write_text(
        json.dumps(
            {
                "_format": "hh-sol-build-info-1",
                "id": build_id,
                "solcVersion": SOLC_VERSION,
                "solcLongVersion": solcjs_version(),
                "input": solc_input,
                "output": output,
            }
        )
    )
    # crytic-compile recognises a Hardhat project by its config and finds sources under it
    (directory / "hardhat.config.js").write_text("// build-info only: see chain/static_analysis.py\n")
    if sources is not None:
        for key, text in sources.items():
            (directory / key).parent.mkdir(parents=True, exist_ok=True)
            (directory / key).write_text(text, encoding="utf-8")
        return build_info
    for name, target in (("contracts", CONTRACTS_DIR), ("node_modules", HARDHAT_DIR / "node_modules")):
        link = directory / name
        if not link.exists():
            link.symlink_to(target, target_is_directory=True)
    return build_info


def run_slither(sources: dict[str, str] | None = None) -> SlitherReport:
    """Slither's findings (every impact) on the registry's sources, or on `sources` if given."""
    with tempfile.TemporaryDirectory(prefix="slither-") as tmp:
        project = Path(tmp)
        write_build_info(project, sources)
        result = project / "slither.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "slither",
                str(project),
                "--compile-force-framework",
                "hardhat",
                "--hardhat-ignore-compile",
                "--hardhat-artifacts-directory",
                "artifacts",
                "--npx-disable",  # never let crytic-compile run (or download) hardhat through npx
                "--json",
                str(result),
            ],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        data = json.loads(result.read_text()) if result.exists() else {}
        if not data.get("success"):
            tail = (data.get("error") or done.stderr or "no output")[-1500:]
            raise RuntimeError(f"slither failed (exit {done.returncode}): {tail}")
        analysed = _ANALYSED.search(done.stderr)
        contracts, detectors = (int(analysed[1]), int(analysed[2])) if analysed else (0, 0)
        results = data.get("results", {}).get("detectors", [])
        return SlitherReport([_finding(r) for r in results], contracts, detectors)


def load_triage(path: Path = TRIAGE_FILE) -> list[TriageEntry]:
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("finding", [])
    return [TriageEntry(e["detector"], e["file"], e["location"], e["reason"].strip()) for e in entries]


def untriaged(report: SlitherReport, triage: list[TriageEntry]) -> list[Finding]:
    """High and medium findings that no triage entry explains."""
    explained = {entry.key() for entry in triage if entry.reason}
    return [f for f in report.gated() if f.key() not in explained]


def stale(report: SlitherReport, triage: list[TriageEntry]) -> list[TriageEntry]:
    """Triage entries that match no current high or medium finding."""
    found = {f.key() for f in report.gated()}
    return [entry for entry in triage if entry.key() not in found]


def _finding(result: dict[str, Any]) -> Finding:
    elements = result.get("elements") or [{}]
    first = elements[0]
    filename = first.get("source_mapping", {}).get("filename_relative", "")
    return Finding(
        detector=result["check"],
        impact=result["impact"],
        confidence=result["confidence"],
        file=filename.removeprefix("node_modules/"),
        location=_location(first),
        description=" ".join(result.get("description", "").split()),
    )


def _location(element: dict[str, Any]) -> str:
    """`Contract.function(args)` for a function or a statement in one, `Contract` for a contract,
    `Contract.name` for anything else declared in a contract."""
    kind = element.get("type")
    parent = element.get("type_specific_fields", {}).get("parent", {})
    if kind == "node":
        return _location(parent)
    if kind == "function":
        signature = element.get("type_specific_fields", {}).get("signature", element.get("name", ""))
        return f"{parent.get('name', '')}.{signature}"
    if kind == "contract" or not parent:
        return str(element.get("name", ""))
    return f"{_location(parent)}.{element.get('name', '')}"


def main() -> int:
    report = run_slither()
    triage = load_triage()
    missing, old = untriaged(report, triage), stale(report, triage)
    print(
        f"slither: {report.contracts_analysed} contracts, {report.detectors_run} detectors, "
        f"{len(report.findings)} findings, {len(report.gated())} high or medium, {len(missing)} not triaged"
    )
    for f in missing:
        print(f"not triaged: {f.impact} {f.detector} {f.file} {f.location}: {f.description[:300]}")
    for entry in old:
        print(f"stale triage entry (no such finding now): {entry.detector} {entry.file} {entry.location}")
    if missing or old:
        print(
            f"explain each finding in {TRIAGE_FILE.relative_to(CONTRACTS_DIR.parent)} (or fix it), and drop stale entries"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
