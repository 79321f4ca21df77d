"""Camera and video-analytics events (crowd count, a person in a closed floodplain zone, a vehicle on a
closed dike road, water at the dike toe, smoke), received like field reports: validated, stored (a
rejected event with its reason: nothing received is lost), placed on the grid map at the camera, and
turned into tasks by the rules of ``data/config/cameras.yaml``.

An event is one JSON object (a line of a JSON-lines file, or an MQTT message on
``floodtwin/cameras/<camera_id>/event``)::

    {"event_id": "CAM-C06-0001", "camera_id": "C06", "time": "2026-07-21T10:05:00+08:00",
     "kind": "person_in_closed_zone", "confidence": 0.86, "snapshot": "snap/C06/100500.jpg"}

(``count`` for a crowd count; ``event_id`` optional: without it a content hash names the event, so a
re-sent event is recognised). The rules: people on the closed floodplain at level III or above ->
"clear the floodplain road" to the staff of the camera's grid; a vehicle on the closed dike road at
level III or above -> the traffic police; water at the dike toe -> a dike patrol at that chainage and
the preplan's dike-toe tier trigger (answered by the orchestrator, :mod:`floodtwin.alerts`, since
reports stand below it); smoke -> a check; a crowd above the preplan's threshold in an exclusive grid
-> its staff limit the inflow and the working mode switches to emergency
(:func:`floodtwin.dispatch.modes.apply_crowd`). One open task per rule and camera: detections while
it is open add to the same task.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from floodtwin.config import DATA_DIR, StrictModel, load_yaml
from floodtwin.db import transaction, ts
from floodtwin.dispatch.board import log_event, submit_in_transaction
from floodtwin.dispatch.board.states import OPEN_STATES
from floodtwin.dispatch.roster import Roster, ensure_roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.errors import InputError
from floodtwin.tasks import TaskInstruction, task_key

__all__ = ["EVENT_FIELDS", "CameraRules", "load_camera_rules", "CameraIndex", "CameraSummary", "receive_events",
           "import_events", "list_events"]

#: the fields an event may carry (anything else is refused: a typo must not pass silently)
EVENT_FIELDS = ("event_id", "camera_id", "time", "kind", "confidence", "snapshot", "count", "note")


class _Kind(StrictModel):
    zh: str
    en: str
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    needs_count: bool = False


class _RuleTask(StrictModel):
    id: str
    category: str
    #: "grid": the staff of the camera's grid; else a role or unit of the plan
    owner_role: str
    deadline_min: float = Field(gt=0)
    repeat_min: float | None = Field(default=None, gt=0)
    zh: str
    en: str


class _Rule(StrictModel):
    id: str
    kind: str
    min_confidence: float = Field(ge=0, le=1)
    #: the lowest flow level at which the rule applies (None: always)
    min_tier: str | None = None
    floodplain_only: bool = False
    exclusive_only: bool = False
    #: water at the dike toe: the preplan's tier trigger
    tier_trigger: bool = False
    #: a crowd count: above the preplan's crowd threshold of the grid, switch the working mode
    switch_mode: bool = False
    task: _RuleTask


class CameraRules(StrictModel):
    """``data/config/cameras.yaml``: the event kinds and the rules that turn events into tasks."""

    future_tolerance_s: float = Field(ge=0)
    max_age_min: float = Field(gt=0)
    #: what "water at the dike toe" counts as for the preplan's dike-toe trigger (m): a camera sees no depth
    toe_depth_m: float = Field(gt=0)
    kinds: dict[str, _Kind]
    rules: list[_Rule]


def _check(rules: CameraRules, lines: Any, path: Path) -> None:
    from floodtwin.errors import ConfigError
    from floodtwin.tasks import CATEGORIES

    def fail(loc: tuple, message: str) -> None:
        line = lines().get(loc)
        raise ConfigError(f"{path}{f':{line}' if line else ''}: {'.'.join(map(str, loc))}: {message}")

    for i, rule in enumerate(rules.rules):
        if rule.kind not in rules.kinds:
            fail(("rules", i, "kind"), f"unknown event kind {rule.kind!r} (one of {', '.join(rules.kinds)})")
        if rule.task.category not in CATEGORIES:
            fail(("rules", i, "task", "category"), f"unknown category {rule.task.category!r}")


@lru_cache(maxsize=4)
def load_camera_rules(path: str | None = None) -> CameraRules:
    """The camera rules (default ``data/config/cameras.yaml``); ConfigError naming file:line: key."""
    p = Path(path) if path else DATA_DIR / "config" / "cameras.yaml"
    return load_yaml(p, CameraRules, kind="camera rules", check=lambda r, lines: _check(r, lines, p))


class _Rejected(Exception):
    """An event that cannot be accepted; the message is the stored reason."""


@dataclass(frozen=True)
class Camera:
    camera_id: str
    name_zh: str
    name_en: str
    kind: str
    x: float
    y: float
    lon: float
    lat: float
    grid_id: str | None
    exclusive: bool
    floodplain: bool
    chainage_m: float
    segment_id: str | None


class CameraIndex:
    """The reach's cameras with their grid (exclusive or not) and dike segment, read from the reach
    GeoPackage as records (no pandas) or from a loaded Reach."""

    def __init__(self, cameras: dict[str, Camera]):
        self.cameras = cameras

    @classmethod
    def read(cls, name_or_gpkg: str | Path = "huayuankou") -> "CameraIndex":
        from floodtwin.reach.gpkg import read_layers
        from floodtwin.reach.load import reach_paths

        gpkg, _, _ = reach_paths(name_or_gpkg)
        layers = read_layers(gpkg, ["cameras", "grids", "dikes"])
        return cls.from_records(layers["cameras"], layers["grids"], layers["dikes"])

    @classmethod
    def from_records(cls, cameras: list[dict], grids: list[dict], dikes: list[dict]) -> "CameraIndex":
        from pyproj import Transformer

        to_lonlat = Transformer.from_crs("EPSG:4547", "EPSG:4326", always_xy=True)
        level = {g["grid_id"]: g["level"] for g in grids}
        out = {}
        for c in cameras:
            pt = c["_geom"]
            lon, lat = to_lonlat.transform(pt.x, pt.y)
            s = float(c["chainage_m"])
            # [from, to): a camera at a chainage post watches the segment that starts there
            ordered = sorted((d for d in dikes if d["dike_id"] == c["dike_id"]), key=lambda d: d["chainage_from_m"])
            seg = next((d["segment_id"] for d in ordered if d["chainage_from_m"] <= s < d["chainage_to_m"]),
                       ordered[-1]["segment_id"] if ordered and s == ordered[-1]["chainage_to_m"] else None)
            grid = c["grid_id"] or None
            out[str(c["camera_id"])] = Camera(
                camera_id=str(c["camera_id"]), name_zh=str(c["name_zh"]), name_en=str(c["name_en"]),
                kind=str(c["kind"]), x=float(pt.x), y=float(pt.y), lon=float(lon), lat=float(lat), grid_id=grid,
                exclusive=level.get(grid) == "exclusive", floodplain=bool(c["floodplain"]), chainage_m=s,
                segment_id=seg)
        return cls(out)


@dataclass
class CameraSummary:
    """What one call received: counts, the stored rows, the tasks created, the dike-toe observations
    for the tier trigger (segment ids) and the crowd counts for the mode rule (grid, people, event)."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    tasks_created: list[str] = field(default_factory=list)
    toe_water: list[dict[str, Any]] = field(default_factory=list)
    crowds: list[dict[str, Any]] = field(default_factory=list)
    mode_switches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received, "accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": len(self.rejected), "rejections": self.rejected, "tasks_created": self.tasks_created,
                "toe_water": self.toe_water, "crowds": self.crowds, "mode_switches": self.mode_switches,
                "events": self.events}


