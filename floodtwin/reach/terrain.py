"""The reach's terrain (``floodtwin.reach.terrain``, moved here from ``floodtwin.terrain``), built from
published geometry parameters (data/dikes/<reach>.yaml).

The reach is described in a curvilinear frame: chainage ``s`` along the right (town) dike from the
upstream end, and ``n`` the distance from that dike's crest line towards the left dike (negative
behind the right dike). A cross-section at chainage s is, from the right-bank land to the left-bank
land: land 4-6 m below the bed, the right dike, the floodplain falling from the channel's natural
levee towards the dike toe (the "secondary suspended river"), the main channel, the left floodplain,
the left dike and land again. The channel is tied to the Huayuankou rating: its bed and Manning n
are fitted so that normal depth reproduces the rating points; dike crests are the design flood
level (normal-depth stage of the design discharge in the compound section) plus the freeboard.

Everything here is deterministic for a given parameter file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator
from scipy.optimize import brentq, least_squares
from scipy.spatial import cKDTree

from floodtwin.errors import DataError, InputError, require_discharge_m3s
from floodtwin._renamed import renamed
from floodtwin.reach.params import ReachParams
from floodtwin.variables import VARIABLES

__all__ = ["ReachFrame", "frame_from_points", "frame_for", "rectangular_normal_depth_m", "ChannelFit",
           "fit_channel_to_rating", "ReachTerrain", "build_dem", "write_dem"]


# --------------------------------------------------------------------------------------------
# the curvilinear frame
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReachFrame:
    """A smooth reference line (the right dike) sampled densely: position, tangent and left normal."""

    s_m: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    tx: np.ndarray
    ty: np.ndarray

    @property
    def nx(self) -> np.ndarray:  # left normal = tangent rotated +90°
        return -self.ty

    @property
    def ny(self) -> np.ndarray:
        return self.tx

    @property
    def length_m(self) -> float:
        return float(self.s_m[-1])

    @cached_property
    def _tree(self) -> cKDTree:
        return cKDTree(np.column_stack([self.x_m, self.y_m]))

    @renamed(s="s_m", n="n_m")
    def to_xy(self, s_m, n_m) -> tuple[np.ndarray, np.ndarray]:
        """Map chainage/offset (m) to projected x, y (m)."""
        s = np.asarray(s_m, dtype=float)
        n = np.asarray(n_m, dtype=float)
        x0 = np.interp(s, self.s_m, self.x_m)
        y0 = np.interp(s, self.s_m, self.y_m)
        nx = np.interp(s, self.s_m, self.nx)
        ny = np.interp(s, self.s_m, self.ny)
        return x0 + n * nx, y0 + n * ny

    def to_sn(self, x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
        """Map projected x, y (m) to chainage and offset (m): nearest sample, then its tangent plane.

        Exact to well below a metre for the gentle curvature of a dike line (radius >> |n|).
        """
        x = np.asarray(x_m, dtype=float)
        y = np.asarray(y_m, dtype=float)
        _, k = self._tree.query(np.column_stack([x.ravel(), y.ravel()]))
        dx = x.ravel() - self.x_m[k]
        dy = y.ravel() - self.y_m[k]
        s = self.s_m[k] + dx * self.tx[k] + dy * self.ty[k]
        n = dx * self.nx[k] + dy * self.ny[k]
        return s.reshape(x.shape), n.reshape(x.shape)


def frame_from_points(x_m: np.ndarray, y_m: np.ndarray, length_m: float, step_m: float = 5.0) -> ReachFrame:
    """Smooth parametric cubic through projected control points, resampled every ``step_m`` by arc length."""
    x_m = np.asarray(x_m, float)
    y_m = np.asarray(y_m, float)
    chord = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x_m), np.diff(y_m)))])
    if np.any(np.diff(chord) <= 0):
        raise DataError("right_dike_lonlat: repeated control points")
    sx = CubicSpline(chord, x_m, bc_type="natural")
    sy = CubicSpline(chord, y_m, bc_type="natural")
    t = np.linspace(0.0, chord[-1], int(chord[-1] / 1.0) + 1)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(sx(t)), np.diff(sy(t))))])
    if arc[-1] < length_m:
        raise DataError(f"right_dike_lonlat: the dike line is {arc[-1]:.0f} m long, shorter than the reach "
                        f"length {length_m:.0f} m")
    s = np.arange(0.0, length_m + step_m / 2, step_m)
    ts = np.interp(s, arc, t)
    dxdt, dydt = sx(ts, 1), sy(ts, 1)
    norm = np.hypot(dxdt, dydt)
    return ReachFrame(s, sx(ts), sy(ts), dxdt / norm, dydt / norm)


def frame_for(params: ReachParams) -> ReachFrame:
    """The reach frame: the right-dike control points (lon/lat) projected to the reach CRS."""
    from pyproj import Transformer

    lonlat = np.asarray(params.reach.right_dike_lonlat.value, float)
    tr = Transformer.from_crs("EPSG:4326", params.crs, always_xy=True)
    x, y = tr.transform(lonlat[:, 0], lonlat[:, 1])
    return frame_from_points(np.asarray(x), np.asarray(y), float(params.reach.length_m.value))


# --------------------------------------------------------------------------------------------
# channel tied to the rating
# --------------------------------------------------------------------------------------------
def rectangular_normal_depth_m(discharge_m3s, *, width_m: float, slope: float, manning_n: float):
    """Manning normal depth (m) of a rectangular channel (hydraulic radius A/P), by Newton iteration."""
    q = np.atleast_1d(np.asarray(discharge_m3s, float))
    h = (manning_n * q / (width_m * np.sqrt(slope))) ** 0.6  # wide-channel first guess
    for _ in range(50):
        area = width_m * h
        radius = area / (width_m + 2 * h)
        f = area * radius ** (2 / 3) * np.sqrt(slope) / manning_n - q
        dfdh = np.sqrt(slope) / manning_n * (width_m * radius ** (2 / 3)
                                              + area * (2 / 3) * radius ** (-1 / 3) * (2 * width_m) / (width_m + 2 * h) ** 2)
        step = f / dfdh
        h = np.maximum(h - step, 1e-6)
        if np.all(np.abs(step) < 1e-10):
            break
    return h if np.ndim(discharge_m3s) else float(h[0])


@dataclass(frozen=True)
class ChannelFit:
    """Bed elevation at the gauge and channel Manning n that reproduce the rating points."""

    bed_at_gauge_m: float
    manning_n: float
    bankfull_depth_m: float
    rms_misfit_m: float


def fit_channel_to_rating(points: list[list[float]], *, width_m: float, slope: float,
                          bankfull_discharge_m3s: float) -> ChannelFit:
    """Least-squares bed elevation and n so that bed + normal depth(Q) matches the (Q, stage) points."""
    q = np.array([p[0] for p in points], float)
    z = np.array([p[1] for p in points], float)

    def residual(v):
        bed, log_n = v
        return bed + rectangular_normal_depth_m(q, width_m=width_m, slope=slope, manning_n=np.exp(log_n)) - z

    sol = least_squares(residual, x0=[z[0] - 1.0, np.log(0.014)])
    bed, n = float(sol.x[0]), float(np.exp(sol.x[1]))
    if not 0.005 <= n <= 0.05:
        raise DataError(f"rating.points: fitted channel Manning n = {n:.4f} is implausible; check the rating")
    hbf = rectangular_normal_depth_m(bankfull_discharge_m3s, width_m=width_m, slope=slope, manning_n=n)
    return ChannelFit(bed, n, float(hbf), float(np.sqrt(np.mean(sol.fun ** 2))))


# --------------------------------------------------------------------------------------------
# the cross-section model
# --------------------------------------------------------------------------------------------
class ReachTerrain:
    """Ground elevation of the reach as a function of (s, n), and its derived levels.

    Built once from the parameters; all methods are vectorised over numpy arrays.
    """

    def __init__(self, params: ReachParams, frame: ReachFrame | None = None):
        self.params = params
        self.frame = frame if frame is not None else frame_for(params)
        p = params
        self.length_m = float(p.reach.length_m.value)
        spacing = np.asarray(p.reach.dike_spacing_m.value, float)
        centre = np.asarray(p.channel.centre_from_right_dike_m.value, float)
        for name, arr in (("reach.dike_spacing_m", spacing), ("channel.centre_from_right_dike_m", centre)):
            if arr.ndim != 2 or arr.shape[1] != 2 or np.any(np.diff(arr[:, 0]) <= 0):
                raise DataError(f"{name}: expected [chainage, value] pairs with rising chainage")
        self._spacing = spacing
        self._centre = PchipInterpolator(centre[:, 0], centre[:, 1], extrapolate=True)
        self.channel_width_m = float(p.channel.width_m.value)
        self.bank_width_m = float(p.channel.bank_slope_width_m.value)
        self.slope = float(p.channel.slope.value)
        self.gauge_chainage_m = float(p.gauges.value[0][4])
        self.fit = fit_channel_to_rating(p.rating.points.value, width_m=self.channel_width_m, slope=self.slope,
                                         bankfull_discharge_m3s=float(p.rating.bankfull_discharge_m3s.value))
        self.floodplain_n = float(p.floodplain.manning_n.value)
        self.lip_height_m = float(p.floodplain.lip_height_m.value)
        self.transverse_slope = float(p.floodplain.transverse_slope.value)
        self.max_drop_m = float(p.floodplain.max_transverse_drop_m.value)
        self.land_below_bed_m = float(p.dikes.land_below_bed_m.value)
        self.freeboard_m = float(p.dikes.freeboard_m.value)
        self.crest_width_m = float(p.dikes.crest_width_m.value)
        self.side_slope = float(p.dikes.side_slope.value)
        self.design_discharge_m3s = float(p.rating.design_discharge_m3s.value)
        self._check_channel_inside()
        # design flood level along the reach, every 250 m, then interpolated
        self._design_s = np.linspace(0.0, self.length_m, int(self.length_m // 250) + 1)
        self._design_z = np.array([self.normal_stage_m(s, self.design_discharge_m3s) for s in self._design_s])

    # --- along-reach quantities -------------------------------------------------------------
    @renamed(s="s_m")
    def spacing_m(self, s_m):
        """Distance between the dike crest lines (m) at chainage s."""
        return np.interp(s_m, self._spacing[:, 0], self._spacing[:, 1])

    @renamed(s="s_m")
    def channel_centre_m(self, s_m):
        """Distance of the main channel's centre line from the right dike (m)."""
        return self._centre(np.asarray(s_m, float))

    @renamed(s="s_m")
    def bed_m(self, s_m):
        """Thalweg (channel bed) elevation (m): the fitted bed at the gauge, falling with the slope."""
        return self.fit.bed_at_gauge_m - self.slope * (np.asarray(s_m, float) - self.gauge_chainage_m)

    @renamed(s="s_m")
    def lip_m(self, s_m):
        """Floodplain elevation at the channel's edge (natural levee, 滩唇), m."""
        return self.bed_m(s_m) + self.fit.bankfull_depth_m + self.lip_height_m

    @renamed(s="s_m")
    def land_m(self, s_m):
        """Land behind the dikes (m): the bed minus the suspended-river height."""
        return self.bed_m(s_m) - self.land_below_bed_m

    @renamed(s="s_m")
    def design_level_m(self, s_m):
        """Design flood level (m): normal-depth stage of the design discharge in the compound section."""
        return np.interp(s_m, self._design_s, self._design_z)

    @renamed(s="s_m")
    def crest_m(self, s_m):
        """Dike crest elevation (m): design flood level plus freeboard."""
        return self.design_level_m(s_m) + self.freeboard_m

    @renamed(s="s_m")
    def channel_edges_m(self, s_m):
        """(right edge, left edge) of the main channel's bank-top lines, as distances from the right dike."""
        c = self.channel_centre_m(s_m)
        half = self.channel_width_m / 2 + self.bank_width_m
        return c - half, c + half

    def _check_channel_inside(self) -> None:
        s_m = np.linspace(0.0, self.length_m, 200)
        right, left = self.channel_edges_m(s_m)
        toe = self.crest_width_m / 2 + 1.0
        bad = (right < toe) | (left > self.spacing_m(s_m) - toe)
        if np.any(bad):
            raise DataError(f"channel.centre_from_right_dike_m: the channel crosses a dike near chainage "
                            f"{s_m[np.argmax(bad)]:.0f} m")

    # --- the cross-section ------------------------------------------------------------------
    @renamed(s="s_m", n="n_m")
    def ground_without_dikes_m(self, s_m, n_m):
        """Ground elevation (m) between the dikes, ignoring the dike bodies, at (s, n)."""
        s_m = np.asarray(s_m, float)
        n_m = np.asarray(n_m, float)
        c = self.channel_centre_m(s_m)
        bed = self.bed_m(s_m)
        lip = self.lip_m(s_m)
        off = np.abs(n_m - c) - self.channel_width_m / 2  # <0 inside the channel bed
        in_bank = np.clip(off / self.bank_width_m, 0.0, 1.0)
        channel = bed + (lip - bed) * in_bank
        beyond = np.maximum(off - self.bank_width_m, 0.0)
        floodplain = lip - np.minimum(self.transverse_slope * beyond, self.max_drop_m)
        return np.where(off - self.bank_width_m <= 0.0, channel, floodplain)

    @renamed(s="s_m", n="n_m")
    def dike_body_m(self, s_m, n_m, *, dike_offset_m, half_cell_m: float = 0.0):
        """Elevation of a dike's trapezoid (m) centred at ``dike_offset_m``; -inf away from it.

        ``half_cell_m`` widens the crest by half a cell's extent across the dike, so that a raster
        sampled at cell centres keeps a continuous line of crest cells (watertight on a D4 grid).
        """
        d = np.maximum(np.abs(np.asarray(n_m, float) - dike_offset_m) - half_cell_m, 0.0)
        crest = self.crest_m(s_m)
        body = crest - np.maximum(d - self.crest_width_m / 2, 0.0) / self.side_slope
        return body

    @renamed(s="s_m", n="n_m")
    def elevation_m(self, s_m, n_m, *, half_cell_m: float = 0.0):
        """Ground elevation (m) at (s, n) including land and both dikes; NaN outside the modelled area."""
        s_m = np.asarray(s_m, float)
        n_m = np.asarray(n_m, float)
        width = self.spacing_m(s_m)
        land = self.land_m(s_m)
        inner = self.ground_without_dikes_m(s_m, np.clip(n_m, 0.0, width))
        base = np.where((n_m < 0) | (n_m > width), land, inner)
        right = self.dike_body_m(s_m, n_m, dike_offset_m=0.0, half_cell_m=half_cell_m)
        left = self.dike_body_m(s_m, n_m, dike_offset_m=width, half_cell_m=half_cell_m)
        z = np.maximum(base, np.maximum(right, left))
        behind_right = float(self.params.dem.land_behind_right_m.value)
        margin = float(self.params.reach.land_margin_m.value)
        outside = (s_m < 0) | (s_m > self.length_m) | (n_m < -behind_right) | (n_m > width + margin)
        return np.where(outside, np.nan, z)

    @renamed(s="s_m")
    def dike_toe_offset_m(self, s_m, *, side: str = "right", toward: str = "river"):
        """Distance of a dike toe from the right dike crest line (m), where the trapezoid meets the ground."""
        width = self.spacing_m(s_m)
        crest = self.crest_m(s_m)
        if toward == "river":
            ground = self.ground_without_dikes_m(s_m, 0.0 if side == "right" else width)
        else:
            ground = self.land_m(s_m)
        half = self.crest_width_m / 2 + (crest - ground) * self.side_slope
        centre = 0.0 if side == "right" else width
        sign = 1.0 if (side == "right") == (toward == "river") else -1.0
        return centre + sign * half

    # --- hydraulics of the compound section (for the design level and the fallback rating) -----
    @renamed(s="s_m")
    def section_profile(self, s_m: float, step_m: float = 10.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Offsets n (m), ground (m) and Manning n between the two dike crest lines at chainage s."""
        width = float(self.spacing_m(s_m))
        n_m = np.arange(step_m / 2, width, step_m)
        z = self.ground_without_dikes_m(np.full_like(n_m, s_m), n_m)
        right, left = self.channel_edges_m(s_m)
        manning = np.where((n_m >= right) & (n_m <= left), self.fit.manning_n, self.floodplain_n)
        return n_m, z, manning

    @renamed(s="s_m")
    def section_discharge_m3s(self, s_m: float, stage_m: float, step_m: float = 10.0) -> float:
        """Uniform-flow discharge (m³/s) at a stage, by divided conveyance over strips.

        Below the natural levee only the channel conveys: the low dike-toe zones of the floodplain
        are not connected to the river until the water overtops the lip.
        """
        n_m, z, manning = self.section_profile(s_m, step_m)
        depth = np.maximum(stage_m - z, 0.0)
        if stage_m < float(self.lip_m(s_m)):
            right, left = self.channel_edges_m(s_m)
            depth = np.where((n_m >= right) & (n_m <= left), depth, 0.0)
        return float(np.sum(depth ** (5 / 3) / manning) * step_m * np.sqrt(self.slope))

    @renamed(s="s_m")
    def normal_stage_m(self, s_m: float, discharge_m3s: float) -> float:
        """Stage (m) at which the compound section at chainage s carries ``discharge_m3s`` in uniform flow."""
        discharge_m3s = require_discharge_m3s(discharge_m3s, positive=True)
        low = float(self.bed_m(s_m)) + 1e-6
        high = low + 30.0
        if self.section_discharge_m3s(s_m, high) < discharge_m3s:
            raise InputError(f"discharge {discharge_m3s:.0f} m³/s exceeds what the section at chainage "
                             f"{s_m:.0f} m can carry below {high:.1f} m")
        return float(brentq(lambda z: self.section_discharge_m3s(s_m, z) - discharge_m3s, low, high, xtol=1e-4))


# --------------------------------------------------------------------------------------------
# the DEM raster
# --------------------------------------------------------------------------------------------
def build_dem(terrain: ReachTerrain, resolution_m: float):
    """The reach DEM as a CF-annotated ``xarray.DataArray`` (y descending, x ascending), metres.

    Cells outside the modelled area (beyond the reach ends or the land margins) are NaN.
    """
    import xarray as xr
    from pyproj import CRS

    if resolution_m <= 0:
        raise InputError(f"DEM resolution {resolution_m} m must be positive")
    fr = terrain.frame
    behind = float(terrain.params.dem.land_behind_right_m.value)
    margin = float(terrain.params.reach.land_margin_m.value)
    # bounding box of the modelled area in projected coordinates
    s = np.linspace(0, terrain.length_m, 200)
    outer_right = terrain.frame.to_xy(s, np.full_like(s, -behind))
    outer_left = terrain.frame.to_xy(s, terrain.spacing_m(s) + margin)
    xs = np.concatenate([outer_right[0], outer_left[0]])
    ys = np.concatenate([outer_right[1], outer_left[1]])
    r = float(resolution_m)
    x0 = np.floor(xs.min() / r) * r
    x1 = np.ceil(xs.max() / r) * r
    y0 = np.floor(ys.min() / r) * r
    y1 = np.ceil(ys.max() / r) * r
    x = np.arange(x0 + r / 2, x1, r)
    y = np.arange(y1 - r / 2, y0, -r)
    if x.size * y.size > 50_000_000:
        raise InputError(f"DEM at {r} m would have {x.size * y.size:,} cells; choose a coarser resolution")
    xx, yy = np.meshgrid(x, y)
    ss, nn = fr.to_sn(xx, yy)
    # half the cell's extent across the dike: the crest line crosses every cell within this distance
    nx = np.interp(ss, fr.s_m, fr.nx)
    ny = np.interp(ss, fr.s_m, fr.ny)
    half_cell = r / 2 * (np.abs(nx) + np.abs(ny))
    z = terrain.elevation_m(ss, nn, half_cell_m=half_cell)
    crs = CRS.from_user_input(terrain.params.crs)
    da = xr.DataArray(
        z.astype(np.float64), dims=("y", "x"), coords={"y": y, "x": x}, name="elevation",
        attrs={**VARIABLES["elevation"], "long_name": "ground elevation above datum (Dagu datum assumed)",
               "grid_mapping": "crs", "resolution_m": r},
    )
    da["x"].attrs = dict(VARIABLES["x"])
    da["y"].attrs = dict(VARIABLES["y"])
    da.attrs["crs_wkt"] = crs.to_wkt()
    da = da.assign_coords(crs=xr.DataArray(np.int32(0), attrs=crs.to_cf()))
    return da


def write_dem(da, path) -> None:
    """Write the DEM as CF NetCDF through :func:`floodtwin.results.write_result` (compressed float64:
    float32 on disk is not used, elevations need mm)."""
    from floodtwin.results import write_result

    ds = da.to_dataset()
    ds.attrs["title"] = "floodtwin reach DEM"
    write_result(ds, path, source="floodtwin.reach.terrain.build_dem from the reach parameter file")
