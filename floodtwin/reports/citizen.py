"""Citizen and patrol photo reports (the town's "snap and send" channel, 随手拍), closed in a loop:
``received -> triaged -> dispatched -> handled -> verified -> closed`` (or ``dismissed`` at triage), with
the timeline of every step (the board's event log, by report id and by its task), deadlines and
escalation, and attachments stored by content hash.

- **Receive** (:func:`receive`): validated (kind of ``data/config/citizen.yaml``, a place: lon/lat or a
  grid, a reporter: any opaque id for a resident, a staff id for a patrol), stored; a rejected report is
  kept with its reason. Its photos are copied into the attachment store before anything is written.
- **Triage** (:func:`triage`, the grid's leader or the town command): confirm or correct kind and grid, or
  dismiss with a reason; a confirmed report is **dispatched** at once: a task on the board for the
  kind's owner, to a named person, with the kind's handling deadline.
- **Handle** (:func:`handle`, the task's assignee): the task's remaining steps (acknowledge, set out,
  done) with an optional photo of the work.
- **Verify** (:func:`verify`, as the board's verify: a leader, never one's own work) **needs a photo**.
- **Close** (:func:`close`).
- **Deadlines** (:func:`tick`): triage within ``triage_min`` of receipt, verification within
  ``verify_min`` of handling; a late step escalates once to the grid's leader (the town command without a
  grid), a second time to the town command. The task's own SLA timers run on the board.

**Attachments** (:func:`store_attachment`): the file's SHA-256 names it, under ``attachments/<aa>/<sha256>
<suffix>`` next to the database; written to a temporary file, synced, checked against the hash, then
renamed, so a crash leaves no half file under a hash name. The same photo twice is one file. A photo that
cannot be read rejects the report (kept, with the reason): a report is never stored without the photo it
names.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from floodtwin.config import DATA_DIR, StrictModel, load_yaml
from floodtwin.db import parse_now, parse_ts, transaction, ts
from floodtwin.dispatch import notify
from floodtwin.dispatch.board import log_event, submit_in_transaction, transition
from floodtwin.dispatch.board.states import require_actor
from floodtwin.dispatch.roster import Roster, ensure_roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig, load_config
from floodtwin.errors import DataError, InputError
from floodtwin.tasks import TaskInstruction, task_key

__all__ = ["STATUSES", "CHANNELS", "CitizenConfig", "load_citizen_config", "attachment_dir", "store_attachment",
           "receive", "triage", "handle", "verify", "close", "tick", "timeline", "stats", "get_report"]

STATUSES = ("received", "triaged", "dispatched", "handled", "verified", "closed", "dismissed", "rejected")
CHANNELS = ("citizen", "patrol")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


class _Kind(StrictModel):
    zh: str
    en: str
    category: str
    owner_role: str
    handle_min: float = Field(gt=0)


class CitizenConfig(StrictModel):
    """``data/config/citizen.yaml``: the report kinds and the loop's deadlines (minutes)."""

    triage_min: float = Field(gt=0)
    verify_min: float = Field(gt=0)
    kinds: dict[str, _Kind]


@lru_cache(maxsize=4)
def load_citizen_config(path: str | None = None) -> CitizenConfig:
    """The citizen-report kinds and deadlines (ConfigError naming file:line: key)."""
    return load_yaml(Path(path) if path else DATA_DIR / "config" / "citizen.yaml", CitizenConfig,
                     kind="citizen reports")


# -- attachments ------------------------------------------------------------------------------
def attachment_dir(conn: sqlite3.Connection) -> Path:
    """``attachments/`` next to the database file."""
    db = getattr(conn, "db_path", None)
    if not db or db == ":memory:":
        raise InputError("attachments need a database file (not an in-memory database)")
    return Path(db).resolve().parent / "attachments"


