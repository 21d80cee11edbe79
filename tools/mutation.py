"""Mutation testing of the core modules (`make mutation`): how many small bugs their tests catch.

For each module of tools/mutation.toml, every mutant of tools/mutants.py is applied, one at a time,
to a private copy of the repository (never the work tree: other processes import these files), and
the module's configured tests run against it. A mutant is killed when they fail, survived when they
pass; a run over the time limit counts as killed and is reported apart. Mutants listed with a reason
in tools/mutation-equivalents.toml (same behaviour, no test can tell) are left out of the score.

Speed: the runner imports pytest and the third-party packages the tests use once, then forks one
child per mutant that runs pytest in its copy; the project's own modules are imported fresh in each
child from the copy (proven per module by a canary mutant that must break the import).

    python tools/mutation.py [--module abi] [--jobs 2] [--min-score 90] [--list] [--filter TEXT]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutants import Mutant, listed_mutant, mutants  # tools/ is not a package: imported from its directory

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "mutation.toml"
EQUIVALENTS = ROOT / "tools" / "mutation-equivalents.toml"
PROJECT_PACKAGES = ("chain", "api", "indexer", "scripts", "tests", "bench", "tools", "conftest", "mutants")
LINKED = ("hardhat-local/node_modules", "build")  # big, untracked and read-only for the tests: shared
PYTEST_FLAGS = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
OUTPUT = ".mutation-output.txt"  # in each copy: the last child's pytest output (the canary's is checked)
MARKS = {"killed": ".", "survived": "S", "timeout": "T"}  # progress, one per mutant
CANARY = "\nraise ImportError('mutation canary: this copy of the module is the one imported')\n"


class Abort(Exception):
    """A one-line reason the run cannot go on."""


@dataclass
class ModuleConfig:
    name: str
    file: str
    tests: list[str]
    timeout_factor: float
    timeout_min: float
    listed: list[dict[str, str]]  # hand-written mutants: name, old, new


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed / survived / timeout
    seconds: float


@dataclass
class ModuleResult:
    config: ModuleConfig
    outcomes: list[Outcome] = field(default_factory=list)
    equivalents: dict[str, str] = field(default_factory=dict)  # id -> reason

    def count(self, status: str, equivalent: bool = False) -> int:
        return sum(1 for o in self.outcomes if o.status == status and (o.mutant.id in self.equivalents) == equivalent)

    @property
    def score(self) -> float:
        counted = [o for o in self.outcomes if o.mutant.id not in self.equivalents]
        caught = sum(1 for o in counted if o.status in ("killed", "timeout"))
        return 100.0 * caught / len(counted) if counted else 100.0


def load_config(path: Path) -> list[ModuleConfig]:
    data = tomllib.loads(path.read_text())
    defaults = data.get("defaults", {})
    out = []
    for name, entry in data["modules"].items():
        merged = {**defaults, **entry}
        out.append(
            ModuleConfig(
                name,
                merged["file"],
                list(merged["tests"]),
                float(merged.get("timeout_factor", 5)),
                float(merged.get("timeout_min", 10)),
                list(entry.get("listed", [])),
            )
        )
    return out


def module_mutants(config: ModuleConfig) -> list[Mutant]:
    """The generated mutants of the module, then the hand-written ones of its config."""
    source = (ROOT / config.file).read_text()
    try:
        listed = [listed_mutant(config.file, source, m["name"], m["old"], m["new"]) for m in config.listed]
    except ValueError as e:
        raise Abort(str(e)) from None
    return mutants(config.file, source) + listed


def load_equivalents(path: Path) -> dict[str, tuple[str, str]]:
    """id -> (reason, the source line it was judged on)."""
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text()).get("equivalent", [])
    return {e["id"]: (e["reason"], e.get("line", "")) for e in entries}


# ---------------------------------------------------------------- the copies


def tracked_files() -> list[str]:
    """Tracked files plus new ones not ignored (tests other work adds before it is committed)."""
    done = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise Abort(
            f"`git ls-files` failed in {ROOT} (the runner copies the checkout's files): "
            f"{done.stderr.decode(errors='replace').strip()[:200]}"
        )
    return sorted({f for f in done.stdout.decode().split("\0") if f})


def make_copy(dest: Path, files: list[str]) -> None:
    for rel in files:
        src = ROOT / rel
        if not src.is_file() or any(rel == p or rel.startswith(p + "/") for p in LINKED):
            continue  # deleted in the work tree, or shared below
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    for rel in LINKED:
        if (ROOT / rel).exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).symlink_to(ROOT / rel)


# ---------------------------------------------------------------- running the tests


def child_setup(copy: Path) -> None:
    """Make this process import the project from `copy` and run hypothesis reproducibly."""
    os.chdir(copy)
    sys.path[:] = [str(copy)] + [p for p in sys.path if Path(p or ".").resolve() not in (ROOT, ROOT / "tools")]
    os.environ["PYTHONPATH"] = str(copy)  # for any subprocess a test starts
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.dont_write_bytecode = True  # a stale .pyc of the same size and second would hide a mutant
    from hypothesis import Phase, settings

    # derandomize: the same examples for every mutant, so the figures are repeatable; no database: a
    # failure found for one mutant must not be replayed against the next; no shrinking: a failure is
    # all a mutant needs, and shrinking it can take longer than the whole run (a false timeout)
    settings.register_profile(
        "mutation",
        derandomize=True,
        database=None,
        print_blob=False,
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
    )
    settings.load_profile("mutation")


def run_child(copy: Path, args: list[str]) -> None:
    """In a forked child: run pytest in `copy`, output to its OUTPUT file, and exit with its code (never returns)."""
    code = 3
    try:
        os.setpgid(0, 0)
        out = os.open(copy / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(out, 2)
        child_setup(copy)
        import pytest

        code = int(pytest.main([*PYTEST_FLAGS, *args]))
        sys.stdout.flush()
    finally:
        os._exit(code)


def baseline(copy: Path, config: ModuleConfig) -> tuple[float, list[str]]:
    """Run the module's tests on the unmutated copy in a fresh interpreter: how long that takes and
    which third-party modules they import (to preload before forking)."""
    report = copy / ".mutation-baseline.json"
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--_baseline",
            str(copy),
            str(report),
            config.file,
            *config.tests,
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    seconds = time.monotonic() - started
    if done.returncode != 0 or not report.exists():
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise Abort(
            f"the unmutated copy fails the tests of {config.name} ({tail[0][:200]}); "
            f"run `.venv/bin/python -m pytest {' '.join(config.tests)}` and fix them first"
        )
    data = json.loads(report.read_text())
    report.unlink()
    if not data["module_file"]:
        raise Abort(
            f"the tests of {config.name} never import {config.file}: they cannot kill its mutants; "
            "choose its tests in tools/mutation.toml"
        )
    if not data["imported_from_copy"]:
        raise Abort(
            f"{config.file} was imported from {data['module_file']}, not from the copy {copy}: "
            "check that no .pth or PYTHONPATH entry shadows the working directory"
        )
    return seconds, data["modules"]


def baseline_main(copy: str, report: str, file: str, tests: list[str]) -> int:
    """`--_baseline`: run in a fresh interpreter by `baseline`."""
    child_setup(Path(copy))
    import pytest

    code = int(pytest.main([*PYTEST_FLAGS, *tests]))
    module_name = file.removesuffix(".py").replace("/", ".")
    module = sys.modules.get(module_name)
    module_file = str(getattr(module, "__file__", "") or "")
    real_copy = os.path.realpath(copy)
    third_party = sorted(
        name
        for name, m in list(sys.modules.items())
        if name.split(".")[0] not in PROJECT_PACKAGES
        and getattr(m, "__file__", None)
        and not os.path.realpath(m.__file__).startswith(real_copy)
    )
    Path(report).write_text(
        json.dumps(
            {
                "modules": third_party,
                "module_file": module_file,
                "imported_from_copy": os.path.realpath(module_file).startswith(real_copy),
            }
        )
    )
    return code


def preload(names: list[str]) -> None:
    """Import what the tests will import, so each forked child starts with it loaded."""
    for name in names:
        if name.split(".")[0] in PROJECT_PACKAGES or name == "__main__":
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (an optional submodule: the child imports it or not, as in a normal run)
            continue
    leaked = [n for n in sys.modules if n.split(".")[0] in PROJECT_PACKAGES[:5]]
    if leaked:
        raise Abort(f"preloading imported project modules ({', '.join(leaked[:3])}): they would not be mutated")


class Pool:
    """Forked children running the tests of one module, one per copy at most."""

    def __init__(self, copies: list[Path], config: ModuleConfig, timeout: float, progress: bool) -> None:
        self.copies, self.config, self.timeout, self.progress = copies, config, timeout, progress
        self.targets = [c / config.file for c in copies]
        self.original = self.targets[0].read_text()
        self.running: dict[int, tuple[int, int, float]] = {}  # pid -> (job index, copy slot, start)
        self.timed_out: set[int] = set()

    def run(self, sources: list[str]) -> list[tuple[str, float]]:
        """(status, seconds) of each mutated source of the module, in order."""
        results: dict[int, tuple[str, float]] = {}
        try:
            self._drive(deque(enumerate(sources)), list(range(len(self.copies))), results)
        finally:
            for pid in self.running:  # interrupted: stop the children this run started
                try:
                    os.killpg(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
            for t in self.targets:
                t.write_text(self.original)
        if self.progress:
            print()
        return [results[i] for i in range(len(sources))]

    def _drive(self, pending: deque[tuple[int, str]], free: list[int], results: dict[int, tuple[str, float]]) -> None:
        while pending or self.running:
            while pending and free:
                index, source = pending.popleft()
                slot = free.pop()
                self.targets[slot].write_text(source)
                pid = os.fork()
                if pid == 0:
                    run_child(self.copies[slot], self.config.tests)
                try:
                    os.setpgid(pid, pid)
                except OSError:
                    pass  # the child did it first
                self.running[pid] = (index, slot, time.monotonic())
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0 or pid not in self.running:
                self._kill_overdue()
                time.sleep(0.02)
                continue
            index, slot, start = self.running.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if pid in self.timed_out:
                verdict = "timeout"
            elif code == 0:
                verdict = "survived"
            else:  # any failure: the same run passed on the unmutated copy (4 is a conftest that no longer imports)
                verdict = "killed"
            results[index] = (verdict, time.monotonic() - start)
            self.targets[slot].write_text(self.original)
            free.append(slot)
            if self.progress:
                print(MARKS[verdict], end="", flush=True)

    def _kill_overdue(self) -> None:
        now = time.monotonic()
        for pid, (_, _, start) in self.running.items():
            if now - start > self.timeout and pid not in self.timed_out:
                self.timed_out.add(pid)
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# ---------------------------------------------------------------- reporting


def mutated_excerpt(m: Mutant) -> str:
    return f"      - {m.original_line.strip()}\n      + {m.mutated_line.strip()}"


def report(result: ModuleResult, stale: list[str]) -> None:
    c = result.config
    total = len(result.outcomes)
    eq = sum(1 for o in result.outcomes if o.mutant.id in result.equivalents)
    killed, timeout, survived = (result.count(s) for s in ("killed", "timeout", "survived"))
    print(
        f"{c.file} [{c.name}]: {total} mutants, {killed} killed, {timeout} timeout, {survived} survived, "
        f"{eq} equivalent (excluded) -> score {result.score:.1f} % "
        f"({killed + timeout}/{total - eq})"
    )
    for o in result.outcomes:
        if o.mutant.id in result.equivalents or o.status != "survived":
            continue
        m = o.mutant
        print(f"  {o.status.upper()} {m.path}:{m.line}:{m.col} {m.operator} `{m.description}` in {m.function}")
        print(f"      id: {m.id}")
        print(mutated_excerpt(m))
    for line in stale:
        print(f"  note: {line}")


def list_mutants(config: ModuleConfig, found: list[Mutant], equivalents: dict[str, tuple[str, str]]) -> None:
    print(f"{config.file} [{config.name}]: {len(found)} mutants; tests: {' '.join(config.tests)}")
    for m in found:
        mark = "  (equivalent)" if m.id in equivalents else ""
        print(f"  {m.id}{mark}\n{mutated_excerpt(m)}")


# ---------------------------------------------------------------- main


def run_module(
    config: ModuleConfig,
    copies: list[Path],
    found: list[Mutant],
    equivalents: dict[str, tuple[str, str]],
    progress: bool,
) -> ModuleResult:
    _, third_party = baseline(copies[0], config)
    preload(third_party)
    original = (copies[0] / config.file).read_text()
    # the unmutated module once more, forked as the mutants will be: it must pass, and its time sets the limit
    started = time.monotonic()
    status = Pool(copies[:1], config, 3600, progress=False).run([original])[0][0]
    seconds = time.monotonic() - started
    if status != "survived":
        raise Abort(
            f"the tests of {config.name} pass in a fresh interpreter but fail when forked after preloading: "
            "run with --jobs 1 and look at .mutation-output.txt, or report it"
        )
    timeout = max(config.timeout_min, seconds * config.timeout_factor)
    canary = Pool(copies[:1], config, timeout, progress=False).run([original + CANARY])[0][0]
    said = (copies[0] / OUTPUT).read_text(errors="replace")
    if canary != "killed" or "mutation canary" not in said:
        raise Abort(
            f"the canary mutant of {config.file} was not caught ({canary}): the forked tests do "
            "not import the module from the copy, so no result would mean anything"
        )
    print(
        f"{config.file} [{config.name}]: {len(found)} mutants, unmutated run {seconds:.1f} s, "
        f"timeout {timeout:.0f} s, {len(copies)} jobs",
        flush=True,
    )
    outcomes = Pool(copies, config, timeout, progress).run([m.source for m in found])
    result = ModuleResult(config)
    result.outcomes = [Outcome(m, status, secs) for m, (status, secs) in zip(found, outcomes, strict=True)]
    ids = {m.id for m in found}
    result.equivalents = {i: reason for i, (reason, _) in equivalents.items() if i in ids}
    return result


def stale_notes(result: ModuleResult, equivalents: dict[str, tuple[str, str]]) -> list[str]:
    notes = []
    by_id = {o.mutant.id: o for o in result.outcomes}
    prefix = result.config.file + ":"
    for i, (_, line) in equivalents.items():
        if not i.startswith(prefix):
            continue
        o = by_id.get(i)
        if o is None:
            notes.append(f"listed equivalent {i} matches no mutant any more (the file changed): re-judge it")
        elif o.status != "survived":
            notes.append(f"listed equivalent {i} was {o.status}: it is not equivalent, remove it from the list")
        elif line and line.strip() != o.mutant.original_line.strip():
            notes.append(f"listed equivalent {i} now sits on a different line `{o.mutant.original_line.strip()}`")
    return notes


def main(argv: list[str]) -> int:
    if argv[:1] == ["--_baseline"]:
        return baseline_main(argv[1], argv[2], argv[3], argv[4:])
    parser = argparse.ArgumentParser(description="Mutation testing of the core modules (tools/mutation.toml).")
    parser.add_argument("--module", action="append", help="a module name of tools/mutation.toml (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and their ids, run nothing")
    parser.add_argument("--filter", default="", help="only mutants whose id contains this text")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--min-score", type=float, help="fail (exit 1) if a module scores below this percentage")
    parser.add_argument("--quiet", action="store_true", help="no progress dots")
    parser.add_argument(
        "--config", type=Path, default=CONFIG, help="the module/test table (default tools/mutation.toml)"
    )
    args = parser.parse_args(argv)
    try:
        configs = load_config(args.config)
        if args.module:
            unknown = set(args.module) - {c.name for c in configs}
            if unknown:
                raise Abort(
                    f"unknown module {', '.join(sorted(unknown))}: the names are those of {args.config.name} "
                    f"({', '.join(c.name for c in configs)})"
                )
            configs = [c for c in configs if c.name in args.module]
        equivalents = load_equivalents(EQUIVALENTS)
        found = {c.name: [m for m in module_mutants(c) if args.filter in m.id] for c in configs}
        if args.list:
            for c in configs:
                list_mutants(c, found[c.name], equivalents)
            return 0
        if args.jobs < 1:
            raise Abort("--jobs needs at least 1")
        return run(configs, found, equivalents, args)
    except Abort as e:
        print(f"mutation: {e}", file=sys.stderr)
        return 2


def run(
    configs: list[ModuleConfig],
    found: dict[str, list[Mutant]],
    equivalents: dict[str, tuple[str, str]],
    args: argparse.Namespace,
) -> int:
    files = tracked_files()
    workdir = Path(tempfile.mkdtemp(prefix="mutation-"))
    try:
        copies = []
        for slot in range(args.jobs):
            copies.append(workdir / f"copy{slot}")
            make_copy(copies[-1], files)
        results, not_run = [], []
        for c in configs:
            if not found[c.name]:
                print(f"{c.file} [{c.name}]: no mutants{' match the filter' if args.filter else ''}")
                continue
            try:
                result = run_module(c, copies, found[c.name], equivalents, progress=not args.quiet)
            except Abort as e:  # this module cannot be measured; the others still can
                print(f"mutation: {e}", file=sys.stderr)
                not_run.append(c.name)
                continue
            report(result, [] if args.filter else stale_notes(result, equivalents))
            results.append(result)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\nmodule                          mutants  killed  timeout  survived  equivalent  score")
    failing = []
    for r in results:
        eq = sum(1 for o in r.outcomes if o.mutant.id in r.equivalents)
        print(
            f"{r.config.file:<32}{len(r.outcomes):>7}{r.count('killed'):>8}{r.count('timeout'):>9}"
            f"{r.count('survived'):>10}{eq:>12}{r.score:>6.1f} %"
        )
        if args.min_score is not None and r.score < args.min_score:
            failing.append(f"{r.config.name} {r.score:.1f} % < {args.min_score:g} %")
    for name in not_run:
        print(f"{name:<32}not run (see the message above)")
    if failing:
        print(f"mutation: below the minimum score: {'; '.join(failing)}", file=sys.stderr)
        return 1
    return 2 if not_run else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
