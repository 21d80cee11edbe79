"""The import rule of docs/architecture.md: data flows contracts → chain → indexer → domain
packages → api | scripts, and no import runs against it. Every import is read from the source
(function-level imports included), so a lazy import inside a function cannot hide one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# the HTTP and CLI edges may import every layer below them, and nothing imports them
EDGES = {
    "chain",
    "indexer",
    "certificates",
    "audit",
    "mrv",
    "footprint",
    "land",
    "public",
    "bridge",
    "offsets",
    "accounts",
    "backup",
}
# what each of our packages may import of ours (itself always); anything not listed is against the flow
ALLOWED: dict[str, set[str]] = {
    "chain": set(),
    "indexer": {"chain"},
    "certificates": {"chain", "indexer", "footprint"},  # a certificate may rest on a footprint report
    "mrv": {"chain"},  # measurement: pure computation, reads no mirror
    "footprint": {"chain"},  # footprint accounting: pure computation over its own factor library
    "land": {"chain", "indexer"},  # parcels as geometry: which projects are live comes from the mirror
    "bridge": {"chain", "indexer"},  # regional interconnection: the relay between two registries' chains
    "offsets": {"chain", "indexer", "certificates"},  # micro-offsets: aggregated retirements, one certificate a person
    "accounts": {"chain", "indexer", "certificates", "footprint"},  # personal carbon accounts: points, 权益兑换
    "public": {"chain", "indexer", "certificates", "mrv", "footprint", "land"},  # the public registry (公示): reads
    "audit": {"chain", "indexer", "certificates", "mrv", "land", "bridge", "offsets", "accounts"},
    "backup": {
        "chain",
        "indexer",
        "certificates",
        "mrv",
        "footprint",
        "land",
        "offsets",
        "accounts",
    },  # every domain's data, in one file
    "api": EDGES,
    "scripts": EDGES,
}
OURS = set(ALLOWED) | {"tests", "bench", "tools"}
# no HTTP or CLI code in any of them
DOMAINS = {"certificates", "audit", "mrv", "footprint", "land", "public", "bridge", "offsets", "accounts", "backup"}
EDGE_LIBRARIES = {"fastapi", "starlette", "uvicorn", "jinja2", "typer", "rich", "click"}  # HTTP and CLI code


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in `path`, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(root).parent.parts
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x, from ..y import z
                base = package[: len(package) - node.level + 1]
                found.append((node.lineno, ".".join([*base, node.module] if node.module else base)))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def violations(package: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for line, module in imports_of(path, root):
            top = module.split(".")[0]
            where = f"{path.relative_to(root)}:{line} imports {module}"
            if top in OURS and top != package and top not in ALLOWED[package]:
                bad.append(where)
            if package in {"chain", "indexer", *DOMAINS} and top in EDGE_LIBRARIES:
                bad.append(where + " (HTTP/CLI code below the edge)")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_run_with_the_flow(package: str) -> None:
    assert violations(package) == []


def test_every_python_package_has_a_place_in_the_rule() -> None:
    """A new top-level package (the next domains: mrv, land, footprint, accounts) must be added to
    ALLOWED and to docs/architecture.md before it can land."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - set(ALLOWED) - {"tests"} == set()
    documented = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert all(f"`{p}/`" in documented for p in ALLOWED)


def test_the_check_notices(tmp_path: Path) -> None:
    """The rule is not vacuous: each kind of wrong import is caught."""
    cases = {
        "indexer/_probe.py": "from certificates.issuer import Issuer\n",  # indexer → a domain
        "certificates/_probe.py": "def f():\n    from api.app import create_app\n",  # domain → HTTP, lazily
        "audit/_probe.py": "import scripts.cli\n",  # domain → CLI
        "scripts/_probe.py": "from api import app\n",  # CLI → HTTP
        "chain/_probe.py": "from indexer import sync\n",  # chain → above it
        "certificates/sub/_probe.py": "from ...api import problems\n",  # relative, resolved
        "audit/_probe2.py": "from fastapi import FastAPI\n",  # a domain using HTTP code
    }
    for relative, source in cases.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for relative in cases:
        assert any(v.startswith(relative + ":") for v in violations(relative.split("/")[0], tmp_path)), relative
    (tmp_path / "api" / "fine.py").parent.mkdir()
    (tmp_path / "api" / "fine.py").write_text("from certificates import issuer\nfrom fastapi import FastAPI\n")
    assert violations("api", tmp_path) == []  # the edge may import the domains and HTTP code
