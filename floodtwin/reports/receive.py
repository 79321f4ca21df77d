"""Receiving field reports: validate, store (accepted, or rejected with the reason: nothing received
is lost), put an accepted danger's response tasks on the board in the same transaction and notify
the grid leader and the town command; import a JSON-lines file; list and resolve reports.

A report's ``reporter`` must be a staff id of the roster, and whoever hands it in (``actor``) a known
actor (a staff id, the town command, or a system actor such as the app's upload); otherwise the report
is rejected and kept with the reason. Rows come back with ``task_keys`` decoded (a list); ``raw`` stays
the text exactly as received (it need not be JSON at all)."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from floodtwin.db import parse_now, transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board import log_event, submit_in_transaction
from floodtwin.dispatch.board.states import require_actor
from floodtwin.dispatch.roster import SYSTEM_ACTORS, Roster, actor_kind, ensure_roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.errors import InputError
from floodtwin.reports.dangers import DangerTable, danger_instructions, load_dangers
from floodtwin.reports.place import Place, ReachIndex, Rejected

__all__ = ["REPORT_KINDS", "report_id_for", "add_report", "import_jsonl", "list_reports", "resolve_report",
           "active_major_dangers"]

REPORT_KINDS = ("patrol", "danger")


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
            return _decoded({**dict(prior), "duplicate": True})
        # the same id with other content: not the same report sent again, and not to be dropped either
        conflict = (f"report id {rid} was already used by a different report received at {prior['received_at']}: "
                    f"send it under a new id")
        rid = _content_id(raw)
        again = conn.execute("SELECT * FROM reports WHERE report_id=?", (rid,)).fetchone()
        if again is not None:
            return _decoded({**dict(again), "duplicate": True})
    fields: dict[str, Any] = {"kind": _text(raw, "kind") or ("danger" if raw.get("danger_kind") else None),
                              "danger_kind": _text(raw, "danger_kind"), "severity": _text(raw, "severity"),
                              "reporter": _text(raw, "reporter"), "photo": _text(raw, "photo"),
                              "text": _text(raw, "text"), "grid_id": _text(raw, "grid_id")}
    place: Place | None = None
    reason = None
    known = ensure_roster(conn, roster)
    town = config.dispatch.town_command.id
    try:
        if conflict is not None:
            raise Rejected(conflict)
        if raw.get("id") not in (None, "") and report_id_for(raw) != str(raw["id"]):
            raise Rejected(f"id {raw['id']!r}: expected a plain id of letters, digits and ._:- (at most 64)")
        if fields["kind"] not in REPORT_KINDS:
            raise Rejected(f"kind {fields['kind']!r}: expected patrol or danger")
        if not fields["reporter"]:
            raise Rejected("no reporter")
        if fields["reporter"] not in known.staff:
            raise Rejected(f"reporter {fields['reporter']!r} is not a staff id of the roster")
        if actor_kind(known, town, actor) is None:
            raise Rejected(f"handed in by {actor!r}: not a staff id of the roster, the town command ({town}) or a "
                           f"system actor ({', '.join(SYSTEM_ACTORS)})")
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
    roster_obj = known if reason is None and fields["kind"] == "danger" else None
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
        event_id = log_event(conn, now=now, actor=actor, kind="report_rejected" if reason else "report",
                              report_id=rid, reason=reason or (fields["text"] or ""),
                              data={"kind": fields["kind"], "danger_kind": fields["danger_kind"]})
        keys: list[str] = []
        if reason is None and fields["kind"] == "danger":
            assert place is not None and roster_obj is not None
            grid = roster_obj.grids.get(place.grid_id) if place.grid_id else None
            instructions = danger_instructions(rid, fields["danger_kind"], fields["severity"], place, dangers,
                                               exclusive_grid=grid is not None and grid.level == "exclusive")
            keys, _ = submit_in_transaction(conn, instructions, now=now, actor=actor, reason=f"danger report {rid}",
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
    return _decoded({**row, "duplicate": False})


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """A stored report row as handed out: ``task_keys`` a list, not JSON text."""
    return {**row, "task_keys": json.loads(row["task_keys"] or "[]")}


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
            return _decoded({**dict(prior), "duplicate": True})
        conn.execute("INSERT INTO reports(report_id, received_at, status, reject_reason, raw) "
                     "VALUES (?,?,?,?,?)", (rid, ts(now), "rejected", reason, line))
        log_event(conn, now=now, actor=actor, kind="report_rejected", report_id=rid, reason=reason)
        row = dict(conn.execute("SELECT * FROM reports WHERE report_id=?", (rid,)).fetchone())
    return _decoded({**row, "duplicate": False})


def list_reports(conn: sqlite3.Connection, *, status: str | None = None, kind: str | None = None,
                 grid: str | None = None) -> list[dict[str, Any]]:
    """Stored reports, newest first, filtered by status (accepted/rejected), kind and grid (``task_keys``
    decoded)."""
    ensure_schema(conn)
    where, args = [], []
    for col, val in (("status", status), ("kind", kind), ("grid_id", grid)):
        if val:
            where.append(f"{col} = ?")
            args.append(val)
    sql = "SELECT * FROM reports" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY received_at DESC"
    return [_decoded(dict(r)) for r in conn.execute(sql, args)]


def resolve_report(conn: sqlite3.Connection, report_id: str, *, now: datetime, actor: str, reason: str) -> dict[str, Any]:
    """Mark a danger as dealt with: it no longer counts as an active danger. ``actor`` is a person (a staff
    id or the town command); anyone else is refused, and the refusal logged."""
    ensure_schema(conn)
    require_actor(conn, actor, action=f"resolve report {report_id}", now=now, report_id=report_id)
    with transaction(conn):
        row = conn.execute("SELECT * FROM reports WHERE report_id=?", (report_id,)).fetchone()
        if row is None:
            raise InputError(f"report {report_id}: no such report")
        if row["status"] != "accepted" or row["kind"] != "danger":
            raise InputError(f"report {report_id}: only an accepted danger report can be resolved")
        if row["resolved_at"] is not None:
            raise InputError(f"report {report_id}: already resolved at {row['resolved_at']}")
        conn.execute("UPDATE reports SET resolved_at=? WHERE report_id=?", (ts(now), report_id))
        log_event(conn, now=now, actor=actor, kind="report_resolved", report_id=report_id, reason=reason)
        return _decoded(dict(conn.execute("SELECT * FROM reports WHERE report_id=?", (report_id,)).fetchone()))


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
    from floodtwin.reach import load_reach

    return load_reach("huayuankou")
