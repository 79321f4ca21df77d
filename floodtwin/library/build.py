"""Building a flood-map library: one full coupled run per discharge on Dask workers, then one file.

:func:`build_library` names a member per discharge (``q02000`` …), runs the missing ones with
:func:`floodtwin.batch.run_members` (each written atomically into ``.<library>.members/<name>/``,
so an interrupted build resumes where it stopped), and stacks them into the library file
(:func:`floodtwin.library.store.assemble_library`). A member computed on other inputs than today's
(the DEM or the calibration changed since) is removed and computed again. The function that runs a
member is handed in (``compute``): the full run is the scenario orchestrator's, a floor above.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from floodtwin.errors import InputError, ModelError, require_discharge_m3s

__all__ = ["build_library", "library_discharges", "member_name", "members_folder"]


def library_discharges(from_m3s: float, to_m3s: float, step_m3s: float) -> list[float]:
    """The member discharges from ``from_m3s`` to ``to_m3s`` inclusive every ``step_m3s`` (m³/s)."""
    lo = require_discharge_m3s(from_m3s, name="--from", positive=True)
    hi = require_discharge_m3s(to_m3s, name="--to", positive=True)
    step = require_discharge_m3s(step_m3s, name="--step", positive=True)
    if hi <= lo:
        raise InputError(f"--to {hi:g} m³/s must be above --from {lo:g} m³/s")
    n = (hi - lo) / step
    if abs(n - round(n)) > 1e-9:
        raise InputError(f"--step {step:g} m³/s does not divide {lo:g}–{hi:g} m³/s into whole steps")
    if round(n) + 1 > 200:
        raise InputError(f"{round(n) + 1} members: at most 200 (use a larger --step)")
    return [float(q) for q in np.linspace(lo, hi, int(round(n)) + 1)]


def member_name(discharge_m3s: float) -> str:
    """``q22000`` for 22,000 m³/s (``q07500`` for 7,500; decimals kept as ``q07500.5``)."""
    return f"q{discharge_m3s:05.0f}" if float(discharge_m3s).is_integer() else f"q{discharge_m3s:07.1f}"


def members_folder(path: Path) -> Path:
    """Where the members of the library at ``path`` are written while it is built."""
    return path.parent / f".{path.stem}.members"


def _drop_stale_members(folder: Path, attrs: dict) -> list[str]:
    """Remove finished members built on other inputs than ``attrs``; return their names."""
    import netCDF4

    from floodtwin.library.store import MEMBER_FILE

    gone = []
    if not folder.is_dir():
        return gone
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        f = sub / MEMBER_FILE
        ok = f.is_file()
        if ok:
            try:
                with netCDF4.Dataset(f) as nc:
                    ok = all(getattr(nc, k, None) == v for k, v in attrs.items() if k.startswith("input_"))
            except OSError:
                ok = False
        if not ok:
            shutil.rmtree(sub, ignore_errors=True)
            gone.append(sub.name)
    return gone


def build_library(discharges_m3s: list[float], path: str | Path, *, compute: Callable[[float, Path], None],
                  attrs: dict, village_radius_m: float, workers: int = 2, scheduler: str | None = None,
                  progress: Callable[[Any, int, int], None] | None = None, keep_members: bool = False) -> Path:
    """Build the library at ``path`` from one member per discharge (m³/s), each ``compute(q, folder)``
    (writes ``folder/member.nc``) on ``workers`` Dask worker processes (or the cluster at ``scheduler``);
    ``attrs``: the input hashes every member must carry; ``progress(outcome, finished, total)`` as
    members end. A ModelError names every member that failed (the finished ones are kept: run again
    to resume). The members' folder is removed once the library is written unless ``keep_members``."""
    from floodtwin.batch import run_members
    from floodtwin.library.store import MEMBER_FILE, assemble_library

    path = Path(path)
    if len(discharges_m3s) < 2:
        raise InputError("a library needs at least two discharges (it interpolates between them)")
    folder = members_folder(path)
    _drop_stale_members(folder, attrs)
    members = {member_name(q): float(q) for q in discharges_m3s}
    report = run_members(members, compute, folder, workers=workers, scheduler=scheduler, progress=progress)
    if report.failed:
        raise ModelError("library build: " + "; ".join(f"{n} failed: {e}" for n, e in report.failed.items())
                         + f" ({len(report.names('done')) + len(report.names('skipped'))} of {len(members)} finished "
                         "and kept: run the build again to resume)")
    assemble_library([folder / n / MEMBER_FILE for n in members], path, attrs=attrs, village_radius_m=village_radius_m)
    if not keep_members:
        shutil.rmtree(folder, ignore_errors=True)
    return path