def _event_id(obj: dict[str, Any], raw: str) -> str:
    eid = obj.get("event_id") if isinstance(obj, dict) else None
    if isinstance(eid, str) and 0 < len(eid) <= 64 and all(c.isalnum() or c in "._:-" for c in eid):
        return eid
    return "CAM-" + hashlib.sha1(raw.encode("utf-8")).hexdigest()[:12]


def _parse(obj: Any, index: CameraIndex, rules: CameraRules, now: datetime) -> dict[str, Any]:
    """The validated fields of one event (``_Rejected`` with the reason)."""
    if not isinstance(obj, dict):
        raise _Rejected("not a JSON object")
    extra = sorted(set(obj) - set(EVENT_FIELDS))
    if extra:
        raise _Rejected(f"unknown field {extra[0]!r} (fields: {', '.join(EVENT_FIELDS)})")
    for name in ("camera_id", "time", "kind", "confidence", "snapshot"):
        if obj.get(name) in (None, ""):
            raise _Rejected(f"{name} is missing")
    camera = index.cameras.get(str(obj["camera_id"]))
    if camera is None:
        raise _Rejected(f"unknown camera {obj['camera_id']!r} (not in the reach's cameras layer)")
    try:
        observed = datetime.fromisoformat(str(obj["time"]).replace("Z", "+00:00"))
    except ValueError:
        raise _Rejected(f"time {obj['time']!r}: expected an ISO 8601 time such as 2026-07-21T10:05:00+08:00") from None
    if observed.tzinfo is None:
        raise _Rejected(f"time {obj['time']!r} has no zone (add +08:00 or Z)")
    if observed > now + timedelta(seconds=rules.future_tolerance_s):
        raise _Rejected(f"time {obj['time']} is in the future (more than {rules.future_tolerance_s:g} s ahead)")
    kind = obj["kind"]
    if kind not in rules.kinds:
        raise _Rejected(f"kind {kind!r}: expected one of {', '.join(rules.kinds)}")
    conf = obj["confidence"]
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not math.isfinite(conf) or not 0 <= conf <= 1:
        raise _Rejected(f"confidence {conf!r}: expected a number from 0 to 1")
    if not isinstance(obj["snapshot"], str):
        raise _Rejected(f"snapshot {obj['snapshot']!r}: expected the path of the snapshot image")
    count = obj.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise _Rejected(f"count {count!r}: expected a whole number of people >= 0")
    if rules.kinds[kind].needs_count and count is None:
        raise _Rejected(f"a {kind} event needs its count")
    return {"camera": camera, "observed": observed, "kind": kind, "confidence": float(conf), "count": count,
            "snapshot": obj["snapshot"]}


