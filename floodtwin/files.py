"""The checks every command makes on the files it is given, in one place: a file to read exists,
is a file and is not empty; a file to write goes into an existing folder, is not a folder, and has
a suffix the writer knows; a number lies in its stated range. Each failure is one InputError line
naming the option and the path (or value) — never a traceback, never a silent default (a missing
output folder is not created behind the user's back)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from floodtwin.errors import InputError

__all__ = ["require_file_to_read", "require_file_to_write", "require_folder_to_write", "require_new_folder_to_write",
           "require_number"]


def require_file_to_read(path: str | Path, *, option: str, allow_empty: bool = False) -> Path:
    """``path`` as a Path of an existing, readable, non-empty regular file (InputError otherwise)."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {p}: is a directory, expected a file")
    if not p.exists():
        raise InputError(f"{option} {p}: file not found")
    if not p.is_file():
        raise InputError(f"{option} {p}: not a regular file")
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{option} {p}: cannot read: {exc.strerror or exc}") from None
    if size == 0 and not allow_empty:
        raise InputError(f"{option} {p}: file is empty")
    return p


def require_file_to_write(path: str | Path, *, option: str, suffixes: Iterable[str] | None = None) -> Path:
    """``path`` as a Path a file can be written to: its folder exists (and is a folder), the path is
    not a folder, and its suffix is one of ``suffixes`` (lower case, with the dot) when given."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{option} {p}: is a directory, expected a file name")
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{option} {p}: {parent} is a file, not a folder")
    if not parent.exists():
        raise InputError(f"{option} {p}: folder {parent} does not exist")
    allowed = tuple(suffixes) if suffixes is not None else ()
    if allowed and p.suffix.lower() not in allowed:
        raise InputError(f"{option} {p}: expected a {' or '.join(allowed)} file")
    return p


def require_folder_to_write(path: str | Path, *, option: str) -> tuple[Path, bool]:
    """``path`` as a folder to write into: an existing folder, or a new one whose parent exists
    (created here; the caller says so). Returns (path, created)."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{option} {p}: is a file, expected a folder")
    if p.is_dir():
        return p, False
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{option} {p}: {parent} is a file, not a folder")
    if not parent.is_dir():
        raise InputError(f"{option} {p}: folder {parent} does not exist")
    try:
        p.mkdir()
    except OSError as exc:
        raise InputError(f"{option} {p}: cannot create the folder: {exc.strerror or exc}") from None
    return p, True


def require_new_folder_to_write(path: str | Path, *, option: str) -> Path:
    """``path`` as a folder a command will fill in one go: absent (created later, with any missing
    parents, by the caller) or empty, under a folder that can be written. Creates nothing, so a
    refusal or a failed run leaves no trace."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise InputError(f"{option} {p}: is a file, expected a folder")
        if any(p.iterdir()):
            raise InputError(f"{option} {p}: folder is not empty (a run writes into a new or empty folder)")
    probe = p if p.exists() else p.parent
    while not probe.exists():  # e.g. outputs/ itself not made yet: its first existing ancestor decides
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{option} {p}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{option} {p}: folder {probe} is not writable")
    return p


def require_number(value: float, *, option: str, low: float | None = None, high: float | None = None,
                   low_inclusive: bool = True, unit: str = "") -> float:
    """``value`` if finite and in [low, high] (``low`` excluded unless ``low_inclusive``)."""
    x = float(value)
    unit_s = f" {unit}" if unit else ""
    lo = "" if low is None else (f">= {low:g}" if low_inclusive else f"> {low:g}")
    hi = "" if high is None else f"<= {high:,g}"
    want = " and ".join(s for s in (lo, hi) if s) or "a finite number"
    if not math.isfinite(x) or (low is not None and (x < low or (x == low and not low_inclusive))) or \
            (high is not None and x > high):
        raise InputError(f"{option} {value:g}{unit_s}: expected {want}{unit_s}")
    return x
