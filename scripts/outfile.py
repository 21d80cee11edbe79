"""Files the operator asks for with --out: checked before anything is signed, written whole or not
at all (a full disk leaves no truncated PDF or holder's copy), private from their first byte."""

from __future__ import annotations

import os
from pathlib import Path

from chain.errors import InvalidInputError
from chain.snapshot import write_atomically


def check_writable(out: Path, option: str = "--out") -> None:
    """Refuse an output path that cannot be written, before any work (a retirement mined for a copy
    that then cannot be written is an operation half done)."""
    if out.is_dir():
        raise InvalidInputError(f"{option} {out} is a directory; give a file name")
    parent = out.parent
    if not parent.is_dir():
        raise InvalidInputError(f"{option} {out}: there is no directory {parent}; create it or write elsewhere")
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InvalidInputError(f"{option} {out}: cannot write there (permission denied); choose a writable file")


def write_whole(out: Path, data: bytes, *, mode: int = 0o644, option: str = "--out") -> None:
    """Write `data` over `out` whole or not at all (chain/snapshot.py's atomic writer), created with
    `mode`, so a private copy is never readable by others; a failure is one line saying why."""
    try:
        write_atomically(out, data, keep_previous=False, mode=mode)
    except OSError as exc:
        raise InvalidInputError(
            f"{option} {out}: cannot write there ({exc.strerror or type(exc).__name__}); "
            "free some space or choose another file"
        ) from None
