"""Where `ledger retire` reads the beneficiary from: a file, standard input or a prompt, so the
name never sits in the command line (/proc/<pid>/cmdline and `ps` show that to every local user).
`--beneficiary NAME` still works, with a warning."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from chain.errors import InvalidInputError
from scripts.console import err_console

BeneficiaryOption = Annotated[
    str | None,
    typer.Option(
        help="the beneficiary; '-' reads it from standard input. A name given here is visible to other local users "
        "while the command runs: prefer --beneficiary-file, '-', or the prompt (no option, on a terminal). Only a "
        "salted commitment goes on chain; the name is kept encrypted for the certificate"
    ),
]
BeneficiaryFileOption = Annotated[
    Path | None, typer.Option(help="read the beneficiary from this file (one line, UTF-8)")
]
ARGV_WARNING = (
    "warning: a name given with --beneficiary is visible to other users of this machine (ps, "
    "/proc/<pid>/cmdline) while the command runs; use --beneficiary-file PATH, --beneficiary - "
    "(standard input) or the prompt"
)


def read_beneficiary(
    beneficiary: str | None, beneficiary_file: Path | None, commitment: str | None, *, stdin: TextIO | None = None
) -> str | None:
    """The beneficiary's name, or None when a commitment made elsewhere is given instead."""
    given = [
        name
        for name, value in (
            ("--beneficiary", beneficiary),
            ("--beneficiary-file", beneficiary_file),
            ("--beneficiary-commitment", commitment),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidInputError(f"give the beneficiary once: {' and '.join(given)} were both given")
    if commitment is not None:
        return None
    stream = stdin if stdin is not None else sys.stdin
    if beneficiary_file is not None:
        try:
            text = beneficiary_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise InvalidInputError(
                f"cannot read --beneficiary-file {beneficiary_file} ({reason}); give a readable UTF-8 file"
            ) from None
        return _one_line(text, f"--beneficiary-file {beneficiary_file}")
    if beneficiary == "-":
        return _one_line(stream.read(), "standard input (--beneficiary -)")
    if beneficiary is not None:
        err_console.print(ARGV_WARNING, style="yellow", highlight=False, markup=False)
        return _one_line(beneficiary, "--beneficiary")
    if stream.isatty():
        # on standard error, so that --json output stays one JSON object
        return _one_line(typer.prompt("beneficiary (kept encrypted off chain)", err=True), "the prompt")
    raise InvalidInputError(
        "give the beneficiary: --beneficiary-file PATH, --beneficiary - (standard input), the "
        "prompt (run it on a terminal), --beneficiary NAME, or --beneficiary-commitment 0x…"
    )


def _one_line(text: str, where: str) -> str:
    name = text.strip()
    if not name:
        raise InvalidInputError(f"{where} gave an empty beneficiary; give the beneficiary's name")
    if "\n" in name or "\r" in name:
        raise InvalidInputError(f"{where} holds more than one line; give the beneficiary's name on one line")
    return name