def _tier_rank(plan: Any, tier: str | None) -> int:
    ranks = {t.id: i for i, t in enumerate(plan.model.tiers)}
    return ranks.get(tier, -1) if tier else -1


def _crowd_threshold(plan: Any, grid_id: str | None) -> int | None:
    modes = plan.model.modes
    if modes is None or grid_id is None:
        return None
    return next((r.max_people for r in modes.automatic.crowd if r.grid == grid_id), None)


def _instruction(rule: _Rule, ev: dict[str, Any], event_id: str, key: str) -> TaskInstruction:
    cam: Camera = ev["camera"]
    from floodtwin.reach.build import post_label

    post = post_label(cam.chainage_m)
    fmt = {"where_zh": f"{cam.name_zh}（{post}）", "where_en": f"{cam.name_en} ({post})", "camera": cam.camera_id,
           "count": f"{ev['count']:,}" if ev["count"] is not None else "", "confidence": f"{ev['confidence']:.2f}"}
    t = rule.task
    role = t.owner_role
    if role == "grid":
        role = ("team_member" if cam.exclusive else "grid_member") if cam.grid_id else "river_bureau"
    in_grid = role in ("grid_leader", "micro_grid_leader", "grid_member", "team_member")
    return TaskInstruction(
        key=key, template_id=t.id, category=t.category, tier="camera", owner_role=role,
        title_zh=t.zh.format(**fmt), title_en=t.en.format(**fmt), deadline_min=t.deadline_min, scope_kind="camera",
        scope_id=cam.camera_id, grid_id=cam.grid_id if in_grid else None, repeat_min=t.repeat_min,
        location=(cam.x, cam.y), source="camera",
        note_zh=f"视频事件{event_id}，置信度{ev['confidence']:.2f}，快照{ev['snapshot']}",
        note_en=f"camera event {event_id}, confidence {ev['confidence']:.2f}, snapshot {ev['snapshot']}",
        extra={"camera_event": event_id, "camera_id": cam.camera_id, "rule": rule.id, "snapshot": ev["snapshot"]})


