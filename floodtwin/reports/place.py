"""Where a report is: a lon/lat, a works and spur, or a dike chainage (post "7+350"), located on
the reach's grids, works, spurs and dikes (EPSG:4547) with the words a message names it by."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from floodtwin.reach.build import post_chainage_m, post_label

__all__ = ["REACH_MARGIN_M", "Rejected", "Place", "parse_chainage", "post_label", "ReachIndex"]

#: how far outside the reach's grids and dikes a lon/lat may lie and still be taken (m)
REACH_MARGIN_M = 2000.0


class Rejected(Exception):
    """A report that cannot be accepted; the message is the stored reason."""


@dataclass(frozen=True)
class Place:
    x: float
    y: float
    lon: float | None  # WGS 84; None for a place known only in the reach CRS (a smart stone)
    lat: float | None
    works_id: str | None
    spur_id: str | None
    dike_id: str | None
    chainage_m: float | None
    grid_id: str | None
    where_zh: str
    where_en: str


def parse_chainage(value: Any) -> float:
    """Chainage in metres from a number or a chainage post such as ``"7+350"`` (= 7350 m)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    text = str(value)
    post = post_chainage_m(text)
    if post is not None:
        return post
    try:
        out = float(text)
    except ValueError:
        raise Rejected(f"chainage {text!r}: expected metres or a post like 7+350") from None
    if not math.isfinite(out):
        raise Rejected(f"chainage {text!r}: not a finite number")
    return out




