"""The ensemble's statistics, reduced on the workers from the members' files, never all grids at once.

Per cell (``reduce_rows``, one task per band of rows, run on the workers through ``batch.run_members``):
the probability of a maximum depth above 0.3 m and above 1.0 m, the 5/50/95 % depth quantiles and the
probability of a hazard class "significant" or worse. A band reads only its rows of every member's
``member.nc``, so a worker holds members × band rows × columns values; the quantiles are then exact
(numpy's default, linear between order statistics, Hyndman & Fan type 7) without holding the whole
ensemble anywhere. The band height is chosen so that this stays under ``BAND_BYTES``.

Per village and per dike segment (``village_table``, ``dike_table``): a few numbers per member, read
from the members' CSVs: the probability of flooding and of each hazard class; the probability of a
freeboard below 1 m.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from floodtwin.errors import DataError

__all__ = ["BAND_BYTES", "DEPTH_THRESHOLDS_M", "FREEBOARD_LIMIT_M", "QUANTILES", "RowsTask", "cell_statistics",
           "dike_table", "reduce_rows", "row_bands", "village_table"]

#: the depths (m) whose exceedance probability is mapped: knee (evacuation on foot gets hard) and waist
DEPTH_THRESHOLDS_M = (0.3, 1.0)
#: the depth quantiles given per cell
QUANTILES = (0.05, 0.5, 0.95)
#: a dike segment is at risk when its least freeboard is below this (m): the "< 1 m" freeboard class
FREEBOARD_LIMIT_M = 1.0
#: most bytes of member depths one band holds on a worker (float32)
BAND_BYTES = 64 * 2 ** 20
#: the hazard class from which a cell counts as "danger for most" or worse (FD2320: significant, extreme)
SIGNIFICANT_CLASS = "significant"




CELL_VARIABLES = {
    "prob_depth_gt_0_3m": {"long_name": "probability that the maximum depth exceeds 0.3 m", "units": "1"},
    "prob_depth_gt_1_0m": {"long_name": "probability that the maximum depth exceeds 1.0 m", "units": "1"},
    "depth_q05": {"long_name": "5 % quantile of the maximum depth over the members", "units": "m"},
    "depth_q50": {"long_name": "median of the maximum depth over the members", "units": "m"},
    "depth_q95": {"long_name": "95 % quantile of the maximum depth over the members", "units": "m"},
    "prob_hazard_significant": {"long_name": "probability of hazard class significant or extreme (FD2320)",
                                "units": "1"},
}


@dataclass(frozen=True)
class RowsTask:
    """A band of rows [row0, row1) of the reach grid to reduce over the members' ``member.nc`` files."""

    files: tuple[str, ...]
    row0: int
    row1: int


