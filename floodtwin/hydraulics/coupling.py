"""1D channel ↔ 2D floodplain coupling over the bank lines, and dike breaches.

The main channel runs in 1D (Preissmann, :mod:`floodtwin.hydraulics.channel`) on sections cut to
the bank stations; the floodplain between the bank lines and the dikes, and the land behind the
dikes, run in 2D (:func:`floodtwin.hydraulics.simulate_2d`) on the reach DEM with the channel cells
left out. Every coupling interval (explicit operator splitting):

1. each *link* — a 2D cell on a bank line, or a land cell behind a breach — exchanges water with the
   1D reach at its chainage by a broad-crested weir law, free or submerged (Villemonte):
   ``Q = C L (2g)^½ h_up^{3/2} (1 − (h_down/h_up)^{3/2})^{0.385}``, heads above the link's crest;
2. the 2D model runs the interval with those flows as point sources (a withdrawal never takes more
   than a cell holds: the volume actually moved is what is counted);
3. the 1D model runs the interval with the volume actually moved as lateral inflow per reach.

The total volume (1D + 2D) changes only by the boundary flows (1D inflow and outflow, the 2D
floodplain's outflow at the downstream edge): conserved to round-off, which the result's attributes
report. A :class:`Breach` lowers the dike at a chainage to a base level and widens linearly to its
final width. Two ways to place it: on the reach, where the dikes are cells of the DEM, its
:class:`DikeGap` lowers those cells as the gap widens, so the water reaches it by its own path (over
the floodplain, or straight from the channel where the channel runs along the dike, a 险工 reach);
for a dike that the 1D channel touches with no 2D cell in between, ``couple(breach=, breach_link=)``
links the channel directly to the land cell behind it. The 2D model is one
:class:`~floodtwin.hydraulics.floodplain.Floodplain` that keeps its state (face discharges
included) from interval to interval, with the links as exchange cells; the local-inertial scheme
is used by default.
"""

from __future__ import annotations

import logging
import math
import time as _time
from dataclasses import dataclass

import numpy as np

from floodtwin.errors import InputError, ModelError
from floodtwin.hydraulics.sanity import check_2d_fields, check_stages
from floodtwin.hydraulics._codes import DOWN_STAGE, G_MS2
from floodtwin._renamed import renamed

__all__ = [
    "Breach", "COUPLING_DT_S", "DikeGap", "EXCHANGE_LIMIT", "Links", "WEIR_C", "channel_only", "couple", "dike_gap",
    "floodplain_outlet", "Outlet", "links_for_chainage",
    "simulate_coupled", "weir_discharge_m3s",
]

log = logging.getLogger(__name__)

#: broad-crested weir coefficient C (-) in Q = C L sqrt(2g) h^1.5
WEIR_C = 0.35
#: share of the volume that would level a link's cell with the channel that one coupling interval may
#: move (explicit coupling: at 1 the head can fall to zero but never reverse within an interval, and the
#: 2D model spreads the water on, so the cell stays below the channel); a quarter, used before, held
#: the bank exchange of a Huayuankou flood to about a third of its converged volume
EXCHANGE_LIMIT = 1.0
#: default coupling interval (s), the 1D step: the exchange converges at first order in the interval
#: (benchmarks/bench_1d.py measures it); a shorter one costs one more exchange (and the 2D time
#: steps it cuts short)
COUPLING_DT_S = 60.0