def store_attachment(conn: sqlite3.Connection, source: str | Path, *, now: datetime) -> dict[str, Any]:
    """Copy the file ``source`` into the content-addressed store (idempotent); its attachments row.
    InputError when it cannot be read; DataError when the store cannot be written or a stored file no
    longer matches its hash (a damaged store is said, never overwritten silently)."""
    src = Path(source)
    try:
        data = src.read_bytes()
    except FileNotFoundError:
        raise InputError(f"photo {src}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"photo {src}: is a directory, expected an image file") from None
    except OSError as exc:
        raise InputError(f"photo {src}: cannot read: {exc.strerror or exc}") from None
    if not data:
        raise InputError(f"photo {src}: the file is empty")
    digest = hashlib.sha256(data).hexdigest()
    suffix = src.suffix.lower()[:10] if re.fullmatch(r"\.[A-Za-z0-9]{1,9}", src.suffix) else ""
    root = attachment_dir(conn)
    target = root / digest[:2] / f"{digest}{suffix}"
    if target.exists():
        if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            raise DataError(f"attachment store {target}: the stored file no longer matches its hash")
    else:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if hashlib.sha256(tmp.read_bytes()).hexdigest() != digest:
                raise DataError(f"attachment store {tmp}: written bytes do not match the photo's hash")
            tmp.replace(target)
        except OSError as exc:
            raise DataError(f"attachment store {root}: cannot write: {exc.strerror or exc}") from None
    rel = str(target.relative_to(root))
    with transaction(conn):
        conn.execute("INSERT OR IGNORE INTO attachments(sha256, size_bytes, suffix, path, first_seen_at) "
                     "VALUES (?,?,?,?,?)", (digest, len(data), suffix, rel, ts(now)))
    return {"sha256": digest, "size_bytes": len(data), "path": rel, "name": src.name}


def _attach(conn: sqlite3.Connection, rid: str, att: dict[str, Any], step: str, actor: str, now: datetime) -> None:
    conn.execute("INSERT OR IGNORE INTO report_attachments(report_id, sha256, step, name, actor, added_at) "
                 "VALUES (?,?,?,?,?,?)", (rid, att["sha256"], step, att["name"], actor, ts(now)))


# -- receive ----------------------------------------------------------------------------------
def _report_id(raw: dict[str, Any]) -> str:
    rid = raw.get("id")
    if isinstance(rid, str) and _ID.match(rid):
        return rid
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return "S-" + hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:12]


