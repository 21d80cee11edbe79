"""The operator's error line: one line whatever the terminal's width, and the message as text."""

from __future__ import annotations

import pytest
import typer

from scripts.console import fail


def test_an_error_is_one_line_of_text_however_narrow_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    message = (
        "state file var/anvil/state.json is corrupt [no good previous snapshot]; move it aside: "
        "mv var/anvil/state.json var/anvil/state.json.bad"
    )
    with pytest.raises(typer.Exit) as exited:
        fail(message)
    assert exited.value.exit_code == 1
    assert capsys.readouterr().err == f"error: {message}\n"