def receive_events(conn: sqlite3.Connection, items: list[tuple[str, str]], *, now: datetime, actor: str = "cameras",
                   index: CameraIndex | None = None, rules: CameraRules | None = None, preplan: Any = None,
                   config: DispatchConfig | None = None, roster: Roster | None = None) -> CameraSummary:
    """Receive events given as ``(raw text, source)`` (source: ``file:line`` or the MQTT topic): each is
    stored (accepted or rejected with its reason) and, when accepted, its rules applied, in one
    transaction per event; the crowd counts then go through the working-mode rule. ``actor`` is who
    hands them in (the camera platform: the system actor ``cameras``)."""
    from floodtwin.dispatch.modes import apply_crowd, current_level
    from floodtwin.preplan import Preplan

    ensure_schema(conn)
    config = config if config is not None else load_config()
    rules = rules if rules is not None else load_camera_rules()
    index = index if index is not None else CameraIndex.read("huayuankou")
    plan = preplan if isinstance(preplan, Preplan) else Preplan.load(preplan)
    roster = ensure_roster(conn, roster)
    out = CameraSummary(received=len(items))
    for raw, source in items:
        row = _receive_one(conn, raw, source, now=now, actor=actor, index=index, rules=rules, plan=plan,
                           level=current_level(conn), config=config, roster=roster, out=out)
        out.events.append(row)
    for crowd in out.crowds:
        switch = apply_crowd(conn, crowd["grid_id"], crowd["count"], now=now, actor=actor, preplan=plan,
                             config=config, evidence=f"camera {crowd['camera_id']}, event {crowd['event_id']}")
        if switch is not None and switch.switched:
            out.mode_switches.append(switch.to_dict())
            out.tasks_created.extend(switch.created)
    return out


def _receive_one(conn: sqlite3.Connection, raw: str, source: str, *, now: datetime, actor: str, index: CameraIndex,
                 rules: CameraRules, plan: Any, level: dict | None, config: DispatchConfig, roster: Roster,
                 out: CameraSummary) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        obj, parse_error = None, f"not JSON: {str(exc).splitlines()[0][:80]}"
    else:
        parse_error = None
    canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False) if obj is not None else raw
    event_id = _event_id(obj, canonical)
    with transaction(conn):
        prior = conn.execute("SELECT raw FROM camera_events WHERE event_id=?", (event_id,)).fetchone()
        if prior is not None and prior[0] == canonical:
            out.duplicates += 1
            return {**_row(conn, event_id), "duplicate": True}
        reason, ev = None, None
        if prior is not None:
            reason = f"event id {event_id} was already used by a different event: send it under a new id"
            event_id = "CAM-" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:12]
            if conn.execute("SELECT 1 FROM camera_events WHERE event_id=?", (event_id,)).fetchone():
                out.duplicates += 1
                return {**_row(conn, event_id), "duplicate": True}
        elif parse_error is not None:
            reason = parse_error
        else:
            try:
                ev = _parse(obj, index, rules, now)
            except _Rejected as exc:
                reason = str(exc)
        if reason is not None:
            conn.execute("INSERT INTO camera_events(event_id, received_at, status, reject_reason, camera_id, kind, "
                         "source, raw) VALUES (?,?,?,?,?,?,?,?)",
                         (event_id, ts(now), "rejected", reason,
                          str(obj.get("camera_id")) if isinstance(obj, dict) and obj.get("camera_id") else None,
                          str(obj.get("kind")) if isinstance(obj, dict) and obj.get("kind") else None, source,
                          canonical))
            log_event(conn, now=now, actor=actor, kind="camera_rejected", reason=f"{source}: {reason}",
                      data={"event_id": event_id})
            out.rejected.append({"event_id": event_id, "source": source, "reason": reason})
            return {**_row(conn, event_id), "duplicate": False}
        cam: Camera = ev["camera"]
        action, keys = _apply_rules(conn, ev, event_id, now=now, actor=actor, rules=rules, plan=plan, level=level,
                                    config=config, roster=roster, out=out)
        conn.execute(
            "INSERT INTO camera_events(event_id, received_at, observed_at, status, camera_id, kind, confidence, count, "
            "snapshot, x, y, lon, lat, grid_id, chainage_m, action, task_keys, source, raw) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (event_id, ts(now), ts(ev["observed"]), "accepted", cam.camera_id, ev["kind"], ev["confidence"],
             ev["count"], ev["snapshot"], cam.x, cam.y, cam.lon, cam.lat, cam.grid_id, cam.chainage_m, action,
             json.dumps(keys), source, canonical))
        log_event(conn, now=now, actor=actor, kind="camera_event", reason=f"{ev['kind']} at camera {cam.camera_id}: "
                  f"{action}", data={"event_id": event_id, "tasks": keys})
        out.accepted += 1
        return {**_row(conn, event_id), "duplicate": False}


