"""Cross-sections of the 1D channel model: the :class:`Sections` of a reach with their property
tables, their readers (arrays, CSV or GeoPackage of points, the reach DEM) and the reach's
calibration file.

Sections are station–elevation profiles across the river (station rising from the left bank looking
downstream, i.e. from the north dike to the south dike at Huayuankou), with bank stations splitting
them into left overbank / channel / right overbank, a Manning n for each, and the dike crests at
both ends. They come from arrays (:meth:`Sections.from_arrays`), a CSV or GeoPackage of points
(:func:`read_sections`) or the reach DEM (:func:`sections_from_reach`). Property tables vs stage
are built once by numba (:mod:`floodtwin.hydraulics.kernels1d`). Split out of ``channel.py`` by
issue 13; the runs are in :mod:`floodtwin.hydraulics.channel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Sequence

import numpy as np
from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from floodtwin.config import StrictModel
from floodtwin.errors import DataError, InputError
from floodtwin.hydraulics import kernels1d as k1
from floodtwin.hydraulics._codes import CHEZY, MANNING

__all__ = [
    "CalibrationFile", "END_ZONE_M", "FILL_RAMP_M", "MANNING_N_RANGE", "SECTION_COLUMNS", "Sections",
    "TABLE_HEADROOM_M", "TABLE_LEVELS", "calibration_path", "check_no_crossing", "load_calibration", "read_sections", "sections_from_reach",
]

#: stage levels per property table and head room above the highest point (m)
TABLE_LEVELS = 801
TABLE_HEADROOM_M = 8.0
#: default stage range (m) over which ground behind an overtopped natural levee fills (see kernels1d);
#: an estimate [E]: the dike-toe zone of the Huayuankou floodplain lies up to 2 m below the lip
FILL_RAMP_M = 1.0
#: cuts this close (m) to a reach end may be dropped when they leave the DEM or the dike posts
END_ZONE_M = 2000.0

#: a plausible Manning n of a river channel or floodplain (s m^-1/3): Chow (1959) Table 5-6 spans
#: 0.010 (smooth earth channel) to 0.15 (dense brush); the limits leave room on both sides
MANNING_N_RANGE = (0.003, 0.2)

_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class CalibrationFile(StrictModel):
    """The calibration file (written by :func:`floodtwin.hydraulics.calibration.write_calibration`):
    what the 1D model reads (every key optional: a file may fix only some)
    and ``fit_info``, the record of the fit, which the model does not read."""

    channel_n: _Number | None = None
    floodplain_n: _Number | None = None
    bed_offset_m: _Number | None = None
    fit_info: dict[str, Any] | None = None

    @field_validator("channel_n", "floodplain_n")
    @classmethod
    def _plausible_n(cls, v: float | None) -> float | None:
        lo, hi = MANNING_N_RANGE
        if v is not None and not lo <= v <= hi:
            raise PydanticCustomError("manning_n", f"not a plausible Manning n ({lo} to {hi} s m^-1/3)")
        return v

    def parameters(self) -> dict[str, float]:
        """The fitted values the model uses, those that are set."""
        return {k: float(v) for k in ("channel_n", "floodplain_n", "bed_offset_m")
                if (v := getattr(self, k)) is not None}


@dataclass
class Sections:
    """Cross-sections of a reach, ordered downstream, with their property tables.

    ``station_m``/``elevation_m`` hold all points, section i being ``offsets[i]:offsets[i+1]``;
    ``bank_left``/``bank_right`` are point indices of the bank stations; ``roughness[i]`` = Manning n
    of (left overbank, channel, right overbank); ``distance_m`` is the along-river distance used for
    the hydraulics, ``chainage_m`` the reach chainage results are reported at (they coincide unless
    the sections come from a reach whose chainage runs along a dike).
    """

    section_id: list[str]
    chainage_m: np.ndarray
    distance_m: np.ndarray
    station_m: np.ndarray
    elevation_m: np.ndarray
    offsets: np.ndarray
    bank_left: np.ndarray
    bank_right: np.ndarray
    roughness: np.ndarray
    crest_left_m: np.ndarray
    crest_right_m: np.ndarray
    friction_law: int = MANNING
    lines: list | None = None  # shapely LineStrings of the cuts (reach CRS), when known
    meta: dict = field(default_factory=dict)
    fill_ramp_m: float = FILL_RAMP_M
    #: energy coefficient alpha from divided conveyance (True) or 1: in a compound section alpha
    #: jumps from 1 to ~4 within centimetres as the floodplain opens, which can fold the energy
    #: equation (several subcritical stages for one discharge); reach sections use 1
    divided_alpha: bool = True
    _tables: Any = field(default=None, repr=False)
    _perimeter: Any = field(default=None, repr=False)

    # ---------------------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, profiles: Sequence[tuple[np.ndarray, np.ndarray]], chainage_m: Sequence[float], *,
                    banks_m: Sequence[tuple[float, float]], manning_n: Sequence[tuple[float, float, float]] | tuple,
                    section_id: Sequence[str] | None = None, crest_m: Sequence[tuple[float, float]] | None = None,
                    distance_m: Sequence[float] | None = None, lines: list | None = None,
                    friction: str = "manning", fill_ramp_m: float = FILL_RAMP_M,
                    divided_alpha: bool = True) -> "Sections":
        """Sections from (station m, elevation m) profiles, chainage (m, rising downstream), bank stations
        (left, right) per section (m; a bank station between points gets a point there), Manning n
        (left, channel, right) per section or one triple for all, and dike crests (left, right; NaN =
        none). ``friction="chezy"`` reads the roughness as a Chezy C (m^1/2 s-1) instead."""
        n = len(profiles)
        ids = [str(s) for s in section_id] if section_id is not None else [f"XS{i + 1:03d}" for i in range(n)]
        if len(ids) != n or len(chainage_m) != n or len(banks_m) != n:
            raise InputError("sections: profiles, chainage, bank stations and ids must have one entry per section")
        if n < 2:
            raise InputError("sections: at least two cross-sections are needed")
        rough = np.asarray(manning_n, float)
        if rough.ndim == 1:
            rough = np.tile(rough, (n, 1))
        if rough.shape != (n, 3):
            raise InputError(f"sections: manning_n must be (left, channel, right) per section, got shape {rough.shape}")
        crest = np.full((n, 2), np.nan) if crest_m is None else np.asarray(crest_m, float).reshape(n, 2)
        stations, elevations, offsets, bl, br = [], [], [0], [], []
        for i, ((sta, elev), (b_left, b_right)) in enumerate(zip(profiles, banks_m)):
            sta = np.asarray(sta, float)
            elev = np.asarray(elev, float)
            sid = ids[i]
            if sta.ndim != 1 or sta.shape != elev.shape or sta.size < 3:
                raise DataError(f"section {sid}: needs at least 3 station-elevation points, got {sta.size}")
            if not (np.all(np.isfinite(sta)) and np.all(np.isfinite(elev))):
                raise DataError(f"section {sid}: station and elevation must be finite numbers")
            if np.any(np.diff(sta) <= 0):
                raise DataError(f"section {sid}: stations must rise strictly across the section")
            if not sta[0] <= b_left < b_right <= sta[-1]:
                raise DataError(f"section {sid}: bank stations ({b_left:g}, {b_right:g}) must satisfy "
                                f"{sta[0]:g} <= left < right <= {sta[-1]:g}")
            for b in (b_left, b_right):
                if not np.any(np.isclose(sta, b, rtol=0, atol=1e-9)):
                    j = int(np.searchsorted(sta, b))
                    sta = np.insert(sta, j, b)
                    elev = np.insert(elev, j, np.interp(b, sta[np.arange(sta.size) != j], elev))
            il = int(np.argmin(np.abs(sta - b_left)))
            ir = int(np.argmin(np.abs(sta - b_right)))
            if elev[il:ir + 1].min() > elev.min() + 1e-9:
                raise DataError(f"section {sid}: no wet area in the channel at the lowest stage: its lowest point "
                                f"({elev.min():.2f} m) lies outside the bank stations")
            if np.any(rough[i] <= 0):
                raise DataError(f"section {sid}: roughness must be positive, got {tuple(rough[i])}")
            bl.append(offsets[-1] + il)
            br.append(offsets[-1] + ir)
            stations.append(sta)
            elevations.append(elev)
            offsets.append(offsets[-1] + sta.size)
        chain = np.asarray(chainage_m, float)
        dist = chain.copy() if distance_m is None else np.asarray(distance_m, float)
        for name, arr in (("chainage", chain), ("distance", dist)):
            bad = np.flatnonzero(np.diff(arr) <= 0)
            if bad.size:
                j = int(bad[0]) + 1
                raise DataError(f"section {ids[j]}: non-monotonic {name} {arr[j]:g} m after {arr[j - 1]:g} m "
                                f"at section {ids[j - 1]}")
        law = {"manning": MANNING, "chezy": CHEZY}.get(friction)
        if law is None:
            raise InputError(f"friction {friction!r}: expected 'manning' or 'chezy'")
        if not fill_ramp_m > 0:
            raise InputError(f"fill_ramp_m = {fill_ramp_m} must be positive (m)")
        sec = cls(ids, chain, dist, np.concatenate(stations), np.concatenate(elevations),
                  np.asarray(offsets, np.int64), np.asarray(bl, np.int64), np.asarray(br, np.int64),
                  rough, crest[:, 0].copy(), crest[:, 1].copy(), law, lines, fill_ramp_m=float(fill_ramp_m),
                  divided_alpha=bool(divided_alpha))
        if lines is not None:
            check_no_crossing(lines, ids)
        return sec

    # ---------------------------------------------------------------------------------------
    @property
    def n_sections(self) -> int:
        return len(self.section_id)

    @property
    def dx_m(self) -> np.ndarray:
        """Reach lengths (m) between consecutive sections."""
        return np.diff(self.distance_m)

    def profile(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(station m, elevation m) of section i."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.station_m[a:b], self.elevation_m[a:b]

    @property
    def thalweg_m(self) -> np.ndarray:
        """Lowest bed elevation (m) of each section."""
        return np.array([self.profile(i)[1].min() for i in range(self.n_sections)])

    @property
    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tables (n, levels, 8), z0_m, dz_m): area, top width, conveyance, alpha, momentum area and
        the node slopes of area, conveyance and momentum area vs stage (see kernels1d's columns); the
        wetted perimeter (n, levels) is kept apart, in ``perimeter_table``."""
        if self._tables is None:
            z0 = self.thalweg_m
            top = np.array([self.profile(i)[1].max() for i in range(self.n_sections)]) + TABLE_HEADROOM_M
            dz = (top - z0) / (TABLE_LEVELS - 1)
            out = np.empty((self.n_sections, TABLE_LEVELS, k1.N_TABLE))
            perimeter = np.empty((self.n_sections, TABLE_LEVELS))
            k1.build_section_tables(self.station_m, self.elevation_m, self.offsets, self.bank_left, self.bank_right,
                                    np.ascontiguousarray(self.roughness), z0, dz, self.friction_law, self.fill_ramp_m, out,
                                    perimeter)
            self._perimeter = perimeter
            if not self.divided_alpha:
                out[:, :, k1.T_ALPHA] = 1.0
            k1.pchip_slopes(out, dz, k1.T_AREA, k1.T_DAREA)
            k1.pchip_slopes(out, dz, k1.T_CONVEYANCE, k1.T_DCONVEYANCE)
            k1.pchip_slopes(out, dz, k1.T_MOM_AREA, k1.T_DMOM_AREA)
            self._tables = (out, z0, dz)
        return self._tables

    @property
    def perimeter_table(self) -> np.ndarray:
        """Wetted perimeter (m) of each section at the stages of ``tables`` (n, levels)."""
        self.tables
        return self._perimeter

    def properties(self, i: int, stage_m: float) -> dict[str, float]:
        """Area (m²), top width (m), wetted perimeter (m), conveyance (m³/s) and alpha of section i at a
        stage (m)."""
        t, z0, dz = self.tables
        z = float(stage_m)
        return {"area_m2": float(k1.lookup_smooth(t, z0, dz, i, z, k1.T_AREA, k1.T_DAREA)[0]),
                "top_width_m": float(k1.lookup(t, z0, dz, i, z, k1.T_WIDTH)[0]),
                "wetted_perimeter_m": float(np.interp(z, z0[i] + dz[i] * np.arange(TABLE_LEVELS), self.perimeter_table[i])),
                "conveyance_m3s": float(k1.lookup_smooth(t, z0, dz, i, z, k1.T_CONVEYANCE, k1.T_DCONVEYANCE)[0]),
                "alpha": float(k1.lookup(t, z0, dz, i, z, k1.T_ALPHA)[0])}

    def normal_stage_m(self, i: int, discharge_m3s: float, slope: float) -> float:
        """Stage (m) of uniform flow (Manning/Chezy) in section i for a discharge and energy slope."""
        if not (discharge_m3s > 0 and slope > 0):  # no 100,000 m³/s cap in the engine (see steady_stage)
            raise InputError(f"normal depth needs positive discharge and slope, got {discharge_m3s}, {slope}")
        t, z0, dz = self.tables
        return float(k1.stage_for_conveyance(t, z0, dz, i, discharge_m3s / np.sqrt(slope)))

    def bed_slope(self) -> float:
        """Mean thalweg slope (m/m) over the last reach, for a normal-depth boundary."""
        z = self.thalweg_m
        return float((z[-2] - z[-1]) / self.dx_m[-1])

    def with_roughness(self, channel_n: float | None = None, floodplain_n: float | None = None,
                       bed_offset_m: float = 0.0) -> "Sections":
        """A copy with new channel / floodplain roughness and the channel bed (points strictly between
        the bank stations) shifted by ``bed_offset_m`` (m; negative lowers the bed)."""
        rough = self.roughness.copy()
        if channel_n is not None:
            rough[:, 1] = channel_n
        if floodplain_n is not None:
            rough[:, 0] = floodplain_n
            rough[:, 2] = floodplain_n
        elev = self.elevation_m.copy()
        if bed_offset_m:
            for i in range(self.n_sections):
                elev[self.bank_left[i] + 1:self.bank_right[i]] += bed_offset_m
        return Sections(self.section_id, self.chainage_m, self.distance_m, self.station_m, elev, self.offsets,
                        self.bank_left, self.bank_right, rough, self.crest_left_m, self.crest_right_m,
                        self.friction_law, self.lines, dict(self.meta), fill_ramp_m=self.fill_ramp_m,
                        divided_alpha=self.divided_alpha)

    def index_at(self, chainage_m: float) -> int:
        """Index of the section nearest a chainage (m)."""
        return int(np.argmin(np.abs(self.chainage_m - float(chainage_m))))


