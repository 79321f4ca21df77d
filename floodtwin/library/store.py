"""The library on disk: one member per discharge, then all of them in one NetCDF with discharge as a dimension.

A member (``member.nc``, one per discharge, written by :func:`write_member` on a worker) holds what
the full coupled run found: per cell the water level above the bed (``level_above_bed``: the depth
where water stood, and below zero on dry land the height by which the nearest water surface stayed
under the ground: what lets the wet edge move when members are interpolated), max speed, arrival
time, max hazard rating; along the chainage the channel's peak stage; per dike segment the highest
water against it, the water at its toe, when the freeboard was least; per village the flood as the
risk layer computed it; per works the speed at the spur heads.

:func:`assemble_library` stacks the members along ``discharge`` into the library file: float32,
quantized to what is meaningful (1 mm, 1 cm/s, 1 s), zlib-compressed with one chunk per member so a
lookup reads just the two members it needs. The input hashes (``floodtwin.library.inputs``) are its
attributes; every member must have been built on the same inputs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from floodtwin.errors import DataError

__all__ = ["CELL_VARIABLES", "MEMBER_FILE", "assemble_library", "level_above_bed", "village_cells", "write_member"]

#: the file a member folder holds
MEMBER_FILE = "member.nc"
#: per-cell variables of a member and of the library: name -> (least significant digit, units, long name)
CELL_VARIABLES = {
    "level_above_bed": (4, "m", "maximum water level above the bed (depth where wet; below zero on dry land: how far "
                                "under the ground the nearest water surface stayed)"),
    "max_speed": (2, "m s-1", "maximum depth-averaged speed over the run"),
    "arrival_time": (0, "s", "time when the depth first exceeds the arrival threshold"),
    "max_hazard_rating": (3, "1", "maximum flood hazard rating over the run (Defra/EA FD2320)"),
}
#: per-village variables a member keeps from the risk layer (checked against the cells at assembly)
VILLAGE_VARIABLES = ("max_depth_m", "max_speed_ms", "arrival_time_s", "duration_above_s", "hazard_rating")
#: per-segment variables a member keeps from the dike layer
SEGMENT_VARIABLES = ("max_water_level_m", "toe_depth_m", "time_min_freeboard_s", "crest_elevation_m")


def level_above_bed(max_depth_m: np.ndarray, bed_m: np.ndarray, channel_level_m: np.ndarray) -> np.ndarray:
    """Per cell (m): the max depth where water stood (> 0), else the nearest wet cell's water level minus
    the bed, at most 0 (the land stayed dry); where no cell was wet, the channel's peak level at the
    cell's chainage (``channel_level_m``) stands in for that surface. NaN outside the model."""
    from scipy.ndimage import distance_transform_edt

    depth = np.asarray(max_depth_m, float)
    bed = np.asarray(bed_m, float)
    model = np.isfinite(depth) & np.isfinite(bed)
    wet = model & (depth > 0.0)
    out = np.full(depth.shape, np.nan)
    out[wet] = depth[wet]
    dry = model & ~wet
    if wet.any():
        level = np.where(wet, bed + np.where(wet, depth, 0.0), np.nan)
        _, (ii, jj) = distance_transform_edt(~wet, return_indices=True)
        surface = level[ii, jj]
    else:
        surface = np.asarray(channel_level_m, float)
    out[dry] = np.minimum(surface[dry] - bed[dry], 0.0)
    return out


