"""The full run's steps: the coupled 1D–2D flood of the reach and the risk of every object in it.

``flood_run`` runs a hydrograph (and any breaches) through :func:`~floodtwin.hydraulics.simulate_coupled`
and checks it; ``flood_fields`` is the per-cell result on the reach grid; ``object_risk`` turns it
into the layers a duty officer reads (villages, grids, dikes, works, hazard polygons) and the
preplan's ``RiskFacts``. Called by :func:`floodtwin.scenario.run.run_scenario`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np

from floodtwin.errors import InputError, ModelError

__all__ = ["MASS_BALANCE_TOLERANCE", "between_dikes_mask", "channel_speed_at", "flood_fields", "flood_run",
           "breach_points", "object_risk", "require_breach_on_reach", "task_lines_by_grid", "to_breach"]

#: largest volume error of a coupled run, relative to the inflow volume, that is still an answer: the
#: coupling conserves volume to round-off (1e-15), so anything near this is a defect, not noise
MASS_BALANCE_TOLERANCE = 1e-6


def require_breach_on_reach(reach, spec, *, duration_s: float | None = None) -> None:
    """InputError unless the breach's chainage lies on a dike of the reach (with the dike on its bank)
    and, given the run's ``duration_s``, it opens before the run ends (else it would silently not
    happen)."""
    dikes = reach.dikes[reach.dikes["bank"] == spec.bank]
    if dikes.empty:
        raise InputError(f"--breach {spec.chainage_m:g}:{spec.bank}: the reach has no {spec.bank} dike")
    lo = float(dikes["chainage_from_m"].min())
    hi = float(dikes["chainage_to_m"].max())
    if not lo <= spec.chainage_m <= hi:
        raise InputError(f"--breach {spec.chainage_m:g}:{spec.bank}: chainage outside the {spec.bank} dike "
                         f"({lo:,.0f}–{hi:,.0f} m)")
    if duration_s is not None and spec.start_h * 3600.0 >= duration_s:
        raise InputError(f"--breach {spec.chainage_m:g}:{spec.bank}@{spec.start_h:g}: opens at {spec.start_h:g} h, "
                         f"at or after the end of the run ({duration_s / 3600:g} h)")


def breach_points(reach, specs):
    """The breaches of a run as a point layer (GeoDataFrame, the reach CRS) for the maps and risk.gpkg: on
    the dike line of the breach's bank at its chainage, with id (B1, B2, … in the order given), bank,
    chainage (m) and post, opening time (h), final width (m) and time to full width (h)."""
    import geopandas as gpd

    from floodtwin.reach.build import post_label

    rows, points = [], []
    for k, spec in enumerate(specs, start=1):
        require_breach_on_reach(reach, spec)
        dikes = reach.dikes[reach.dikes["bank"] == spec.bank]
        seg = dikes[(dikes["chainage_from_m"] <= spec.chainage_m) & (dikes["chainage_to_m"] >= spec.chainage_m)].iloc[0]
        frac = (spec.chainage_m - seg.chainage_from_m) / (seg.chainage_to_m - seg.chainage_from_m)
        points.append(seg.geometry.interpolate(float(frac), normalized=True))
        rows.append({"breach_id": f"B{k}", "bank": spec.bank, "chainage_m": float(spec.chainage_m),
                     "post": post_label(spec.chainage_m), "segment_id": seg.segment_id, "start_h": float(spec.start_h),
                     "final_width_m": float(spec.final_width_m), "time_to_full_h": float(spec.time_to_full_h)})
    return gpd.GeoDataFrame(rows, geometry=points, crs=reach.crs)


def to_breach(reach, spec):
    """The engine's Breach of a BreachSpec: the gap scours down to the land behind the dike."""
    from floodtwin.hydraulics import Breach

    base = float(reach.terrain.land_m(np.array([spec.chainage_m]))[0])
    return Breach(chainage_m=float(spec.chainage_m), base_m=base, final_width_m=float(spec.final_width_m),
                  time_to_full_s=float(spec.time_to_full_h) * 3600.0, start_s=float(spec.start_h) * 3600.0,
                  bank=spec.bank)


def flood_run(reach, hydrograph, breaches=(), *, progress: Callable[[float, float], None] | None = None):
    """The coupled run of ``hydrograph`` over the reach with ``breaches`` (engine Breach objects);
    ModelError when its volume does not balance (see ``MASS_BALANCE_TOLERANCE``)."""
    from floodtwin.hydraulics import simulate_coupled

    duration = float(hydrograph.times_s[-1])
    ds = simulate_coupled(reach, (hydrograph.times_s, hydrograph.discharge_m3s), duration,
                          breaches=tuple(breaches), progress=progress)
    inflow = float(np.trapezoid(hydrograph.discharge_m3s, hydrograph.times_s))
    err = abs(float(ds.attrs["mass_balance_error_m3"])) / max(inflow, 1.0)
    if not err < MASS_BALANCE_TOLERANCE:
        raise ModelError(f"coupled run: volume not balanced ({err:.1e} of the inflow volume, more than "
                         f"{MASS_BALANCE_TOLERANCE:g}): no level or map is given")
    ds.attrs["mass_balance_relative_to_inflow"] = err
    return ds