def check_no_crossing(lines: list, ids: list[str]) -> None:
    """Raise a DataError naming the first two section lines that cross each other."""
    from shapely import STRtree

    tree = STRtree(lines)
    for i, line in enumerate(lines):
        for j in tree.query(line, predicate="intersects"):
            if j > i:
                raise DataError(f"section {ids[i]}: crosses section {ids[int(j)]}")


# --------------------------------------------------------------------------------------------
# reading sections from a file
# --------------------------------------------------------------------------------------------
SECTION_COLUMNS = ("section_id", "chainage_m", "station_m", "elevation_m", "bank_left_m", "bank_right_m",
                   "n_left", "n_channel", "n_right")


def read_sections(path: str | Path, layer: str | None = None) -> Sections:
    """Sections from a CSV or a GeoPackage point layer of station–elevation points.

    Columns: section_id, chainage_m, station_m, elevation_m, bank_left_m, bank_right_m, n_left,
    n_channel, n_right, optional crest_left_m, crest_right_m, distance_m; per-section columns repeat
    on each point of the section. A GeoPackage's point geometry (or x_m, y_m columns in a CSV) gives
    the section lines, which must not cross.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: sections file not found")
    if path.suffix.lower() == ".gpkg":
        import pyogrio

        try:
            df = pyogrio.read_dataframe(path, layer=layer)
        except Exception as exc:
            raise DataError(f"{path}: cannot read sections layer: {str(exc).splitlines()[0]}") from None
        df["x_m"] = df.geometry.x
        df["y_m"] = df.geometry.y
        df = pd.DataFrame(df.drop(columns="geometry"))
    else:
        try:
            df = pd.read_csv(path)
        except Exception as exc:
            raise DataError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None
    missing = [c for c in SECTION_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    df["section_id"] = df["section_id"].astype(str)
    order = list(dict.fromkeys(df["section_id"]))
    profiles, chain, banks, rough, crest, dist, lines = [], [], [], [], [], [], []
    has_xy = "x_m" in df.columns and "y_m" in df.columns
    for sid in order:
        g = df[df["section_id"] == sid]
        for col in ("chainage_m", "bank_left_m", "bank_right_m", "n_left", "n_channel", "n_right"):
            if g[col].nunique() != 1:
                raise DataError(f"{path}: section {sid}: column {col} differs between its points")
        g = g.sort_values("station_m", kind="stable")
        try:
            profiles.append((g["station_m"].to_numpy(float), g["elevation_m"].to_numpy(float)))
        except ValueError:
            raise DataError(f"{path}: section {sid}: station_m and elevation_m must be numbers") from None
        first = g.iloc[0]
        chain.append(float(first["chainage_m"]))
        banks.append((float(first["bank_left_m"]), float(first["bank_right_m"])))
        rough.append((float(first["n_left"]), float(first["n_channel"]), float(first["n_right"])))
        crest.append((float(first.get("crest_left_m", np.nan)), float(first.get("crest_right_m", np.nan))))
        dist.append(float(first["distance_m"]) if "distance_m" in g.columns else float(first["chainage_m"]))
        if has_xy:
            from shapely.geometry import LineString

            xy = g[["x_m", "y_m"]].to_numpy(float)
            lines.append(LineString(xy) if len(xy) >= 2 else None)
    try:
        return Sections.from_arrays(profiles, chain, banks_m=banks, manning_n=rough, section_id=order, crest_m=crest,
                                    distance_m=dist, lines=lines if has_xy else None)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------------------------
# sections cut from the reach DEM
# --------------------------------------------------------------------------------------------
def sections_from_reach(reach, spacing_m: float = 250.0, *, channel_n: float | None = None,
                        floodplain_n: float | None = None, bed_offset_m: float | None = None,
                        point_spacing_m: float | None = None, calibration: str | Path | None | bool = None,
                        fill_ramp_m: float | None = None) -> Sections:
    """Cross-sections cut from the reach DEM perpendicular to the centerline every ``spacing_m`` (m).

    Each cut runs from the left (north) dike crest to the right (south) dike crest, sampled every
    ``point_spacing_m`` (default half the DEM cell) by bilinear interpolation; the bank stations are
    where it crosses the channel polygon, the crests are the dikes layer's ``crest_elevation_m`` of
    the segments it meets. ``chainage_m`` is the reach chainage (along the right dike) of the cut's
    right end; ``distance_m`` (the hydraulic length) runs along the centerline. Roughness and the
    channel-bed offset come from the arguments, else the calibration file next to the reach
    (``calibration=False`` ignores it), else the reach's terrain fit (channel) and parameters
    (floodplain). The energy coefficient is taken as 1 (see ``Sections.divided_alpha``).
    """
    from scipy.interpolate import RegularGridInterpolator
    from shapely.geometry import LineString
    from shapely.ops import linemerge, unary_union

    if not spacing_m > 0:
        raise InputError(f"spacing_m = {spacing_m} must be positive")
    cal = {} if calibration is False else load_calibration(reach, calibration)
    n_channel = channel_n if channel_n is not None else cal.get("channel_n")
    n_flood = floodplain_n if floodplain_n is not None else cal.get("floodplain_n")
    offset = bed_offset_m if bed_offset_m is not None else cal.get("bed_offset_m", 0.0)
    if n_channel is None:
        n_channel = reach.terrain.fit.manning_n
    if n_flood is None:
        n_flood = reach.terrain.floodplain_n
    dem = reach.dem
    x = np.asarray(dem.x.values, float)
    y = np.asarray(dem.y.values, float)
    z = np.asarray(dem.values, float)
    if y[0] > y[-1]:
        y, z = y[::-1], z[::-1]
    sample = RegularGridInterpolator((y, x), z, bounds_error=False, fill_value=np.nan)
    res = reach.resolution_m
    step = point_spacing_m or res / 2
    centre = reach.centerline.geometry.iloc[0]
    length = centre.length
    dikes = reach.dikes
    # each dike as one line, extended straight beyond its ends so that end cuts still meet it
    extend = 3000.0
    dike_lines, crest_s, crest_z = {}, {}, {}
    dike_length = float(dikes["chainage_to_m"].max())
    for side in ("left", "right"):
        segs = dikes[dikes["dike_id"] == side].sort_values("chainage_from_m")
        if segs.empty:
            raise DataError(f"reach {reach.name}: no {side} dike in the dikes layer")
        merged = linemerge(unary_union(list(segs.geometry)))
        if merged.geom_type != "LineString":
            raise DataError(f"reach {reach.name}: the {side} dike segments do not join into one line")
        c = np.asarray(merged.coords)[:, :2]
        head = c[0] - (c[1] - c[0]) / np.hypot(*(c[1] - c[0])) * extend
        tail = c[-1] + (c[-1] - c[-2]) / np.hypot(*(c[-1] - c[-2])) * extend
        dike_lines[side] = LineString(np.vstack([head, c, tail]))
        mid = 0.5 * (segs["chainage_from_m"].to_numpy(float) + segs["chainage_to_m"].to_numpy(float))
        # crest per segment, as a function of the line's own arc length (the left dike is longer)
        scale = merged.length / max(float(segs["chainage_to_m"].max() - segs["chainage_from_m"].min()), 1.0)
        crest_s[side] = (mid - float(segs["chainage_from_m"].min())) * scale
        crest_z[side] = segs["crest_elevation_m"].to_numpy(float)
    channel_poly = reach.channel.geometry.iloc[0]
    n_cut = max(int(np.ceil((length - 2 * step) / spacing_m)), 1) + 1
    dist = np.linspace(step, length - step, n_cut)  # stay off the very ends, where a cut may miss a dike
    reach_width = 2.0 * float(np.nanmax(np.ptp(x)) + np.nanmax(np.ptp(y)))
    profiles, chain, banks, crest, lines, ids, kept_dist = [], [], [], [], [], [], []
    for d in dist:
        p = np.array(centre.interpolate(d).coords[0])
        a = np.array(centre.interpolate(max(d - 10.0, 0.0)).coords[0])
        b = np.array(centre.interpolate(min(d + 10.0, length)).coords[0])
        t = (b - a) / np.hypot(*(b - a))
        left = np.array([-t[1], t[0]])  # left of the flow direction
        cut = LineString([p + left * reach_width, p - left * reach_width])
        ends = {}
        for side in ("left", "right"):
            hit = cut.intersection(dike_lines[side])
            pts = [hit] if hit.geom_type == "Point" else list(getattr(hit, "geoms", []))
            best = None
            for pt in pts:
                dd = float(np.dot(np.array(pt.coords[0]) - p, left))
                if (dd > 0) == (side == "left") and (best is None or abs(dd) < abs(best[0])):
                    best = (dd, pt)
            if best is None:
                raise DataError(f"reach {reach.name}: the cross-section at centerline distance {d:.0f} m "
                                f"does not reach the {side} dike")
            s_dike = dike_lines[side].project(best[1]) - extend
            ends[side] = (best[0], best[1], float(np.interp(s_dike, crest_s[side], crest_z[side])), s_dike)
        d_left, p_left, crest_l, _ = ends["left"]
        d_right, p_right, crest_r, s_right = ends["right"]
        if not 0.0 <= s_right <= dike_length:
            continue  # the cut meets the right dike beyond its chainage posts (reach ends)
        span = d_left - d_right
        sta = np.linspace(0.0, span, max(int(np.ceil(span / step)), 2) + 1)
        xy = np.array(p_left.coords[0])[None, :] - left[None, :] * sta[:, None]
        elev = sample(np.column_stack([xy[:, 1], xy[:, 0]]))
        sid = f"XS{len(ids) + 1:03d}"
        if np.any(np.isnan(elev)):
            if min(d, length - d) < END_ZONE_M:
                continue  # a slanted cut at a reach end leaves the modelled area: drop it
            raise DataError(f"reach {reach.name}: section {sid} leaves the DEM")
        line = LineString(xy)
        bank_hits = line.intersection(channel_poly.boundary)
        bank_pts = [bank_hits] if bank_hits.geom_type == "Point" else list(getattr(bank_hits, "geoms", []))
        bank_sta = sorted(line.project(pt) for pt in bank_pts)
        if len(bank_sta) < 2:
            raise DataError(f"reach {reach.name}: section {sid} does not cross both channel banks")
        b_left, b_right = bank_sta[0], bank_sta[-1]
        for bsta in (b_left, b_right):
            j = int(np.searchsorted(sta, bsta))
            bxy = np.array(p_left.coords[0]) - left * bsta
            sta = np.insert(sta, j, bsta)
            elev = np.insert(elev, j, float(sample([[bxy[1], bxy[0]]])[0]))
        keep = np.concatenate([[True], np.diff(sta) > 1e-6])
        profiles.append((sta[keep], elev[keep]))
        chain.append(float(s_right))
        banks.append((b_left, b_right))
        crest.append((crest_l, crest_r))
        lines.append(line)
        ids.append(sid)
        kept_dist.append(float(d))
    if fill_ramp_m is None:
        # the reach's own estimate (floodplain.levee_fill_ramp_m); the generic default otherwise
        params = getattr(reach, "params", None)
        ramp = getattr(getattr(params, "floodplain", None), "levee_fill_ramp_m", None)
        fill_ramp_m = float(ramp.value) if ramp is not None else FILL_RAMP_M
    sec = Sections.from_arrays(profiles, chain, banks_m=banks, manning_n=(n_flood, n_channel, n_flood), section_id=ids,
                               crest_m=crest, distance_m=kept_dist, lines=lines, fill_ramp_m=fill_ramp_m,
                               divided_alpha=False)
    sec.meta.update({"reach": reach.name, "spacing_m": float(spacing_m), "channel_n": float(n_channel),
                     "floodplain_n": float(n_flood), "bed_offset_m": float(offset)})
    return sec.with_roughness(bed_offset_m=float(offset)) if offset else sec


def calibration_path(reach) -> Path:
    """The calibration file next to the reach's GeoPackage: ``<reach>.calibration.yaml``."""
    from floodtwin.config import DATA_DIR

    src = getattr(reach, "source", None)
    folder = Path(src).parent if src else DATA_DIR / "dikes"
    return folder / f"{reach.name}.calibration.yaml"


def load_calibration(reach, path: str | Path | None = None) -> dict:
    """Fitted 1D parameters (channel_n, floodplain_n, bed_offset_m) from the calibration file; an
    empty dict when there is none. The file is validated against
    :class:`floodtwin.hydraulics.calibration.CalibrationFile`: a malformed one is a ConfigError
    naming the file, line and key."""
    from floodtwin.config import load_yaml
    from floodtwin.errors import ConfigError

    p = Path(path) if path else calibration_path(reach)
    if not p.is_file():
        if path:
            raise ConfigError(f"{p}: calibration file not found")
        return {}
    return load_yaml(p, CalibrationFile).parameters()