def village_cells(x_m: np.ndarray, y_m: np.ndarray, village_x_m, village_y_m, radius_m: float) -> np.ndarray:
    """Per village, the flat indices (row-major on (y, x)) of the cells whose centres lie within
    ``radius_m`` of the village point, the cell under it always included (as
    ``floodtwin.risk.cell_values_near`` chooses them); padded with -1 to one width; a village off
    the grid has none."""
    xs, ys = np.asarray(x_m, float), np.asarray(y_m, float)
    dx = float(abs(xs[1] - xs[0]))
    k = int(np.ceil(radius_m / dx))
    rows: list[np.ndarray] = []
    for px, py in zip(np.atleast_1d(village_x_m), np.atleast_1d(village_y_m)):
        j0, i0 = int(np.argmin(np.abs(xs - px))), int(np.argmin(np.abs(ys - py)))
        if not (abs(xs[j0] - px) <= dx and abs(ys[i0] - py) <= dx):
            rows.append(np.zeros(0, np.int64))
            continue
        i_lo, i_hi = max(i0 - k, 0), min(i0 + k + 1, ys.size)
        j_lo, j_hi = max(j0 - k, 0), min(j0 + k + 1, xs.size)
        gx, gy = np.meshgrid(xs[j_lo:j_hi], ys[i_lo:i_hi])
        near = (gx - px) ** 2 + (gy - py) ** 2 <= radius_m ** 2
        near[i0 - i_lo, j0 - j_lo] = True
        ii, jj = np.nonzero(near)
        rows.append((ii + i_lo) * xs.size + (jj + j_lo))
    width = max([r.size for r in rows] + [1])
    out = np.full((len(rows), width), -1, np.int64)
    for n, r in enumerate(rows):
        out[n, : r.size] = r
    return out


def write_member(path: str | Path, *, discharge_m3s: float, flood: Any, channel_level_m: np.ndarray, chainage_m,
                 max_stage_m, gauge_stage_m: float, villages: Any, dikes: Any, works: Any, attrs: dict) -> Path:
    """Write one member (see the module docstring) from a full run's per-cell ``flood`` (Dataset with
    max_depth, max_speed, arrival_time, max_hazard_rating, bed, between_dikes), the channel's peak
    level under each cell (m), its peak stage along ``chainage_m``, the gauge's stage (m), and the
    village, dike and works risk tables; ``attrs``: the input hashes."""
    import xarray as xr

    from floodtwin.results import write_result

    lab = level_above_bed(flood["max_depth"].values, flood["bed"].values, channel_level_m)
    ds = xr.Dataset(
        {"level_above_bed": (("y", "x"), lab),
         **{v: (("y", "x"), np.asarray(flood[v].values, float)) for v in ("max_speed", "arrival_time",
                                                                          "max_hazard_rating")},
         "bed": (("y", "x"), np.asarray(flood["bed"].values, float)),
         "between_dikes": (("y", "x"), np.asarray(flood["between_dikes"].values, np.int8)),
         "max_stage": (("chainage",), np.asarray(max_stage_m, float)),
         **{f"village_{v}": (("village",), villages[v].to_numpy(float)) for v in VILLAGE_VARIABLES},
         **{f"segment_{v}": (("segment",), dikes[v].to_numpy(float)) for v in SEGMENT_VARIABLES},
         "works_max_speed_ms": (("works",), works["max_speed_ms"].to_numpy(float))},
        coords={"y": flood.y.values, "x": flood.x.values, "chainage": np.asarray(chainage_m, float),
                "village": villages["village_id"].astype(str).to_numpy(),
                "segment": dikes["segment_id"].astype(str).to_numpy(),
                "works": works["works_id"].astype(str).to_numpy()},
        attrs={**attrs, "discharge_m3s": float(discharge_m3s), "gauge_stage_m": float(gauge_stage_m),
               "village_x_m": villages["x_m"].to_numpy(float), "village_y_m": villages["y_m"].to_numpy(float)},
    )
    return write_result(ds, path, source=f"floodtwin library member: full coupled run at {discharge_m3s:g} m³/s")