def _apply_rules(conn: sqlite3.Connection, ev: dict[str, Any], event_id: str, *, now: datetime, actor: str,
                 rules: CameraRules, plan: Any, level: dict | None, config: DispatchConfig, roster: Roster,
                 out: CameraSummary) -> tuple[str, list[str]]:
    """The rules for one accepted event (inside its transaction): what was done, in words, and the task
    keys it created or joined."""
    cam: Camera = ev["camera"]
    if now - ev["observed"] > timedelta(minutes=rules.max_age_min):
        return f"stored only: older than {rules.max_age_min:g} min", []
    done, keys = [], []
    tier = level["tier"] if level else None
    for rule in (r for r in rules.rules if r.kind == ev["kind"]):
        if ev["confidence"] < rule.min_confidence:
            done.append(f"{rule.id}: confidence {ev['confidence']:.2f} below {rule.min_confidence:g}")
            continue
        if rule.min_tier is not None and _tier_rank(plan, tier) < _tier_rank(plan, rule.min_tier):
            done.append(f"{rule.id}: level {tier or 'none'} below {rule.min_tier}")
            continue
        if rule.floodplain_only and not cam.floodplain:
            done.append(f"{rule.id}: camera {cam.camera_id} is not on the floodplain")
            continue
        if rule.exclusive_only and not cam.exclusive:
            done.append(f"{rule.id}: camera {cam.camera_id} is in no exclusive grid")
            continue
        if rule.switch_mode:
            threshold = _crowd_threshold(plan, cam.grid_id)
            if threshold is None or ev["count"] is None or ev["count"] <= threshold:
                done.append(f"{rule.id}: {ev['count'] or 0:,} people, threshold "
                            f"{'none' if threshold is None else f'{threshold:,}'}")
                continue
            out.crowds.append({"grid_id": cam.grid_id, "count": ev["count"], "camera_id": cam.camera_id,
                               "event_id": event_id})
        if rule.tier_trigger:
            out.toe_water.append({"camera_id": cam.camera_id, "segment_id": cam.segment_id,
                                  "chainage_m": cam.chainage_m, "event_id": event_id,
                                  "depth_m": rules.toe_depth_m})
        open_task = conn.execute(
            f"SELECT key FROM tasks WHERE template_id=? AND scope_kind='camera' AND scope_id=? AND state IN "
            f"({','.join('?' * len(OPEN_STATES))})", (rule.task.id, cam.camera_id, *OPEN_STATES)).fetchone()
        if open_task is not None:
            keys.append(open_task[0])
            done.append(f"{rule.id}: joins the open task {open_task[0]}")
            continue
        instr = _instruction(rule, ev, event_id, task_key(rule.task.id, "camera", cam.camera_id, event_id))
        created, _ = submit_in_transaction(conn, [instr], now=now, actor=actor,
                                           reason=f"camera event {event_id} ({rule.id})", config=config,
                                           roster=roster, activation_id=None)
        keys.extend(created)
        out.tasks_created.extend(created)
        done.append(f"{rule.id}: task {instr.key}")
    return ("; ".join(done) or "no rule for this kind"), keys


def _row(conn: sqlite3.Connection, event_id: str) -> dict[str, Any]:
    row = dict(conn.execute("SELECT * FROM camera_events WHERE event_id=?", (event_id,)).fetchone())
    return {**row, "task_keys": json.loads(row["task_keys"] or "[]")}


def import_events(conn: sqlite3.Connection, path: str | Path, **kw: Any) -> CameraSummary:
    """Receive every event of a JSON-lines file (a line that is not JSON is stored as rejected)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a JSON-lines file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    items = []
    for lineno, chunk in enumerate(data.splitlines(), start=1):
        if lineno == 1 and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        line = chunk.decode("utf-8", errors="backslashreplace")
        if line.strip():
            items.append((line, f"{path.name}:{lineno}"))
    return receive_events(conn, items, **kw)


def list_events(conn: sqlite3.Connection, *, status: Literal["accepted", "rejected"] | None = None,
                camera: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Stored camera events, newest first (``task_keys`` decoded)."""
    ensure_schema(conn)
    if status is not None and status not in ("accepted", "rejected"):
        raise InputError(f"--status {status}: expected accepted or rejected")
    where, args = [], []
    for col, val in (("status", status), ("camera_id", camera)):
        if val:
            where.append(f"{col} = ?")
            args.append(val)
    sql = ("SELECT * FROM camera_events" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY received_at DESC, rowid DESC LIMIT ?")
    return [{**dict(r), "task_keys": json.loads(r["task_keys"] or "[]")} for r in conn.execute(sql, (*args, limit))]
