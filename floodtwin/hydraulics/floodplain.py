"""The 2D floodplain model: validate once, allocate once, loop over time, return an xarray.Dataset.

:class:`Floodplain` holds a model and its state between calls (``advance`` in intervals, e.g. between
exchanges with a 1D channel, with point-source rates per interval); :func:`simulate_2d` is one run
of it from start to end. Two schemes:

* ``"godunov"``: finite-volume shallow-water equations; HLLC fluxes, hydrostatic reconstruction
  (well-balanced, positive depths), MUSCL slopes with a limiter, second order in time by two
  stages, and semi-implicit Manning friction. CFL 0.45 by default. The two stages are by default
  the MUSCL-Hancock predictor (face states advanced half a step with the primitive equations) and
  the flux corrector: one Riemann problem per face and step. In a shock (converging flow) the
  predictor's face values of the converging acoustic wave are sharpened to the largest TVD value
  at the wave's Courant number (kernels2d.reconstruction._sharpen_shock), which carries a hydraulic jump over one
  cell instead of three: on the SWASHES dam breaks Stoker's L1 error is 4.9e-4 m (6.1e-4 without
  the sharpening, PyClaw 5.0e-4), against 7.9e-4 m with Heun's two-stage SSP-RK2
  (``stepping="heun"``, two Riemann problems per face and step, no sharpening), which is kept as
  an option (smaller error on the dry bed and Thacker's bowl: benchmarks/RESULTS.md).
* ``"inertial"``: the local-inertial equations (Bates et al. 2010) with the q-centred scheme of
  de Almeida et al. (2012) and semi-implicit friction; fast, for floodplains where advection is
  small. CFL 0.7 by default (dt = cfl·dx/√(d·g·h_max), d the number of grid directions with more
  than one cell: the 2D stability bound of the staggered scheme).

The Python layer only validates, allocates, updates boundary values and records outputs; every
pass over the cells is a numba kernel of :mod:`floodtwin.hydraulics.kernels2d`. Each row keeps the
extent of the columns that have ever held water; the kernels compute, per block of rows (godunov)
or per row (inertial), only a window around those extents (a dry floodplain costs nothing until
the water comes near), which gives the same result bit for bit as computing every cell. The
inertial step's blocks of rows go to the threads in parts of about equal work.

Besides depth, velocity and their maxima, every step updates the flood-hazard fields of Defra/EA
FD2320/FD2321: the maximum hazard rating h·(v + 0.5) + DF and the time above ``duration_depth_m``.

Length (~720 lines, above DESIGN's ~600): :class:`Floodplain` is one stateful time loop whose
validation, stepping and result assembly share its state; the result Dataset builder
(:func:`_dataset`) is what moves out when ``floodtwin/results.py`` (issue 13, item 5) exists.
"""

from __future__ import annotations

import logging
import math
import time as _time
from typing import Any, Callable, Sequence

import numpy as np

from floodtwin.errors import InputError
from floodtwin.hydraulics import kernels2d as k2
from floodtwin.hydraulics.kernels2d import maxima as k2m
from floodtwin.hydraulics.kernels2d import rows as k2r
from floodtwin.hydraulics._codes import G_MS2
from floodtwin._renamed import renamed
from floodtwin.hydraulics.boundaries import EDGES
from floodtwin.hydraulics.sanity import check_2d_fields
from floodtwin.hydraulics.inputs2d import (
    cell_field, edge_values, gauge_cells, grid_from_bed, initial_extent, initial_velocity, plan_boundaries,
    point_cells, require_positive,
)
from floodtwin.hydraulics.inputs2d import memory_budget_bytes as _memory_budget_bytes

__all__ = ["Floodplain", "simulate_2d", "SCHEMES", "STEPPINGS", "LIMITERS", "SPEED_DEPTH_M", "DURATION_DEPTH_M"]

log = logging.getLogger(__name__)

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
#: least depth (m) whose speed enters ``max_speed``: in thinner films u = hu/h is a ratio of round-off-sized
#: numbers, not a speed (a 1 m dam break on a tilted plane reported 98.8 m/s where no stored snapshot deeper
#: than 5 cm exceeded 6.8 m/s); 5 cm is also below the depths that flood-hazard ratings start to count
SPEED_DEPTH_M = 0.05
#: depth (m) above which a cell's time counts in ``duration_above`` (the flood-hazard issue's default)
DURATION_DEPTH_M = 0.3
#: grids with fewer active cells run on one thread unless ``threads`` is given: waking a second
#: thread (tens of µs with passive waiting, see hydraulics/_jit.py) costs more than it saves there
PARALLEL_MIN_CELLS = 40_000
#: rows per parallel block: fixed, so results never depend on the number of threads
ROWS_PER_BLOCK = 16
#: columns (and rows) of dry margin around the wet extent that each step still computes
WINDOW_MARGIN = 3
#: the same for the rows of the inertial scheme: a face there reads only its two cells (and the old
#: discharges of its neighbour faces, zero between dry cells), so water moves at most one cell per
#: step and the cells one column or row beyond the wet extent are all it needs to compute
INERTIAL_WINDOW_MARGIN = 1
#: smallest depth (m) used to bound the time step when the domain is (nearly) dry
H_FLOOR_M = 1e-3


