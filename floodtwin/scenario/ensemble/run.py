"""An ensemble end to end: draw the members, run them on Dask (``floodtwin.batch``), reduce on the workers,
write the outputs.

``run_ensemble`` keeps everything under one folder (default ``outputs/ensembles/<name>``): the finished
members under ``members/`` (so a stopped ensemble resumes where it stopped), the reduced bands under
``reduce-<digest>/``, and the outputs beside them. A folder holding members drawn differently (another
seed, other ranges) is refused rather than mixed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from floodtwin.errors import InputError

__all__ = ["EnsembleRun", "default_ensemble_folder", "member_tasks", "reduce_members", "require_ensemble_folder",
           "run_ensemble"]


@dataclass
class EnsembleRun:
    """What an ensemble run gave: the members (name -> MemberParams), their batch report, the members
    the statistics are over, the statistics (None when members failed and ``allow_failed`` was not
    given) and the files written."""

    spec: Any
    folder: Path
    members: dict[str, Any]
    report: Any
    used: list[str] = field(default_factory=list)
    cells: Any = None  # xarray Dataset of the per-cell statistics
    villages: Any = None  # DataFrame per village
    dikes: Any = None  # DataFrame per dike segment
    files: dict[str, Path] = field(default_factory=dict)
    reach: Any = field(default=None, repr=False)


def default_ensemble_folder(name: str) -> Path:
    """``outputs/ensembles/<name>``: stable, so that running the same ensemble again resumes it."""
    from floodtwin.scenario.outputs import OUTPUT_ROOT

    return Path(OUTPUT_ROOT) / "ensembles" / name


def check_breaches_on_reach(spec, reach, members) -> None:
    """InputError naming the spec's key when a breach it can draw lies off the dikes of its bank, or a
    member's breach would open before its run starts or at or after its end (found before any member
    runs, rather than as failed members)."""
    from floodtwin.scenario.ensemble.member import member_breaches, member_hydrograph

    b = spec.parameters.breach
    if b is not None:
        lo, hi = b.chainage_m.bounds()
        for bank in b.bank.values:
            dikes = reach.dikes[reach.dikes["bank"] == bank]
            if dikes.empty:
                raise InputError(f"ensemble {spec.name}: parameters.breach.bank: the reach has no {bank} dike")
            d_lo, d_hi = float(dikes["chainage_from_m"].min()), float(dikes["chainage_to_m"].max())
            if lo < d_lo or hi > d_hi:
                raise InputError(f"ensemble {spec.name}: parameters.breach.chainage_m: draws from {lo:,.0f} to "
                                 f"{hi:,.0f} m leave the {bank} dike ({d_lo:,.0f}–{d_hi:,.0f} m)")
    window = None if spec.window is None else (spec.window.before_crest_h, spec.window.after_crest_h)
    for m in members:
        if not m.breaches:
            continue
        hydro, crest_s = member_hydrograph(m, window)
        try:
            opens = member_breaches(m, crest_s)
        except InputError as exc:
            raise InputError(f"ensemble {spec.name}: parameters.breach.start_after_crest_h: {exc}") from None
        for gap in opens:
            if gap.start_h * 3600.0 >= hydro.duration_s:
                raise InputError(f"ensemble {spec.name}: parameters.breach.start_after_crest_h: member {m.name}'s "
                                 f"breach opens at {gap.start_h:g} h, at or after the end of its run "
                                 f"({hydro.duration_s / 3600:g} h, {m.shape} wave)")


def member_tasks(spec, members) -> dict[str, Any]:
    """Member name -> MemberTask for ``batch.run_members``."""
    from floodtwin.scenario.ensemble.member import MemberTask

    window = None if spec.window is None else (float(spec.window.before_crest_h), float(spec.window.after_crest_h))
    return {m.name: MemberTask(m, float(spec.resolution_m), window) for m in members}


def _check_folder_holds_these(folder: Path, tasks: dict[str, Any]) -> None:
    """InputError when a finished member in ``folder`` was drawn with other parameters or run otherwise."""
    for name, task in tasks.items():
        meta = folder / name / "member.json"
        if not meta.is_file():
            continue
        got = json.loads(meta.read_text(encoding="utf-8"))
        want = {"params": task.params.to_dict(), "resolution_m": task.resolution_m,
                "window_h": list(task.window_h) if task.window_h else None}
        if any(got.get(k) != v for k, v in want.items()):
            raise InputError(f"{folder}: member {name} there was run with other parameters (another seed, range, "
                             "grid or window): give another --out, or remove the folder to start again")


def run_ensemble(spec, *, folder: str | Path | None = None, workers: int = 2, scheduler: str | None = None,
                 allow_failed: bool = False, reach=None, tasks: dict[str, Any] | None = None,
                 progress: Callable[[str, Any, int, int], None] | None = None) -> EnsembleRun:
    """Run the ensemble ``spec`` (an EnsembleSpec) on ``workers`` local worker processes or the Dask
    ``scheduler`` at an address, reduce it on the workers and write its outputs into ``folder``.

    ``progress(phase, outcome, finished, total)`` is called as each member ("members") and each band
    of the reduction ("reduce") ends. When members fail, their names and errors are in the report and
    nothing is reduced unless ``allow_failed`` (the statistics are then over the finished members
    only, and say so). ``tasks`` replaces the drawn members' tasks (tests). ``reach``: the loaded
    reach at the spec's grid (default: loaded here).
    """
    from floodtwin.batch import run_members
    from floodtwin.hydrograph import load_scenario
    from floodtwin.reach import load_reach
    from floodtwin.scenario.ensemble.member import compute_member
    from floodtwin.scenario.ensemble.outputs import write_ensemble_outputs
    from floodtwin.scenario.ensemble.sampling import sample_members

    folder = Path(folder) if folder is not None else default_ensemble_folder(spec.name)
    base = load_scenario(spec.base_scenario)
    members = sample_members(spec, base)
    reach = reach if reach is not None else load_reach("huayuankou", resolution_m=float(spec.resolution_m))
    check_breaches_on_reach(spec, reach, members)
    tasks = tasks if tasks is not None else member_tasks(spec, members)
    member_dir = folder / "members"
    _check_folder_holds_these(member_dir, tasks)
    report = run_members(tasks, compute_member, member_dir, workers=workers, scheduler=scheduler,
                         progress=(lambda o, k, n: progress("members", o, k, n)) if progress else None)
    run = EnsembleRun(spec, folder, {n: t.params for n, t in tasks.items()}, report, reach=reach)
    run.used = [n for n in tasks if n not in report.failed]
    if report.failed and not allow_failed:
        return run
    if len(run.used) < 2:
        raise InputError(f"ensemble {spec.name}: {len(run.used)} member(s) finished: no statistics from fewer than two")
    run.cells, run.villages, run.dikes = reduce_members(folder, run.used, reach, workers=workers, scheduler=scheduler,
                                                        progress=progress)
    run.files = write_ensemble_outputs(run, reach)
    return run


def reduce_members(folder: Path, names: list[str], reach, *, workers: int = 2, scheduler: str | None = None,
                   progress=None):
    """(per-cell Dataset, village table, dike table) over the finished members ``names`` in
    ``folder/members``: the cells reduced band by band on the workers, then put together here (the
    statistics only, one grid each)."""
    import xarray as xr

    from floodtwin.batch import run_members
    from floodtwin.errors import DataError
    from floodtwin.scenario.ensemble.reduce import (CELL_VARIABLES, RowsTask, band_folder_name, dike_table, reduce_rows,
                                                    row_bands, village_table)

    member_dir = folder / "members"
    files = [str((member_dir / n / "member.nc").resolve()) for n in names]
    ny, nx = reach.dem.shape
    bands = {f"rows-{r0:05d}-{r1:05d}": RowsTask(tuple(files), r0, r1) for r0, r1 in row_bands(ny, nx, len(files))}
    band_dir = folder / band_folder_name(files)
    report = run_members(bands, reduce_rows, band_dir, workers=workers, scheduler=scheduler, numba_threads=None,
                         progress=(lambda o, k, n: progress("reduce", o, k, n)) if progress else None)
    if report.failed:
        name, error = next(iter(report.failed.items()))
        raise DataError(f"ensemble reduction: band {name} failed: {error}")
    grids = {k: np.full((ny, nx), np.nan, dtype=np.float32) for k in CELL_VARIABLES}
    for name, task in bands.items():
        with xr.open_dataset(band_dir / name / "rows.nc", engine="netcdf4") as ds:
            for k in grids:
                grids[k][task.row0:task.row1] = ds[k].values
    cells = xr.Dataset({k: (("y", "x"), v, CELL_VARIABLES[k]) for k, v in grids.items()},
                       coords={"y": reach.dem["y"].values, "x": reach.dem["x"].values})
    return cells, village_table(member_dir, names), dike_table(member_dir, names)


def require_ensemble_folder(path: str | Path, *, option: str = "--out") -> Path:
    """``path`` as an ensemble's folder: an existing folder (its finished members are resumed) or a new
    one under a writable folder (created later, with missing parents). Creates nothing."""
    import os

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{option} {p}: is a file, expected a folder")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(f"{option} {p}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{option} {p}: folder {probe} is not writable")
    return p