class ReachIndex:
    """The reach layers a report is checked against, with the CRS transformations it needs."""

    def __init__(self, reach: Any):
        from pyproj import Transformer

        self.grids = reach.grids
        self.works = reach.works
        self.spurs = reach.spurs
        self.dikes = reach.dikes
        self.crs = str(reach.crs)
        self._to_xy = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._to_lonlat = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        minx = min(self.grids.total_bounds[0], self.dikes.total_bounds[0])
        miny = min(self.grids.total_bounds[1], self.dikes.total_bounds[1])
        maxx = max(self.grids.total_bounds[2], self.dikes.total_bounds[2])
        maxy = max(self.grids.total_bounds[3], self.dikes.total_bounds[3])
        self.bounds = (minx - REACH_MARGIN_M, miny - REACH_MARGIN_M, maxx + REACH_MARGIN_M, maxy + REACH_MARGIN_M)
        self.grid_ids = set(self.grids["grid_id"])
        self.works_ids = set(self.works["works_id"])

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._to_lonlat.transform(x, y)
        return float(lon), float(lat)

    def grid_at(self, x: float, y: float) -> str | None:
        """The grid containing the point; an exclusive grid wins over the town grid beneath it."""
        from shapely.geometry import Point

        hits = self.grids[self.grids.geometry.covers(Point(x, y))]
        if hits.empty:
            return None
        exclusive = hits[hits["level"] == "exclusive"]
        return str((exclusive if not exclusive.empty else hits).iloc[0]["grid_id"])

    def works_at(self, x: float, y: float) -> str | None:
        from shapely.geometry import Point

        hits = self.works[self.works.geometry.covers(Point(x, y))]
        return None if hits.empty else str(hits.iloc[0]["works_id"])

    def works_on_dike(self, dike_id: str, chainage_m: float) -> str | None:
        bank = self.dikes[self.dikes["dike_id"] == dike_id]["bank"]
        bank = bank.iloc[0] if not bank.empty else dike_id
        hits = self.works[(self.works["bank"] == bank) & (self.works["chainage_from_m"] <= chainage_m)
                          & (self.works["chainage_to_m"] >= chainage_m)]
        return None if hits.empty else str(hits.iloc[0]["works_id"])

    def locate(self, raw: dict[str, Any]) -> Place:
        """Resolve a report's location fields to a place on the reach (Rejected with the reason).

        A lon/lat given beside another form (works + spur, dike + chainage) must still be a WGS 84
        position: a broken coordinate is refused, not ignored."""
        if raw.get("lon") is not None or raw.get("lat") is not None:
            try:
                lon_chk, lat_chk = float(raw["lon"]), float(raw["lat"])
            except (KeyError, TypeError, ValueError):
                raise Rejected(f"location lon={raw.get('lon')!r} lat={raw.get('lat')!r}: need both as numbers") from None
            if not (-180 <= lon_chk <= 180 and -90 <= lat_chk <= 90):  # NaN fails both comparisons
                raise Rejected(f"location lon={lon_chk} lat={lat_chk}: not a WGS 84 position")
        spur = raw.get("spur") or raw.get("spur_id")
        works_id = raw.get("works_id") or None
        if works_id is not None and works_id not in self.works_ids:
            raise Rejected(f"unknown works {works_id!r} (expected one of {', '.join(sorted(self.works_ids))})")
        spur_id = dike_id = chainage = None
        if spur is not None:
            row = self._spur(spur, works_id)
            pt = row.geometry.interpolate(0.0)  # the spur root, on the dike: where people stand
            x, y = float(pt.x), float(pt.y)
            works_id, spur_id, chainage = str(row["works_id"]), str(row["spur_id"]), float(row["chainage_m"])
            where_zh, where_en = str(row["name_zh"]), str(row["name_en"])
        elif raw.get("chainage") is not None or raw.get("chainage_m") is not None:
            dike_id = str(raw.get("dike_id") or "right")
            chainage = parse_chainage(raw.get("chainage", raw.get("chainage_m")))
            x, y, name_zh = self._on_dike(dike_id, chainage)
            works_id = works_id or self.works_on_dike(dike_id, chainage)
            where_zh, where_en = f"{name_zh}{post_label(chainage)}", f"{dike_id} dike {post_label(chainage)}"
        elif raw.get("lon") is not None or raw.get("lat") is not None:
            try:
                lon, lat = float(raw["lon"]), float(raw["lat"])
            except (KeyError, TypeError, ValueError):
                raise Rejected(f"location lon={raw.get('lon')!r} lat={raw.get('lat')!r}: need both as numbers") from None
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise Rejected(f"location lon={lon} lat={lat}: not a WGS 84 position")
            x, y = (float(v) for v in self._to_xy.transform(lon, lat))
            b = self.bounds
            if not (b[0] <= x <= b[2] and b[1] <= y <= b[3]):
                raise Rejected(f"location lon={lon} lat={lat}: outside the reach")
            works_id = works_id or self.works_at(x, y)
            near = self.nearest_dike(x, y)
            if near is not None:
                dike_id, chainage, name_zh = near
                where_zh, where_en = f"{name_zh}{post_label(chainage)}附近", f"near {dike_id} dike {post_label(chainage)}"
            else:
                where_zh = where_en = f"{lon:.5f},{lat:.5f}"
        elif works_id is not None:
            row = self.works[self.works["works_id"] == works_id].iloc[0]
            pt = row.geometry.representative_point()
            x, y = float(pt.x), float(pt.y)
            where_zh, where_en = str(row["name_zh"]), str(row["name_en"])
        elif raw.get("grid_id") in self.grid_ids and not raw.get("danger_kind"):
            # a patrol round reported for its grid as a whole (a danger always needs its place): shown at the grid's representative point
            row = self.grids[self.grids["grid_id"] == raw["grid_id"]].iloc[0]
            pt = row.geometry.representative_point()
            x, y = float(pt.x), float(pt.y)
            where_zh, where_en = str(row.get("name_zh", raw["grid_id"])), str(row.get("name_en", raw["grid_id"]))
        else:
            raise Rejected("no location: give lon/lat, works_id + spur, dike_id + chainage, or grid_id")
        grid_id = raw.get("grid_id") or None
        if grid_id is not None and grid_id not in self.grid_ids:
            raise Rejected(f"unknown grid {grid_id!r}")
        grid_id = grid_id or self.grid_at(x, y)
        lon, lat = self.to_lonlat(x, y)
        return Place(x, y, lon, lat, works_id, spur_id, dike_id, chainage, grid_id, where_zh, where_en)

    def nearest_dike(self, x: float, y: float, max_distance_m: float = REACH_MARGIN_M) -> tuple[str, float, str] | None:
        """(dike_id, chainage m, dike name) of the dike point nearest to (x, y), if within ``max_distance_m``."""
        from shapely.geometry import Point

        pt = Point(x, y)
        dist = self.dikes.geometry.distance(pt)
        i = int(dist.to_numpy().argmin())
        if float(dist.iloc[i]) > max_distance_m:
            return None
        seg = self.dikes.iloc[i]
        frac = seg.geometry.project(pt, normalized=True)
        chainage = seg["chainage_from_m"] + frac * (seg["chainage_to_m"] - seg["chainage_from_m"])
        return str(seg["dike_id"]), float(chainage), str(seg.get("name_zh", seg["dike_id"]))

    def _spur(self, spur: Any, works_id: str | None) -> Any:
        text = str(spur)
        hits = self.spurs[self.spurs["spur_id"] == text]
        if hits.empty and works_id is not None and text.isdigit():
            hits = self.spurs[(self.spurs["works_id"] == works_id) & (self.spurs["number"] == int(text))]
        if hits.empty:
            raise Rejected(f"unknown spur {text!r}" + (f" at works {works_id}" if works_id else "")
                           + " (give an id such as HYK-090, or works_id + number)")
        row = hits.iloc[0]
        if works_id is not None and row["works_id"] != works_id:
            raise Rejected(f"spur {text} belongs to works {row['works_id']}, not {works_id}")
        return row

    def _on_dike(self, dike_id: str, chainage_m: float) -> tuple[float, float, str]:
        segs = self.dikes[self.dikes["dike_id"] == dike_id]
        if segs.empty:
            raise Rejected(f"unknown dike {dike_id!r} (expected one of {', '.join(sorted(set(self.dikes['dike_id'])))})")
        hit = segs[(segs["chainage_from_m"] <= chainage_m) & (segs["chainage_to_m"] >= chainage_m)]
        if hit.empty:
            lo, hi = segs["chainage_from_m"].min(), segs["chainage_to_m"].max()
            raise Rejected(f"chainage {post_label(chainage_m)} is outside the {dike_id} dike ({post_label(lo)} to "
                           f"{post_label(hi)})")
        seg = hit.iloc[0]
        frac = (chainage_m - seg["chainage_from_m"]) / max(seg["chainage_to_m"] - seg["chainage_from_m"], 1e-9)
        pt = seg.geometry.interpolate(frac, normalized=True)
        return float(pt.x), float(pt.y), str(seg.get("name_zh", dike_id))