def receive(conn: sqlite3.Connection, raw: dict[str, Any], *, now: datetime, reach: Any = None,
            config: DispatchConfig | None = None, roster: Roster | None = None,
            citizen: CitizenConfig | None = None) -> dict[str, Any]:
    """Receive one photo report (``raw``: id?, channel, kind, text, reporter, lon/lat or grid_id, photos:
    a list of file paths, observed_at?). Stored as ``received`` (its triage deadline set, the grid's
    leader told) or ``rejected`` with the reason; the same report again changes nothing."""
    from floodtwin.reports.place import ReachIndex, Rejected
    from floodtwin.reports.receive import _default_reach

    ensure_schema(conn)
    config = config if config is not None else load_config()
    citizen = citizen if citizen is not None else load_citizen_config()
    rid = _report_id(raw)
    raw_text = json.dumps(raw, ensure_ascii=False, sort_keys=True, default=str)
    prior = conn.execute("SELECT raw FROM citizen_reports WHERE report_id=?", (rid,)).fetchone()
    if prior is not None:
        if prior[0] == raw_text:
            return {**get_report(conn, rid), "duplicate": True}
        raise InputError(f"report {rid}: the id was already used by a different report; send it under a new id")
    known = ensure_roster(conn, roster)
    reason, place, atts = None, None, []
    channel = raw.get("channel") or "citizen"
    try:
        if raw.get("id") not in (None, "") and rid != raw["id"]:
            raise Rejected(f"id {raw['id']!r}: expected a plain id of letters, digits and ._:- (at most 64)")
        if channel not in CHANNELS:
            raise Rejected(f"channel {channel!r}: expected citizen or patrol")
        if raw.get("kind") not in citizen.kinds:
            raise Rejected(f"kind {raw.get('kind')!r}: expected one of {', '.join(citizen.kinds)}")
        reporter = raw.get("reporter")
        if not isinstance(reporter, str) or not _ID.match(reporter):
            raise Rejected("reporter: give an id (a resident's app id, or a patrol's staff id)")
        if channel == "patrol" and reporter not in known.staff:
            raise Rejected(f"reporter {reporter!r}: a patrol report needs a staff id of the roster")
        if not str(raw.get("text") or "").strip():
            raise Rejected("text: say what was seen")
        photos = raw.get("photos") or []
        if not isinstance(photos, list) or not photos or not all(isinstance(p, str) for p in photos):
            raise Rejected("photos: a snap-and-send report needs at least one photo (a list of file paths)")
        if raw.get("observed_at"):
            try:
                observed = parse_now(str(raw["observed_at"]))
            except InputError:
                raise Rejected(f"observed_at {raw['observed_at']!r}: expected an ISO 8601 time") from None
            if observed > now:
                raise Rejected(f"observed_at {raw['observed_at']} is in the future")
        index = reach if isinstance(reach, ReachIndex) else ReachIndex(reach if reach is not None else _default_reach())
        if raw.get("grid_id") is not None and raw["grid_id"] not in index.grid_ids:
            raise Rejected(f"unknown grid {raw['grid_id']!r}")
        place = index.locate({k: raw.get(k) for k in ("lon", "lat", "grid_id") if raw.get(k) is not None})
        for p in photos:
            try:
                atts.append(store_attachment(conn, p, now=now))
            except InputError as exc:
                raise Rejected(str(exc)) from None
    except Rejected as exc:
        reason = str(exc)
    due = ts(now + timedelta(minutes=citizen.triage_min))
    with transaction(conn):
        conn.execute(
            "INSERT INTO citizen_reports(report_id, channel, received_at, observed_at, status, reject_reason, kind, "
            "text, reporter, lon, lat, x, y, grid_id, triage_due_at, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rid, channel if channel in CHANNELS else None, ts(now),
             ts(parse_now(str(raw["observed_at"]))) if raw.get("observed_at") and reason is None else None,
             "rejected" if reason else "received", reason,
             raw.get("kind") if isinstance(raw.get("kind"), str) else None, str(raw.get("text") or "") or None,
             raw.get("reporter") if isinstance(raw.get("reporter"), str) else None, place and place.lon,
             place and place.lat, place and place.x, place and place.y, place and place.grid_id,
             None if reason else due, raw_text))
        for att in atts:
            _attach(conn, rid, att, "report", str(raw.get("reporter")), now)
        event_id = log_event(conn, now=now, actor="app", kind="citizen_rejected" if reason else "citizen_received",
                             report_id=rid, to_state="rejected" if reason else "received",
                             reason=reason or str(raw.get("text")), data={"photos": [a["sha256"] for a in atts]})
        if reason is None:
            grid = known.grids.get(place.grid_id) if place.grid_id else None
            who = [grid.leader_id] if grid is not None and grid.leader_id else [config.dispatch.town_command.id]
            spec = citizen.kinds[raw["kind"]]
            notify.enqueue(conn, config, kind="danger_report", event_id=event_id, recipients=who, now=now, payload={
                "at": ts(now), "report_id": rid, "subject_zh": f"随手拍待分拨：{spec.zh}",
                "subject_en": f"Snap-and-send report to triage: {spec.en}",
                "text_zh": f"{raw['text']}（网格{place.grid_id or '镇'}，{citizen.triage_min:g}分钟内分拨）",
                "text_en": f"{raw['text']} (grid {place.grid_id or 'town'}; triage within {citizen.triage_min:g} min)"})
    return {**get_report(conn, rid), "duplicate": False}


def get_report(conn: sqlite3.Connection, report_id: str) -> dict[str, Any]:
    """One report with its attachments (InputError for an unknown id)."""
    ensure_schema(conn)
    row = conn.execute("SELECT * FROM citizen_reports WHERE report_id=?", (report_id,)).fetchone()
    if row is None:
        raise InputError(f"report {report_id}: no such snap-and-send report")
    atts = [dict(r) for r in conn.execute(
        "SELECT ra.step, ra.name, ra.actor, ra.added_at, a.sha256, a.path, a.size_bytes FROM report_attachments ra "
        "JOIN attachments a ON a.sha256 = ra.sha256 WHERE ra.report_id=? ORDER BY ra.added_at, ra.step",
        (report_id,))]
    return {**dict(row), "attachments": atts}


def _require_status(row: dict[str, Any], wanted: tuple[str, ...], action: str) -> None:
    if row["status"] not in wanted:
        raise InputError(f"report {row['report_id']}: cannot {action} a report that is {row['status']} "
                         f"(only {', '.join(wanted)})")