class Floodplain:
    """A 2D floodplain model that keeps its state between calls.

    The constructor validates every input (one-line :class:`~floodtwin.errors.InputError`) and
    allocates the working arrays once; :meth:`advance` runs the model on to a time, optionally with
    water added at ``link_xy_m`` cells at rates that are constant over the call (a 1D channel's
    weir flows over the bank between two exchanges); :meth:`dataset` returns the result so far.
    Arguments are those of :func:`simulate_2d`; ``duration_s`` is the whole planned run (the
    boundary time series must cover it), ``link_xy_m`` = (x, y) sequences (m) of exchange points.
    """

    @renamed(depth0="depth0_m", manning="manning_n", velocity0="velocity0_ms")
    def __init__(self, bed: Any, *, dx_m: float, duration_s: float, depth0_m: Any = None, manning_n: Any = 0.0,
                 scheme: str = "godunov", boundaries: Sequence[Any] | None = None,
                 output_times_s: Sequence[float] | None = None, gauges: Any = None, dtype: str = "float64",
                 cfl: float | None = None, velocity0_ms: Any = None, arrival_depth_m: float = 0.01,
                 speed_depth_m: float = SPEED_DEPTH_M, duration_depth_m: float = DURATION_DEPTH_M,
                 limiter: str = "mc", theta: float = 0.8, stepping: str = "hancock",
                 gauge_interval_s: float | None = None, memory_budget_bytes: int | None = None,
                 threads: int | None = None, link_xy_m: tuple[Sequence[float], Sequence[float]] | None = None,
                 progress: Callable[[float, float], None] | None = None):
        import numba

        # ---- validate everything before allocating anything large ----
        dx_m = require_positive("dx_m", dx_m, "m")
        duration_s = require_positive("duration_s", duration_s, "s")
        if scheme not in SCHEMES:
            raise InputError(f"scheme = {scheme!r}: expected one of {', '.join(SCHEMES)}")
        if dtype not in DTYPES:
            raise InputError(f"dtype = {dtype!r}: expected float64 or float32")
        if limiter not in LIMITERS:
            raise InputError(f"limiter = {limiter!r}: expected one of {', '.join(LIMITERS)}")
        if stepping not in STEPPINGS:
            raise InputError(f"stepping = {stepping!r}: expected one of {', '.join(STEPPINGS)}")
        cfl_v = DEFAULT_CFL[scheme] if cfl is None else require_positive("cfl", cfl, "-")
        if cfl_v > 1.0:
            raise InputError(f"cfl = {cfl_v:g} must be at most 1")
        if not (0.0 <= float(theta) <= 1.0):
            raise InputError(f"theta = {theta} must lie in [0, 1]")
        arrival_depth_m = require_positive("arrival_depth_m", arrival_depth_m, "m")
        speed_depth_m = require_positive("speed_depth_m", speed_depth_m, "m")
        duration_depth_m = require_positive("duration_depth_m", duration_depth_m, "m")
        grid = grid_from_bed(bed, dx_m)
        z_abs = grid.z_abs
        if np.any(np.isinf(z_abs)):
            raise InputError("bed: infinite elevation; mark cells outside the domain with NaN")
        active = np.isfinite(z_abs)
        if not active.any():
            raise InputError("bed: no cell inside the domain (all NaN)")
        ny, nx = z_abs.shape
        h_init = cell_field("depth0_m", 0.0 if depth0_m is None else depth0_m, grid, active, "m")
        n_manning = cell_field("manning_n", manning_n, grid, active, "s m-1/3")
        u_init, v_init = initial_velocity(velocity0_ms, grid, active)
        datum = float(np.nanmin(z_abs))
        z_local = z_abs - datum
        plan = plan_boundaries(boundaries, grid, active, n_manning, z_local, duration_s, dx_m)
        if link_xy_m is None:
            link_rows, link_cols = np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            try:
                lx, ly = link_xy_m
            except (TypeError, ValueError):
                raise InputError("link_xy_m: expected an (x, y) pair of sequences (m)") from None
            link_rows, link_cols = point_cells("link_xy_m", lx, ly, grid, active, dx_m)
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
        gnames, gx, gy, grow, gcol = gauge_cells(gauges, grid, active, dx_m)
        if gauge_interval_s is None:
            span = duration_s / max(out_t.size - 1, 1)
            gauge_interval_s = min(60.0, span / 10.0)
        gauge_interval_s = require_positive("gauge_interval_s", gauge_interval_s, "s")
        g_times = np.arange(0.0, duration_s * (1 + 1e-12), gauge_interval_s) if gnames else np.zeros(0)
        f = DTYPES[dtype]
        item = np.dtype(f).itemsize
        ncell = ny * nx
        # + the hazard maximum (dtype) and the time above duration_depth_m (two float64 fields)
        working = (22 if scheme == "godunov" else 14) * ncell * item + 7 * ncell * 8
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
        self.scheme, self.stepping, self.limiter, self.dtype = scheme, stepping, limiter, dtype
        self.grid, self.active, self.datum, self.z_local = grid, active, datum, z_local
        self.dx_m, self.duration_s, self.cfl, self.theta = dx_m, duration_s, cfl_v, float(theta)
        self.arrival_depth_m, self.threads, self.progress = arrival_depth_m, threads, progress
        self.speed_depth_m, self.duration_depth_m = speed_depth_m, duration_depth_m
        self.plan = plan
        self._f = f
        self.z = np.ascontiguousarray(np.where(active, z_local, np.nan), dtype=f)
        self.n2 = np.ascontiguousarray(n_manning * n_manning, dtype=f)
        h = np.ascontiguousarray(np.where(active, h_init, 0.0), dtype=f)
        nb = (ny + ROWS_PER_BLOCK - 1) // ROWS_PER_BLOCK
        self.max_h = h.copy()
        self.max_s2 = np.zeros((ny, nx), f)
        # the initial state counts for the maxima and arrival (a cell wet at t = 0 arrived at 0)
        self.t_max = np.where(h > 0, 0.0, np.nan).astype(f)
        self.arrival = np.where(h > arrival_depth_m, 0.0, np.nan).astype(f)
        # time above duration_depth_m (kernels2d.maxima._above_cell): the start of the current spell above
        # (NaN while not above) and the finished spells (s); float64 whatever dtype: a sum of ~10⁵ steps
        self.above_since = np.full((ny, nx), np.nan)
        self.above_closed = np.zeros((ny, nx))
        self.bcval = plan.bcval.astype(f)
        # point sources of the boundary list first, then the exchange links
        self.src_rows = np.concatenate([plan.src_rows, link_rows]).astype(np.int64)
        self.src_cols = np.concatenate([plan.src_cols, link_cols]).astype(np.int64)
        self.n_links = link_rows.size
        self._src_added = np.zeros(self.src_rows.size, np.float64)
        self._src_vols = np.zeros(self.src_rows.size, np.float64)  # per step, reused
        # wet extent per row and the column window of each block of rows (k2.block_windows): cells that
        # have never held water, with dry neighbours, are not computed
        self.ext_lo, self.ext_hi = initial_extent(h, plan.bctype, self.src_rows, self.src_cols)
        self.row_wet_lo = np.zeros(ny, np.int64)
        self.row_wet_hi = np.zeros(ny, np.int64)
        self.win_lo = np.zeros(nb, np.int64)
        self.win_hi = np.zeros(nb, np.int64)
        k2.block_windows(self.ext_lo, self.ext_hi, nx, ROWS_PER_BLOCK, WINDOW_MARGIN, self.win_lo, self.win_hi)
        # the inertial step computes each row over its own window (k2r.row_windows), and the blocks of
        # each of its parallel tasks (k2r.balance_blocks, one task per thread) have about equal work
        self.row_lo = np.zeros(ny, np.int64)
        self.row_hi = np.zeros(ny, np.int64)
        k2r.row_windows(self.ext_lo, self.ext_hi, nx, INERTIAL_WINDOW_MARGIN, self.row_lo, self.row_hi)
        self.part_start = np.zeros(2, np.int64)
        k2r.balance_blocks(self.row_lo, self.row_hi, ROWS_PER_BLOCK, self.part_start)
        self.bflux = np.zeros((4, plan.bctype.shape[1]), f)
        self.h = h
        self.h2 = np.zeros_like(h)
        if scheme == "godunov":
            self.hu = np.ascontiguousarray(np.where(h > H_DRY_M, h * u_init, 0.0), dtype=f)
            self.hv = np.ascontiguousarray(np.where(h > H_DRY_M, h * v_init, 0.0), dtype=f)
            self.u = np.ascontiguousarray(np.where(h > H_DRY_M, u_init, 0.0), dtype=f)
            self.v = np.ascontiguousarray(np.where(h > H_DRY_M, v_init, 0.0), dtype=f)
            self.hu2, self.hv2, self.u2, self.v2 = (np.zeros_like(h) for _ in range(4))
            if stepping == "heun":
                self.h1, self.hu1, self.hv1, self.u1, self.v1 = (np.zeros_like(h) for _ in range(5))
            self.slx = np.zeros((nb, 3, 8, nx), f)
            self.sly = np.zeros((nb, 3, 8, nx), f)
            self.fxb = np.zeros((nb, 4, nx + 1), f)
            self.fyb = np.zeros((nb, 2, 4, nx), f)
            self.row_speed = np.zeros(ny, f)
            self.lim_code = LIMITERS[limiter]
            self.speed = float(np.sqrt(G_MS2 * h.astype(np.float64)).max())
        else:
            # face discharges from the initial velocity: face depth and velocity averaged over both cells
            self.qx = np.zeros((ny, nx + 1), f)
            self.qy = np.zeros((ny + 1, nx), f)
            if np.any(u_init) or np.any(v_init):
                hh = np.where(active, h_init, 0.0)
                wet = hh > H_DRY_M
                self.qx[:, 1:-1] = np.where(wet[:, :-1] & wet[:, 1:],
                                            0.25 * (hh[:, :-1] + hh[:, 1:]) * (u_init[:, :-1] + u_init[:, 1:]), 0.0)
                self.qy[1:-1, :] = np.where(wet[:-1, :] & wet[1:, :],
                                            0.25 * (hh[:-1, :] + hh[1:, :]) * (v_init[:-1, :] + v_init[1:, :]), 0.0)
            self.qx2 = np.zeros_like(self.qx)
            self.qy2 = np.zeros_like(self.qy)
            self.qsb = np.zeros((nb, nx), f)
            self.row_hmax = np.zeros(ny, f)
            self.hmax = float(h.max())
        # inertial: the Courant number counts every direction that has more than one cell; the q-centred
        # scheme (theta < 1) grows a checkerboard mode on a deep lake at cfl·dx/√(gh) = 0.7 in 2D
        # (tests/verification/test_thacker_lake.py), and stays quiet at cfl·dx/√(2gh)
        self.dims_sqrt = math.sqrt(max(1, int(nx > 1) + int(ny > 1)))
        self._row_buf = np.zeros(ny, np.float64)
        # the initial state counts for the hazard maximum as for the depth maximum
        u0, v0 = self._velocities()
        self.max_hr = np.zeros((ny, nx), f)
        k2m.hazard_field(h, u0.astype(f), v0.astype(f), f(speed_depth_m), self.max_hr)
        # outputs and gauges
        self.out_t = out_t
        self.out_depth = np.full((out_t.size, ny, nx), np.nan, f)
        self.out_u = np.full((out_t.size, ny, nx), np.nan, f)
        self.out_v = np.full((out_t.size, ny, nx), np.nan, f)
        self.gnames, self.gx, self.gy, self.grow, self.gcol = gnames, gx, gy, grow, gcol
        self.g_times = g_times
        self.g_series = np.full((4, g_times.size, len(gnames)), np.nan)
        # run state
        self.t_s = 0.0
        self.steps = 0
        self.dt_min_s, self.dt_max_s = math.inf, 0.0
        self.vol_in = self.vol_out = self.vol_src = 0.0
        self.wall_s = 0.0
        self.v0 = self._volume(self.h)
        self._k_out = 0
        self._k_g = 0
        self._g_prev = self._gauge_values()
        if g_times.size and g_times[0] <= 0.0:
            self.g_series[:, 0, :] = self._g_prev
            self._k_g = 1
        if out_t[0] <= 0.0:
            self._record(0)
            self._k_out = 1

    # ---- state as the caller sees it ----
    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.hu, self.hv) if self.scheme == "godunov" else (self.qx, self.qy)

    def _frame_into(self, out_h: np.ndarray, out_u: np.ndarray, out_v: np.ndarray, outside: float) -> None:
        """Depth and cell velocities (m, m/s) of the current state into the given arrays (internal
        orientation), ``outside`` where the bed is NaN."""
        a, b = self._state()
        k2r.cell_velocities(self.h, a, b, self.active, self.scheme == "inertial", self._f(H_DRY_M),
                            self._f(0.5), self._f(outside), out_h, out_u, out_v)

    def _velocities(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell velocities (m/s) of the current state, internal orientation; 0 outside the domain."""
        h, u, v = (np.empty_like(self.h) for _ in range(3))
        self._frame_into(h, u, v, 0.0)
        return u, v

    @property
    def depth(self) -> np.ndarray:
        """Current depth (m), in the bed's own orientation; NaN outside the domain (a copy)."""
        return np.ascontiguousarray(self.grid.to_external(np.where(self.active, self.h, np.nan)))

    @property
    def velocity(self) -> tuple[np.ndarray, np.ndarray]:
        """Current cell velocity (u, v) (m/s, along increasing x and y) in the bed's own orientation."""
        u, v = self._velocities()
        ext = self.grid.to_external
        return (np.ascontiguousarray(ext(np.where(self.active, u, np.nan))),
                np.ascontiguousarray(ext(np.where(self.active, v, np.nan))))

    @property
    def link_depth_m(self) -> np.ndarray:
        """Current depth (m) at each exchange link cell."""
        r = self.src_rows[self.src_rows.size - self.n_links:]
        c = self.src_cols[self.src_cols.size - self.n_links:]
        return self.h[r, c].astype(np.float64)

    @property
    def duration_above_s(self) -> np.ndarray:
        """Time (s, internal orientation) each cell's depth has exceeded ``duration_depth_m`` so far: its
        finished spells above plus the current one (each step whose end depth is above counts in full)."""
        open_s = np.where(np.isnan(self.above_since), 0.0, self.t_s - self.above_since)
        return self.above_closed + open_s

    @property
    def volume_m3(self) -> float:
        """Water on the grid now (m³)."""
        return self._volume(self.h)

    def _volume(self, hh: np.ndarray) -> float:
        k2.row_sums(hh, self._row_buf)
        return float(np.sum(self._row_buf)) * self.dx_m * self.dx_m  # serial, fixed order: thread-independent

    def _gauge_values(self) -> np.ndarray:
        if not self.gnames:
            return np.zeros((4, 0))
        grow, gcol = self.grow, self.gcol
        d = self.h[grow, gcol].astype(np.float64)
        a, b = self._state()
        if self.scheme == "godunov":
            qa = a[grow, gcol].astype(np.float64)
            qb = b[grow, gcol].astype(np.float64)
        else:
            qa = 0.5 * (a[grow, gcol] + a[grow, gcol + 1]).astype(np.float64)
            qb = 0.5 * (b[grow, gcol] + b[grow + 1, gcol]).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(d > H_DRY_M, qa / np.where(d > 0, d, 1), 0.0)
            v = np.where(d > H_DRY_M, qb / np.where(d > 0, d, 1), 0.0)
        return np.stack([d, d + self.z_local[grow, gcol] + self.datum, u, v])

    def _record(self, k: int) -> None:
        self._frame_into(self.out_depth[k], self.out_u[k], self.out_v[k], np.nan)

    # ---- time stepping ----
    def advance(self, until_s: float, link_rates_m3s: Any = None) -> np.ndarray:
        """Run on to ``until_s`` (s since the start, ≤ ``duration_s``), adding water at the exchange
        links at ``link_rates_m3s`` (m³/s each, negative = withdrawal, constant over the call; a
        withdrawal never takes more than the cell holds). Returns the volume (m³) actually added at
        each link."""
        import numba

        try:
            until_s = float(until_s)
            rates = (np.zeros(self.n_links) if link_rates_m3s is None
                     else np.asarray(link_rates_m3s, dtype=np.float64))
        except (TypeError, ValueError):
            raise InputError("advance: until_s must be a number (s) and link_rates_m3s numbers (m³/s)") from None
        if not (math.isfinite(until_s) and self.t_s <= until_s <= self.duration_s * (1 + 1e-12)):
            raise InputError(f"advance: until_s = {until_s:g} s must lie in [{self.t_s:g}, {self.duration_s:g}] s")
        if rates.shape != (self.n_links,) or not np.all(np.isfinite(rates)):
            raise InputError(f"advance: link_rates_m3s must be {self.n_links} finite rates (m³/s)")
        old_threads = numba.get_num_threads()
        if self.threads is not None:
            numba.set_num_threads(self.threads)
        try:
            return self._advance(until_s, rates)
        finally:
            numba.set_num_threads(old_threads)

    def _advance(self, until_s: float, link_rates: np.ndarray) -> np.ndarray:
        import numba

        f = self._f
        scheme, plan, dx_m, cfl = self.scheme, self.plan, self.dx_m, self.cfl
        bcval = self.bcval
        ny, nx = self.active.shape
        dxf = f(dx_m)
        out_t, n_out, g_times = self.out_t, self.out_t.size, self.g_times
        n_ps = len(plan.sources)
        link_added = np.zeros(self.n_links)
        eps_t = 1e-12 * self.duration_s
        t = self.t_s
        wall0 = _time.perf_counter()
        last_progress = wall0
        n_parts = numba.get_num_threads()
        if self.part_start.size != n_parts + 1:  # one parallel task per thread of this call
            self.part_start = np.zeros(n_parts + 1, np.int64)
            k2r.balance_blocks(self.row_lo, self.row_hi, ROWS_PER_BLOCK, self.part_start)
        while t < until_s - eps_t:
            # ---- boundary values at t ----
            hb = H_FLOOR_M
            for bc, e, cells, n_edge in plan.inflows:
                q_total = bc.value_at(t)
                depth = np.maximum(edge_values(self.h, EDGES[e])[cells].astype(np.float64), 0.01)
                k = depth ** (5.0 / 3.0)
                if np.all(n_edge > 0):
                    k = k / n_edge
                q = q_total * k / k.sum() / dx_m
                bcval[e, cells] = q
                if q.size:
                    hb = max(hb, float(np.max(np.cbrt(q * q / G_MS2))))
            for (bc, e, cells), zb in zip(plan.stages, plan.stage_beds):
                stage_local = bc.value_at(t) - self.datum
                bcval[e, cells] = stage_local
                hb = max(hb, float(np.max(stage_local - zb)))
            # ---- time step ----
            if scheme == "godunov":
                dt = cfl * dx_m / max(self.speed, math.sqrt(G_MS2 * hb))
            else:
                dt = cfl * dx_m / (math.sqrt(G_MS2 * max(self.hmax, hb)) * self.dims_sqrt)
            next_out = out_t[self._k_out] if self._k_out < n_out else self.duration_s
            stop = min(next_out, until_s)
            dt = min(dt, stop - t)
            if dt <= 0:  # an output time coinciding with t (rounding): record and move on
                dt = min(cfl * dx_m / max(math.sqrt(G_MS2 * hb), 1e-9), until_s - t)
            t_new = t + dt
            if stop - t_new < eps_t:
                t_new = stop
            self._step(dt, t_new, t)
            if self.src_rows.size:
                vols = self._src_vols
                for s, src in enumerate(plan.sources):
                    vols[s] = src.value_at(t) * dt
                np.multiply(link_rates, dt, out=vols[n_ps:])
                added, h_top = k2r.add_sources(self.h, self.src_rows, self.src_cols, vols, dxf, self._src_added,
                                               link_added, n_ps)
                self.vol_src += added
                if scheme == "inertial":
                    self.hmax = max(self.hmax, h_top)
                else:
                    self.speed = max(self.speed, math.sqrt(G_MS2 * h_top))
            self.steps += 1
            self.dt_min_s = min(self.dt_min_s, dt)
            self.dt_max_s = max(self.dt_max_s, dt)
            # ---- gauges: linear in time between the two states ----
            if self.gnames:
                g_new = self._gauge_values()
                while self._k_g < g_times.size and g_times[self._k_g] <= t_new + eps_t:
                    w = (g_times[self._k_g] - t) / dt
                    self.g_series[:, self._k_g, :] = (1 - w) * self._g_prev + w * g_new
                    self._k_g += 1
                self._g_prev = g_new
            t = t_new
            self.t_s = t
            if self._k_out < n_out and abs(out_t[self._k_out] - t) <= eps_t:
                self._record(self._k_out)
                self._k_out += 1
            # progress after the first step (the run has started), then at most every 0.5 s
            if self.progress is not None and (self.steps == 1 or _time.perf_counter() - last_progress > 0.5):
                self.progress(t, self.duration_s)
                last_progress = _time.perf_counter()
        self.wall_s += _time.perf_counter() - wall0
        if not np.all(np.isfinite(self.h)):
            # never silently: a NaN depth means the numerics failed (report where)
            bad = np.argwhere(~np.isfinite(self.h) & self.active)
            raise InputError(f"simulate_2d: non-finite depth at cell {tuple(bad[0])} after {self.steps} steps "
                             f"(t = {t:g} s); reduce cfl")
        return link_added

    def _step(self, dt: float, t_new: float, t_old: float) -> None:
        """One time step of the scheme from the current state at ``t_old`` to ``t_new``."""
        f = self._f
        dtf, dxf, g, hdry = f(dt), f(self.dx_m), f(G_MS2), f(H_DRY_M)
        tn, arr_h, speed_h = f(t_new), f(self.arrival_depth_m), f(self.speed_depth_m)
        bctype, bcval, bflux = self.plan.bctype, self.bcval, self.bflux
        nx = self.active.shape[1]
        # the kernels take their arrays grouped in tuples (see floodtwin.hydraulics.kernels2d)
        bed, edges, windows = (self.z, self.n2), (bctype, bcval, bflux), (self.win_lo, self.win_hi)
        maxima = (self.max_h, self.max_s2, self.t_max, self.arrival)
        if self.scheme == "godunov":
            rows = (self.row_speed, self.row_wet_lo, self.row_wet_hi)
            scratch = (self.slx, self.sly, self.fxb, self.fyb)
            state = (self.h, self.hu, self.hv, self.u, self.v)
            base = (self.h, self.hu, self.hv)
            scalars = dict(dt=dtf, dx=dxf, g=g, limiter=self.lim_code, hdry=hdry, t_new=tn, arrival_h=arr_h, speed_h=speed_h,
                           rows_per_block=ROWS_PER_BLOCK)
            if self.stepping == "hancock":
                # one predictor-corrector stage (MUSCL-Hancock)
                k2.godunov_stage(state, base, bed, edges, (self.h2, self.hu2, self.hv2, self.u2, self.v2), rows,
                                 windows, scratch, maxima, wa=f(0.0), wb=f(1.0), track=True, predict=True, **scalars)
                self._count_boundary(dt)
            else:
                # Heun (SSP-RK2): two forward-Euler stages, averaged; the intermediate state stays
                # inside the same windows (it is one step of the same scheme)
                k2.godunov_stage(state, base, bed, edges, (self.h1, self.hu1, self.hv1, self.u1, self.v1), rows,
                                 windows, scratch, maxima, wa=f(0.0), wb=f(1.0), track=False, predict=False,
                                 **scalars)
                self._count_boundary(0.5 * dt)
                k2.grow_wet_extent(self.row_wet_lo, self.row_wet_hi, self.ext_lo, self.ext_hi)
                k2.godunov_stage((self.h1, self.hu1, self.hv1, self.u1, self.v1), base, bed, edges,
                                 (self.h2, self.hu2, self.hv2, self.u2, self.v2), rows, windows, scratch, maxima,
                                 wa=f(0.5), wb=f(0.5), track=True, predict=False, **scalars)
                self._count_boundary(0.5 * dt)
            self.h, self.h2 = self.h2, self.h
            self.hu, self.hu2 = self.hu2, self.hu
            self.hv, self.hv2 = self.hv2, self.hv
            self.u, self.u2 = self.u2, self.u
            self.v, self.v2 = self.v2, self.v
            self.speed = float(self.row_speed.max())
            # godunov_stage tracks the depth and speed maxima; the hazard and the time above, here
            k2m.track_hazard(self.h, self.u, self.v, self.z, self.win_lo, self.win_hi, self.max_hr, self.above_since,
                             self.above_closed, t_old, f(self.duration_depth_m), speed_h, ROWS_PER_BLOCK)
        else:
            k2.inertial_step((self.h, self.qx, self.qy), bed, edges, (self.h2, self.qx2, self.qy2),
                             (self.row_hmax, self.row_wet_lo, self.row_wet_hi), (self.row_lo, self.row_hi, self.part_start),
                             self.qsb,
                             maxima + (self.max_hr, self.above_since, self.above_closed),
                             dt=dtf, dx=dxf, g=g, theta=f(self.theta), hflow=hdry, hdry=hdry, t_new=tn,
                             arrival_h=arr_h, speed_h=speed_h, t_old=float(t_old), duration_h=f(self.duration_depth_m),
                             track=True, rows_per_block=ROWS_PER_BLOCK)
            self._count_boundary(dt)
            self.h, self.h2 = self.h2, self.h
            self.qx, self.qx2 = self.qx2, self.qx
            self.qy, self.qy2 = self.qy2, self.qy
            self.hmax = float(self.row_hmax.max())
        k2r.after_step(self.row_wet_lo, self.row_wet_hi, self.ext_lo, self.ext_hi, nx, ROWS_PER_BLOCK, WINDOW_MARGIN,
                       self.win_lo, self.win_hi, INERTIAL_WINDOW_MARGIN, self.row_lo, self.row_hi, self.part_start)

    def _count_boundary(self, dt: float) -> None:
        """Add the edge fluxes of the last kernel call (m² s⁻¹ per edge cell) over ``dt`` to the
        inflow and outflow volumes, and zero them for the next call (they are zero on entry of a kernel)."""
        out_sum, in_sum = k2r.boundary_sums(self.bflux)
        self.vol_out += dt * self.dx_m * out_sum
        self.vol_in += dt * self.dx_m * in_sum

    # ---- changes of the ground during a run ----
    def lower_bed_m(self, rows: np.ndarray, cols: np.ndarray, elevation_m: float) -> None:
        """Lower the bed of cells (row, col indices of the bed array as given to the constructor) to
        ``elevation_m`` (m, above the bed's datum; cells already lower keep theirs): a dike breach
        opening. The water on a lowered cell keeps its depth, so the volume is unchanged."""
        ny, nx = self.active.shape
        rows = np.asarray(rows, np.int64)
        cols = np.asarray(cols, np.int64)
        # the model stores its arrays south-to-north and west-to-east (inputs2d.grid_from_bed)
        rows = ny - 1 - rows if self.grid.flip_y else rows
        cols = nx - 1 - cols if self.grid.flip_x else cols
        if not np.all(self.active[rows, cols]):
            raise InputError("lower_bed_m: a cell outside the model domain")
        z_new = float(elevation_m) - self.datum
        if not (math.isfinite(z_new) and z_new >= 0.0):
            raise InputError(f"lower_bed_m: {elevation_m} m is below the lowest bed of the model ({self.datum:.2f} m)")
        self.z[rows, cols] = np.minimum(self.z[rows, cols], self._f(z_new))

    # ---- results ----
    def dataset(self):
        """The result so far as a CF-annotated ``xarray.Dataset`` (see :func:`simulate_2d`)."""
        import numba

        v1 = self._volume(self.h)
        error = (v1 - self.v0) - (self.vol_in - self.vol_out + self.vol_src)
        scale = max(self.v0, self.vol_in + max(self.vol_src, 0.0), v1, 1e-300)
        wall = self.wall_s
        return _dataset(grid=self.grid, active=self.active, datum=self.datum, out_t=self.out_t,
                        out_depth=self.out_depth, out_u=self.out_u, out_v=self.out_v, max_h=self.max_h,
                        max_s2=self.max_s2, t_max=self.t_max, arrival=self.arrival, max_hr=self.max_hr,
                        duration=self.duration_above_s, gnames=self.gnames,
                        gx=self.gx, gy=self.gy, g_times=self.g_times, g_series=self.g_series,
                        attrs={
                            "scheme": self.scheme,
                            "limiter": self.limiter if self.scheme == "godunov" else "n/a",
                            "stepping": self.stepping if self.scheme == "godunov" else "n/a",
                            "theta": self.theta if self.scheme == "inertial" else float("nan"),
                            "dtype": self.dtype,
                            "cfl": self.cfl,
                            "dx_m": self.dx_m,
                            "duration_s": self.t_s,
                            "steps": self.steps,
                            "dt_min_s": self.dt_min_s if self.steps else float("nan"),
                            "dt_max_s": self.dt_max_s,
                            "arrival_depth_m": self.arrival_depth_m,
                            "speed_depth_m": self.speed_depth_m,
                            "duration_depth_m": self.duration_depth_m,
                            "initial_volume_m3": self.v0,
                            "final_volume_m3": v1,
                            "storage_change_m3": v1 - self.v0,
                            "inflow_volume_m3": self.vol_in,
                            "outflow_volume_m3": self.vol_out,
                            "source_volume_m3": self.vol_src,
                            "mass_balance_error_m3": error,
                            "mass_balance_relative_error": abs(error) / scale,
                            "datum_m": self.datum,
                            "threads": self.threads if self.threads is not None else numba.get_num_threads(),
                            "wall_time_s": wall,
                            "cell_updates_per_s": (int(self.active.sum()) * self.steps / wall if wall > 0
                                                   else float("nan")),
                        })


@renamed(depth0="depth0_m", manning="manning_n", velocity0="velocity0_ms")
def simulate_2d(bed: Any, *, dx_m: float, duration_s: float, depth0_m: Any = None, manning_n: Any = 0.0,
                scheme: str = "godunov", boundaries: Sequence[Any] | None = None,
                output_times_s: Sequence[float] | None = None, gauges: Any = None, dtype: str = "float64",
                cfl: float | None = None, velocity0_ms: Any = None, arrival_depth_m: float = 0.01,
                speed_depth_m: float = SPEED_DEPTH_M, duration_depth_m: float = DURATION_DEPTH_M, limiter: str = "mc",
                theta: float = 0.8, stepping: str = "hancock", gauge_interval_s: float | None = None,
                memory_budget_bytes: int | None = None, threads: int | None = None,
                progress: Callable[[float, float], None] | None = None):
    """Simulate 2D shallow flow over ``bed`` (m, (y, x), NaN = outside) for ``duration_s`` seconds.

    ``dx_m`` is the square cell size (m); ``depth0_m`` the initial depth (m, scalar or array; default
    dry); ``manning_n`` Manning's n (s m^-1/3, scalar or array); ``scheme`` "godunov" or "inertial";
    ``boundaries`` a list of :mod:`floodtwin.hydraulics.boundaries` objects (walls elsewhere);
    ``output_times_s`` when to store depth and velocity (default 11 times from 0 to the end);
    ``gauges`` {name: (x_m, y_m)} or [(x_m, y_m)] points recorded every ``gauge_interval_s``
    (default: the output interval / 10, at most 60 s); ``dtype`` "float64" or "float32"; ``cfl``
    the Courant number (0.45 godunov, 0.7 inertial); ``velocity0_ms`` an optional initial (u, v)
    velocity (m/s, scalars or arrays; default at rest). ``limiter`` (godunov: "mc" (default,
    monotonised central), "vanleer", "minmod", "superbee", "koren" or "none" for first order),
    ``stepping`` (godunov: "hancock", the default, or "heun") and ``theta`` (inertial q-centring
    weight) tune the schemes; ``progress(t_s, duration_s)`` is called after the first step and then
    at most every 0.5 s; ``threads`` sets numba's thread count for the call (default: numba's, or
    one thread on a grid of fewer than ``PARALLEL_MIN_CELLS`` active cells; results do not depend
    on it). Returns an ``xarray.Dataset`` with ``depth``/``velocity_x``/``velocity_y`` (time, y, x),
    ``max_depth``, ``max_speed``, ``time_of_max_depth``, ``arrival_time`` (s, first depth above
    ``arrival_depth_m``; NaN where never; ``max_speed`` counts only water deeper than ``speed_depth_m``,
    default :data:`SPEED_DEPTH_M`), ``duration_above`` (s the depth exceeded ``duration_depth_m``,
    default :data:`DURATION_DEPTH_M`), ``max_hazard_rating`` (the maximum over the steps of
    HR = h·(v + 0.5) + DF, :func:`kernels2d.maxima.hazard_rating`), gauge series, and the mass balance, step count and
    time-step range as attributes. Raises :class:`~floodtwin.errors.InputError` (one line) before
    computing on bad input. For a run in intervals with exchanges in between, use
    :class:`Floodplain`.
    """
    model = Floodplain(bed, dx_m=dx_m, duration_s=duration_s, depth0_m=depth0_m, manning_n=manning_n, scheme=scheme,
                       boundaries=boundaries, output_times_s=output_times_s, gauges=gauges, dtype=dtype, cfl=cfl,
                       velocity0_ms=velocity0_ms, arrival_depth_m=arrival_depth_m, speed_depth_m=speed_depth_m,
                       duration_depth_m=duration_depth_m, limiter=limiter, theta=theta,
                       stepping=stepping, gauge_interval_s=gauge_interval_s, memory_budget_bytes=memory_budget_bytes,
                       threads=threads, progress=progress)
    model.advance(model.duration_s)
    if progress is not None:
        progress(model.t_s, model.duration_s)
    ds = model.dataset()
    check_2d_fields(ds, what=f"simulate_2d ({scheme})")  # a diverged or leaking run is not a map
    return ds


def _dataset(*, grid, active, datum, out_t, out_depth, out_u, out_v, max_h, max_s2, t_max, arrival, max_hr, duration,
             gnames, gx, gy, g_times, g_series, attrs):
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
            "duration_above": ((ydim, xdim), field(duration)),
            "max_hazard_rating": ((ydim, xdim), field(max_hr)),
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
