"""Validated inputs of the 2D floodplain model: the grid and its orientation, cell fields, the
boundary plan the kernels read, gauges and the initial wet extent.

Every function checks what it is given and raises a one-line :class:`~floodtwin.errors.InputError`
naming the argument; the model (:mod:`floodtwin.hydraulics.floodplain`) calls them once, before it
allocates anything large.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from floodtwin.errors import InputError
from floodtwin.hydraulics._codes import BC_FREE, BC_INFLOW, BC_NORMAL, BC_STAGE, BC_WALL
from floodtwin.hydraulics.boundaries import EDGES, FreeOutflow, Inflow, NormalDepth, PointSource, Stage, Wall

__all__ = ["Grid", "BoundaryPlan", "grid_from_bed", "cell_field", "initial_velocity", "plan_boundaries",
           "edge_values", "memory_budget_bytes", "gauge_cells", "point_cells", "initial_extent", "require_positive"]


@dataclass
class Grid:
    """The grid in internal orientation (row 0 south, column 0 west) and how to map back."""

    z_abs: np.ndarray  # float64 bed (m), NaN outside
    x_m: np.ndarray  # cell-centre x, ascending
    y_m: np.ndarray  # cell-centre y, ascending
    flip_x: bool
    flip_y: bool
    dims: tuple[str, str]
    coords_extra: dict[str, Any]

    def to_internal(self, a: np.ndarray) -> np.ndarray:
        if self.flip_y:
            a = a[::-1, :]
        if self.flip_x:
            a = a[:, ::-1]
        return a

    to_external = to_internal  # a flip is its own inverse


def require_positive(name: str, value: Any, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} = {value!r} is not a number ({unit})") from None
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{name} = {value!r} must be a positive finite number ({unit})")
    return v


def grid_from_bed(bed: Any, dx_m: float) -> Grid:
    """Read the bed (ndarray or DataArray (y, x)) into the internal orientation; check spacing."""
    if hasattr(bed, "dims") and hasattr(bed, "coords"):
        if bed.ndim != 2:
            raise InputError(f"bed: expected a 2-D DataArray (y, x), got dims {bed.dims}")
        ydim, xdim = bed.dims
        if ydim not in bed.coords or xdim not in bed.coords:
            raise InputError(f"bed: DataArray needs coordinates on both dims {bed.dims}")
        x = np.asarray(bed[xdim].values, dtype=np.float64)
        y = np.asarray(bed[ydim].values, dtype=np.float64)
        z = np.array(bed.values, dtype=np.float64)
        for name, c in ((xdim, x), (ydim, y)):
            if c.size >= 2:
                d = np.diff(c)
                if not np.allclose(np.abs(d), dx_m, rtol=1e-6, atol=1e-9 * dx_m) or not (np.all(d > 0) or np.all(d < 0)):
                    raise InputError(f"bed: coordinate {name} is not evenly spaced at dx_m = {dx_m:g} m "
                                     f"(spacing {d.min():g}…{d.max():g} m)")
        flip_x = x.size >= 2 and x[1] < x[0]
        flip_y = y.size >= 2 and y[1] < y[0]
        extra = {k: v for k, v in bed.coords.items() if k not in (xdim, ydim) and v.ndim == 0}
        grid = Grid(z, x[::-1].copy() if flip_x else x, y[::-1].copy() if flip_y else y,
                     flip_x, flip_y, (ydim, xdim), extra)
        grid.z_abs = np.ascontiguousarray(grid.to_internal(z))
        return grid
    try:
        z = np.array(bed, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("bed: expected a 2-D array of elevations (m)") from None
    if z.ndim != 2:
        raise InputError(f"bed: expected a 2-D array (y, x), got shape {z.shape}")
    ny, nx = z.shape
    return Grid(np.ascontiguousarray(z), (np.arange(nx) + 0.5) * dx_m, (np.arange(ny) + 0.5) * dx_m,
                 False, False, ("y", "x"), {})


def _field(name: str, value: Any, grid: Grid, active: np.ndarray, unit: str) -> np.ndarray:
    """A scalar or a (y, x) field (array or DataArray) in the bed's orientation -> float64 internal
    array, finite on every active cell."""
    shape = grid.z_abs.shape
    if hasattr(value, "dims") and hasattr(value, "values"):
        value = value.values
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected a number or an array ({unit})") from None
    if a.ndim == 0:
        a = np.full(shape, float(a))
    elif a.shape != shape:
        raise InputError(f"{name}: shape {a.shape} does not match the bed {shape}")
    else:
        a = np.ascontiguousarray(grid.to_internal(a))
    if not np.all(np.isfinite(a[active])):
        bad = np.argwhere(active & ~np.isfinite(a))[0]
        raise InputError(f"{name}: not a finite number at cell (row {bad[0]}, column {bad[1]}) inside the domain")
    return a


def cell_field(name: str, value: Any, grid: Grid, active: np.ndarray, unit: str) -> np.ndarray:
    """A scalar or a (y, x) field in the bed's orientation -> float64 internal array, checked ≥ 0."""
    a = _field(name, value, grid, active, unit)
    if np.any(a[active] < 0):
        bad = np.argwhere(active & (a < 0))[0]
        raise InputError(f"{name}: negative value {a[tuple(bad)]:g} {unit} at cell (row {bad[0]}, column {bad[1]})")
    a[~active] = 0.0
    return a