@dataclass(frozen=True)
class Breach:
    """A dike breach at ``chainage_m`` on ``bank`` ("right"/"left"): from ``start_s`` the crest drops
    to ``base_m`` (m) and the gap widens linearly to ``final_width_m`` (m) over ``time_to_full_s``."""

    chainage_m: float
    base_m: float
    final_width_m: float = 200.0
    time_to_full_s: float = 3 * 3600.0
    start_s: float = 0.0
    bank: str = "right"

    def width_m(self, t_s: float) -> float:
        """Breach width (m) at time t (s)."""
        if t_s < self.start_s:
            return 0.0
        return self.final_width_m * min((t_s - self.start_s) / self.time_to_full_s, 1.0)

    def check(self) -> None:
        for name in ("chainage_m", "base_m", "final_width_m", "time_to_full_s", "start_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise InputError(f"Breach: {name} = {v!r} must be a finite number")
        if self.final_width_m <= 0 or self.time_to_full_s <= 0:
            raise InputError("Breach: final_width_m and time_to_full_s must be positive")
        if self.bank not in ("right", "left"):
            raise InputError(f"Breach: bank = {self.bank!r}: expected 'right' or 'left'")


@dataclass(frozen=True)
class DikeGap:
    """A breach of a dike that is cells of the 2D bed: the cells (row, col) of the dike body at the breach,
    each with its distance along the dike from the breach's centre (m); they open from the centre out
    as the breach widens."""

    breach: Breach
    rows: np.ndarray
    cols: np.ndarray
    along_m: np.ndarray


@dataclass(frozen=True)
class Outlet:
    """2D cells where water leaves the model at normal flow q = h^(5/3)·S^½/n per metre of ``width_m``."""

    rows: np.ndarray
    cols: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    slope: float
    manning_n: float
    width_m: float


@dataclass
class Links:
    """Exchange links between the 1D reaches and 2D cells (arrays of equal length)."""

    row: np.ndarray  # 2D cell row (in the bed array's orientation)
    col: np.ndarray
    x_m: np.ndarray  # cell centre (m), for the point sources
    y_m: np.ndarray
    reach: np.ndarray  # 1D reach index (between sections i and i+1)
    weight: np.ndarray  # interpolation weight of section i+1 at the link's chainage
    crest_m: np.ndarray  # weir crest (m)
    length_m: np.ndarray  # weir length (m)

    @property
    def size(self) -> int:
        return int(self.row.size)


def weir_discharge_m3s(stage_1d_m, level_2d_m, crest_m, length_m) -> np.ndarray:
    """Weir flow (m³/s) from the 1D channel to the 2D cell (negative: back to the channel), free or
    submerged (Villemonte 1947), heads above ``crest_m``."""
    z1 = np.asarray(stage_1d_m, float)
    z2 = np.asarray(level_2d_m, float)
    up = np.maximum(z1, z2)
    down = np.minimum(z1, z2)
    h_up = np.maximum(up - crest_m, 0.0)
    h_down = np.maximum(down - crest_m, 0.0)
    ratio = np.divide(h_down, h_up, out=np.zeros_like(h_up), where=h_up > 0)
    submergence = np.power(np.maximum(1.0 - ratio ** 1.5, 0.0), 0.385)
    q = WEIR_C * length_m * math.sqrt(2 * G_MS2) * h_up ** 1.5 * submergence
    return np.where(z1 >= z2, q, -q)


def links_for_chainage(sections, chainage_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reach index and interpolation weight of each chainage (m) along the 1D sections."""
    c = sections.chainage_m
    k = np.clip(np.searchsorted(c, chainage_m) - 1, 0, c.size - 2)
    w = np.clip((chainage_m - c[k]) / (c[k + 1] - c[k]), 0.0, 1.0)
    return k.astype(np.int64), w


def channel_only(sections):
    """The sections cut to their bank stations (the floodplain goes to 2D); glass walls above the banks."""
    from floodtwin.hydraulics.sections import Sections

    profiles, banks = [], []
    for i in range(sections.n_sections):
        a = sections.bank_left[i] - sections.offsets[i]
        b = sections.bank_right[i] - sections.offsets[i]
        sta, elev = sections.profile(i)
        profiles.append((sta[a:b + 1], elev[a:b + 1]))
        banks.append((sta[a], sta[b]))
    return Sections.from_arrays(profiles, sections.chainage_m, banks_m=banks, manning_n=sections.roughness,
                                section_id=sections.section_id,
                                crest_m=np.column_stack([sections.crest_left_m, sections.crest_right_m]),
                                distance_m=sections.distance_m, fill_ramp_m=sections.fill_ramp_m,
                                divided_alpha=sections.divided_alpha)


def _stage_at_links(z_1d: np.ndarray, links: Links) -> np.ndarray:
    return z_1d[links.reach] * (1.0 - links.weight) + z_1d[links.reach + 1] * links.weight


@renamed(inflow="inflow_m3s", manning_2d="manning_n_2d", depth0_2d="depth0_2d_m")
def couple(sections, bed, *, dx_m: float, links: Links, inflow_m3s, duration_s: float, breach: Breach | None = None,
           breach_link: Links | None = None, coupling_dt_s: float = COUPLING_DT_S, dt_1d_s: float = 60.0,
           downstream="normal", manning_n_2d=0.035, scheme: str = "inertial", theta: float = 0.6,
           depth0_2d_m=None, progress=None, dike_gaps: tuple[DikeGap, ...] = (), outlet: Outlet | None = None):
    """Run the coupled model on given parts: 1D ``sections`` (channel only), a 2D ``bed`` (DataArray
    (y, x) m, NaN outside; the channel cells left out), bank ``links`` and optionally a ``breach``
    with its land-side ``breach_link`` (one cell; its crest is the breach base, its length the
    breach width in time). ``inflow_m3s`` as in ``simulate_1d``; ``manning_n_2d`` and ``depth0_2d_m`` are
    the 2D model's Manning n and initial depth (m). Returns an ``xarray.Dataset`` with the
    1D stage/discharge at each coupling time; on the 2D grid the final depth and, over the run, the
    maximum depth and speed, the arrival time (s, first depth above 0.05 m; NaN where
    never), the time above 0.3 m (``duration_above``, s) and the maximum flood hazard rating
    (``max_hazard_rating``, Defra/EA FD2320/FD2321); exchange and breach volumes, and the volume
    balance (attributes).

    ``dike_gaps``: breaches of dikes that are cells of the 2D bed (:class:`DikeGap`): from the breach's
    start its cells are lowered to its base as the gap widens (a bank link on a lowered cell gets the
    base as its crest). ``outlet``: 2D cells where the floodplain leaves the model at normal flow
    (:class:`Outlet`); what leaves there counts in the volume balance."""
    import xarray as xr

    from floodtwin.hydraulics import kernels1d as k1
    from floodtwin.hydraulics.channel import _downstream, _series_at, channel_volume_m3, steady_state
    from floodtwin.hydraulics.floodplain import Floodplain
    from floodtwin.variables import annotate

    # a cell's arrival is its first depth above 5 cm (the flood-hazard issue's definition)
    arrival_depth_m = 0.05
    if not (duration_s > 0 and coupling_dt_s > 0 and dt_1d_s > 0):
        raise InputError("duration_s, coupling_dt_s and dt_1d_s must be positive (s)")
    per = int(round(coupling_dt_s / dt_1d_s))
    if per < 1 or abs(per * dt_1d_s - coupling_dt_s) > 1e-6 * coupling_dt_s:
        raise InputError(f"coupling_dt_s {coupling_dt_s} must be a multiple of dt_1d_s {dt_1d_s}")
    if breach is not None:
        breach.check()
        if breach_link is None or breach_link.size != 1:
            raise InputError("breach: needs exactly one land-side link cell")
    n_chunks = int(math.ceil(duration_s / coupling_dt_s - 1e-9))
    t_all = np.arange(n_chunks * per + 1) * dt_1d_s
    q_in = _series_at("inflow_m3s", inflow_m3s, t_all)
    kind, stage, rating, slope = _downstream(sections, downstream)
    rq, rz = rating.arrays() if rating is not None else (np.zeros(2), np.array([0.0, 1.0]))
    bc = np.full(per + 1, stage if kind == DOWN_STAGE else 0.0)
    tables, z0, dz = sections.tables
    n = sections.n_sections
    z = steady_state(sections, float(q_in[0]), downstream)
    q = np.full(n, float(q_in[0]))
    bed_vals = np.array(bed.values, float)  # a copy: dike gaps lower it during the run
    active = np.isfinite(bed_vals)
    h2 = np.zeros_like(bed_vals) if depth0_2d_m is None else np.where(active, np.asarray(depth0_2d_m, float), 0.0)
    area = dx_m * dx_m

    def vol2d(h):
        return float(np.sum(np.where(active, h, 0.0)) * area)

    v1_start = channel_volume_m3(sections, z)
    v2_start = vol2d(h2)
    boundary_1d = 0.0
    exchanged = 0.0
    breach_volume = 0.0
    out_t = [0.0]
    out_z = [z.copy()]
    out_q = [q.copy()]
    max_stage = z.copy()
    t_max = np.zeros(n)
    all_links = links
    n_bank = links.size
    if breach_link is not None:
        all_links = Links(*(np.concatenate([getattr(links, f), getattr(breach_link, f)])
                            for f in ("row", "col", "x_m", "y_m", "reach", "weight", "crest_m", "length_m")))
    # one 2D model for the whole run: its state (and face discharges) carries over between intervals
    model = Floodplain(bed, dx_m=dx_m, duration_s=n_chunks * coupling_dt_s, depth0_m=h2, manning_n=manning_n_2d,
                       scheme=scheme, output_times_s=[n_chunks * coupling_dt_s],
                       link_xy_m=(np.concatenate([all_links.x_m, outlet.x_m if outlet else []]),
                                  np.concatenate([all_links.y_m, outlet.y_m if outlet else []])),
                       arrival_depth_m=arrival_depth_m)
    n_all = all_links.size
    outflow_2d = 0.0
    link_at = {(int(r), int(c)): k for k, (r, c) in enumerate(zip(all_links.row, all_links.col))}
    gap_links = [np.array([link_at[(int(r), int(c))] for r, c in zip(g.rows, g.cols) if (int(r), int(c)) in link_at],
                          dtype=np.int64) for g in dike_gaps]
    gap_open = [np.zeros(g.rows.size, bool) for g in dike_gaps]
    crest_now = all_links.crest_m.copy()
    v2_now = v2_start
    v2_peak = v2_start
    link_bed = bed_vals[all_links.row, all_links.col]
    wall0 = _time.perf_counter()
    t = 0.0
    zmax_buf = np.empty(n)
    tmax_buf = np.empty(n)
    for c in range(n_chunks):
        t_end = t + coupling_dt_s
        # 0) dike gaps widen: their cells (and the crests of links on them) drop to the breach base
        for g, links_g, opened in zip(dike_gaps, gap_links, gap_open):
            now_open = g.along_m <= 0.5 * g.breach.width_m(t + 0.5 * coupling_dt_s) + 0.5 * dx_m
            now_open &= g.breach.width_m(t + 0.5 * coupling_dt_s) > 0
            new = now_open & ~opened
            if new.any():
                model.lower_bed_m(g.rows[new], g.cols[new], g.breach.base_m)
                opened |= new
                bed_vals[g.rows[new], g.cols[new]] = np.minimum(bed_vals[g.rows[new], g.cols[new]], g.breach.base_m)
                link_bed = bed_vals[all_links.row, all_links.col]
                crest_now[links_g] = np.minimum(crest_now[links_g], link_bed[links_g])
        # 1) weir flows at the links from the states at the start of the interval
        level = link_bed + model.link_depth_m[:n_all]
        length = all_links.length_m.copy()
        crest = crest_now.copy()
        if breach is not None:
            length[n_bank:] = breach.width_m(t + 0.5 * coupling_dt_s)
        flows = weir_discharge_m3s(_stage_at_links(z, all_links), level, crest, length)
        # explicit-coupling limiter: one interval moves at most a share of the volume that would level
        # the link's cell with the channel
        diff = _stage_at_links(z, all_links) - level
        cap = EXCHANGE_LIMIT * np.abs(diff) * area / coupling_dt_s
        flows = np.clip(flows, -cap, cap)
        if outlet is not None:  # normal flow out of the floodplain's downstream rim, one cell wide each
            h_out = np.maximum(model.link_depth_m[n_all:], 0.0)
            flows = np.concatenate([flows, -outlet.width_m * h_out ** (5 / 3) * math.sqrt(outlet.slope) / outlet.manning_n])
        # 2) 2D interval with the flows at the links; a withdrawal takes at most what a cell holds, and
        # what was actually moved at each link comes back
        vol_act = model.advance(t_end, flows)
        outflow_2d -= float(vol_act[n_all:].sum())
        vol_act = vol_act[:n_all]
        # 3) the volume actually moved leaves (or joins) the 1D reaches
        lateral = np.zeros(n - 1)
        np.add.at(lateral, all_links.reach, -vol_act / coupling_dt_s)
        exchanged += float(vol_act[:n_bank].sum())
        breach_volume += float(vol_act[n_bank:].sum())
        v2_now = v2_start + exchanged + breach_volume - outflow_2d
        v2_peak = max(v2_peak, v2_now)
        o_z = np.empty((2, n))
        o_q = np.empty((2, n))
        vol = np.zeros(1)
        z_end = np.empty(n)
        q_end = np.empty(n)
        chunk_in = q_in[c * per:(c + 1) * per + 1]
        failed = k1.run_preissmann(tables, z0, dz, sections.dx_m, z, q, chunk_in, bc, rq, rz, o_z, o_q, zmax_buf,
                                   tmax_buf, vol, z_end, q_end, lateral, bc_kind=kind, bc_slope=slope,
                                   dt_s=float(dt_1d_s), theta=float(theta), tol_m=1e-9, max_iter=30, out_every=per,
                                   t0_s=t)
        if failed:  # a result of unconverged steps is not an answer (hydraulics.sanity)
            raise ModelError(f"simulate_coupled: the 1D Newton iteration did not converge in {failed} steps of "
                             f"coupling interval {c} (t = {t:,.0f} s): no level or map is given")
        # the lateral volume is counted in vol: keep the 1D boundary flows apart
        boundary_1d += float(vol[0]) - float(lateral.sum()) * coupling_dt_s
        z, q = z_end, q_end
        upd = zmax_buf > max_stage
        max_stage = np.where(upd, zmax_buf, max_stage)
        t_max = np.where(upd, tmax_buf, t_max)
        t = t_end
        out_t.append(t)
        out_z.append(z.copy())
        out_q.append(q.copy())
        if progress:
            progress(t, n_chunks * coupling_dt_s)
    wall = _time.perf_counter() - wall0
    res = model.dataset()
    h2 = np.where(active, np.nan_to_num(res["depth"].isel(time=-1).values), 0.0)
    max_depth = np.nan_to_num(res["max_depth"].values)
    v1_end = channel_volume_m3(sections, z)
    v2_end = vol2d(h2)
    total_change = (v1_end + v2_end) - (v1_start + v2_start)
    boundary_2d = -outflow_2d
    error = total_change - boundary_1d - boundary_2d
    scale = max(v1_start + v2_start, abs(boundary_1d), 1.0)
    wet = max_depth > 0.05
    ds = xr.Dataset(
        {"stage": (("time", "chainage"), np.array(out_z)), "discharge": (("time", "chainage"), np.array(out_q)),
         "max_stage": ("chainage", max_stage), "time_of_max_stage": ("chainage", t_max),
         "max_depth": (bed.dims, np.where(active, max_depth, np.nan)),
         "depth": (bed.dims, np.where(active, h2, np.nan)),
         # the 2D model's per-cell flood-hazard fields, as it computed them (NaN outside the grid)
         **{name: (bed.dims, res[name].values)
            for name in ("max_speed", "arrival_time", "duration_above", "max_hazard_rating")}},
        coords={"time": np.array(out_t), "chainage": sections.chainage_m,
                bed.dims[0]: bed[bed.dims[0]].values, bed.dims[1]: bed[bed.dims[1]].values},
        attrs={"method": "1D Preissmann channel + 2D floodplain, weir links, operator splitting",
               "coupling_dt_s": float(coupling_dt_s), "dt_1d_s": float(dt_1d_s), "scheme_2d": scheme,
               "volume_1d_start_m3": v1_start, "volume_1d_end_m3": v1_end, "volume_2d_start_m3": v2_start,
               "volume_2d_end_m3": v2_end, "boundary_volume_1d_m3": boundary_1d,
               "bank_exchange_volume_m3": exchanged, "breach_volume_m3": breach_volume,
               "outflow_volume_2d_m3": outflow_2d, "volume_2d_peak_m3": v2_peak,
               "dike_gap_cells_opened": int(sum(int(o.sum()) for o in gap_open)),
               "mass_balance_error_m3": error, "mass_balance_relative_error": abs(error) / scale,
               "inundated_area_km2": float(wet.sum()) * area / 1e6, "wall_time_s": wall,
               "arrival_depth_m": arrival_depth_m, "speed_depth_m": res.attrs["speed_depth_m"],
               "duration_depth_m": res.attrs["duration_depth_m"], "steps_2d": res.attrs["steps"],
               "threads_2d": res.attrs["threads"]},
    )
    check_2d_fields(ds, what="simulate_coupled")
    check_stages(sections, ds["stage"].values, what="simulate_coupled")
    return annotate(ds)


# --------------------------------------------------------------------------------------------
# the reach
# --------------------------------------------------------------------------------------------
def _reach_parts(reach, spacing_m: float):
    """Channel sections, 2D bed with the channel left out, and the bank links."""
    import shapely

    from floodtwin.hydraulics.sections import sections_from_reach

    sections = channel_only(sections_from_reach(reach, spacing_m))
    dem = reach.dem
    dx = reach.resolution_m
    xx, yy = np.meshgrid(dem.x.values, dem.y.values)
    channel = reach.channel.geometry.iloc[0]
    in_channel = shapely.contains_xy(channel, xx, yy)
    bed = dem.where(~in_channel)
    active = np.isfinite(bed.values)
    # bank cells: active cells with a 4-neighbour in the channel
    nb = np.zeros_like(in_channel)
    nb[1:, :] |= in_channel[:-1, :]
    nb[:-1, :] |= in_channel[1:, :]
    nb[:, 1:] |= in_channel[:, :-1]
    nb[:, :-1] |= in_channel[:, 1:]
    rows, cols = np.nonzero(active & nb)
    frame = reach.terrain.frame
    s, _ = frame.to_sn(xx[rows, cols], yy[rows, cols])
    keep = (s >= sections.chainage_m[0]) & (s <= sections.chainage_m[-1])
    rows, cols, s = rows[keep], cols[keep], s[keep]
    k, w = links_for_chainage(sections, s)
    links = Links(rows, cols, xx[rows, cols], yy[rows, cols], k, w, bed.values[rows, cols], np.full(rows.size, dx))
    return sections, bed, links


@renamed(inflow="inflow_m3s")
def simulate_coupled(reach, inflow_m3s, duration_s: float, breach: Breach | None = None, *, spacing_m: float = 250.0,
                     coupling_dt_s: float = COUPLING_DT_S, dt_1d_s: float = 60.0, scheme: str = "inertial", progress=None,
                     breaches: tuple[Breach, ...] = ()):
    """Coupled run over the reach: 1D channel (sections every ``spacing_m``, cut to the banks, with the
    calibration file's roughness and bed offset) and the 2D floodplain and land on the reach DEM (the
    calibrated floodplain n), exchanging over the bank lines every ``coupling_dt_s``; an optional
    ``Breach`` (or ``breaches``, a tuple of them: each opens the dike's cells in the DEM, see
    :func:`dike_gap`); the floodplain between the dikes flows out at the downstream edge
    (:func:`floodplain_outflow`). ``inflow_m3s`` (m³/s) as in ``simulate_1d``. Returns the Dataset of
    :func:`couple`."""
    breaches = tuple(breaches) + ((breach,) if breach is not None else ())
    sections, bed, links = _reach_parts(reach, spacing_m)
    gaps = tuple(dike_gap(reach, b, bed) for b in breaches)
    n_fp = float(sections.roughness[0, 0])  # the floodplain n of the (calibrated) reach model
    return couple(sections, bed, dx_m=reach.resolution_m, links=links, inflow_m3s=inflow_m3s, duration_s=duration_s,
                  coupling_dt_s=coupling_dt_s, dt_1d_s=dt_1d_s, manning_n_2d=n_fp, scheme=scheme, progress=progress,
                  dike_gaps=gaps, outlet=floodplain_outlet(reach, bed, sections, n_fp))


def dike_gap(reach, breach: Breach, bed) -> DikeGap:
    """The cells of the reach DEM that a breach of the ``breach.bank`` dike at ``breach.chainage_m`` opens:
    the dike body between its two toes, within the breach's final width (plus half a cell) along it."""
    breach.check()
    t = reach.terrain
    dx = reach.resolution_m
    c = np.array([breach.chainage_m])
    river = float(t.dike_toe_offset_m(c, side=breach.bank, toward="river")[0])
    land = float(t.dike_toe_offset_m(c, side=breach.bank, toward="land")[0])
    lo, hi = min(river, land), max(river, land)
    xx, yy = np.meshgrid(bed.x.values, bed.y.values)
    s, n = t.frame.to_sn(xx.ravel(), yy.ravel())
    s, n = s.reshape(xx.shape), n.reshape(xx.shape)
    along = np.abs(s - breach.chainage_m)
    inside = (n >= lo - 0.5 * dx) & (n <= hi + 0.5 * dx) & (along <= 0.5 * breach.final_width_m + 0.5 * dx)
    inside &= np.isfinite(bed.values) & (bed.values > breach.base_m)
    rows, cols = np.nonzero(inside)
    if rows.size == 0:
        raise InputError(f"breach at chainage {breach.chainage_m:g} m ({breach.bank}): no dike cell of the DEM there")
    return DikeGap(breach, rows, cols, along[rows, cols])


def floodplain_outlet(reach, bed, sections, manning_n: float) -> Outlet | None:
    """Where the floodplain between the dikes leaves the model: its active cells at the downstream end
    of the DEM (a neighbour outside the model, within two cells of the reach's end), at normal flow on
    the reach's bed slope. (Closed, the floodplain would pond against the end of the model and raise
    the water at the last dike segments, which the river downstream does not.)"""
    t = reach.terrain
    dx = reach.resolution_m
    values = bed.values
    active = np.isfinite(values)
    xx, yy = np.meshgrid(bed.x.values, bed.y.values)
    s, n = t.frame.to_sn(xx.ravel(), yy.ravel())
    s, n = s.reshape(xx.shape), n.reshape(xx.shape)
    outside = np.pad(~active, 1, constant_values=True)
    rim = outside[:-2, 1:-1] | outside[2:, 1:-1] | outside[1:-1, :-2] | outside[1:-1, 2:]
    end = s[active].max()
    cells = active & rim & (n > 0) & (n < t.spacing_m(s)) & (s > end - 2 * dx)
    rows, cols = np.nonzero(cells)
    if rows.size == 0:
        return None
    return Outlet(rows, cols, xx[rows, cols], yy[rows, cols], slope=float(sections.bed_slope()),
                  manning_n=float(manning_n), width_m=float(dx))
