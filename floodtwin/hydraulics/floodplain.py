"""The 2D floodplain model: validate once, allocate once, loop over time, return an xarray.Dataset.

Two schemes behind one function, :func:`simulate_2d`:

* ``"godunov"``: finite-volume shallow-water equations; HLLC fluxes, hydrostatic reconstruction
  (well-balanced, positive depths), MUSCL slopes with a limiter, second order in time by two
  stages, and semi-implicit Manning friction. CFL 0.45 by default. The two stages are by default
  the MUSCL-Hancock predictor (face states advanced half a step with the primitive equations) and
  the flux corrector: one Riemann problem per face and step, and on the SWASHES dam breaks a
  smaller L1 error on Stoker's wet bed (6.1e-4 against 7.9e-4 m) than Heun's two-stage SSP-RK2
  (``stepping="heun"``, two Riemann problems per face and step), which is kept as an option
  (smaller error on the dry bed and Thacker's bowl: benchmarks/RESULTS.md).
* ``"inertial"``: the local-inertial equations (Bates et al. 2010) with the q-centred scheme of
  de Almeida et al. (2012) and semi-implicit friction; fast, for floodplains where advection is
  small. CFL 0.7 by default (dt = cfl·dx/√(d·g·h_max), d the number of grid directions with more
  than one cell: the 2D stability bound of the staggered scheme).

The Python layer only validates, allocates, updates boundary values and records outputs; every
pass over the cells is a numba kernel of :mod:`floodtwin.hydraulics.kernels2d`. Each row keeps the
extent of the columns that have ever held water; the kernels compute, per block of rows, only a
window around those extents (a dry floodplain costs nothing until the water comes near), which
gives the same result bit for bit as computing every cell.
"""

from __future__ import annotations

import logging
import math
import os
import time as _time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from floodtwin.errors import InputError
from floodtwin.hydraulics import kernels2d as k2
from floodtwin.hydraulics.boundaries import (
    BC_FREE, BC_INFLOW, BC_NORMAL, BC_STAGE, BC_WALL, EDGES, FreeOutflow, Inflow, NormalDepth,
    PointSource, Stage, Wall,
)

log = logging.getLogger(__name__)

G_MS2 = 9.81
SCHEMES = ("godunov", "inertial")
DTYPES = {"float64": np.float64, "float32": np.float32}
DEFAULT_CFL = {"godunov": 0.45, "inertial": 0.7}
#: godunov time stepping: MUSCL-Hancock predictor-corrector (one Riemann solve per face and step)
#: or Heun's two-stage SSP-RK2 (two)
STEPPINGS = ("hancock", "heun")
LIMITERS = {"none": k2.LIMITER_NONE, "minmod": k2.LIMITER_MINMOD, "vanleer": k2.LIMITER_VANLEER,
            "mc": k2.LIMITER_MC, "superbee": k2.LIMITER_SUPERBEE, "koren": k2.LIMITER_KOREN}
#: a cell shallower than this (m) carries no momentum; velocities there are zero
H_DRY_M = 1e-6
#: grids with fewer active cells run on one thread unless ``threads`` is given: waking a second
#: thread (tens of µs with passive waiting, see hydraulics/_jit.py) costs more than it saves there
PARALLEL_MIN_CELLS = 40_000
#: rows per parallel block: fixed, so results never depend on the number of threads
ROWS_PER_BLOCK = 8
#: columns (and rows) of dry margin around the wet extent that each step still computes
WINDOW_MARGIN = 3
#: smallest depth (m) used to bound the time step when the domain is (nearly) dry
H_FLOOR_M = 1e-3


@dataclass
class _Grid:
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


def _require_positive(name: str, value: Any, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} = {value!r} is not a number ({unit})") from None
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{name} = {value!r} must be a positive finite number ({unit})")
    return v