# -- the loop ---------------------------------------------------------------------------------
def triage(conn: sqlite3.Connection, report_id: str, *, now: datetime, actor: str, kind: str | None = None,
           grid_id: str | None = None, dismiss: str | None = None, config: DispatchConfig | None = None,
           roster: Roster | None = None, citizen: CitizenConfig | None = None) -> dict[str, Any]:
    """Triage a received report (the leader of its grid or of a grid above, or the town command): dismiss
    it with a reason, or confirm it (``kind``/``grid_id`` may correct it) and dispatch its task at once."""
    config = config if config is not None else load_config()
    citizen = citizen if citizen is not None else load_citizen_config()
    known = ensure_roster(conn, roster)
    row = get_report(conn, report_id)
    _require_status(row, ("received",), "triage")
    _require_judge(conn, known, config, row, actor, "triage", now)
    kind = kind or row["kind"]
    if kind not in citizen.kinds:
        raise InputError(f"triage {report_id}: kind {kind!r}: expected one of {', '.join(citizen.kinds)}")
    grid_id = grid_id or row["grid_id"]
    if grid_id is not None and grid_id not in known.grids:
        raise InputError(f"triage {report_id}: grid {grid_id} is not in the roster")
    with transaction(conn):
        if dismiss is not None:
            if not dismiss.strip():
                raise InputError(f"triage {report_id}: a dismissal needs its reason")
            conn.execute("UPDATE citizen_reports SET status='dismissed', triaged_at=?, closed_at=?, reject_reason=? "
                         "WHERE report_id=?", (ts(now), ts(now), dismiss, report_id))
            log_event(conn, now=now, actor=actor, kind="citizen_dismissed", report_id=report_id,
                      from_state="received", to_state="dismissed", reason=dismiss)
            return get_report(conn, report_id)
        spec = citizen.kinds[kind]
        in_grid = spec.owner_role in ("grid_leader", "grid_member", "micro_grid_leader", "team_member")
        if in_grid and grid_id is None:
            raise InputError(f"triage {report_id}: a {kind} report is handled by grid staff: give --grid")
        text = (row["text"] or "")[:40]
        instr = TaskInstruction(
            key=task_key("citizen", "report", report_id), template_id=f"citizen.{kind}", category=spec.category,
            tier="report", owner_role=spec.owner_role, title_zh=f"处理随手拍{report_id}（{spec.zh}）：{text}",
            title_en=f"Deal with snap-and-send report {report_id} ({spec.en}): {text}", deadline_min=spec.handle_min,
            scope_kind="report", scope_id=report_id, grid_id=grid_id if in_grid else None,
            location=(row["x"], row["y"]) if row["x"] is not None else None, source="citizen",
            note_zh="处理后由网格长核验（须附照片）后办结", note_en="a leader verifies it (with a photo) before it closes",
            extra={"report_id": report_id, "kind": kind, "channel": row["channel"]})
        created, _ = submit_in_transaction(conn, [instr], now=now, actor=actor, reason=f"snap-and-send {report_id}",
                                           config=config, roster=known, activation_id=None)
        conn.execute("UPDATE citizen_reports SET status='dispatched', kind=?, grid_id=?, triaged_at=?, dispatched_at=?,"
                     " task_key=? WHERE report_id=?", (kind, grid_id, ts(now), ts(now), instr.key, report_id))
        log_event(conn, now=now, actor=actor, kind="citizen_triaged", report_id=report_id, from_state="received",
                  to_state="triaged", reason=f"{kind} in grid {grid_id or '-'}")
        log_event(conn, now=now, actor=actor, kind="citizen_dispatched", report_id=report_id, task_key=instr.key,
                  from_state="triaged", to_state="dispatched", reason=f"task {instr.key}",
                  data={"created": created})
    return get_report(conn, report_id)


def _require_judge(conn: sqlite3.Connection, roster: Roster, config: DispatchConfig, row: dict[str, Any], actor: str,
                   action: str, now: datetime) -> None:
    """Triage and dismissal are a leader's: of the report's grid or one above it, or the town command."""
    require_actor(conn, actor, action=f"{action} report {row['report_id']}", now=now, config=config, roster=roster,
                  report_id=row["report_id"])
    town = config.dispatch.town_command.id
    allowed = [*roster.leaders_above(row["grid_id"]), town]
    if actor not in allowed:
        why = (f"{actor} may not {action} report {row['report_id']}: {action} is for the leader of "
               f"{row['grid_id'] or 'its grid'} or of a grid above it, or the town command ({', '.join(allowed)})")
        with transaction(conn):
            log_event(conn, now=now, actor=actor, kind="refused", report_id=row["report_id"], reason=why,
                      data={"action": action})
        raise InputError(why)


