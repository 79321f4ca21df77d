"""The map layer of the board: open tasks coloured by state (with their assignees and missed
timers), accepted reports coloured by danger kind, and the camera events that set off a task (at their
camera, coloured by event kind), as GeoJSON in WGS 84 (RFC 7946)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from floodtwin.dispatch.board import STATE_COLOURS, list_tasks, missed_timers
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.reports.dangers import DangerTable, load_dangers

__all__ = ["export_geojson"]


def export_geojson(conn: sqlite3.Connection, *, crs: str = "EPSG:4547", include_closed: bool = False,
                   dangers: DangerTable | None = None, now: datetime | None = None,
                   config: DispatchConfig | None = None) -> dict[str, Any]:
    """Tasks (coloured by state) and accepted reports (coloured by danger kind) as a GeoJSON
    FeatureCollection in WGS 84 (RFC 7946), for the map layer. With ``now``, each task lists the
    SLA timers it has missed by then (``overdue``), so the map can flag late tasks."""
    from pyproj import Transformer

    if now is not None and config is None:
        config = load_config()

    ensure_schema(conn)
    dangers = dangers if dangers is not None else load_dangers()
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    features = []
    hidden = () if include_closed else ("closed", "cancelled", "stood_down")
    tasks = sorted((t for t in list_tasks(conn) if t["x"] is not None and t["state"] not in hidden),
                   key=lambda t: t["key"])
    for t in tasks:
        lon, lat = to_lonlat.transform(t["x"], t["y"])
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
                         "properties": {"layer": "task", "key": t["key"], "state": t["state"],
                                        "colour": STATE_COLOURS[t["state"]], "category": t["category"],
                                        "tier": t["tier"], "title_zh": t["title_zh"], "title_en": t["title_en"],
                                        "grid_id": t["grid_id"], "works_id": t["works_id"],
                                        "due": t["handle_due_at"], "escalation_level": t["escalation_level"],
                                        "overdue": [] if now is None else
                                        [name for name, _ in missed_timers(t, now, config)],
                                        "assignees": t["assignees"]}})
    for r in conn.execute("SELECT * FROM reports WHERE status='accepted' AND lon IS NOT NULL ORDER BY received_at"):
        spec = dangers.kinds.get(r["danger_kind"]) if r["danger_kind"] else None
        sev = dangers.severities.get(r["severity"]) if r["severity"] else None
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [round(r["lon"], 7), round(r["lat"], 7)]},
                         "properties": {"layer": "report", "report_id": r["report_id"], "kind": r["kind"],
                                        "danger_kind": r["danger_kind"],
                                        "label_zh": spec.zh if spec else "巡查", "label_en": spec.en if spec else "patrol",
                                        "colour": spec.colour if spec else "#2e7d32",
                                        "severity": r["severity"], "severity_zh": sev.zh if sev else None,
                                        "resolved": r["resolved_at"] is not None, "grid_id": r["grid_id"],
                                        "works_id": r["works_id"], "spur_id": r["spur_id"],
                                        "reporter": r["reporter"], "photo": r["photo"], "text": r["text"],
                                        "received_at": r["received_at"]}})
    from floodtwin.reports.cameras import load_camera_rules

    kinds = load_camera_rules().kinds
    for r in conn.execute("SELECT * FROM camera_events WHERE status='accepted' AND task_keys != '[]' "
                          "ORDER BY received_at, event_id"):
        spec = kinds.get(r["kind"])
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [round(r["lon"], 7), round(r["lat"], 7)]},
                         "properties": {"layer": "camera_event", "event_id": r["event_id"], "kind": r["kind"],
                                        "label_zh": spec.zh if spec else r["kind"],
                                        "label_en": spec.en if spec else r["kind"],
                                        "colour": spec.colour if spec else "#607d8b", "camera_id": r["camera_id"],
                                        "grid_id": r["grid_id"], "confidence": r["confidence"], "count": r["count"],
                                        "snapshot": r["snapshot"], "observed_at": r["observed_at"],
                                        "tasks": json.loads(r["task_keys"])}})
    return {"type": "FeatureCollection", "features": features}
