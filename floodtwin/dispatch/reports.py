"""Field reports: patrol rounds and dike dangers (险情) from the front line, onto the board and the map.

A report is validated against the reach (kind, severity, grid, works, spur, location); an accepted
danger report puts its response tasks on the board through the same transaction (a leak sets off
emergency plugging at that chainage, root-stone loss riprap at that spur, ...: the table is
``data/config/dangers.yaml``) and notifies the grid leader and the town command. A rejected report
is stored too, with the reason: nothing received is lost. :func:`active_major_dangers` feeds the
preplan's tier trigger "major danger at a works".

Location forms: ``lon``/``lat`` (WGS 84), ``works_id`` + ``spur`` (id "HYK-090" or number), or
``dike_id`` + ``chainage`` (metres or a chainage post "7+350"); a works or grid is derived from
the place when it is not given.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from floodtwin.config import DATA_DIR, StrictModel, format_validation_error, read_yaml
from floodtwin.dispatch import notify
from floodtwin.dispatch.board import _log_event, _submit_in_tx
from floodtwin.dispatch.roster import Roster, ensure_roster
from floodtwin.dispatch.schema import ensure_schema, parse_now, ts
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.dispatch.store import transaction
from floodtwin.errors import ConfigError, InputError
from floodtwin.tasks import Material, TaskInstruction, task_key

REPORT_KINDS = ("patrol", "danger")
#: how far outside the reach's grids and dikes a lon/lat may lie and still be taken (m)
REACH_MARGIN_M = 2000.0


# ----------------------------------------------------------------------------------------------
# the danger table (YAML)

class _Severity(StrictModel):
    zh: str
    en: str
    rank: int


class _DangerTask(StrictModel):
    id: str
    category: str
    owner_role: str
    deadline_min: float = Field(gt=0)
    zh: str
    en: str
    materials: tuple[tuple[str, float, str], ...] = ()


class _DangerKind(StrictModel):
    zh: str
    en: str
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    default_severity: str
    tasks: tuple[_DangerTask, ...] = ()


class DangerTable(StrictModel):
    severities: dict[str, _Severity]
    major_from: str
    kinds: dict[str, _DangerKind]

    def rank(self, severity: str) -> int:
        return self.severities[severity].rank


def default_dangers_path() -> Path:
    return DATA_DIR / "config" / "dangers.yaml"


@lru_cache(maxsize=4)
def load_dangers(path: str | None = None) -> DangerTable:
    """The danger kinds, severities and response tasks (ConfigError naming file:line: key)."""
    p = Path(path) if path else default_dangers_path()
    data, lines = read_yaml(p)
    try:
        table = DangerTable.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(p, exc, lines)) from None
    for name, kind in table.kinds.items():
        if kind.default_severity not in table.severities:
            raise ConfigError(f"{p}: kinds.{name}.default_severity: unknown severity {kind.default_severity!r}")
    if table.major_from not in table.severities:
        raise ConfigError(f"{p}: major_from: unknown severity {table.major_from!r}")
    return table


# ----------------------------------------------------------------------------------------------
# locating a report on the reach

class Rejected(Exception):
    """A report that cannot be accepted; the message is the stored reason."""


@dataclass(frozen=True)
class Place:
    x: float
    y: float
    lon: float
    lat: float
    works_id: str | None
    spur_id: str | None
    dike_id: str | None
    chainage_m: float | None
    grid_id: str | None
    where_zh: str
    where_en: str


_POST = re.compile(r"^\s*(\d+)\s*\+\s*(\d{1,3}(?:\.\d+)?)\s*$")


def parse_chainage(value: Any) -> float:
    """Chainage in metres from a number or a chainage post such as ``"7+350"`` (= 7350 m)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    text = str(value)
    m = _POST.match(text)
    if m:
        return int(m.group(1)) * 1000.0 + float(m.group(2))
    try:
        out = float(text)
    except ValueError:
        raise Rejected(f"chainage {text!r}: expected metres or a post like 7+350") from None
    if not math.isfinite(out):
        raise Rejected(f"chainage {text!r}: not a finite number")
    return out


