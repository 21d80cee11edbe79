"""Files the operator asks for with --out: checked before anything is signed, written whole or not
at all (a full disk leaves no truncated PDF or holder's copy), private from their first byte."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from chain.errors import InvalidInputError


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
    """Write `data` to a temporary file beside `out` (created with `mode`, so a private copy is never
    readable by others), fsync it, and rename it over `out`; on failure remove it and say why."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise InvalidInputError(f"{option} {out}: cannot write there ({exc.strerror or type(exc).__name__}); "
                                "free some space or choose another file") from None