def _grid_from_bed(bed: Any, dx_m: float) -> _Grid:
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
        grid = _Grid(z, x[::-1].copy() if flip_x else x, y[::-1].copy() if flip_y else y,
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
    return _Grid(np.ascontiguousarray(z), (np.arange(nx) + 0.5) * dx_m, (np.arange(ny) + 0.5) * dx_m,
                 False, False, ("y", "x"), {})


def _cell_field(name: str, value: Any, grid: _Grid, active: np.ndarray, unit: str) -> np.ndarray:
    """A scalar or a (y, x) field in the bed's orientation -> float64 internal array, checked ≥ 0."""
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
    vals = a[active]
    if not np.all(np.isfinite(vals)):
        bad = np.argwhere(active & ~np.isfinite(a))[0]
        raise InputError(f"{name}: not a finite number at cell (row {bad[0]}, column {bad[1]}) inside the domain")
    if np.any(vals < 0):
        bad = np.argwhere(active & (a < 0))[0]
        raise InputError(f"{name}: negative value {a[tuple(bad)]:g} {unit} at cell (row {bad[0]}, column {bad[1]})")
    a[~active] = 0.0
    return a


def _initial_velocity(velocity0: Any, grid: _Grid, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) initial velocity (m/s) as internal float64 arrays; NaN/inf inside the domain rejected."""
    shape = grid.z_abs.shape
    if velocity0 is None:
        return np.zeros(shape), np.zeros(shape)
    try:
        u, v = velocity0
    except (TypeError, ValueError):
        raise InputError("velocity0: expected a (u, v) pair of numbers or arrays (m/s)") from None
    out = []
    for name, value in (("velocity0[0]", u), ("velocity0[1]", v)):
        if hasattr(value, "dims") and hasattr(value, "values"):
            value = value.values
        a = np.array(value, dtype=np.float64)
        if a.ndim == 0:
            a = np.full(shape, float(a))
        elif a.shape != shape:
            raise InputError(f"{name}: shape {a.shape} does not match the bed {shape}")
        else:
            a = np.ascontiguousarray(grid.to_internal(a))
        if not np.all(np.isfinite(a[active])):
            raise InputError(f"{name}: not a finite number inside the domain")
        a[~active] = 0.0
        out.append(a)
    return out[0], out[1]


def _edge_cells(grid: _Grid, edge: str, start_m: float | None, end_m: float | None) -> np.ndarray:
    """Indices along an edge (row index for west/east, column for south/north) within [start, end]."""
    along = grid.y_m if edge in ("west", "east") else grid.x_m
    lo = -np.inf if start_m is None else float(start_m)
    hi = np.inf if end_m is None else float(end_m)
    return np.flatnonzero((along >= lo - 1e-9) & (along <= hi + 1e-9))


def _edge_active(active: np.ndarray, edge: str) -> np.ndarray:
    return {"west": active[:, 0], "east": active[:, -1], "south": active[0, :], "north": active[-1, :]}[edge]


@dataclass
class _BoundaryPlan:
    """Per-edge codes/values for the kernels and the time-varying pieces to refresh each step."""

    bctype: np.ndarray
    bcval: np.ndarray
    inflows: list[tuple[Inflow, int, np.ndarray, np.ndarray]]  # (bc, edge index, cells, conveyance n)
    stages: list[tuple[Stage, int, np.ndarray]]
    stage_beds: list[np.ndarray]  # bed (local datum) of the stage cells: depth bound for dt
    sources: list[PointSource]
    src_rows: np.ndarray
    src_cols: np.ndarray


def _plan_boundaries(boundaries: Sequence[Any] | None, grid: _Grid, active: np.ndarray, n_manning: np.ndarray,
                     z_local: np.ndarray, duration_s: float, dx_m: float) -> _BoundaryPlan:
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
        cells = _edge_cells(grid, bc.edge, bc.start_m, bc.end_m)
        act = _edge_active(active, bc.edge)
        cells = cells[act[cells]] if cells.size else cells
        if cells.size == 0:
            raise InputError(f"{bc.describe()}: the segment covers no active cell on the {bc.edge} edge "
                             "(outside the grid, or closed by NaN bed there)")
        for c in cells:
            if owner[e][c] is not None:
                raise InputError(f"{bc.describe()} overlaps {owner[e][c]} on the {bc.edge} edge")
            owner[e][c] = bc.describe()
        edge_n = _edge_values(n_manning, bc.edge)[cells]
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
            stage_beds.append(_edge_values(z_local, bc.edge)[cells])
        elif isinstance(bc, FreeOutflow):
            bctype[e, cells] = BC_FREE
        else:
            n = np.full(cells.size, float(bc.manning)) if bc.manning is not None else edge_n
            if np.any(n <= 0):
                raise InputError(f"{bc.describe()}: needs a positive Manning n on its cells (give manning=)")
            bctype[e, cells] = BC_NORMAL
            bcval[e, cells] = math.sqrt(float(bc.slope)) / n
    return _BoundaryPlan(bctype, bcval, inflows, stages, stage_beds, sources,
                         np.array(src_rows, dtype=np.int64), np.array(src_cols, dtype=np.int64))


def _edge_values(a: np.ndarray, edge: str) -> np.ndarray:
    return {"west": a[:, 0], "east": a[:, -1], "south": a[0, :], "north": a[-1, :]}[edge]


def _memory_budget_bytes() -> int:
    """Three quarters of the memory the OS reports available (Linux), else 8 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 * 3 // 4
    except OSError:
        pass
    return 8 << 30


def _gauge_cells(gauges: Any, grid: _Grid, active: np.ndarray, dx_m: float) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _initial_extent(h: np.ndarray, bctype: np.ndarray, src_rows: np.ndarray, src_cols: np.ndarray
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


def simulate_2d(bed: Any, *, dx_m: float, duration_s: float, depth0: Any = None, manning: Any = 0.0,
                scheme: str = "godunov", boundaries: Sequence[Any] | None = None,
                output_times_s: Sequence[float] | None = None, gauges: Any = None, dtype: str = "float64",
                cfl: float | None = None, velocity0: Any = None, arrival_depth_m: float = 0.01, limiter: str = "mc",
                theta: float = 0.8, stepping: str = "hancock", gauge_interval_s: float | None = None,
                memory_budget_bytes: int | None = None, threads: int | None = None,
                progress: Callable[[float, float], None] | None = None):
    """Simulate 2D shallow flow over ``bed`` (m, (y, x), NaN = outside) for ``duration_s`` seconds.

    ``dx_m`` is the square cell size (m); ``depth0`` the initial depth (m, scalar or array; default
    dry); ``manning`` n (s m^-1/3, scalar or array); ``scheme`` "godunov" or "inertial";
    ``boundaries`` a list of :mod:`floodtwin.hydraulics.boundaries` objects (walls elsewhere);
    ``output_times_s`` when to store depth and velocity (default 11 times from 0 to the end);
    ``gauges`` {name: (x_m, y_m)} or [(x_m, y_m)] points recorded every ``gauge_interval_s``
    (default: the output interval / 10, at most 60 s); ``dtype`` "float64" or "float32"; ``cfl``
    the Courant number (0.45 godunov, 0.7 inertial); ``velocity0`` an optional initial (u, v)
    velocity (m/s, scalars or arrays; default at rest). ``limiter`` (godunov: "mc" (default,
    monotonised central), "vanleer", "minmod", "superbee", "koren" or "none" for first order),
    ``stepping`` (godunov: "hancock", the default, or "heun") and ``theta`` (inertial q-centring
    weight) tune the schemes; ``progress(t_s, duration_s)`` is called after the first step and then
    at most every 0.5 s;
    ``threads`` sets numba's thread count for the call (default: numba's, or one thread on a grid
    of fewer than ``PARALLEL_MIN_CELLS`` active cells; results do not depend on it). Returns an ``xarray.Dataset`` with
    ``depth``/``velocity_x``/``velocity_y`` (time, y, x), ``max_depth``, ``max_speed``,
    ``time_of_max_depth``, ``arrival_time`` (s, first depth above ``arrival_depth_m``; NaN where
    never), gauge series, and the mass balance, step count and time-step range as attributes.
    Raises :class:`~floodtwin.errors.InputError` (one line) before computing on bad input.
    """
    import numba

    # ---- validate everything before allocating anything large ----
    dx_m = _require_positive("dx_m", dx_m, "m")
    duration_s = _require_positive("duration_s", duration_s, "s")
    if scheme not in SCHEMES:
        raise InputError(f"scheme = {scheme!r}: expected one of {', '.join(SCHEMES)}")
    if dtype not in DTYPES:
        raise InputError(f"dtype = {dtype!r}: expected float64 or float32")
    if limiter not in LIMITERS:
        raise InputError(f"limiter = {limiter!r}: expected one of {', '.join(LIMITERS)}")
    if stepping not in STEPPINGS:
        raise InputError(f"stepping = {stepping!r}: expected one of {', '.join(STEPPINGS)}")
    cfl_v = DEFAULT_CFL[scheme] if cfl is None else _require_positive("cfl", cfl, "-")
    if cfl_v > 1.0:
        raise InputError(f"cfl = {cfl_v:g} must be at most 1")
    if not (0.0 <= float(theta) <= 1.0):
        raise InputError(f"theta = {theta} must lie in [0, 1]")
    arrival_depth_m = _require_positive("arrival_depth_m", arrival_depth_m, "m")
    grid = _grid_from_bed(bed, dx_m)
    z_abs = grid.z_abs
    if np.any(np.isinf(z_abs)):
        raise InputError("bed: infinite elevation; mark cells outside the domain with NaN")
    active = np.isfinite(z_abs)
    if not active.any():
        raise InputError("bed: no cell inside the domain (all NaN)")
    ny, nx = z_abs.shape
    h_init = _cell_field("depth0", 0.0 if depth0 is None else depth0, grid, active, "m")
    n_manning = _cell_field("manning", manning, grid, active, "s m-1/3")
    u_init, v_init = _initial_velocity(velocity0, grid, active)
    datum = float(np.nanmin(z_abs))
    z_local = z_abs - datum
    plan = _plan_boundaries(boundaries, grid, active, n_manning, z_local, duration_s, dx_m)
    if output_times_s is None:
        out_t = np.linspace(0.0, duration_s, 11)
    else:
        out_t = np.atleast_1d(np.asarray(output_times_s, dtype=np.float64))
        if out_t.ndim != 1 or out_t.size == 0 or not np.all(np.isfinite(out_t)):
            raise InputError("output_times_s: expected a non-empty 1-D sequence of finite times (s)")
        if np.any(np.diff(out_t) <= 0):
            raise InputError("output_times_s: times must increase strictly")
        if out_t[0] < 0 or out_t[-1] > duration_s * (1 + 1e-12):
            raise InputError(f"output_times_s: times must lie in [0, duration_s = {duration_s:g}] s")
    gnames, gx, gy, grow, gcol = _gauge_cells(gauges, grid, active, dx_m)
    if gauge_interval_s is None:
        span = duration_s / max(out_t.size - 1, 1)
        gauge_interval_s = min(60.0, span / 10.0)
    gauge_interval_s = _require_positive("gauge_interval_s", gauge_interval_s, "s")
    g_times = np.arange(0.0, duration_s * (1 + 1e-12), gauge_interval_s) if gnames else np.zeros(0)
    dt_np = DTYPES[dtype]
    item = np.dtype(dt_np).itemsize
    ncell = ny * nx
    working = (21 if scheme == "godunov" else 13) * ncell * item + 5 * ncell * 8
    outputs = 3 * out_t.size * ncell * item
    budget = _memory_budget_bytes() if memory_budget_bytes is None else int(memory_budget_bytes)
    if working + outputs > budget:
        raise InputError(f"the run needs about {(working + outputs) / 2**30:.2f} GiB ({out_t.size} output times × "
                         f"{ny}×{nx} cells) but the memory budget is {budget / 2**30:.2f} GiB: fewer output times, "
                         "float32, or a coarser grid")
    if threads is not None:
        threads = int(threads)
        if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
            raise InputError(f"threads = {threads}: expected 1…{numba.config.NUMBA_NUM_THREADS}")
    elif int(active.sum()) < PARALLEL_MIN_CELLS:
        threads = 1

    # ---- allocate once ----
    old_threads = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    try:
        return _run(scheme=scheme, grid=grid, active=active, z_local=z_local, datum=datum, h_init=h_init,
                    u_init=u_init, v_init=v_init,
                    n_manning=n_manning, plan=plan, out_t=out_t, gnames=gnames, gx=gx, gy=gy, grow=grow,
                    gcol=gcol, g_times=g_times, dt_np=dt_np, dx_m=dx_m, duration_s=duration_s, cfl=cfl_v,
                    limiter=limiter, stepping=stepping, theta=float(theta), arrival_depth_m=arrival_depth_m,
                    progress=progress,
                    dtype=dtype)
    finally:
        numba.set_num_threads(old_threads)


def _run(*, scheme, grid, active, z_local, datum, h_init, u_init, v_init, n_manning, plan, out_t, gnames, gx, gy, grow, gcol,
         g_times, dt_np, dx_m, duration_s, cfl, limiter, stepping, theta, arrival_depth_m, progress, dtype):
    import numba

    ny, nx = active.shape
    f = dt_np
    z = np.ascontiguousarray(np.where(active, z_local, np.nan), dtype=f)
    n2 = np.ascontiguousarray(n_manning * n_manning, dtype=f)
    h = np.ascontiguousarray(np.where(active, h_init, 0.0), dtype=f)
    nb = (ny + ROWS_PER_BLOCK - 1) // ROWS_PER_BLOCK
    max_h = np.zeros((ny, nx), f)
    max_s2 = np.zeros((ny, nx), f)
    t_max = np.full((ny, nx), np.nan, f)
    arrival = np.full((ny, nx), np.nan, f)
    # the initial state counts for the maxima and arrival (a cell wet at t = 0 arrived at 0)
    max_h[...] = h
    t_max[h > 0] = 0.0
    arrival[h > arrival_depth_m] = 0.0
    bctype = plan.bctype
    bcval = plan.bcval.astype(f)
    # wet extent per row and the column window of each block of rows (k2.block_windows): cells that
    # have never held water, with dry neighbours, are not computed
    ext_lo, ext_hi = _initial_extent(h, plan.bctype, plan.src_rows, plan.src_cols)
    row_wet_lo = np.zeros(ny, np.int64)
    row_wet_hi = np.zeros(ny, np.int64)
    win_lo = np.zeros(nb, np.int64)
    win_hi = np.zeros(nb, np.int64)
    k2.block_windows(ext_lo, ext_hi, nx, ROWS_PER_BLOCK, WINDOW_MARGIN, win_lo, win_hi)
    length = bctype.shape[1]
    bflux = np.zeros((4, length), f)
    g = f(G_MS2)
    hdry = f(H_DRY_M)
    cap_ok = True
    if scheme == "godunov":
        hu = np.ascontiguousarray(np.where(h > H_DRY_M, h * u_init, 0.0), dtype=f)
        hv = np.ascontiguousarray(np.where(h > H_DRY_M, h * v_init, 0.0), dtype=f)
        u = np.ascontiguousarray(np.where(h > H_DRY_M, u_init, 0.0), dtype=f)
        v = np.ascontiguousarray(np.where(h > H_DRY_M, v_init, 0.0), dtype=f)
        h1, hu1, hv1, u1, v1 = (np.zeros_like(h) for _ in range(5))
        h2, hu2, hv2, u2, v2 = (np.zeros_like(h) for _ in range(5))
        slx = np.zeros((nb, 3, 8, nx), f)
        sly = np.zeros((nb, 3, 8, nx), f)
        fxb = np.zeros((nb, 4, nx + 1), f)
        fyb = np.zeros((nb, 2, 4, nx), f)
        row_speed = np.zeros(ny, f)
        lim_code = LIMITERS[limiter]

        c0 = np.sqrt(G_MS2 * h.astype(np.float64))
        speed = float(np.max(c0)) if c0.size else 0.0
    else:
        # face discharges from the initial velocity: face depth and velocity averaged over both cells
        qx = np.zeros((ny, nx + 1), f)
        qy = np.zeros((ny + 1, nx), f)
        if np.any(u_init) or np.any(v_init):
            hh = np.where(active, h_init, 0.0)
            wet = hh > H_DRY_M
            qx[:, 1:-1] = np.where(wet[:, :-1] & wet[:, 1:],
                                   0.25 * (hh[:, :-1] + hh[:, 1:]) * (u_init[:, :-1] + u_init[:, 1:]), 0.0)
            qy[1:-1, :] = np.where(wet[:-1, :] & wet[1:, :],
                                   0.25 * (hh[:-1, :] + hh[1:, :]) * (v_init[:-1, :] + v_init[1:, :]), 0.0)
        h2 = np.zeros_like(h)
        qx2 = np.zeros_like(qx)
        qy2 = np.zeros_like(qy)
        qsb = np.zeros((nb, nx), f)
        row_hmax = np.zeros(ny, f)
        hmax = float(h.max())
    # inertial: the Courant number counts every direction that has more than one cell; the q-centred
    # scheme (theta < 1) grows a checkerboard mode on a deep lake at cfl·dx/√(gh) = 0.7 in 2D
    # (tests/verification/test_thacker_lake.py), and stays quiet at cfl·dx/√(2gh)
    dims_sqrt = math.sqrt(max(1, int(nx > 1) + int(ny > 1)))
    row_buf = np.zeros(ny, np.float64)
    src_added = np.zeros(len(plan.sources), np.float64)

    def volume(hh: np.ndarray) -> float:
        k2.row_sums(hh, row_buf)
        return float(np.sum(row_buf)) * dx_m * dx_m  # serial, fixed order: thread-independent

    def velocities(hh, a, b):
        """Cell velocities (m/s) of the current state for outputs and gauges."""
        if scheme == "godunov":
            with np.errstate(invalid="ignore", divide="ignore"):
                u = np.where(hh > H_DRY_M, a / np.where(hh > 0, hh, 1), 0.0)
                v = np.where(hh > H_DRY_M, b / np.where(hh > 0, hh, 1), 0.0)
            return u, v
        with np.errstate(invalid="ignore", divide="ignore"):
            qxc = 0.5 * (a[:, :-1] + a[:, 1:])
            qyc = 0.5 * (b[:-1, :] + b[1:, :])
            u = np.where(hh > H_DRY_M, qxc / np.where(hh > 0, hh, 1), 0.0)
            v = np.where(hh > H_DRY_M, qyc / np.where(hh > 0, hh, 1), 0.0)
        return u, v

    def gauge_values(hh, a, b):
        if not gnames:
            return np.zeros((4, 0))
        d = hh[grow, gcol].astype(np.float64)
        if scheme == "godunov":
            qa = a[grow, gcol].astype(np.float64)
            qb = b[grow, gcol].astype(np.float64)
        else:
            qa = 0.5 * (a[grow, gcol] + a[grow, gcol + 1]).astype(np.float64)
            qb = 0.5 * (b[grow, gcol] + b[grow + 1, gcol]).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(d > H_DRY_M, qa / np.where(d > 0, d, 1), 0.0)
            v = np.where(d > H_DRY_M, qb / np.where(d > 0, d, 1), 0.0)
        return np.stack([d, d + z_local[grow, gcol] + datum, u, v])

    n_out = out_t.size
    out_depth = np.full((n_out, ny, nx), np.nan, f)
    out_u = np.full((n_out, ny, nx), np.nan, f)
    out_v = np.full((n_out, ny, nx), np.nan, f)
    g_series = np.full((4, g_times.size, len(gnames)), np.nan)

    def record(k, hh, a, b):
        u, v = velocities(hh, a, b)
        out_depth[k] = np.where(active, hh, np.nan)
        out_u[k] = np.where(active, u, np.nan)
        out_v[k] = np.where(active, v, np.nan)

    state_a, state_b = (hu, hv) if scheme == "godunov" else (qx, qy)
    v0 = volume(h)
    t = 0.0
    k_out = 0
    k_g = 0
    steps = 0
    dt_min, dt_max = math.inf, 0.0
    vol_in = vol_out = vol_src = 0.0
    g_prev = gauge_values(h, state_a, state_b)
    if g_times.size and g_times[0] <= 0.0:
        g_series[:, 0, :] = g_prev
        k_g = 1
    if out_t[0] <= 0.0:
        record(0, h, state_a, state_b)
        k_out = 1
    wall0 = _time.perf_counter()
    last_progress = wall0
    eps_t = 1e-12 * duration_s
    while t < duration_s - eps_t:
        # ---- boundary values at t ----
        hb = H_FLOOR_M
        for bc, e, cells, n_edge in plan.inflows:
            q_total = bc.value_at(t)
            depth = np.maximum(_edge_values(h, EDGES[e])[cells].astype(np.float64), 0.01)
            k = depth ** (5.0 / 3.0)
            if np.all(n_edge > 0):
                k = k / n_edge
            q = q_total * k / k.sum() / dx_m
            bcval[e, cells] = q
            if q.size:
                hb = max(hb, float(np.max(np.cbrt(q * q / G_MS2))))
        for (bc, e, cells), zb in zip(plan.stages, plan.stage_beds):
            stage_local = bc.value_at(t) - datum
            bcval[e, cells] = stage_local
            hb = max(hb, float(np.max(stage_local - zb)))
        # ---- time step ----
        if scheme == "godunov":
            dt = cfl * dx_m / max(speed, math.sqrt(G_MS2 * hb))
        else:
            dt = cfl * dx_m / (math.sqrt(G_MS2 * max(hmax, hb)) * dims_sqrt)
        next_out = out_t[k_out] if k_out < n_out else duration_s
        dt = min(dt, next_out - t, duration_s - t)
        if dt <= 0:  # an output time coinciding with t (rounding): record and move on
            dt = min(cfl * dx_m / max(math.sqrt(G_MS2 * hb), 1e-9), duration_s - t)
        t_new = t + dt
        if next_out - t_new < eps_t:
            t_new = next_out
        dtf = f(dt)
        if scheme == "godunov":
            if stepping == "hancock":
                # one predictor-corrector stage (MUSCL-Hancock)
                bflux[...] = 0.0
                k2.godunov_stage(h, hu, hv, u, v, z, n2, h, hu, hv, bctype, bcval, h2, hu2, hv2, u2, v2, bflux,
                                 row_speed, row_wet_lo, row_wet_hi, win_lo, win_hi,
                                 slx, sly, fxb, fyb, max_h, max_s2, t_max, arrival,
                                 dtf, f(dx_m), g, f(0.0), f(1.0), lim_code, hdry, f(t_new), f(arrival_depth_m),
                                 True, True, ROWS_PER_BLOCK)
                fl = bflux.astype(np.float64)
                vol_out += dt * dx_m * float(fl[fl > 0].sum())
                vol_in -= dt * dx_m * float(fl[fl < 0].sum())
            else:
                # Heun (SSP-RK2): two forward-Euler stages, averaged; the intermediate state stays
                # inside the same windows (it is one step of the same scheme)
                bflux[...] = 0.0
                k2.godunov_stage(h, hu, hv, u, v, z, n2, h, hu, hv, bctype, bcval, h1, hu1, hv1, u1, v1, bflux,
                                 row_speed, row_wet_lo, row_wet_hi, win_lo, win_hi,
                                 slx, sly, fxb, fyb, max_h, max_s2, t_max, arrival,
                                 dtf, f(dx_m), g, f(0.0), f(1.0), lim_code, hdry, f(t_new), f(arrival_depth_m),
                                 False, False, ROWS_PER_BLOCK)
                fl = bflux.astype(np.float64)
                vol_out += 0.5 * dt * dx_m * float(fl[fl > 0].sum())
                vol_in -= 0.5 * dt * dx_m * float(fl[fl < 0].sum())
                k2.grow_wet_extent(row_wet_lo, row_wet_hi, ext_lo, ext_hi)
                bflux[...] = 0.0
                k2.godunov_stage(h1, hu1, hv1, u1, v1, z, n2, h, hu, hv, bctype, bcval, h2, hu2, hv2, u2, v2, bflux,
                                 row_speed, row_wet_lo, row_wet_hi, win_lo, win_hi,
                                 slx, sly, fxb, fyb, max_h, max_s2, t_max, arrival,
                                 dtf, f(dx_m), g, f(0.5), f(0.5), lim_code, hdry, f(t_new), f(arrival_depth_m),
                                 True, False, ROWS_PER_BLOCK)
                fl = bflux.astype(np.float64)
                vol_out += 0.5 * dt * dx_m * float(fl[fl > 0].sum())
                vol_in -= 0.5 * dt * dx_m * float(fl[fl < 0].sum())
            k2.grow_wet_extent(row_wet_lo, row_wet_hi, ext_lo, ext_hi)
            k2.block_windows(ext_lo, ext_hi, nx, ROWS_PER_BLOCK, WINDOW_MARGIN, win_lo, win_hi)
            h, h2 = h2, h
            hu, hu2 = hu2, hu
            hv, hv2 = hv2, hv
            u, u2 = u2, u
            v, v2 = v2, v
            speed = float(row_speed.max())
            state_a, state_b = hu, hv
        else:
            bflux[...] = 0.0
            k2.inertial_step(h, qx, qy, z, n2, bctype, bcval, h2, qx2, qy2, bflux, row_hmax, row_wet_lo, row_wet_hi,
                             win_lo, win_hi, qsb, max_h, max_s2, t_max, arrival, dtf, f(dx_m), g, f(theta), hdry, hdry,
                             f(t_new), f(arrival_depth_m), True, ROWS_PER_BLOCK)
            k2.grow_wet_extent(row_wet_lo, row_wet_hi, ext_lo, ext_hi)
            k2.block_windows(ext_lo, ext_hi, nx, ROWS_PER_BLOCK, WINDOW_MARGIN, win_lo, win_hi)
            fl = bflux.astype(np.float64)
            vol_out += dt * dx_m * float(fl[fl > 0].sum())
            vol_in -= dt * dx_m * float(fl[fl < 0].sum())
            h, h2 = h2, h
            qx, qx2 = qx2, qx
            qy, qy2 = qy2, qy
            hmax = float(row_hmax.max())
            state_a, state_b = qx, qy
        if plan.sources:
            vols = np.array([s.value_at(t) * dt for s in plan.sources])
            k2.add_point_sources(h, plan.src_rows, plan.src_cols, vols, f(dx_m), src_added)
            vol_src += float(src_added.sum())
            if scheme == "inertial":
                hmax = max(hmax, float(h[plan.src_rows, plan.src_cols].max()))
            else:
                hs = h[plan.src_rows, plan.src_cols].astype(np.float64)
                speed = max(speed, float(np.sqrt(G_MS2 * hs).max()))
        steps += 1
        dt_min = min(dt_min, dt)
        dt_max = max(dt_max, dt)
        # ---- gauges: linear in time between the two states ----
        if gnames and k_g < g_times.size and g_times[k_g] <= t_new + eps_t:
            g_new = gauge_values(h, state_a, state_b)
            while k_g < g_times.size and g_times[k_g] <= t_new + eps_t:
                w = (g_times[k_g] - t) / dt
                g_series[:, k_g, :] = (1 - w) * g_prev + w * g_new
                k_g += 1
            g_prev = g_new
        elif gnames:
            g_prev = gauge_values(h, state_a, state_b)
        t = t_new
        if k_out < n_out and abs(out_t[k_out] - t) <= eps_t:
            record(k_out, h, state_a, state_b)
            k_out += 1
        # progress after the first step (the run has started), then at most every 0.5 s
        if progress is not None and (steps == 1 or _time.perf_counter() - last_progress > 0.5):
            progress(t, duration_s)
            last_progress = _time.perf_counter()
    wall = _time.perf_counter() - wall0
    if progress is not None:
        progress(t, duration_s)
    v1 = volume(h)
    error = (v1 - v0) - (vol_in - vol_out + vol_src)
    scale = max(v0, vol_in + max(vol_src, 0.0), v1, 1e-300)
    if not np.all(np.isfinite(h)):
        # never silently: a NaN depth means the numerics failed (report where)
        bad = np.argwhere(~np.isfinite(h) & active)
        raise InputError(f"simulate_2d: non-finite depth at cell {tuple(bad[0])} after {steps} steps "
                         f"(t = {t:g} s); reduce cfl")
    return _dataset(grid=grid, active=active, datum=datum, out_t=out_t, out_depth=out_depth, out_u=out_u,
                    out_v=out_v, max_h=max_h, max_s2=max_s2, t_max=t_max, arrival=arrival, gnames=gnames,
                    gx=gx, gy=gy, g_times=g_times, g_series=g_series,
                    attrs={
                        "scheme": scheme,
                        "limiter": limiter if scheme == "godunov" else "n/a",
                        "stepping": stepping if scheme == "godunov" else "n/a",
                        "theta": theta if scheme == "inertial" else float("nan"),
                        "dtype": dtype,
                        "cfl": cfl,
                        "dx_m": dx_m,
                        "duration_s": duration_s,
                        "steps": steps,
                        "dt_min_s": dt_min if steps else float("nan"),
                        "dt_max_s": dt_max,
                        "arrival_depth_m": arrival_depth_m,
                        "initial_volume_m3": v0,
                        "final_volume_m3": v1,
                        "storage_change_m3": v1 - v0,
                        "inflow_volume_m3": vol_in,
                        "outflow_volume_m3": vol_out,
                        "source_volume_m3": vol_src,
                        "mass_balance_error_m3": error,
                        "mass_balance_relative_error": abs(error) / scale,
                        "datum_m": datum,
                        "threads": numba.get_num_threads(),
                        "wall_time_s": wall,
                        "cell_updates_per_s": int(active.sum()) * steps / wall if wall > 0 else float("nan"),
                    })


def _dataset(*, grid, active, datum, out_t, out_depth, out_u, out_v, max_h, max_s2, t_max, arrival, gnames, gx, gy,
             g_times, g_series, attrs):
    """Assemble the CF-annotated result Dataset in the bed's own orientation."""
    import xarray as xr

    from floodtwin import __version__
    from floodtwin.variables import annotate

    ydim, xdim = grid.dims
    ext = grid.to_external
    x = grid.x_m[::-1] if grid.flip_x else grid.x_m
    y = grid.y_m[::-1] if grid.flip_y else grid.y_m

    def field(a):
        return np.ascontiguousarray(ext(np.where(active, a, np.nan)))

    def series(a):
        if grid.flip_y:
            a = a[:, ::-1, :]
        if grid.flip_x:
            a = a[:, :, ::-1]
        return np.ascontiguousarray(a)

    ever_wet = max_h > 0
    ds = xr.Dataset(
        {
            "depth": (("time", ydim, xdim), series(out_depth)),
            "velocity_x": (("time", ydim, xdim), series(out_u)),
            "velocity_y": (("time", ydim, xdim), series(out_v)),
            "max_depth": ((ydim, xdim), field(max_h)),
            "max_speed": ((ydim, xdim), field(np.sqrt(max_s2))),
            "time_of_max_depth": ((ydim, xdim), field(np.where(ever_wet, t_max, np.nan))),
            "arrival_time": ((ydim, xdim), field(arrival)),
            "bed": ((ydim, xdim), field(grid.z_abs)),
        },
        coords={"time": out_t, ydim: y, xdim: x, **grid.coords_extra},
    )
    if gnames:
        ds = ds.assign_coords(gauge=gnames, gauge_time=g_times, gauge_x=("gauge", gx), gauge_y=("gauge", gy))
        for k, name in enumerate(("gauge_depth", "gauge_stage", "gauge_velocity_x", "gauge_velocity_y")):
            ds[name] = (("gauge_time", "gauge"), g_series[k])
        ds["gauge_time"].attrs.update({"long_name": "time of the gauge record since the start of the run",
                                       "units": "s"})
    ds.attrs.update(attrs)
    ds.attrs.update({
        "Conventions": "CF-1.8",
        "title": f"floodtwin 2D floodplain run ({attrs['scheme']})",
        "source": f"floodtwin {__version__} floodtwin.hydraulics.simulate_2d",
        "history": f"{_time.strftime('%Y-%m-%dT%H:%M:%SZ', _time.gmtime())} simulate_2d scheme={attrs['scheme']} "
                   f"dtype={attrs['dtype']} cfl={attrs['cfl']}",
    })
    annotate(ds)
    if ydim != "y" or xdim != "x":
        ds[xdim].attrs.setdefault("units", "m")
        ds[ydim].attrs.setdefault("units", "m")
    return ds