def handle(conn: sqlite3.Connection, report_id: str, *, now: datetime, actor: str, photo: str | None = None,
           note: str = "", config: DispatchConfig | None = None, citizen: CitizenConfig | None = None) -> dict[str, Any]:
    """The task's assignee reports the work done (the task's remaining steps: acknowledge, set out, done),
    with an optional photo; the verification deadline starts."""
    citizen = citizen if citizen is not None else load_citizen_config()
    row = get_report(conn, report_id)
    _require_status(row, ("dispatched",), "handle")
    att = store_attachment(conn, photo, now=now) if photo else None
    for state, action in (("dispatched", "ack"), ("acknowledged", "start"), ("in_progress", "done")):
        current = conn.execute("SELECT state FROM tasks WHERE key=?", (row["task_key"],)).fetchone()[0]
        if current == state:
            transition(conn, row["task_key"], action, now=now, actor=actor, reason=note or "snap-and-send handled",
                       config=config)
    with transaction(conn):
        conn.execute("UPDATE citizen_reports SET status='handled', handled_at=?, verify_due_at=? WHERE report_id=?",
                     (ts(now), ts(now + timedelta(minutes=citizen.verify_min)), report_id))
        if att:
            _attach(conn, report_id, att, "handle", actor, now)
        log_event(conn, now=now, actor=actor, kind="citizen_handled", report_id=report_id, task_key=row["task_key"],
                  from_state="dispatched", to_state="handled", reason=note,
                  data={"photo": att["sha256"] if att else None})
    return get_report(conn, report_id)


def verify(conn: sqlite3.Connection, report_id: str, *, now: datetime, actor: str, photo: str | None,
           note: str = "", config: DispatchConfig | None = None) -> dict[str, Any]:
    """A leader (the board's verify rule: never one's own work) verifies the work, with a photo (required)."""
    row = get_report(conn, report_id)
    _require_status(row, ("handled",), "verify")
    if not photo:
        raise InputError(f"verify {report_id}: a verification needs a photo of the result (--photo)")
    att = store_attachment(conn, photo, now=now)
    transition(conn, row["task_key"], "verify", now=now, actor=actor, reason=note or "verified with a photo",
               config=config)
    with transaction(conn):
        conn.execute("UPDATE citizen_reports SET status='verified', verified_at=? WHERE report_id=?",
                     (ts(now), report_id))
        _attach(conn, report_id, att, "verify", actor, now)
        log_event(conn, now=now, actor=actor, kind="citizen_verified", report_id=report_id, task_key=row["task_key"],
                  from_state="handled", to_state="verified", reason=note, data={"photo": att["sha256"]})
    return get_report(conn, report_id)


def close(conn: sqlite3.Connection, report_id: str, *, now: datetime, actor: str, note: str = "",
          config: DispatchConfig | None = None) -> dict[str, Any]:
    """Close a verified report (and its task): the loop is done."""
    row = get_report(conn, report_id)
    _require_status(row, ("verified",), "close")
    transition(conn, row["task_key"], "close", now=now, actor=actor, reason=note or "closed", config=config)
    with transaction(conn):
        conn.execute("UPDATE citizen_reports SET status='closed', closed_at=? WHERE report_id=?", (ts(now), report_id))
        log_event(conn, now=now, actor=actor, kind="citizen_closed", report_id=report_id, task_key=row["task_key"],
                  from_state="verified", to_state="closed", reason=note)
    return get_report(conn, report_id)