def assemble_library(member_paths: list[Path], path: str | Path, *, attrs: dict, village_radius_m: float) -> Path:
    """Stack the members (one ``member.nc`` each, any order) along ``discharge`` into the library file
    at ``path``, written under a temporary name and renamed into place. A DataError when a member was
    built on other inputs than ``attrs`` says, on another grid, or gives village values that its
    cells do not reproduce."""
    import xarray as xr

    from floodtwin.risk.hazard import WET_DEPTH_M
    from floodtwin.variables import annotate

    path = Path(path)
    members = [xr.open_dataset(p, engine="netcdf4", decode_times=False).load() for p in member_paths]
    for p, m in zip(member_paths, members):
        other = [k for k, v in attrs.items() if k.startswith("input_") and m.attrs.get(k) != v]
        if other:
            raise DataError(f"{p}: built on other inputs ({', '.join(other)}): remove it and build again")
        if m.sizes != members[0].sizes:
            raise DataError(f"{p}: grid {dict(m.sizes)} differs from {dict(members[0].sizes)}")
    members.sort(key=lambda m: m.attrs["discharge_m3s"])
    q = np.array([m.attrs["discharge_m3s"] for m in members])
    if np.any(np.diff(q) <= 0):
        raise DataError(f"library: two members at the same discharge ({q.tolist()})")
    first = members[0]
    cells = village_cells(first.x.values, first.y.values, first.attrs["village_x_m"], first.attrs["village_y_m"],
                          village_radius_m)
    for m in members:  # the lookup recomputes villages from the cells: it must give the run's own answer
        depth = np.nan_to_num(np.maximum(m["level_above_bed"].values, 0.0), nan=0.0).ravel()
        got = np.array([depth[c[c >= 0]].max() if (c >= 0).any() else 0.0 for c in cells])
        want = m["village_max_depth_m"].values
        if not np.allclose(got, want, atol=1e-6) or not np.array_equal(got > WET_DEPTH_M, want > WET_DEPTH_M):
            raise DataError(f"member {m.attrs['discharge_m3s']:g} m³/s: village depths from the cells {got.round(3)} "
                            f"differ from the run's {want.round(3)}")
    ny, nx = first.sizes["y"], first.sizes["x"]
    data = {name: (("discharge", "y", "x"), np.stack([m[name].values for m in members]).astype(np.float32))
            for name in CELL_VARIABLES}
    for name in [v for v in first.data_vars if v.startswith(("village_", "segment_", "works_")) or v == "max_stage"]:
        dims = ("discharge",) + first[name].dims
        data[name] = (dims, np.stack([m[name].values for m in members]))
    data["gauge_stage"] = (("discharge",), np.array([m.attrs["gauge_stage_m"] for m in members]))
    data["bed"] = (("y", "x"), first["bed"].values.astype(np.float32))
    data["between_dikes"] = (("y", "x"), first["between_dikes"].values.astype(np.int8))
    data["village_cells"] = (("village", "village_cell"), cells.astype(np.int32))
    ds = xr.Dataset(data, coords={"discharge": q, "y": first.y.values, "x": first.x.values,
                                  "chainage": first.chainage.values, "village": first.village.values,
                                  "segment": first.segment.values, "works": first.works.values})
    ds["discharge"].attrs = {"long_name": "peak discharge at Huayuankou of the member's design wave", "units": "m3 s-1"}
    for name, (_, units, long_name) in CELL_VARIABLES.items():
        ds[name].attrs = {"units": units, "long_name": long_name}
    ds["max_stage"].attrs = {"units": "m", "long_name": "peak stage of the 1D channel"}
    ds["gauge_stage"].attrs = {"units": "m", "long_name": "peak stage at the Huayuankou gauge"}
    annotate(ds)
    from floodtwin import __version__

    ds.attrs = {**attrs, "Conventions": "CF-1.8", "title": "floodtwin flood-map library",
                "source": f"floodtwin {__version__}: full coupled 1D-2D runs of the design wave, one per discharge",
                "members": len(members), "wet_depth_m": WET_DEPTH_M, "village_radius_m": float(village_radius_m),
                "cell_size_m": float(abs(first.x.values[1] - first.x.values[0]))}
    enc = {}
    for name, (digits, _, _) in CELL_VARIABLES.items():
        enc[name] = {"zlib": True, "complevel": 5, "shuffle": True, "least_significant_digit": digits,
                     "chunksizes": (1, ny, nx), "_FillValue": np.float32(np.nan)}
    for name in ("bed",):
        enc[name] = {"zlib": True, "complevel": 5, "_FillValue": np.float32(np.nan)}
    for name, var in ds.data_vars.items():
        if name not in enc and np.issubdtype(var.dtype, np.floating):
            enc[name] = {"zlib": True, "complevel": 4, "_FillValue": np.nan}
    for name, var in ds.coords.items():
        if np.issubdtype(var.dtype, np.floating):
            enc[name] = {"_FillValue": None}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=enc)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write the library ({exc.strerror or exc})") from None
    return path