def post_label(chainage_m: float) -> str:
    """``7350.0`` -> ``"7+350"``."""
    km, m = divmod(int(round(chainage_m)), 1000)
    return f"{km}+{m:03d}"


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
        """Resolve a report's location fields to a place on the reach (Rejected with the reason)."""
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


# ----------------------------------------------------------------------------------------------
# reports

#: a report id from the app: letters, digits and ._:- (at most 64), so it is safe in keys and file names
_REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def report_id_for(raw: dict[str, Any]) -> str:
    """The report's own ``id``, else a stable id from its content (so a re-import is recognised).

    An ``id`` that is not a short plain string or integer is not used (the report is rejected for
    it by :func:`add_report`); the content id stands in, so the rejected report is still kept.
    """
    rid = raw.get("id")
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    if isinstance(rid, str) and _REPORT_ID.match(rid):
        return rid
    return _content_id(raw)


def _content_id(raw: dict[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return "R-" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:12]


def danger_instructions(report_id: str, kind: str, severity: str, place: Place, table: DangerTable,
                        exclusive_grid: bool) -> list[TaskInstruction]:
    """The response tasks a danger report sets off (from the danger table)."""
    spec = table.kinds[kind]
    sev = table.severities[severity]
    fmt = {"where_zh": place.where_zh, "where_en": place.where_en, "severity_zh": sev.zh, "severity_en": sev.en}
    out = []
    for t in spec.tasks:
        role = t.owner_role
        if role == "auto":
            role = "team_member" if exclusive_grid else "grid_member"
        town_level = role not in ("grid_leader", "micro_grid_leader", "grid_member", "team_member")
        out.append(TaskInstruction(
            key=task_key(t.id, "report", report_id), template_id=t.id, category=t.category, tier="danger",
            owner_role=role, title_zh=t.zh.format(**fmt), title_en=t.en.format(**fmt), deadline_min=t.deadline_min,
            scope_kind="report", scope_id=report_id, grid_id=None if town_level else place.grid_id,
            works_id=place.works_id, materials=tuple(Material(m[0], m[1], m[2]) for m in t.materials),
            location=(place.x, place.y), source="report",
            note_zh=f"{spec.zh}（{sev.zh}）", note_en=f"{spec.en} ({sev.en})",
            extra={"report_id": report_id, "danger_kind": kind, "severity": severity}))
    return out


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    return None if value is None or value == "" else str(value)


def add_report(conn: sqlite3.Connection, raw: dict[str, Any], *, now: datetime, actor: str, reach: Any = None,
               config: DispatchConfig | None = None, roster: Roster | None = None,
               dangers: DangerTable | None = None) -> dict[str, Any]:
    """Receive one report: validate, store (accepted or rejected with the reason), dispatch its tasks.

    Returns the stored row plus ``duplicate`` (True when the same report id was received before,
    in which case nothing changes). ``reach`` is a loaded Reach or a :class:`ReachIndex`.
    """
    ensure_schema(conn)
    config = config if config is not None else load_config()
    dangers = dangers if dangers is not None else load_dangers()
    index = reach if isinstance(reach, ReachIndex) else ReachIndex(reach if reach is not None else _default_reach())
    rid = report_id_for(raw)
    raw_text = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
    prior = conn.execute("SELECT * FROM reports WHERE report_id=?", (rid,)).fetchone()
    conflict = None
    if prior is not None:
        if prior["raw"] == raw_text:
            return {**dict(prior), "duplicate": True}
        # the same id with other content: not the same report sent again, and not to be dropped either
        conflict = (f"report id {rid} was already used by a different report received at {prior['received_at']}: "
                    f"send it under a new id")
        rid = _content_id(raw)
        again = conn.execute("SELECT * FROM reports WHERE report_id=?", (rid,)).fetchone()
        if again is not None:
            return {**dict(again), "duplicate": True}
    fields: dict[str, Any] = {"kind": _text(raw, "kind") or ("danger" if raw.get("danger_kind") else None),
                              "danger_kind": _text(raw, "danger_kind"), "severity": _text(raw, "severity"),
                              "reporter": _text(raw, "reporter"), "photo": _text(raw, "photo"),
                              "text": _text(raw, "text"), "grid_id": _text(raw, "grid_id")}
    place: Place | None = None
    reason = None
    try:
        if conflict is not None:
            raise Rejected(conflict)
        if raw.get("id") not in (None, "") and report_id_for(raw) != str(raw["id"]):
            raise Rejected(f"id {raw['id']!r}: expected a plain id of letters, digits and ._:- (at most 64)")
        if fields["kind"] not in REPORT_KINDS:
            raise Rejected(f"kind {fields['kind']!r}: expected patrol or danger")
        if not fields["reporter"]:
            raise Rejected("no reporter")
        if raw.get("observed_at"):
            try:
                observed = parse_now(str(raw["observed_at"]))
            except InputError:
                raise Rejected(f"observed_at {raw['observed_at']!r}: expected an ISO 8601 time such as "
                               f"2026-07-20T08:00:00+08:00") from None
            if observed > now:
                raise Rejected(f"observed_at {raw['observed_at']} is in the future")
            fields["observed_at"] = ts(observed)
        if fields["kind"] == "danger":
            if fields["danger_kind"] not in dangers.kinds:
                raise Rejected(f"danger kind {fields['danger_kind']!r}: expected one of {', '.join(dangers.kinds)}")
            fields["severity"] = fields["severity"] or dangers.kinds[fields["danger_kind"]].default_severity
            if fields["severity"] not in dangers.severities:
                raise Rejected(f"severity {fields['severity']!r}: expected one of {', '.join(dangers.severities)}")
        place = index.locate(raw)
        if fields["kind"] == "patrol" and place.grid_id is None:
            raise Rejected("patrol report outside every grid: give grid_id")
    except (Rejected, InputError) as exc:
        reason = str(exc)
    roster_obj = ensure_roster(conn, roster) if reason is None and fields["kind"] == "danger" else None
    try:
        return _store_report(conn, rid, raw_text, fields, place, reason, now=now, actor=actor, config=config,
                             dangers=dangers, roster_obj=roster_obj)
    except _Raced:
        # another process stored this id between our check and our write lock: judge it again against that
        return add_report(conn, raw, now=now, actor=actor, reach=index, config=config, roster=roster,
                          dangers=dangers)


class _Raced(Exception):
    """The report id appeared in the database while the report was being validated."""


def _store_report(conn: sqlite3.Connection, rid: str, raw_text: str, fields: dict[str, Any], place: Place | None,
                  reason: str | None, *, now: datetime, actor: str, config: DispatchConfig, dangers: DangerTable,
                  roster_obj: Roster | None) -> dict[str, Any]:
    """Write one validated report, its event and (for an accepted danger) its tasks and messages."""
    with transaction(conn):
        if conn.execute("SELECT 1 FROM reports WHERE report_id=?", (rid,)).fetchone():
            raise _Raced(rid)
        conn.execute(
            "INSERT INTO reports(report_id, received_at, observed_at, status, reject_reason, kind, danger_kind,"
            " severity, lon, lat, x, y, works_id, spur_id, dike_id, chainage_m, grid_id, reporter, photo, text, raw)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rid, ts(now), fields.get("observed_at"), "rejected" if reason else "accepted", reason, fields["kind"],
             fields["danger_kind"], fields["severity"], place and place.lon, place and place.lat,
             place and place.x, place and place.y, place and place.works_id, place and place.spur_id,
             place and place.dike_id, place and place.chainage_m, place.grid_id if place else fields["grid_id"],
             fields["reporter"], fields["photo"], fields["text"], raw_text))
        event_id = _log_event(conn, now=now, actor=actor, kind="report_rejected" if reason else "report",
                              report_id=rid, reason=reason or (fields["text"] or ""),
                              data={"kind": fields["kind"], "danger_kind": fields["danger_kind"]})
        keys: list[str] = []
        if reason is None and fields["kind"] == "danger":
            assert place is not None and roster_obj is not None
            grid = roster_obj.grids.get(place.grid_id) if place.grid_id else None
            instructions = danger_instructions(rid, fields["danger_kind"], fields["severity"], place, dangers,
                                               exclusive_grid=grid is not None and grid.level == "exclusive")
            keys, _ = _submit_in_tx(conn, instructions, now=now, actor=actor, reason=f"danger report {rid}",
                                    config=config, roster=roster_obj, activation_id=None)
            conn.execute("UPDATE reports SET task_keys=? WHERE report_id=?", (json.dumps(keys), rid))
            spec, sev = dangers.kinds[fields["danger_kind"]], dangers.severities[fields["severity"]]
            leaders = [grid.leader_id] if grid is not None and grid.leader_id else []
            notify.enqueue(conn, config, kind="danger_report", event_id=event_id, now=now,
                           recipients=[*leaders, config.dispatch.town_command.id],
                           payload={"at": ts(now), "report_id": rid,
                                    "subject_zh": f"{sev.zh}：{place.where_zh}{spec.zh}",
                                    "subject_en": f"{sev.en}: {spec.en} at {place.where_en}",
                                    "text_zh": f"{place.where_zh}发现{spec.zh}（{sev.zh}），报告人 {fields['reporter']}",
                                    "text_en": f"{spec.en} ({sev.en}) at {place.where_en}, reported by "
                                               f"{fields['reporter']}",
                                    "lon": place.lon, "lat": place.lat, "works_id": place.works_id,
                                    "grid_id": place.grid_id, "tasks": keys})
        row = dict(conn.execute("SELECT * FROM reports WHERE report_id=?", (rid,)).fetchone())
    return {**row, "duplicate": False}


