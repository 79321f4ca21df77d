"""What the command-centre screen shows, as plain JSON-ready dicts: the reach's e-map layers, the answer
for a discharge (from the flood-map library), the inundation image, the monitoring corner and the board.

:class:`Screen` loads once at start what never changes while it runs (the reach layers in WGS84, the
plain tables the preplan expands over, the library and the warp of its grid onto the map's pixels)
and answers each request from that: a discharge is one library lookup, one preplan evaluation and
one task expansion (tens of milliseconds). The board and the monitoring data are read from the
database on every request (another process, the CLI or the alert run, changes them).
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from floodtwin.errors import InputError, require_discharge_m3s

__all__ = ["Screen"]

#: layers of the e-map, GeoPackage layer -> the columns the page's pop-ups and panels use
MAP_COLUMNS = {
    "grids": ["grid_id", "name_zh", "name_en", "level", "kind", "parent", "leader_id"],
    "villages": ["village_id", "name_zh", "name_en", "grid_id", "population", "households", "special_attention",
                 "farmers_crop", "farmers_livestock", "farmers_other", "evacuation_point"],
    "staff": ["staff_id", "role", "role_zh", "grid_id", "shift", "on_duty"],
    "key_points": ["point_id", "name_zh", "name_en", "kind", "works_id", "grid_id"],
    "depots": ["depot_id", "name_zh", "name_en", "works_id", "grid_id", "stone_m3", "gabions", "sandbags",
               "woven_bags", "life_jackets", "lifebuoys", "lights", "boats"],
    "works": ["works_id", "name_zh", "name_en", "kind", "kind_zh", "bank", "n_spurs", "n_stones"],
    "stones": ["stone_id", "works_id", "spur_number"],
    "dikes": ["segment_id", "bank", "post_from", "post_to", "crest_elevation_m"],
}
#: answers kept in memory (discharge rounded to 1 m³/s -> answer): the slider asks the same values again
CACHE_SIZE = 64


def _round_q(q: float) -> float:
    return float(round(q))


class Screen:
    """The screen's data for one reach, one library and one database (see the module docstring)."""

    def __init__(self, *, library_path: str | Path | None = None, db: str | Path | None = None,
                 config: str | Path | None = None, resolution_m: float = 50.0):
        from floodtwin.dispatch.settings import load_config
        from floodtwin.library import open_library
        from floodtwin.preplan import Preplan
        from floodtwin.preplan.tables import ReachTables

        self.library = open_library(library_path, resolution_m=resolution_m)
        self.library.require_fresh()  # a stale library is refused, never shown
        self.db = db
        self.config_path = config
        self.config = load_config(config)
        self._conn().close()  # a database that cannot be opened is said at start, not on the first request
        self.tables = ReachTables.read(self.library.reach)
        self.preplan = Preplan.load()
        self._lock = threading.Lock()  # the netCDF4 file handle is not thread-safe
        self._cache: OrderedDict[float, tuple[Any, Any]] = OrderedDict()
        self.grid_ids = {r["grid_id"] for r in self.tables.layers["grids"]}
        self.staff_ids = {r["staff_id"] for r in self.tables.layers["staff"]}
        self.roles = {r["role"] for r in self.tables.layers["staff"]}
        self.layers, self._warp, self.bounds = self._map_layers()
        self.last_entered: dict[str, Any] | None = None
        self._hillshade: bytes | None = None
        self.hillshade_png()

    # ------------------------------------------------------------------ the map
    def _map_layers(self) -> tuple[dict[str, Any], np.ndarray, list[list[float]]]:
        """GeoJSON (WGS84) of the e-map layers, and the index map that warps the library grid onto the
        Web-Mercator pixels of the inundation overlay (nearest cell; -1 outside)."""
        from floodtwin.maps.raster import warp_to_mercator
        from floodtwin.reach.gpkg import read_layers
        from floodtwin.reach.load import reach_paths

        gpkg, _, _ = reach_paths(self.library.reach)
        frames = read_layers(gpkg, list(MAP_COLUMNS), as_frames=True)  # the one GeoPackage reader
        layers = {}
        for name, cols in MAP_COLUMNS.items():
            gdf = frames[name]
            keep = [c for c in cols if c in gdf.columns]
            layers[name] = json.loads(gdf[keep + ["geometry"]].to_crs(4326).to_json(drop_id=True))
        crs = frames["grids"].crs
        self.crs = crs
        lib = self.library
        index = (np.arange(lib.y_m.size * lib.x_m.size, dtype=np.int64) + 1).reshape(lib.y_m.size, lib.x_m.size)
        warped, ((s, w), (n, e)) = warp_to_mercator(index[..., None], lib.x_m, lib.y_m, crs,
                                                    width_px=min(2 * lib.x_m.size, 1400))
        return layers, warped[..., 0] - 1, [[s, w], [n, e]]

    # ------------------------------------------------------------------ a discharge
    def _answer(self, q: float):
        key = _round_q(q)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            answer = self.library.lookup(key)
        from floodtwin.scenario.run import library_result

        result = library_result(answer, preplan=self.preplan, tables=self.tables, name="screen")
        with self._lock:
            self._cache[key] = (answer, result)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return answer, result

    def require_discharge(self, value: Any) -> float:
        """A discharge (m³/s) the library answers; InputError (one line) otherwise."""
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError("discharge: missing (give ?discharge=m³/s)")
        try:
            q = float(value)
        except (TypeError, ValueError):
            raise InputError(f"discharge {value!r}: not a number of m³/s") from None
        q = require_discharge_m3s(q, name="discharge", positive=True)
        lo, hi = float(self.library.discharges_m3s[0]), float(self.library.discharges_m3s[-1])
        if not lo <= q <= hi:
            raise InputError(f"discharge {q:,.0f} m³/s is outside the flood-map library ({lo:,.0f}–{hi:,.0f} m³/s)")
        return q

    def answer(self, q: float) -> dict[str, Any]:
        """Banner, villages (hazard, people), flood summary and the plan's tasks grouped by grid and owner."""
        answer, result = self._answer(q)
        d = result.decision
        villages = []
        for r in result.villages.itertuples():
            villages.append({"village_id": r.village_id, "name_zh": r.name_zh, "name_en": r.name_en,
                             "grid_id": r.grid_id, "population": int(r.population),
                             "special_attention": int(r.special_attention), "flooded": bool(r.flooded),
                             "depth_m": round(float(r.max_depth_m), 2), "hazard_class": r.hazard_class,
                             "arrival_h": None if not np.isfinite(r.arrival_time_s) else round(r.arrival_time_s / 3600, 1),
                             "farmers": {"crop": int(r.farmers_crop), "livestock": int(r.farmers_livestock),
                                         "other": int(r.farmers_other)}})
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for t in result.tasks:
            groups.setdefault((t.grid_id or "TOWN", t.owner_role), []).append(
                {"key": t.key, "deadline_min": t.deadline_min, "category": t.category, "title_zh": t.title("zh"),
                 "title_en": t.title("en")})
        dikes = result.dikes
        low = dikes.sort_values("freeboard_m").head(1).iloc[0]
        return {
            "discharge_m3s": q, "tier": d.tier, "colour": d.colour, "reason": d.reason,
            "gauge_stage_m": round(result.gauge_stage_m, 2), "answer": answer.describe(),
            "lookup_ms": round(1000 * answer.timings_s.get("lookup", 0.0), 1),
            "task_count": len(result.tasks),
            "tasks_by_grid": [{"grid_id": g, "owner_role": o, "tasks": ts} for (g, o), ts in sorted(groups.items())],
            "villages": villages, "people_to_move": result.people_to_move(),
            "flood": {k: round(v, 2) for k, v in answer.summary.items() if k.endswith("_km2")},
            "min_freeboard": {"segment_id": low.segment_id, "freeboard_m": round(float(low.freeboard_m), 2),
                              "posts": f"{low.post_from}–{low.post_to}"},
            "flood_image": f"/api/flood.png?discharge={q:g}", "bounds": self.bounds,
        }

    def hillshade_png(self) -> bytes:
        """The base layer: the library grid's bed as a coloured hillshade (``reach.cartography``), on the
        same pixels as the inundation overlay; the channel (no 2D cells) transparent. Made once."""
        if getattr(self, "_hillshade", None) is None:
            from floodtwin.reach.cartography import hillshade_rgb

            bed = np.asarray(self.library._get("bed"), float)
            finite = np.isfinite(bed)
            rgba = hillshade_rgb(bed, float(self.library.attrs["cell_size_m"]), vmin=float(np.nanmin(bed)) - 1.0,
                                 vmax=float(np.nanmax(bed)))
            rgba = np.concatenate([rgba[..., :3], np.where(finite, 1.0, 0.0)[..., None]], axis=-1)
            self._hillshade = self._png(rgba)
        return self._hillshade

    def _png(self, rgba: np.ndarray) -> bytes:
        """RGBA (rows, cols, 4) in [0, 1] on the library grid -> PNG on the overlay's Web-Mercator pixels."""
        from PIL import Image

        flat = rgba.reshape(-1, 4)
        idx = self._warp
        img = np.zeros(idx.shape + (4,), dtype=np.uint8)
        inside = idx >= 0
        img[inside] = np.round(flat[idx[inside]] * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img, "RGBA").save(buf, format="PNG", optimize=False, compress_level=1)
        return buf.getvalue()

    def flood_png(self, q: float) -> bytes:
        """The inundation overlay at ``q`` (PNG, Web-Mercator pixels within ``bounds``): depth colours of
        the result maps (``maps.raster.depth_rgba``), dry land transparent."""
        from floodtwin.maps.raster import depth_rgba

        answer, _ = self._answer(q)
        return self._png(depth_rgba(answer.depth_m.astype(float)))

    # ------------------------------------------------------------------ the database
    def _conn(self):
        from floodtwin.db import connect
        from floodtwin.dispatch.schema import ensure_schema

        conn = connect(self.db)
        ensure_schema(conn)
        return conn

    def board(self, now: datetime | None = None) -> dict[str, Any]:
        """The live task board: every open task with state, holder, deadline, missed timers, escalation."""
        from floodtwin.db import local_time, zone_label
        from floodtwin.dispatch.board import list_tasks, missed_timers
        from floodtwin.dispatch.board.states import OPEN_STATES

        now = now or datetime.now(timezone.utc)
        conn = self._conn()
        try:
            tasks = list_tasks(conn, now=now, config=self.config)
        finally:
            conn.close()
        offset_h = self.config.dispatch.utc_offset_h
        rows = []
        for t in tasks:
            late = [name for name, _ in missed_timers(t, now, self.config)] if t["state"] in OPEN_STATES else []
            rows.append({"key": t["key"], "short_id": t["short_id"], "state": t["state"], "grid_id": t["grid_id"],
                         "owner_role": t["owner_role"], "assignees": t["assignees"], "title_zh": t["title_zh"],
                         "title_en": t["title_en"], "due_at": t["handle_due_at"], "overdue": late,
                         "due_local": local_time(t["handle_due_at"], offset_h, zone=False),
                         "escalation_level": t["escalation_level"] or 0, "tier": t["tier"]})
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
        return {"now": now.isoformat(), "zone": zone_label(offset_h), "tasks": rows, "counts": counts,
                "overdue": sum(1 for r in rows if r["overdue"])}

    def monitoring(self) -> dict[str, Any]:
        """Huayuankou discharge and stage (the last activation's, else the last value entered here), the
        smart stones by state, the open field reports by kind and state."""
        from floodtwin.alerts import last_decision
        from floodtwin.reports.receive import list_reports
        from floodtwin.sensors.status import status
        from floodtwin.sensors.store import open_db

        conn = open_db(self.db)
        try:
            decision = last_decision(conn)
            stones = status(conn)
            reports = list_reports(conn)
        finally:
            conn.close()
        states = {r["stone_id"]: ("offline" if r["offline"] else r["state"]) for r in stones["attention"]}
        by_state: dict[str, int] = {}
        for f in self.layers["stones"]["features"]:
            s = states.get(f["properties"]["stone_id"], "normal")
            f["properties"]["state"] = s
            by_state[s] = by_state.get(s, 0) + 1
        open_reports = [r for r in reports if r.get("status") == "accepted" and not r.get("resolved_at")]
        flow = None
        if decision is not None and getattr(decision, "discharge_m3s", None) is not None:
            flow = {"discharge_m3s": float(decision.discharge_m3s), "source": "last activation",
                    "tier": decision.tier, "colour": decision.colour}
        elif self.last_entered is not None:
            flow = {**self.last_entered, "source": "last value entered on this screen"}
        if flow is not None:
            try:
                q = self.require_discharge(flow["discharge_m3s"])
                flow["stage_m"] = round(self._answer(q)[0].gauge_stage_m, 2)
            except InputError:
                flow["stage_m"] = None
        return {"huayuankou": flow, "stones_by_state": by_state,
                "stones": {f["properties"]["stone_id"]: f["properties"]["state"] for f in self.layers["stones"]["features"]
                           if f["properties"]["state"] != "normal"},
                "reports": [{"report_id": r["report_id"], "kind": r.get("kind"), "danger_kind": r.get("danger_kind"),
                             "severity": r.get("severity"), "grid_id": r.get("grid_id"),
                             "text": (r.get("text") or "")[:120], **self._lonlat(r)} for r in open_reports[:200]]}

    def _lonlat(self, report: dict) -> dict[str, float | None]:
        """A report's place in WGS84: its own lon/lat, else its reach x/y (EPSG:4547) converted."""
        if report.get("lon") is not None and report.get("lat") is not None:
            return {"lon": float(report["lon"]), "lat": float(report["lat"])}
        if report.get("x") is None or report.get("y") is None:
            return {"lon": None, "lat": None}
        from pyproj import Transformer

        lon, lat = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True).transform(report["x"], report["y"])
        return {"lon": float(lon), "lat": float(lat)}

    # ------------------------------------------------------------------ actions (token checked by the app)
    def activate(self, q: float, actor: str | None) -> dict[str, Any]:
        from floodtwin.alerts import activate_discharge
        from floodtwin.dispatch.board.states import require_actor

        now = datetime.now(timezone.utc)
        conn = self._conn()
        try:
            if actor is None:
                actor = self.config.dispatch.town_command.id
            else:
                require_actor(conn, actor, action="activate the plan", now=now, config=self.config, person=False)
            decision, result = activate_discharge(conn, q, now=now, actor=actor, reason=f"screen: flow {q:g} m3/s",
                                                  preplan=self.preplan, reach=self.tables, config=self.config)
        finally:
            conn.close()
        self.last_entered = {"discharge_m3s": q, "at": now.isoformat()}
        # the level's tasks and the routine tasks of the working mode it forces (level IV and above: emergency)
        mode = result.mode_switch or {}
        return {"tier": decision.tier, "colour": decision.colour,
                "created": len(result.created) + len(mode.get("created", [])),
                "stood_down": len(result.stood_down) + len(mode.get("stood_down", [])),
                "activation_id": result.activation_id, "mode_switch": result.mode_switch}

    def push(self, message: str, actor: str, grid: str | None, role: str | None) -> dict[str, Any]:
        """The existing one-click push (``dispatch.board.push``) to everyone on duty in a grid and/or role."""
        from floodtwin.dispatch.board import push

        if grid is None and role is None:
            raise InputError("push: give a grid or a role")
        if grid is not None and grid not in self.grid_ids:
            raise InputError(f"grid {grid!r}: not a grid of the reach")
        if role is not None and role not in self.roles:
            raise InputError(f"role {role!r}: no one on the staff list has it")
        conn = self._conn()
        try:
            return push(conn, message=message, now=datetime.now(timezone.utc), actor=actor, grid=grid, role=role,
                        config=self.config)
        finally:
            conn.close()

    def acknowledge(self, key: str, actor: str) -> dict[str, Any]:
        from floodtwin.dispatch.board import transition

        conn = self._conn()
        try:
            return transition(conn, key, "ack", now=datetime.now(timezone.utc), actor=actor, reason="screen",
                              config=self.config)
        finally:
            conn.close()

    def close(self) -> None:
        self.library.close()

