"""Risk along the reach from the channel's water level: dike freeboard per segment, water at the
dike toe, village exposure by the 1D stage comparison.

``freeboard(result_1d, dikes)`` answers the duty officer's first question — how high will the water
stand against each dike section and how much freeboard is left — from a 1D run (``simulate_1d``,
with time) or a steady profile (``steady_profile``, without). ``village_exposure`` says which
floodplain villages flood and when, ``toe_depth_m`` how much water stands at each dike toe; all three
read the water level along the reach through the one interpolation, ``stage_along``. Pure functions
on arrays and tables: ``floodtwin.scenario`` and ``floodtwin.alerts`` call them.
"""

from __future__ import annotations

import numpy as np

from floodtwin.errors import InputError

__all__ = ["FREEBOARD_CLASSES", "freeboard", "freeboard_class", "stage_along", "toe_depth_m", "village_exposure"]

#: freeboard classes (m): below 0 overtopped, then < 1 m, < 2 m, >= 2 m
FREEBOARD_CLASSES = ("overtopped", "lt_1m", "lt_2m", "ge_2m")


def freeboard_class(freeboard_m: np.ndarray) -> np.ndarray:
    """Class label of each freeboard (m): overtopped (< 0), lt_1m, lt_2m, ge_2m."""
    f = np.asarray(freeboard_m, float)
    return np.select([f < 0.0, f < 1.0, f < 2.0], FREEBOARD_CLASSES[:3], FREEBOARD_CLASSES[3])


def stage_along(chainage_m: np.ndarray, stage_m: np.ndarray, at_m: np.ndarray) -> np.ndarray:
    """Stage (m), shape (time, len(at_m)), at chainages ``at_m`` (m) from the stage of the sections at
    ``chainage_m`` (rising; ``stage_m`` of shape (time, sections), or (sections,) for one profile).

    Linear between sections; beyond the end sections linear extrapolation over the first/last reach:
    the water surface keeps its slope. (Clamping, the other rule once used here, holds the level
    flat beyond the ends and so under-states the water upstream of the first section, where it is
    higher: a freeboard too kind. Results read beyond the ends are flagged, e.g. ``extrapolated`` in
    ``freeboard``.)
    """
    x = np.asarray(chainage_m, float)
    z = np.atleast_2d(np.asarray(stage_m, float))
    at = np.asarray(at_m, float)
    k = np.clip(np.searchsorted(x, at) - 1, 0, x.size - 2)
    w = (at - x[k]) / (x[k + 1] - x[k])
    return z[:, k] * (1.0 - w) + z[:, k + 1] * w


def toe_depth_m(level_m, toe_elevation_m, lip_m=None) -> np.ndarray:
    """Depth of water (m, >= 0) at each dike toe for the highest water level against it (m).

    Where the channel's natural levee (滩唇) is known (``lip_m``, its crest at the same chainages),
    the water reaches the toe only once it has overtopped the lip: the floodplain falls from the lip
    towards the dike (the secondary suspended river), so below the lip the toe stays dry. Without
    ``lip_m`` the levee is ignored (conservative).
    """
    level = np.asarray(level_m, float)
    depth = level - np.asarray(toe_elevation_m, float)
    if lip_m is not None:
        depth = np.where(level > np.asarray(lip_m, float), depth, 0.0)
    return np.maximum(depth, 0.0)


def village_exposure(villages, chainage_m: np.ndarray, stage_m, times_s: np.ndarray, lip_m: np.ndarray | None = None):
    """Per village: water level (m), depth at the peak (m) and the time (s) the water first stands on
    its ground (NaN if never).

    ``villages``: a table with chainage_m and ground_elevation_m; ``stage_m`` (time, sections) at the
    sections' ``chainage_m``, ``times_s`` its times. A village floods when the channel's water level
    at its chainage exceeds its ground and, where the natural levee (滩唇) between it and the channel
    is known (``lip_m`` per village), the water has overtopped that levee: the floodplain then fills
    to the river's level. Without ``lip_m`` the levee is ignored (conservative). Returns a copy of the
    table (no geometry) with max_water_level_m, max_depth_m, flooded and arrival_time_s.
    """
    at = villages["chainage_m"].to_numpy(float)
    ground = villages["ground_elevation_m"].to_numpy(float)
    z = stage_along(chainage_m, stage_m, at)  # (time, villages)
    peak = z.max(axis=0)
    wet = z > ground[None, :]
    if lip_m is not None:
        wet &= z > np.asarray(lip_m, float)[None, :]
        peak = np.where(wet.any(axis=0), peak, np.minimum(peak, ground))
    first = np.where(wet.any(axis=0), np.asarray(times_s, float)[np.argmax(wet, axis=0)], np.nan)
    out = villages.drop(columns=["geometry"], errors="ignore").copy()
    out["max_water_level_m"] = peak
    out["max_depth_m"] = np.maximum(peak - ground, 0.0)
    out["flooded"] = wet.any(axis=0)
    out["arrival_time_s"] = first
    return out


