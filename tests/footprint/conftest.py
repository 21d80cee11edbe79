"""A copy of the shipped factor library to change in a test, and the worked examples' inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from footprint.library import FACTORS_DIR

INPUTS = Path(__file__).resolve().parent / "inputs"


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((INPUTS / name).read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def factors_copy(tmp_path: Path) -> Path:
    target = tmp_path / "factors"
    shutil.copytree(FACTORS_DIR, target)
    return target


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as their content: the operator's console takes its width from COLUMNS once, when
    it is created, and a test runner's worker may have had one set then (pytest-xdist's does)."""
    from scripts.console import console, err_console

    for each in (console, err_console):
        monkeypatch.setattr(each, "_width", 200)
