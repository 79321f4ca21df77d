"""Answering a discharge from the library: interpolation between the two neighbouring members.

The water *level* is interpolated, not the depth: per cell the stored level above the bed (the
depth where wet, and below zero on dry land, the height by which the nearest water surface stayed
under the ground) is interpolated linearly in discharge, and the cell is wet where the result
stands above the bed. So the wet edge moves across the land between two members instead of every
wet cell of the higher member getting a thin film. Speeds and hazard ratings are interpolated
linearly where the cell is wet; arrival times linearly where both members wet the cell, else the
higher member's (the first water comes no earlier than at the higher flow: the earlier time, on the
safe side). Villages, the inundated area and the hazard are then taken from these cells as the risk
layers take them from a run (worst cell within the village radius, wet above ``wet_depth_m``);
stage, dike levels, toe depths and works speeds are interpolated linearly in discharge.

Where the floodplain starts to fill between two members (the lower one nearly dry, the upper one wet:
:data:`ONSET_AREA_FRACTION`), no interpolation knows at which flow the river spills over the natural
levee: between 8,000 (dry) and 9,000 m³/s (120 km²) the water-level interpolation gave 77 km² and 3
villages flooded at 8,500 where the full run floods 1.8 km² and none (benchmarks/RESULTS.md). There the
answer is marked ``onset`` and carries the upper member whole (the screen shows it as the flood to
prepare for, and says so); ``run_scenario`` does not take it as the answer (it says why and answers
from the 1D model; ``--full`` runs the model at the flow asked).

Reads with netCDF4 alone (no xarray), only the two members needed: the quick answer's budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from floodtwin.errors import DataError, InputError, require_discharge_m3s

__all__ = ["ONSET_AREA_FRACTION", "Library", "LibraryAnswer", "StaleLibraryError", "open_library"]

#: a pair of neighbouring members brackets the onset of floodplain flooding when the lower member's
#: inundated area is below this fraction of the upper one's (the library's 9,000 → 10,000 m³/s pair,
#: 120 → 208 km², interpolates within 2 % of a full run; 8,000 → 9,000, 0 → 120 km², does not)
ONSET_AREA_FRACTION = 0.25


class StaleLibraryError(DataError):
    """The library no longer matches the inputs it was built from (its answer would be silently wrong)."""


@dataclass
class LibraryAnswer:
    """The library's answer for one discharge (m³/s). Cell arrays are (y, x) float32, NaN outside the
    model; ``villages``, ``segments`` and ``works``: name -> array in the library's order (``*_ids``)."""

    discharge_m3s: float
    lower_m3s: float
    upper_m3s: float
    weight: float  # 0 at the lower member, 1 at the upper
    depth_m: np.ndarray
    speed_ms: np.ndarray
    arrival_s: np.ndarray
    hazard_rating: np.ndarray
    hazard_code: np.ndarray
    stage_m: np.ndarray
    chainage_m: np.ndarray
    gauge_stage_m: float
    village_ids: list[str]
    villages: dict[str, np.ndarray]
    segment_ids: list[str]
    segments: dict[str, np.ndarray]
    works_ids: list[str]
    works: dict[str, np.ndarray]
    summary: dict[str, float]
    source: str
    timings_s: dict[str, float] = field(default_factory=dict)
    #: the flow lies between a nearly dry and a wet member: the answer is the upper member's (safe side)
    onset: bool = False

    def gap(self) -> str:
        """Why an ``onset`` answer is no interpolation: one phrase."""
        return (f"the floodplain starts to fill between the runs at {self.lower_m3s:,.0f} and {self.upper_m3s:,.0f} "
                f"m³/s, where the library cannot interpolate")

    @property
    def exact(self) -> bool:
        return self.weight in (0.0, 1.0)

    def describe(self) -> str:
        """One line: where the answer came from."""
        if self.onset:
            return (f"flood-map library ({self.source}): {self.gap()}; shown: the {self.upper_m3s:,.0f} m³/s run's "
                    f"flood, the one to prepare for (--full runs the model at {self.discharge_m3s:,.0f} m³/s)")
        if self.exact:
            return f"flood-map library ({self.source}): the full coupled 1D–2D run at {self.discharge_m3s:,.0f} m³/s"
        return (f"flood-map library ({self.source}): full coupled 1D–2D runs at {self.lower_m3s:,.0f} and "
                f"{self.upper_m3s:,.0f} m³/s, water level interpolated to {self.discharge_m3s:,.0f} m³/s")