def row_bands(n_rows: int, n_cols: int, n_members: int, *, band_bytes: int = BAND_BYTES) -> list[tuple[int, int]]:
    """Bands [row0, row1) covering ``n_rows`` whose members × rows × columns float32 stay under ``band_bytes``."""
    per_row = max(1, n_members * n_cols * 4)
    rows = max(1, min(n_rows, band_bytes // per_row))
    return [(r, min(r + rows, n_rows)) for r in range(0, n_rows, rows)]


def cell_statistics(depth: np.ndarray, hazard: np.ndarray) -> dict[str, np.ndarray]:
    """The per-cell statistics of ``depth`` (members, rows, cols; m; NaN outside the 2D model, the same
    cells in every member) and ``hazard`` (codes 0-4). NaN where the cells are outside the model."""
    from floodtwin.risk import HAZARD_CLASSES

    inside = np.isfinite(depth).all(axis=0)
    if not np.array_equal(inside, np.isfinite(depth).any(axis=0)):
        raise DataError("ensemble: the members' grids differ in which cells are inside the model")
    out: dict[str, np.ndarray] = {}
    for thr in DEPTH_THRESHOLDS_M:
        p = np.mean(depth > thr, axis=0)
        # CF names are letters, digits and underscores: prob_depth_gt_0_3m
        out[f"prob_depth_gt_{thr:.1f}m".replace(".", "_")] = np.where(inside, p, np.nan).astype(np.float32)
    q = np.quantile(np.where(inside, depth, 0.0).astype(np.float64), QUANTILES, axis=0)
    for k, qq in zip(QUANTILES, q):
        out[f"depth_q{round(k * 100):02d}"] = np.where(inside, qq, np.nan).astype(np.float32)
    danger = np.mean(hazard >= HAZARD_CLASSES.index(SIGNIFICANT_CLASS), axis=0)
    out["prob_hazard_significant"] = np.where(inside, danger, np.nan).astype(np.float32)
    return out


def reduce_rows(task: RowsTask, folder: Path) -> None:
    """On a worker: the per-cell statistics of rows [row0, row1) over every member, as ``rows.nc`` in
    ``folder`` (batch.run_members' member function)."""
    import xarray as xr

    depth, hazard = [], []
    y = x = None
    for f in task.files:
        with xr.open_dataset(f, engine="netcdf4") as ds:
            band = ds.isel(y=slice(task.row0, task.row1)).load()
        if y is None:
            y, x = band["y"].values, band["x"].values
        elif not (np.array_equal(y, band["y"].values) and np.array_equal(x, band["x"].values)):
            raise DataError(f"ensemble: {f} is on another grid than {task.files[0]}")
        depth.append(band["max_depth"].values)
        hazard.append(band["hazard_class"].values)
    stats = cell_statistics(np.stack(depth), np.stack(hazard))
    ds = xr.Dataset({k: (("y", "x"), v, CELL_VARIABLES[k]) for k, v in stats.items()}, coords={"y": y, "x": x})
    ds.to_netcdf(Path(folder) / "rows.nc", engine="netcdf4")


def band_folder_name(files: list[str] | tuple[str, ...]) -> str:
    """The folder of a reduction's bands: named by a digest of the member files it reduces (path, size
    and modification time of each), so a rerun over the same finished members reuses its bands and a
    different set, or a member computed again, never does."""
    keys = []
    for f in sorted(map(str, files)):
        st = Path(f).stat()
        keys.append(f"{f}:{st.st_size}:{st.st_mtime_ns}")
    return "reduce-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]


def _read(folder: Path, name: str, file: str):
    import pandas as pd

    path = folder / name / file
    if not path.is_file():
        raise DataError(f"ensemble: member {name}: {file} missing in {folder / name}")
    return pd.read_csv(path)


def village_table(folder: Path, names: list[str]):
    """Per village: the probability of flooding and of each hazard class over the members ``names``,
    and the median of their maximum depths (m)."""
    import pandas as pd

    from floodtwin.risk import HAZARD_CLASSES

    frames = [_read(folder, n, "villages.csv").assign(member=n) for n in names]
    v = pd.concat(frames, ignore_index=True)
    g = v.groupby("village_id", sort=True)
    out = pd.DataFrame({"members": g.size(), "prob_flooded": g["flooded"].mean()})
    for c in HAZARD_CLASSES:
        out[f"prob_{c}"] = g["hazard_class"].apply(lambda s, c=c: float((s == c).mean()))
    out["depth_median_m"] = g["max_depth_m"].median()
    if (out["members"] != len(names)).any():
        raise DataError("ensemble: the members' village tables differ in their villages")
    return out.reset_index()


def dike_table(folder: Path, names: list[str]):
    """Per dike segment: the probability of a freeboard below FREEBOARD_LIMIT_M over the members
    ``names``, and the 5 % and median freeboard (m)."""
    import pandas as pd

    frames = [_read(folder, n, "dikes.csv").assign(member=n) for n in names]
    d = pd.concat(frames, ignore_index=True)
    g = d.groupby("segment_id", sort=True)
    out = pd.DataFrame({"members": g.size(),
                        "prob_freeboard_lt_1m": g["freeboard_m"].apply(lambda s: float((s < FREEBOARD_LIMIT_M).mean())),
                        "freeboard_q05_m": g["freeboard_m"].quantile(0.05),
                        "freeboard_median_m": g["freeboard_m"].median()})
    if (out["members"] != len(names)).any():
        raise DataError("ensemble: the members' dike tables differ in their segments")
    return out.reset_index()