def initial_velocity(velocity0_ms: Any, grid: Grid, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) initial velocity (m/s) as internal float64 arrays; NaN/inf inside the domain rejected."""
    shape = grid.z_abs.shape
    if velocity0_ms is None:
        return np.zeros(shape), np.zeros(shape)
    try:
        u, v = velocity0_ms
    except (TypeError, ValueError):
        raise InputError("velocity0_ms: expected a (u, v) pair of numbers or arrays (m/s)") from None
    out = []
    for name, value in (("velocity0_ms[0]", u), ("velocity0_ms[1]", v)):
        a = _field(name, value, grid, active, "m/s")
        a[~active] = 0.0
        out.append(a)
    return out[0], out[1]


def edge_cells(grid: Grid, edge: str, start_m: float | None, end_m: float | None) -> np.ndarray:
    """Indices along an edge (row index for west/east, column for south/north) within [start, end]."""
    along = grid.y_m if edge in ("west", "east") else grid.x_m
    lo = -np.inf if start_m is None else float(start_m)
    hi = np.inf if end_m is None else float(end_m)
    return np.flatnonzero((along >= lo - 1e-9) & (along <= hi + 1e-9))


def edge_active(active: np.ndarray, edge: str) -> np.ndarray:
    return {"west": active[:, 0], "east": active[:, -1], "south": active[0, :], "north": active[-1, :]}[edge]


@dataclass
class BoundaryPlan:
    """Per-edge codes/values for the kernels and the time-varying pieces to refresh each step."""

    bctype: np.ndarray
    bcval: np.ndarray
    inflows: list[tuple[Inflow, int, np.ndarray, np.ndarray]]  # (bc, edge index, cells, conveyance n)
    stages: list[tuple[Stage, int, np.ndarray]]
    stage_beds: list[np.ndarray]  # bed (local datum) of the stage cells: depth bound for dt
    sources: list[PointSource]
    src_rows: np.ndarray
    src_cols: np.ndarray


def plan_boundaries(boundaries: Sequence[Any] | None, grid: Grid, active: np.ndarray, n_manning: np.ndarray,
                     z_local: np.ndarray, duration_s: float, dx_m: float) -> BoundaryPlan:
    ny, nx = active.shape
    length = max(nx, ny)
    bctype = np.zeros((4, length), dtype=np.int64)
    bcval = np.zeros((4, length), dtype=np.float64)
    owner = [[None] * length for _ in range(4)]
    inflows, stages, stage_beds, sources = [], [], [], []
    src_rows, src_cols = [], []
    items = list(boundaries or [])
    for bc in items:
        if isinstance(bc, PointSource):
            bc.check_covers(duration_s)
            i = int(np.searchsorted(grid.y_m + 0.5 * dx_m, bc.y_m))
            j = int(np.searchsorted(grid.x_m + 0.5 * dx_m, bc.x_m))
            inside = (grid.x_m[0] - 0.5 * dx_m <= bc.x_m <= grid.x_m[-1] + 0.5 * dx_m
                      and grid.y_m[0] - 0.5 * dx_m <= bc.y_m <= grid.y_m[-1] + 0.5 * dx_m)
            i, j = min(i, ny - 1), min(j, nx - 1)
            if not inside or not active[i, j]:
                raise InputError(f"{bc.describe()}: the point is not on an active cell of the grid")
            sources.append(bc)
            src_rows.append(i)
            src_cols.append(j)
            continue
        if not isinstance(bc, (Wall, Inflow, Stage, FreeOutflow, NormalDepth)):
            raise InputError(f"boundaries: {bc!r} is not a Wall, Inflow, Stage, FreeOutflow, NormalDepth or "
                             "PointSource from floodtwin.hydraulics")
        e = EDGES.index(bc.edge)
        cells = edge_cells(grid, bc.edge, bc.start_m, bc.end_m)
        act = edge_active(active, bc.edge)
        cells = cells[act[cells]] if cells.size else cells
        if cells.size == 0:
            raise InputError(f"{bc.describe()}: the segment covers no active cell on the {bc.edge} edge "
                             "(outside the grid, or closed by NaN bed there)")
        for c in cells:
            if owner[e][c] is not None:
                raise InputError(f"{bc.describe()} overlaps {owner[e][c]} on the {bc.edge} edge")
            owner[e][c] = bc.describe()
        edge_n = edge_values(n_manning, bc.edge)[cells]
        if isinstance(bc, Wall):
            bctype[e, cells] = BC_WALL
        elif isinstance(bc, Inflow):
            bc.check_covers(duration_s)
            bctype[e, cells] = BC_INFLOW
            inflows.append((bc, e, cells, edge_n))
        elif isinstance(bc, Stage):
            bc.check_covers(duration_s)
            bctype[e, cells] = BC_STAGE
            stages.append((bc, e, cells))
            stage_beds.append(edge_values(z_local, bc.edge)[cells])
        elif isinstance(bc, FreeOutflow):
            bctype[e, cells] = BC_FREE
        else:
            n = np.full(cells.size, float(bc.manning_n)) if bc.manning_n is not None else edge_n
            if np.any(n <= 0):
                raise InputError(f"{bc.describe()}: needs a positive Manning n on its cells (give manning_n=)")
            bctype[e, cells] = BC_NORMAL
            bcval[e, cells] = math.sqrt(float(bc.slope)) / n
    return BoundaryPlan(bctype, bcval, inflows, stages, stage_beds, sources,
                         np.array(src_rows, dtype=np.int64), np.array(src_cols, dtype=np.int64))


def edge_values(a: np.ndarray, edge: str) -> np.ndarray:
    return {"west": a[:, 0], "east": a[:, -1], "south": a[0, :], "north": a[-1, :]}[edge]


def memory_budget_bytes() -> int:
    """Three quarters of the memory the OS reports available (Linux), else 8 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 * 3 // 4
    except OSError:
        pass
    return 8 << 30