def freeboard(result_1d, dikes, *, points_per_segment: int = 11):
    """Freeboard of every dike segment (m): crest − highest water level against it over the run.

    ``result_1d``: a Dataset with ``stage`` over ``chainage`` (m, the reach chainage of the dike
    posts) and optionally ``time`` (s). ``dikes``: the reach's dikes layer (segment_id, dike_id,
    chainage_from_m, chainage_to_m, post_from, post_to, crest_elevation_m). Returns a copy of the
    layer (GeoDataFrame if it was one) with max_water_level_m, freeboard_m (the minimum along the
    segment), chainage_min_m (where it is smallest), time_min_freeboard_s (NaN for a steady
    profile), freeboard_class and extrapolated (the segment reaches beyond the modelled sections).
    """
    required = ("segment_id", "chainage_from_m", "chainage_to_m", "crest_elevation_m")
    missing = [c for c in required if c not in dikes.columns]
    if missing:
        raise InputError(f"dikes: missing column(s) {', '.join(missing)}")
    if "stage" not in result_1d or "chainage" not in result_1d["stage"].dims:
        raise InputError("result_1d: expected a Dataset with stage over chainage (simulate_1d or steady_profile)")
    stage_da = result_1d["stage"]
    has_time = "time" in stage_da.dims
    stage = stage_da.transpose("time", "chainage").values if has_time else stage_da.values[None, :]
    times = result_1d["time"].values.astype(float) if has_time else np.array([np.nan])
    chain = result_1d["chainage"].values.astype(float)
    if chain.size < 2 or np.any(np.diff(chain) <= 0):
        raise InputError("result_1d: chainage must rise with at least two sections")
    if "max_stage" in result_1d and has_time:
        # the run's own maxima are exact in time (the stored rows are only every output interval)
        stage = np.vstack([stage, result_1d["max_stage"].values[None, :]])
        times = np.append(times, np.nan)
        t_of_max = result_1d["time_of_max_stage"].values.astype(float) if "time_of_max_stage" in result_1d else None
    else:
        t_of_max = None
    out = dikes.copy()
    cols = {k: [] for k in ("max_water_level_m", "freeboard_m", "chainage_min_m", "time_min_freeboard_s", "extrapolated")}
    for _, seg in dikes.iterrows():
        a, b = float(seg["chainage_from_m"]), float(seg["chainage_to_m"])
        inside = chain[(chain > a) & (chain < b)]
        at = np.unique(np.concatenate([np.linspace(a, b, points_per_segment), inside]))
        z = stage_along(chain, stage, at)  # (time, points)
        crest = float(seg["crest_elevation_m"])
        ti, pj = np.unravel_index(int(np.argmax(z)), z.shape)
        zmax = float(z[ti, pj])
        t_min = float(times[ti])
        if np.isnan(t_min) and t_of_max is not None:
            # the maximum came from max_stage: its time is the time of max of the nearest section
            t_min = float(t_of_max[int(np.argmin(np.abs(chain - at[pj])))])
        cols["max_water_level_m"].append(zmax)
        cols["freeboard_m"].append(crest - zmax)
        cols["chainage_min_m"].append(float(at[pj]))
        cols["time_min_freeboard_s"].append(t_min)
        cols["extrapolated"].append(bool(a < chain[0] or b > chain[-1]))
    for k, v in cols.items():
        out[k] = v
    out["freeboard_class"] = freeboard_class(out["freeboard_m"].to_numpy(float))
    return out
