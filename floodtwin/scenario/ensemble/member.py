"""One ensemble member on a worker: its hydrograph, its roughness, its breach; the full run; its compact files.

A member is a full coupled 1D–2D run (:func:`floodtwin.scenario.run_scenario` with ``full=True``) of
the ``shape`` scenario's hydrograph scaled to the member's peak, with its breach, on the reach whose
channel and floodplain Manning n are the member's. The roughness reaches the model the way the
calibrated one does: through the calibration file beside the reach (``hydraulics.sections.
calibration_path``), here a file in the member's own folder (the record of what it ran with) and a
copy of the reach that points there; the repository's files are not touched.

What a member keeps (``MEMBER_FILES``) is what the reduction needs and no more: the per-cell maximum
depth (float32) and hazard class (int8), the village and dike-segment tables, and ``member.json``
(parameters, hydrograph, CPU seconds, the worker's peak memory).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from floodtwin.errors import InputError
from floodtwin.scenario.ensemble.sampling import MemberParams

__all__ = ["MEMBER_FILES", "MemberTask", "compute_member", "member_breaches", "member_hydrograph", "member_reach",
           "write_member"]

#: the files of a finished member
MEMBER_FILES = ("member.nc", "villages.csv", "dikes.csv", "member.json")


@dataclass(frozen=True)
class MemberTask:
    """What a worker needs for one member: its parameters, the grid (m), the run window (hours before
    and after the crest, or None for the whole hydrograph) and the reach."""

    params: MemberParams
    resolution_m: float
    window_h: tuple[float, float] | None = None
    reach: str = "huayuankou"


@functools.lru_cache(maxsize=2)
def _reach(name: str, resolution_m: float):
    """The reach, loaded once per worker process and grid (the members share it, read-only)."""
    from floodtwin.reach import load_reach

    return load_reach(name, resolution_m=resolution_m)


@functools.lru_cache(maxsize=1)
def _preplan():
    from floodtwin.preplan import Preplan

    return Preplan.load()


@functools.lru_cache(maxsize=8)
def _shape(name: str):
    from floodtwin.hydrograph import load_scenario

    return load_scenario(name).hydrograph


def member_hydrograph(params: MemberParams, window_h: tuple[float, float] | None = None):
    """(hydrograph, crest time in it (s)): the ``shape`` scenario's hydrograph scaled to the member's
    peak (every discharge times peak / the shape's peak, so the wave keeps its form and timing),
    cut to ``window_h`` = (hours before, hours after) the crest when given, its time then from the
    window's start."""
    from floodtwin.hydrograph import Hydrograph

    shape = _shape(params.shape)
    q = shape.discharge_m3s * (params.peak_m3s / shape.peak_m3s)
    t = shape.times_s
    crest_s = shape.time_of_peak_s
    if window_h is None:
        return Hydrograph(t, q), crest_s
    t0 = max(0.0, crest_s - window_h[0] * 3600.0)
    t1 = min(float(t[-1]), crest_s + window_h[1] * 3600.0)
    inside = (t > t0) & (t < t1)
    tw = np.concatenate([[t0], t[inside], [t1]])
    return Hydrograph(tw - t0, np.interp(tw, t, q)), crest_s - t0


def member_breaches(params: MemberParams, crest_s: float):
    """The member's BreachSpecs, their opening hour from the start of its run (its crest plus
    ``start_after_crest_h``); one that would open before the run starts is an InputError."""
    from floodtwin.hydrograph import BreachSpec

    out = []
    for b in params.breaches:
        start_h = crest_s / 3600.0 + float(b["start_after_crest_h"])
        if start_h < 0:
            raise InputError(f"member {params.name}: breach at {b['chainage_m']:,.0f} m {b['bank']} opens "
                             f"{b['start_after_crest_h']:g} h after the crest, before the run starts")
        out.append(BreachSpec(chainage_m=float(b["chainage_m"]), bank=str(b["bank"]), start_h=start_h,
                              final_width_m=float(b["final_width_m"]), time_to_full_h=float(b["time_to_full_h"])))
    return tuple(out)


def member_reach(reach, params: MemberParams, folder: Path):
    """The reach as the member runs it: unchanged when the member draws no roughness; else a copy whose
    calibration file (``folder/<reach>.calibration.yaml``) holds the member's Manning n and the
    calibrated bed offset."""
    if params.channel_n is None and params.floodplain_n is None:
        return reach
    import yaml

    from floodtwin.hydraulics.sections import load_calibration

    cal = load_calibration(reach)
    if params.channel_n is not None:
        cal["channel_n"] = float(params.channel_n)
    if params.floodplain_n is not None:
        cal["floodplain_n"] = float(params.floodplain_n)
    path = Path(folder) / f"{reach.name}.calibration.yaml"
    path.write_text(f"# ensemble member {params.name}: the calibration file with the member's Manning n\n"
                    + yaml.safe_dump(cal, sort_keys=False), encoding="utf-8")
    return dataclasses.replace(reach, source=Path(folder) / f"{reach.name}.gpkg")


def compute_member(task: MemberTask, folder: Path) -> None:
    """Run one member and write its files into ``folder`` (batch.run_members' member function)."""
    from floodtwin.scenario.run import run_scenario

    t_wall, t_cpu = time.perf_counter(), time.process_time()
    params = task.params
    reach = _reach(task.reach, float(task.resolution_m))
    hydro, crest_s = member_hydrograph(params, task.window_h)
    breaches = member_breaches(params, crest_s)
    run_reach = member_reach(reach, params, folder)
    result = run_scenario(hydrograph=hydro, name=params.name, full=True, breaches=breaches, reach=run_reach,
                          preplan=_preplan(), resolution_m=float(task.resolution_m))
    write_member(result, folder)
    meta = {
        "params": params.to_dict(),
        "resolution_m": float(task.resolution_m),
        "window_h": list(task.window_h) if task.window_h else None,
        "peak_m3s": hydro.peak_m3s, "duration_h": hydro.duration_s / 3600.0, "crest_h": crest_s / 3600.0,
        "breaches": [dict(b.__dict__) for b in breaches],
        "method": result.method,
        "tier": result.decision.tier,
        "mass_balance_relative_error": result.flood_summary["mass_balance_relative_error"],
        "cells": int(np.isfinite(result.flood["max_depth"].values).sum()),
        "wall_s": time.perf_counter() - t_wall,
        "cpu_s": time.process_time() - t_cpu,
        # the worker process's peak resident memory so far (KiB on Linux): an upper bound for one member
        "worker_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 if sys.platform != "darwin"
                                                                                       else 1024.0 ** 2),
    }
    (Path(folder) / "member.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def write_member(result, folder: Path) -> None:
    """The compact files of a finished full run: member.nc (max depth float32, hazard class int8 on
    the reach grid), villages.csv, dikes.csv."""
    import xarray as xr

    from floodtwin.results import write_result

    flood = result.flood
    ds = xr.Dataset({"max_depth": flood["max_depth"].astype(np.float32),
                     "hazard_class": flood["hazard_class"].astype(np.int8)},
                    coords={"y": flood["y"], "x": flood["x"]})
    write_result(ds, Path(folder) / "member.nc", source=f"floodtwin ensemble member {result.name}: {result.method}")
    v = result.villages[["village_id", "flooded", "hazard_class", "max_depth_m"]].copy()
    v["flooded"] = v["flooded"].astype(bool)
    v.to_csv(Path(folder) / "villages.csv", index=False)
    result.dikes[["segment_id", "freeboard_m"]].to_csv(Path(folder) / "dikes.csv", index=False, float_format="%.17g")
