"""Before deploying: does the node's EVM run what the build needs?

A build for an EVM target may use the opcodes that target introduced (solc emits PUSH0 from
shanghai on and MCOPY from cancun on), and the sources may use others explicitly (BASEFEE through
`block.basefee`, TSTORE through `transient` or assembly). Each opcode family is tried with one
eth_call of a tiny snippet: as init code with no `to` (anvil, Hardhat 2, Besu and geth run it),
else as the code of an empty address through a state override. A node that lacks one fails the
call ("NotActivated", "invalid opcode"); the deploy then stops with one line naming the missing
feature and the setting to change, before any transaction is sent.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from chain.artifacts import Build
from chain.errors import ChainError, shown_url
from chain.rpc import JsonRpc, RpcError
from chain.settings import EVM_VERSIONS, EvmVersion
from chain.sources import source_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Feature:
    name: str
    fork: EvmVersion
    snippet: str  # runs the opcode once and stops; hex, no 0x


# the opcode families a build of this project could use, newest last
FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature("BASEFEE", "london", "485000"),  # BASEFEE POP STOP
        Feature("PUSH0", "shanghai", "5f5ff3"),  # PUSH0 PUSH0 RETURN
        Feature("MCOPY", "cancun", "6000600060005e00"),  # PUSH1 0 (x3) MCOPY STOP
        Feature("TSTORE", "cancun", "600060005d00"),  # PUSH1 0 (x2) TSTORE STOP
        Feature("BLOBHASH", "cancun", "6000495000"),  # PUSH1 0 BLOBHASH POP STOP
    )
}
CONTROL = "00"  # STOP: any EVM runs it, so a failure here means the node cannot be probed this way
# what solc itself emits for a target, whatever the sources say
COMPILER_EMITS: dict[str, tuple[str, ...]] = {
    "berlin": (),
    "london": (),
    "paris": (),
    "shanghai": ("PUSH0",),
    "cancun": ("PUSH0", "MCOPY"),
}
# explicit uses in Solidity sources (comments removed first)
SOURCE_USES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bblock\s*\.\s*basefee\b"), "BASEFEE"),
    (re.compile(r"\b(?:tstore|tload)\s*\(|\btransient\b"), "TSTORE"),
    (re.compile(r"\bmcopy\s*\("), "MCOPY"),
    (re.compile(r"\bblobhash\s*\(|\bblock\s*\.\s*blobbasefee\b"), "BLOBHASH"),
)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
PROBE_ADDRESS = "0x00000000000000000000000000000000000e7e01"
DEPLOYED_PARTS = ("CarbonRegistry", "CatalogExtension", "ERC1967Proxy", "CertificateRevocations", "PointsLogAnchor")


class EvmMismatchError(ChainError):
    """The node's EVM lacks an opcode the build needs."""

    def __init__(self, url: str, missing: list[Feature], build_target: str, fits: str | None) -> None:
        names = ", ".join(f"no {f.name} ({f.fork})" for f in missing)
        if fits is None:
            fix = "the registry needs these at every EVM target; use a chain that has them"
        else:
            fix = f"set LEDGER_EVM_VERSION={fits} or lower (the build is for {build_target})"
        super().__init__(f"the chain at {shown_url(url)} has {names}; {fix}")
        self.missing = missing


def features_used(source: str) -> set[str]:
    """Opcode families one Solidity source uses explicitly (its comments do not count)."""
    code = _COMMENTS.sub("", source)
    return {name for pattern, name in SOURCE_USES if pattern.search(code)}


def source_features(keys: list[str]) -> set[str]:
    """Opcode families the sources use explicitly."""
    found: set[str] = set()
    for key in keys:
        found |= features_used(source_path(key).read_text(encoding="utf-8"))
    return found


def sources_of(build: Build) -> list[str]:
    keys: set[str] = set()
    for name in DEPLOYED_PARTS:
        if name in build.artifacts:
            keys |= set(json.loads(build[name].metadata)["sources"])
    return sorted(keys)


def required_features(build: Build, target: str | None = None) -> set[str]:
    """What a build (or, with `target`, the same sources built for that target) needs of the EVM."""
    return set(COMPILER_EMITS[target or build.evm_version]) | source_features(sources_of(build))


def runs_snippet(rpc: JsonRpc, snippet: str, *, override: bool) -> bool:
    """Whether the node runs `snippet`: as init code (no `to`), or with `override` as the code of an empty address."""
    try:
        if override:
            rpc.call(
                "eth_call", {"to": PROBE_ADDRESS, "data": "0x"}, "latest", {PROBE_ADDRESS: {"code": "0x" + snippet}}
            )
        else:
            rpc.call("eth_call", {"data": "0x" + snippet}, "latest")
    except RpcError:
        return False
    return True


def available_features(rpc: JsonRpc, names: set[str] | None = None) -> set[str] | None:
    """The features (of `names`, default all) the node runs; None if it answers neither probe style."""
    for override in (False, True):
        if runs_snippet(rpc, CONTROL, override=override):
            wanted = names if names is not None else set(FEATURES)
            return {n for n in wanted if runs_snippet(rpc, FEATURES[n].snippet, override=override)}
    return None


def require_evm_support(rpc: JsonRpc, build: Build) -> None:
    """Raise EvmMismatchError if the node lacks an opcode family the build needs."""
    needed = required_features(build)
    if not needed:
        return
    present = available_features(rpc, set(FEATURES))
    if present is None:
        log.warning(
            "the node answers no probe call; deploying without checking its EVM", extra={"needs": sorted(needed)}
        )
        return
    missing = needed - present
    if not missing:
        return
    fits = next((t for t in reversed(EVM_VERSIONS) if required_features(build, t) <= present), None)
    ordered = [f for f in FEATURES.values() if f.name in missing]
    raise EvmMismatchError(rpc.url, ordered, build.evm_version, fits)