def flood_fields(run, reach):
    """The per-cell flood on the reach grid: the run's 2D fields and the bed (m, NaN in the channel and
    outside the model), with ``between_dikes`` (bool) marking the land between the two dikes."""
    from floodtwin.risk import HAZARD_CLASSES, hazard_class_code

    cells = ["max_depth", "max_speed", "arrival_time", "duration_above", "max_hazard_rating", "depth"]
    missing = [c for c in cells if c not in run]
    if missing:
        raise ModelError(f"coupled run: no {', '.join(missing)} in its result")
    flood = run[cells].copy()
    bed = reach.dem.where(np.isfinite(run["max_depth"].values))
    flood["bed"] = (("y", "x"), bed.values)
    flood["between_dikes"] = (("y", "x"), between_dikes_mask(reach))
    flood["hazard_class"] = (("y", "x"), hazard_class_code(flood["max_hazard_rating"].values, flood["max_depth"].values))
    flood["hazard_class"].attrs = {"long_name": "flood hazard class (Defra/EA FD2320)",
                                   "flag_values": np.arange(len(HAZARD_CLASSES), dtype=np.int8),
                                   "flag_meanings": " ".join(HAZARD_CLASSES)}
    flood.attrs = {k: v for k, v in run.attrs.items()}
    return flood


def between_dikes_mask(reach) -> np.ndarray:
    """True for cells between the right dike's and the left dike's crest lines (the 滩区 and channel)."""
    t = reach.terrain
    xx, yy = np.meshgrid(reach.dem.x.values, reach.dem.y.values)
    s, n = t.frame.to_sn(xx.ravel(), yy.ravel())
    width = t.spacing_m(s)
    return ((n > 0) & (n < width)).reshape(xx.shape)


def channel_speed_at(run, sections) -> Callable[[np.ndarray], np.ndarray]:
    """Chainages (m) -> the highest cross-section mean speed Q/A (m/s) of the coupled run's channel there
    (stored coupling times every 10 minutes of the run)."""
    t = run["time"].values.astype(float)
    keep = np.unique(np.searchsorted(t, np.arange(0.0, t[-1] + 1.0, 600.0)).clip(0, t.size - 1))
    z = run["stage"].values[keep]
    q = run["discharge"].values[keep]
    vmax = np.zeros(sections.n_sections)
    for i in range(sections.n_sections):
        area = np.array([sections.properties(i, zk)["area_m2"] for zk in z[:, i]])
        vmax[i] = float(np.max(np.abs(q[:, i]) / np.maximum(area, 1.0)))
    chain = sections.chainage_m

    def at(chainage_m):
        return np.interp(np.asarray(chainage_m, float), chain, vmax)

    return at


def _toe_points(reach, dikes, dx_m: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per dike segment: points one cell riverward of its river-side toe, every cell along it."""
    t = reach.terrain
    out = {}
    for seg in dikes.itertuples():
        s = np.arange(float(seg.chainage_from_m), float(seg.chainage_to_m) + 1e-6, dx_m)
        toe = t.dike_toe_offset_m(s, side=seg.bank, toward="river")
        n = toe + (dx_m if seg.bank == "right" else -dx_m)
        out[seg.segment_id] = t.frame.to_xy(s, n)
    return out


def task_lines_by_grid(tasks, reach, *, lang: str = "en", now: datetime | None = None) -> dict[str, list[str]]:
    """Grid id -> "deadline · task · holder" lines: who the board would assign each task of the grid to if
    the plan were activated now (the dispatch rule, on the staff's current shift)."""
    from floodtwin.dispatch.board.assign import choose_assignee, current_shift
    from floodtwin.dispatch.roster import Roster
    from floodtwin.dispatch.settings import load_config

    config = load_config()
    roster = Roster.from_reach(reach)
    shift = current_shift(now or datetime.now(timezone.utc), config)
    load: dict[str, int] = {}
    lines: dict[str, list[str]] = {}
    for task in tasks:
        who, role, _, grid = choose_assignee(task, roster, load, shift, config)
        load[who] = load.get(who, 0) + 1
        grid = grid or task.grid_id
        if grid is None:
            continue
        lines.setdefault(grid, []).append(f"{task.deadline_min:g} min · {task.title(lang)} · {who} ({role})")
    return lines


def object_risk(flood, run, reach, sections, dikes_channel) -> dict[str, Any]:
    """Layers of risk (GeoDataFrames, the reach CRS): villages, dikes, works, hazard (grids join once the
    tasks are known: ``grid_risk``)."""
    from floodtwin.risk import dike_risk, hazard_polygons, village_risk, works_risk

    villages = village_risk(reach.villages, flood)
    dikes = dike_risk(dikes_channel, flood, _toe_points(reach, reach.dikes, reach.resolution_m))
    works = works_risk(reach.works, reach.spurs, flood, channel_speed_at(run, sections))
    hazard = hazard_polygons(flood, crs=reach.crs)
    return {"villages": villages, "dikes": dikes, "works": works, "hazard": hazard}