class Library:
    """An open library file: its discharges, attributes and grid; :meth:`lookup` answers a discharge."""

    def __init__(self, path: str | Path):
        import netCDF4

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: no flood-map library (build it: floodtwin library build)")
        try:
            self._nc = netCDF4.Dataset(self.path)
            self._nc.set_auto_mask(False)
            self.attrs = {k: self._nc.getncattr(k) for k in self._nc.ncattrs()}
            self.discharges_m3s = np.asarray(self._nc["discharge"][:], float)
            self.x_m = np.asarray(self._nc["x"][:], float)
            self.y_m = np.asarray(self._nc["y"][:], float)
            self.chainage_m = np.asarray(self._nc["chainage"][:], float)
            self.village_ids = [str(v) for v in self._nc["village"][:]]
            self.segment_ids = [str(v) for v in self._nc["segment"][:]]
            self.works_ids = [str(v) for v in self._nc["works"][:]]
        except (OSError, KeyError, IndexError) as exc:
            raise DataError(f"{self.path}: not a flood-map library ({exc})") from None
        self._static: dict[str, np.ndarray] = {}

    def close(self) -> None:
        self._nc.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def reach(self) -> str:
        return str(self.attrs.get("reach", "huayuankou"))

    @property
    def resolution_m(self) -> float:
        return float(self.attrs["resolution_m"])

    @property
    def duration_h(self) -> float | None:
        d = self.attrs.get("hydrograph_duration_h", "design")
        return None if d == "design" else float(d)

    def stale_reasons(self) -> list[str]:
        """What changed since the library was built (empty: fresh); see ``library.inputs``."""
        from floodtwin.library.inputs import stale_reasons

        return stale_reasons(self.attrs, self.reach, self.resolution_m, self.duration_h)

    def require_fresh(self) -> None:
        reasons = self.stale_reasons()
        if reasons:
            raise StaleLibraryError(f"{self.path}: stale flood-map library ({'; '.join(reasons)} since it was built "
                                    f"on {self.attrs.get('built_at', '?')}): rebuild it (floodtwin library build)")

    def _get(self, name: str) -> np.ndarray:
        if name not in self._static:
            self._static[name] = np.asarray(self._nc[name][:])
        return self._static[name]

    def bracket(self, discharge_m3s: float) -> tuple[int, int, float]:
        """(lower index, upper index, weight) of the members around ``discharge_m3s``; InputError outside."""
        q = require_discharge_m3s(discharge_m3s, name="discharge", positive=True)
        qs = self.discharges_m3s
        if not qs[0] <= q <= qs[-1]:
            raise InputError(f"discharge {q:,.0f} m³/s is outside the flood-map library "
                             f"({qs[0]:,.0f}–{qs[-1]:,.0f} m³/s)")
        hi = int(np.searchsorted(qs, q, side="left"))
        if qs[hi] == q:
            return hi, hi, 0.0
        lo = hi - 1
        return lo, hi, float((q - qs[lo]) / (qs[hi] - qs[lo]))

    def _pair(self, name: str, lo: int, hi: int, w: float) -> tuple[np.ndarray, np.ndarray]:
        a = np.asarray(self._nc[name][lo], np.float32)
        b = a if hi == lo else np.asarray(self._nc[name][hi], np.float32)
        return a, b

    def _line(self, name: str, lo: int, hi: int, w: float) -> np.ndarray:
        v = self._get(name)
        return np.asarray(v[lo], float) * (1.0 - w) + np.asarray(v[hi], float) * w

    def lookup(self, discharge_m3s: float, *, onset_fraction: float = ONSET_AREA_FRACTION) -> LibraryAnswer:
        """The answer at ``discharge_m3s`` (m³/s) by interpolation between the neighbouring members (see
        the module docstring); InputError outside the library's range. ``onset_fraction``: below this ratio
        of the two members' inundated areas the upper member is taken whole (0: always interpolate, for
        studies of the interpolation itself)."""
        from floodtwin.risk.hazard import HAZARD_CLASSES, hazard_class_code

        t0 = time.perf_counter()
        lo, hi, w = self.bracket(discharge_m3s)
        q = float(discharge_m3s)
        wet_m = float(self.attrs["wet_depth_m"])
        h0, h1 = self._pair("level_above_bed", lo, hi, w)
        onset = hi != lo and np.count_nonzero(h0 > wet_m) < onset_fraction * np.count_nonzero(h1 > wet_m)
        if onset:
            w = 1.0  # the upper member, whole (see the module docstring)
        level = h0 * np.float32(1.0 - w) + h1 * np.float32(w)
        depth = np.maximum(level, np.float32(0.0))  # NaN stays NaN (outside the model)
        wet = depth > 0.0
        v0, v1 = self._pair("max_speed", lo, hi, w)
        speed = np.where(wet, np.nan_to_num(v0) * (1.0 - w) + np.nan_to_num(v1) * w, np.where(np.isfinite(depth), 0.0, np.nan)).astype(np.float32)
        r0, r1 = self._pair("max_hazard_rating", lo, hi, w)
        hr = np.where(wet, np.nan_to_num(r0) * (1.0 - w) + np.nan_to_num(r1) * w, np.where(np.isfinite(depth), 0.0, np.nan)).astype(np.float32)
        a0, a1 = self._pair("arrival_time", lo, hi, w)
        both = np.isfinite(a0) & np.isfinite(a1)
        arrival = np.where(both, a0 * (1.0 - w) + a1 * w, np.where(np.isfinite(a1), a1, a0)).astype(np.float32)
        arrival[~(depth > wet_m)] = np.nan
        code = hazard_class_code(hr, np.nan_to_num(depth, nan=0.0))
        t_cells = time.perf_counter()
        villages = self._villages(depth, speed, arrival, hr, lo, hi, w, wet_m)
        segments = {"max_water_level_m": self._line("segment_max_water_level_m", lo, hi, w),
                    "toe_depth_m": self._line("segment_toe_depth_m", lo, hi, w),
                    "time_min_freeboard_s": self._line("segment_time_min_freeboard_s", lo, hi, w),
                    "crest_elevation_m": np.asarray(self._get("segment_crest_elevation_m")[lo], float)}
        segments["toe_depth_m"] = np.where(segments["toe_depth_m"] > wet_m, segments["toe_depth_m"], 0.0)
        segments["freeboard_m"] = segments["crest_elevation_m"] - segments["max_water_level_m"]
        works = {"max_speed_ms": self._line("works_max_speed_ms", lo, hi, w)}
        summary = self._summary(depth, code, wet_m, HAZARD_CLASSES)
        source = f"{self.path.name}, {len(self.discharges_m3s)} members {self.discharges_m3s[0]:,.0f}–" \
                 f"{self.discharges_m3s[-1]:,.0f} m³/s, {self.resolution_m:g} m"
        t1 = time.perf_counter()
        return LibraryAnswer(
            discharge_m3s=q, lower_m3s=float(self.discharges_m3s[lo]), upper_m3s=float(self.discharges_m3s[hi]),
            weight=w if hi != lo and not onset else (0.0 if hi == lo else 1.0), depth_m=depth, speed_ms=speed, arrival_s=arrival, hazard_rating=hr,
            hazard_code=code, stage_m=self._line("max_stage", lo, hi, w), chainage_m=self.chainage_m,
            gauge_stage_m=float(self._line("gauge_stage", lo, hi, w)), village_ids=self.village_ids,
            villages=villages, segment_ids=self.segment_ids, segments=segments, works_ids=self.works_ids, works=works,
            summary=summary, source=source, onset=bool(onset),
            timings_s={"cells": t_cells - t0, "objects": t1 - t_cells, "lookup": t1 - t0})

    def _villages(self, depth, speed, arrival, hr, lo, hi, w, wet_m) -> dict[str, np.ndarray]:
        """Per village: the worst cell within the village radius (as ``risk.village_risk``)."""
        from floodtwin.risk.hazard import hazard_class_code, hazard_class_name

        cells = self._get("village_cells")
        flat = {"d": depth.ravel(), "v": speed.ravel(), "a": arrival.ravel(), "h": hr.ravel()}

        def worst(key: str, how) -> np.ndarray:
            out = np.full(len(cells), np.nan)
            for n, c in enumerate(cells):
                vals = flat[key][c[c >= 0]]
                vals = vals[np.isfinite(vals)]
                if vals.size:
                    out[n] = float(how(vals))
            return out

        d = np.nan_to_num(worst("d", np.max), nan=0.0)
        flooded = d > wet_m
        arrival_v = np.where(flooded, worst("a", np.min), np.nan)
        rating = np.nan_to_num(worst("h", np.max), nan=0.0)
        return {"max_depth_m": d, "max_speed_ms": np.nan_to_num(worst("v", np.max), nan=0.0),
                "arrival_time_s": arrival_v, "hazard_rating": rating,
                "hazard_class": hazard_class_name(hazard_class_code(rating, d)), "flooded": flooded,
                "duration_above_s": np.where(flooded, self._line("village_duration_above_s", lo, hi, w), 0.0)}

    def _summary(self, depth, code, wet_m, classes) -> dict[str, float]:
        """Inundated area (km²) and area per hazard class, between the dikes and behind them."""
        inside = self._get("between_dikes").astype(bool)
        cell_km2 = float(self.attrs["cell_size_m"]) ** 2 / 1e6
        d = np.nan_to_num(depth, nan=0.0)
        out: dict[str, float] = {}
        for where, mask in (("floodplain", inside), ("behind_dikes", ~inside)):
            wet = (d > wet_m) & mask
            out[f"{where}_inundated_area_km2"] = float(wet.sum()) * cell_km2
            out[f"{where}_max_depth_volume_m3"] = float(d[wet].sum()) * cell_km2 * 1e6
            for c in range(1, len(classes)):
                out[f"{where}_area_{classes[c]}_km2"] = float(np.count_nonzero((code == c) & mask)) * cell_km2
        return out


def open_library(path: str | Path | None = None, *, reach: str = "huayuankou", resolution_m: float = 50.0) -> Library:
    """The library at ``path`` (default: the reach's, ``library.inputs.default_library_path``)."""
    from floodtwin.library.inputs import default_library_path

    return Library(path if path is not None else default_library_path(reach, resolution_m))