def import_jsonl(conn: sqlite3.Connection, path: str | Path, *, now: datetime, actor: str, reach: Any = None,
                 config: DispatchConfig | None = None, roster: Roster | None = None) -> list[dict[str, Any]]:
    """Receive every report of a JSON-lines file; a line that is not a JSON object is stored as rejected."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a JSON-lines file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    index = reach if isinstance(reach, ReachIndex) else ReachIndex(reach if reach is not None else _default_reach())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    results = []
    # line by line from bytes: one undecodable line is kept as rejected, the others are still read
    for lineno, chunk in enumerate(data.splitlines(), start=1):
        if lineno == 1 and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]  # a byte-order mark from a Windows editor
        try:
            line = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = chunk.decode("utf-8", errors="backslashreplace")
            results.append(_store_unparsable(conn, line, f"{path.name}:{lineno}: not UTF-8 text ({exc.reason} at "
                                             f"byte {exc.start})", now=now, actor=actor))
            continue
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            results.append(_store_unparsable(conn, line, f"{path.name}:{lineno}: {exc}", now=now, actor=actor))
            continue
        except RecursionError:
            results.append(_store_unparsable(conn, line, f"{path.name}:{lineno}: JSON nested too deeply",
                                             now=now, actor=actor))
            continue
        results.append(add_report(conn, raw, now=now, actor=actor, reach=index, config=config, roster=roster))
    return results


def _store_unparsable(conn: sqlite3.Connection, line: str, reason: str, *, now: datetime, actor: str) -> dict[str, Any]:
    rid = "R-" + hashlib.sha1(line.encode("utf-8")).hexdigest()[:12]
    ensure_schema(conn)
    with transaction(conn):
        prior = conn.execute("SELECT * FROM reports WHERE report_id=?", (rid,)).fetchone()
        if prior is not None:  # the same unreadable line again: kept once
            return {**dict(prior), "duplicate": True}
        conn.execute("INSERT INTO reports(report_id, received_at, status, reject_reason, raw) "
                     "VALUES (?,?,?,?,?)", (rid, ts(now), "rejected", reason, line))
        _log_event(conn, now=now, actor=actor, kind="report_rejected", report_id=rid, reason=reason)
        row = dict(conn.execute("SELECT * FROM reports WHERE report_id=?", (rid,)).fetchone())
    return {**row, "duplicate": False}


def list_reports(conn: sqlite3.Connection, *, status: str | None = None, kind: str | None = None,
                 grid: str | None = None) -> list[dict[str, Any]]:
    """Stored reports, newest first, filtered by status (accepted/rejected), kind and grid."""
    ensure_schema(conn)
    where, args = [], []
    for col, val in (("status", status), ("kind", kind), ("grid_id", grid)):
        if val:
            where.append(f"{col} = ?")
            args.append(val)
    sql = "SELECT * FROM reports" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY received_at DESC"
    return [dict(r) for r in conn.execute(sql, args)]


def resolve_report(conn: sqlite3.Connection, report_id: str, *, now: datetime, actor: str, reason: str) -> dict[str, Any]:
    """Mark a danger as dealt with: it no longer counts as an active danger."""
    ensure_schema(conn)
    with transaction(conn):
        row = conn.execute("SELECT * FROM reports WHERE report_id=?", (report_id,)).fetchone()
        if row is None:
            raise InputError(f"report {report_id}: no such report")
        if row["status"] != "accepted" or row["kind"] != "danger":
            raise InputError(f"report {report_id}: only an accepted danger report can be resolved")
        if row["resolved_at"] is not None:
            raise InputError(f"report {report_id}: already resolved at {row['resolved_at']}")
        conn.execute("UPDATE reports SET resolved_at=? WHERE report_id=?", (ts(now), report_id))
        _log_event(conn, now=now, actor=actor, kind="report_resolved", report_id=report_id, reason=reason)
        return dict(conn.execute("SELECT * FROM reports WHERE report_id=?", (report_id,)).fetchone())


def active_major_dangers(conn: sqlite3.Connection, dangers: DangerTable | None = None) -> list[dict[str, Any]]:
    """Unresolved accepted danger reports at a works with severity at or above ``major_from``.

    Each item: works_id, kind, severity, since (UTC text), source ("field_report"), report_id,
    grid_id, spur_id, chainage_m: what the preplan's "major danger at a works" trigger needs.
    """
    ensure_schema(conn)
    dangers = dangers if dangers is not None else load_dangers()
    floor = dangers.rank(dangers.major_from)
    out = []
    for r in conn.execute("SELECT * FROM reports WHERE status='accepted' AND kind='danger' AND resolved_at IS NULL "
                          "AND works_id IS NOT NULL ORDER BY received_at"):
        if r["severity"] in dangers.severities and dangers.rank(r["severity"]) >= floor:
            out.append({"works_id": r["works_id"], "kind": r["danger_kind"], "severity": r["severity"],
                        "since": r["observed_at"] or r["received_at"], "source": "field_report",
                        "report_id": r["report_id"], "grid_id": r["grid_id"], "spur_id": r["spur_id"],
                        "chainage_m": r["chainage_m"]})
    return out


def _default_reach() -> Any:
    from floodtwin import load_reach

    return load_reach("huayuankou")


# ----------------------------------------------------------------------------------------------
# map layer

def export_geojson(conn: sqlite3.Connection, *, crs: str = "EPSG:4547", include_closed: bool = False,
                   dangers: DangerTable | None = None, now: datetime | None = None,
                   config: DispatchConfig | None = None) -> dict[str, Any]:
    """Tasks (coloured by state) and accepted reports (coloured by danger kind) as a GeoJSON
    FeatureCollection in WGS 84 (RFC 7946), for the map layer. With ``now``, each task lists the
    SLA timers it has missed by then (``overdue``), so the map can flag late tasks."""
    from pyproj import Transformer

    from floodtwin.dispatch.board import STATE_COLOURS, missed_timers

    if now is not None and config is None:
        config = load_config()

    ensure_schema(conn)
    dangers = dangers if dangers is not None else load_dangers()
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    features = []
    states = "" if include_closed else " AND state NOT IN ('closed', 'cancelled', 'stood_down')"
    assignees: dict[str, list[str]] = {}
    for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE active=1 ORDER BY level, id"):
        assignees.setdefault(r[0], []).append(r[1])
    for t in conn.execute(f"SELECT * FROM tasks WHERE x IS NOT NULL{states} ORDER BY key"):
        lon, lat = to_lonlat.transform(t["x"], t["y"])
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
                         "properties": {"layer": "task", "key": t["key"], "state": t["state"],
                                        "colour": STATE_COLOURS[t["state"]], "category": t["category"],
                                        "tier": t["tier"], "title_zh": t["title_zh"], "title_en": t["title_en"],
                                        "grid_id": t["grid_id"], "works_id": t["works_id"],
                                        "due": t["handle_due_at"], "escalation_level": t["escalation_level"],
                                        "overdue": [] if now is None else
                                        [name for name, _ in missed_timers(dict(t), now, config)],
                                        "assignees": assignees.get(t["key"], [])}})
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
    return {"type": "FeatureCollection", "features": features}