def gauge_cells(gauges: Any, grid: Grid, active: np.ndarray, dx_m: float) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gauges as {name: (x, y)} or [(x, y), ...] -> names, x, y, internal rows, cols."""
    if gauges is None:
        return [], np.zeros(0), np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)
    items = list(gauges.items()) if isinstance(gauges, Mapping) else [(f"g{k}", p) for k, p in enumerate(gauges)]
    names, xs, ys, rows, cols = [], [], [], [], []
    ny, nx = active.shape
    for name, p in items:
        try:
            x, y = (float(v) for v in p)
        except (TypeError, ValueError):
            raise InputError(f"gauges: {name}: expected an (x_m, y_m) pair, got {p!r}") from None
        j = int(np.floor((x - (grid.x_m[0] - 0.5 * dx_m)) / dx_m))
        i = int(np.floor((y - (grid.y_m[0] - 0.5 * dx_m)) / dx_m))
        if not (0 <= i < ny and 0 <= j < nx) or not active[i, j]:
            raise InputError(f"gauges: {name} at ({x:g}, {y:g}) m is not on an active cell of the grid")
        names.append(str(name))
        xs.append(x)
        ys.append(y)
        rows.append(i)
        cols.append(j)
    return names, np.array(xs), np.array(ys), np.array(rows, np.int64), np.array(cols, np.int64)


def initial_extent(h: np.ndarray, bctype: np.ndarray, src_rows: np.ndarray, src_cols: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first and one-past-last column that holds water or can receive it from outside
    (an open edge cell, a point source): the start of the wet extent that the kernels work in."""
    ny, nx = h.shape
    can_be_wet = h > 0
    open_w = bctype[0, :ny] != BC_WALL
    open_e = bctype[1, :ny] != BC_WALL
    can_be_wet[open_w, 0] = True
    can_be_wet[open_e, nx - 1] = True
    can_be_wet[0, bctype[2, :nx] != BC_WALL] = True
    can_be_wet[ny - 1, bctype[3, :nx] != BC_WALL] = True
    can_be_wet[src_rows, src_cols] = True
    any_wet = can_be_wet.any(axis=1)
    lo = np.where(any_wet, np.argmax(can_be_wet, axis=1), nx).astype(np.int64)
    hi = np.where(any_wet, nx - np.argmax(can_be_wet[:, ::-1], axis=1), 0).astype(np.int64)
    return lo, hi


def point_cells(name: str, x_m: Any, y_m: Any, grid: Grid, active: np.ndarray, dx_m: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Internal (row, column) of the cells holding points (x_m, y_m) (m, the bed's coordinates);
    every point must lie on an active cell."""
    x = np.atleast_1d(np.asarray(x_m, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y_m, dtype=np.float64))
    if x.shape != y.shape or x.ndim != 1:
        raise InputError(f"{name}: expected two 1-D sequences of x and y (m) of the same length")
    ny, nx = active.shape
    j = np.floor((x - (grid.x_m[0] - 0.5 * dx_m)) / dx_m)
    i = np.floor((y - (grid.y_m[0] - 0.5 * dx_m)) / dx_m)
    inside = np.isfinite(i) & np.isfinite(j) & (i >= 0) & (i < ny) & (j >= 0) & (j < nx)
    i = np.where(inside, i, 0).astype(np.int64)
    j = np.where(inside, j, 0).astype(np.int64)
    ok = inside & active[i, j]
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        raise InputError(f"{name}: point {k} at ({x[k]:g}, {y[k]:g}) m is not on an active cell of the grid")
    return i, j