def tick(conn: sqlite3.Connection, *, now: datetime, config: DispatchConfig | None = None,
         roster: Roster | None = None) -> list[dict[str, Any]]:
    """Escalate late triage and late verification: the first time to the grid's leader (the town command
    without a grid), the second to the town command; each once. Returns what was escalated."""
    ensure_schema(conn)
    config = config if config is not None else load_config()
    known = ensure_roster(conn, roster)
    town = config.dispatch.town_command.id
    out = []
    with transaction(conn):
        rows = [dict(r) for r in conn.execute(
            "SELECT * FROM citizen_reports WHERE (status='received' AND triage_due_at <= ?) "
            "OR (status='handled' AND verify_due_at <= ?) ORDER BY report_id", (ts(now), ts(now)))]
        for r in rows:
            step = "triage" if r["status"] == "received" else "verify"
            due = r["triage_due_at"] if step == "triage" else r["verify_due_at"]
            level = r["escalations"]
            if level >= 2:
                continue
            grid = known.grids.get(r["grid_id"]) if r["grid_id"] else None
            target = (grid.leader_id if grid is not None and grid.leader_id and level == 0 else town)
            late = (now - parse_ts(due)).total_seconds() / 60.0
            event_id = log_event(conn, now=now, actor="tick", kind="citizen_escalated", report_id=r["report_id"],
                                 from_state=r["status"], to_state=r["status"],
                                 reason=f"{step} {late:.0f} min late: escalated to {target}",
                                 data={"step": step, "to": target, "level": level + 1})
            conn.execute("UPDATE citizen_reports SET escalations=? WHERE report_id=?", (level + 1, r["report_id"]))
            notify.enqueue(conn, config, kind="escalated", event_id=event_id, recipients=[target], now=now, payload={
                "at": ts(now), "report_id": r["report_id"], "subject_zh": f"随手拍{step == 'triage' and '分拨' or '核验'}超时",
                "subject_en": f"Snap-and-send report {r['report_id']}: {step} late",
                "text_zh": f"随手拍{r['report_id']}超时{late:.0f}分钟未{'分拨' if step == 'triage' else '核验'}",
                "text_en": f"Report {r['report_id']}: {step} is {late:.0f} min late"})
            # a second escalation the next time the step is still late, not in the same tick
            conn.execute("UPDATE citizen_reports SET triage_due_at=CASE WHEN status='received' THEN ? ELSE "
                         "triage_due_at END, verify_due_at=CASE WHEN status='handled' THEN ? ELSE verify_due_at END "
                         "WHERE report_id=?", (ts(now + timedelta(minutes=config.dispatch.sla.handle_min)),) * 2
                         + (r["report_id"],))
            out.append({"report_id": r["report_id"], "step": step, "late_min": round(late, 1), "to": target,
                        "level": level + 1})
    return out


def timeline(conn: sqlite3.Connection, report_id: str) -> list[dict[str, Any]]:
    """Every step of a report, oldest first: its own events and those of its task."""
    row = get_report(conn, report_id)
    rows = conn.execute("SELECT * FROM events WHERE report_id=? OR (task_key IS NOT NULL AND task_key=?) "
                        "ORDER BY id", (report_id, row["task_key"] or "")).fetchall()
    return [dict(r) for r in rows]


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """The loop's figures over the reports received (rejected ones aside): per grid and per kind the
    count, the closed share (closed or dismissed over all) and the median minutes from receipt to close."""
    ensure_schema(conn)
    rows = [dict(r) for r in conn.execute("SELECT * FROM citizen_reports WHERE status != 'rejected'")]

    def group(key: str) -> list[dict[str, Any]]:
        buckets: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            buckets[r[key] or "-"].append(r)
        out = []
        for name in sorted(buckets):
            rs = buckets[name]
            closed = [r for r in rs if r["status"] in ("closed", "dismissed")]
            minutes = [(parse_ts(r["closed_at"]) - parse_ts(r["received_at"])).total_seconds() / 60.0 for r in closed]
            out.append({key: name, "reports": len(rs), "closed": len(closed),
                        "closed_share": round(len(closed) / len(rs), 3),
                        "median_min_to_close": round(statistics.median(minutes), 1) if minutes else None,
                        "open": len(rs) - len(closed)})
        return out

    rejected = conn.execute("SELECT COUNT(*) FROM citizen_reports WHERE status='rejected'").fetchone()[0]
    closed = sum(r["status"] in ("closed", "dismissed") for r in rows)
    return {"reports": len(rows), "rejected": rejected, "closed": closed,
            "closed_share": round(closed / len(rows), 3) if rows else None,
            "by_grid": group("grid_id"), "by_kind": group("kind")}
