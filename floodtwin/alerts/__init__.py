"""The second orchestrator: what the twin does when the river or a stone tells it something.

Where :mod:`floodtwin.scenario` answers "what would Q mean?", this module puts answers into
effect on the task board and is what the CLI's ``tasks activate``, ``stones ingest`` and the
scheduled alert run call:

- **activation for a discharge** (:func:`activate_discharge`): decide the preplan tier for the
  observed/forecast flow (with the hysteresis of the previous decision and the works-danger
  trigger), expand its task instructions, put them on the board and stand down the stale ones;
- **re-assessment** (:func:`reassess`): the same at the last recorded flow, after a danger report;
- **the danger triggers** (:func:`works_dangers`): active major dangers at the works, from field
  reports and from smart stones now displaced or lost;
- **the answer to stone alarms** (:class:`StoneAlarmAnswer`, :func:`submit_alarm_tasks`): a stone
  displaced or lost reports root-stone loss (根石走失) at its spur, answered through the danger
  table (``data/config/dangers.yaml``) exactly as a field report of that danger is;
- **alert-run records** (:func:`start_alert_run`, :func:`finish_alert_run`).

The previous decision and the dangers come from the database, so successive activations from
different processes see the same history. ``sensors`` and ``dispatch`` never import each other:
this module joins them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from floodtwin.db import transaction, ts
from floodtwin.dispatch.board import Activation, activate, submit
from floodtwin.dispatch.roster import Roster, ensure_roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.errors import FloodtwinError, InputError, require_discharge_m3s
from floodtwin.preplan import Danger, FlowState, Preplan, ReachTables, TierDecision
from floodtwin.reports import Place, active_major_dangers, danger_instructions, load_dangers
from floodtwin.reports.dangers import STONE_DANGER_KIND, DangerTable
from floodtwin.sensors.alarms import MAJOR
from floodtwin.sensors.ingest import Ingestor, Summary, active_major_dangers as displaced_stones, to_ms
from floodtwin.sensors.registry import Registry, Stone
from floodtwin.sensors.store import ms_to_iso, open_db
from floodtwin.tasks import TaskInstruction

__all__ = ["last_decision", "stone_dangers", "works_dangers", "reassess", "activate_discharge",
           "stone_place", "stone_alarm_instructions", "submit_alarm_tasks", "StoneAlarmAnswer",
           "ingest_stone_file", "start_alert_run", "finish_alert_run"]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------
# the preplan put into effect for a flow

def last_decision(conn: sqlite3.Connection) -> TierDecision | None:
    """The TierDecision of the latest activation that recorded one (None if none, or if it was
    recorded by an older preplan engine whose fields no longer fit: then start without history)."""
    ensure_schema(conn)
    row = conn.execute("SELECT decision FROM activations WHERE decision IS NOT NULL AND decision != 'null' "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    doc = json.loads(row[0])
    names = {f.name for f in fields(TierDecision)}
    try:
        return TierDecision(**{k: v for k, v in doc.items() if k in names})  # its own round-trip (to_dict)
    except (TypeError, InputError):
        return None


def stone_dangers(conn: sqlite3.Connection) -> tuple[Danger, ...]:
    """Smart stones now displaced or lost, as preplan Dangers of root-stone loss at their works.

    A stone alarm that has moved to displaced/lost counts as a major danger at its works: the
    remedy (riprap at the spur) and the tier trigger are the same as for a field report.
    """
    return tuple(Danger(works_id=d["works_id"], kind=STONE_DANGER_KIND, severity="major", source="stone",
                        spur_id=d.get("spur_id")) for d in displaced_stones(conn) if d.get("works_id"))


def works_dangers(conn: sqlite3.Connection, plan: Preplan) -> tuple[Danger, ...]:
    """Active major dangers at the works as preplan Dangers: field reports and smart stones.

    Field reports use the severity scale of the danger table (general < major < critical); the
    preplan's trigger names the severities that raise the tier. A report counts for the trigger
    when its severity ranks at or above the lowest trigger severity the table knows, so a critical
    danger (a leak) raises the tier wherever a major one does.
    """
    table = load_dangers()
    wanted = [s for s in plan.model.triggers.works_danger.severities if s in table.severities]
    floor = min(wanted, key=table.rank) if wanted else None
    out = []
    for d in active_major_dangers(conn, table):
        severity = d["severity"]
        if floor is not None and severity not in wanted and table.rank(severity) >= table.rank(floor):
            severity = floor
        out.append(Danger(works_id=d["works_id"], kind=d["kind"], severity=severity, source="report",
                          spur_id=d["spur_id"]))
    return tuple(out) + stone_dangers(conn)


def reassess(conn: sqlite3.Connection, *, now: datetime, actor: str, reason: str, preplan: Any = None,
             config: DispatchConfig | None = None, risk: Any = None) -> tuple[TierDecision, Activation] | None:
    """Evaluate the plan again at the flow of the latest activation, e.g. after a major danger at a
    works was reported, so that the raised tier's tasks go out at once. None when no activation
    has recorded a flow yet (then the next ``tasks activate`` or alert run applies the trigger)."""
    previous = last_decision(conn)
    if previous is None or (previous.observed_m3s is None and previous.forecast_m3s is None):
        return None
    return activate_discharge(conn, previous.observed_m3s, forecast_m3s=previous.forecast_m3s, now=now,
                              actor=actor, reason=reason, preplan=preplan, config=config, risk=risk)


def activate_discharge(conn: sqlite3.Connection, discharge_m3s: float | None, *, now: datetime, actor: str,
                       reason: str, forecast_m3s: float | None = None, preplan: Any = None, reach: Any = None,
                       config: DispatchConfig | None = None,
                       roster: Roster | None = None, risk: Any = None) -> tuple[TierDecision, Activation]:
    """Evaluate the preplan for the flow at ``now`` and put its tasks on the board.

    ``discharge_m3s`` (observed) and ``forecast_m3s`` are m³/s at Huayuankou; ``preplan`` is a
    loaded Preplan or a path (default: the repository's), ``reach`` a loaded Reach or ReachTables
    (default: the Huayuankou reach's tables read straight from its GeoPackage, the roster from the
    same tables: the duty officer's "set the flow, the task list updates at once" path, without
    loading the terrain or GeoDataFrames). Returns the TierDecision and the Activation
    (created / stood-down keys).
    """
    if discharge_m3s is None and forecast_m3s is None:
        raise InputError("activate: give --discharge (and/or --forecast) in m3/s")
    for name, value in (("--discharge", discharge_m3s), ("--forecast", forecast_m3s)):
        if value is not None:
            require_discharge_m3s(value, name=f"activate: {name}")
    plan = preplan if isinstance(preplan, Preplan) else Preplan.load(preplan)
    if reach is None:
        reach = ReachTables.read("huayuankou")
    state = FlowState(observed_m3s=discharge_m3s, forecast_m3s=forecast_m3s, time=now,
                      previous=last_decision(conn), dangers=works_dangers(conn, plan),
                      risk=risk)  # risk: e.g. water a camera sees at a dike toe (issue 20), for the tier trigger
    decision = plan.evaluate(state)
    instructions = plan.tasks_for(decision, reach)
    if roster is None:
        roster = Roster.from_tables(reach) if isinstance(reach, ReachTables) else Roster.from_reach(reach)
    result = activate(conn, instructions, now=now, actor=actor, reason=f"{reason} ({decision.reason})".strip(),
                      decision=decision, config=config, roster=roster)
    if plan.model.modes is not None:  # issue 20: a flood level of IV or above forces the emergency mode
        from floodtwin.dispatch.modes import apply_level

        switch = apply_level(conn, decision.tier, now=now, actor=actor, preplan=plan, reach=reach, config=config,
                             roster=roster)
        if switch is not None:
            result = replace(result, mode_switch=switch.to_dict())
    return decision, result


# ----------------------------------------------------------------------------------------------
# the answer to smart-stone alarms: root-stone loss through the danger table

def stone_place(stone: Stone) -> Place:
    """The spur of ``stone`` as the place of a danger (reach CRS; a stone carries no lon/lat)."""
    return Place(x=stone.x_m, y=stone.y_m, lon=None, lat=None, works_id=stone.works_id, spur_id=stone.spur_id,
                 dike_id=None, chainage_m=None, grid_id=stone.grid_id,
                 where_zh=f"{stone.works_name_zh}{stone.spur_number}号坝",
                 where_en=f"{stone.works_name_en} spur {stone.spur_number}")


def stone_alarm_instructions(stone: Stone, state: str, table: DangerTable, *, exclusive_grid: bool,
                             alarm_at: str = "") -> list[TaskInstruction]:
    """The tasks of ``stone`` having reached ``state`` (displaced or lost): the danger table's
    response to root-stone loss at its spur, at the severity ``stone_alarms`` gives the state,
    with the materials from the stone's nearest depot. One response per spur (keys by spur), one
    patrol per works: a second stone at the spur, or displaced then lost, adds nothing."""
    if state not in MAJOR:
        raise InputError(f"stone {stone.stone_id}: no root-stone response for state {state!r} "
                         f"(only {', '.join(MAJOR)})")
    words_zh = {"displaced": "位移", "lost": "走失"}[state]
    depot_zh = f"，从{stone.depot_name_zh}调料" if stone.depot_name_zh else ""
    depot_en = f" Materials from {stone.depot_name_en}" + (
        f" (about {stone.depot_distance_m / 1000:.1f} km)." if stone.depot_distance_m else ".") \
        if stone.depot_name_en else ""
    return danger_instructions(
        f"stone-{stone.stone_id}", STONE_DANGER_KIND, table.stone_alarms[state], stone_place(stone), table,
        exclusive_grid, source="sensor", scope=("spur", stone.spur_id), depot_id=stone.depot_id,
        note_zh=f"：智能石头{stone.stone_id}报{words_zh}{depot_zh}。",
        note_en=f"smart stone {stone.stone_id} reports {state}{f' at {alarm_at}' if alarm_at else ''}.{depot_en}")


def submit_alarm_tasks(conn: sqlite3.Connection, registry: Registry, *, now: datetime, actor: str = "sensors",
                       table: DangerTable | None = None, config: DispatchConfig | None = None,
                       roster: Roster | None = None) -> list[str]:
    """Put the tasks of every displaced/lost alarm event that has none yet on the board, and record
    which tasks each event raised (``alarm_tasks``). Idempotent: an event is answered once, and a
    crash between the board and the record is repaired by the next call. Returns the new keys."""
    events = conn.execute(
        "SELECT e.id, e.stone_id, e.to_state, e.t_ms FROM alarm_events e WHERE e.kind = 'state' "
        "AND e.to_state IN ('displaced', 'lost') AND e.retracted_ms IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM alarm_tasks a WHERE a.event_id = e.id) ORDER BY e.t_ms, e.id").fetchall()
    if not events:
        return []
    table = table if table is not None else load_dangers()
    ensure_schema(conn)
    roster = ensure_roster(conn, roster)
    created: list[str] = []
    now_ms = to_ms(now)
    for ev in events:
        stone = registry.stones.get(ev["stone_id"])
        if stone is None:
            continue
        grid = roster.grids.get(stone.grid_id) if stone.grid_id else None
        instructions = stone_alarm_instructions(stone, ev["to_state"], table,
                                                exclusive_grid=grid is not None and grid.level == "exclusive",
                                                alarm_at=ms_to_iso(ev["t_ms"]) or "")
        keys = submit(conn, instructions, now=now, actor=actor, config=config, roster=roster,
                      reason=f"smart stone {stone.stone_id} {ev['to_state']} at {stone.works_name_en} "
                             f"spur {stone.spur_number}")
        created.extend(keys)
        with transaction(conn):
            conn.executemany("INSERT OR IGNORE INTO alarm_tasks (event_id, task_key, task_id, created_ms) "
                             "VALUES (?,?,?,?)",
                             [(ev["id"], i.key, i.key if i.key in keys else None, now_ms) for i in instructions])
    return created


class StoneAlarmAnswer:
    """Answers the alarm transitions of each ingest batch (a callable on the batch's Summary).

    The readings and events are committed before it runs: a dispatch failure (a missing dispatch
    file, a locked board) is logged and put in the summary's ``task_errors``, never raised, and the
    tasks are tried again with the next batch, so no alarm goes unanswered and none twice.
    """

    def __init__(self, conn: sqlite3.Connection, registry: Registry, *, actor: str = "sensors",
                 clock: Any = None):
        self.conn = conn
        self.registry = registry
        self.actor = actor
        self.clock = clock
        self.pending = True  # events of an earlier run may still wait for their tasks

    def __call__(self, summary: Summary, now: datetime | None = None) -> Summary:
        """Submit the tasks of the batch's new displaced/lost events (and any still pending)."""
        major = any(e["kind"] == "state" and e["to"] in MAJOR for e in summary.events)
        if not (self.pending or major):
            return summary
        now = now or (self.clock() if self.clock else datetime.now().astimezone())
        try:
            summary.tasks_created.extend(submit_alarm_tasks(self.conn, self.registry, now=now, actor=self.actor))
            self.pending = False
        except FloodtwinError as exc:
            log.error("root-stone tasks not submitted (retried with the next batch): %s", exc)
            summary.task_errors.append(str(exc))
            self.pending = True
        return summary


def ingest_stone_file(path: str | Path, db: str | Path | None = None, *, now: datetime | None = None,
                      submit_tasks: bool = True) -> Summary:
    """Open the database at ``db``, ingest ``path`` (JSON Lines or CSV) and answer its alarms
    (``submit_tasks`` False: the events are stored and answered by a later run). Returns the summary."""
    conn = open_db(db)
    try:
        ingestor = Ingestor(conn, clock=(lambda: now) if now else None)
        summary = ingestor.ingest_file(path, now=now)
        if submit_tasks:
            StoneAlarmAnswer(conn, ingestor.registry, clock=ingestor.clock)(summary, now)
        return summary
    finally:
        conn.close()


# ----------------------------------------------------------------------------------------------
# alert-run records

def start_alert_run(conn: sqlite3.Connection, *, now: datetime, discharge_m3s: float | None = None,
                    reason: str = "") -> int:
    """Record the start of an alert run; returns its id."""
    ensure_schema(conn)
    with transaction(conn):
        cur = conn.execute("INSERT INTO alert_runs(started_at, status, discharge_m3s, reason) VALUES (?,?,?,?)",
                           (ts(now), "running", discharge_m3s, reason))
    return int(cur.lastrowid)


def finish_alert_run(conn: sqlite3.Connection, run_id: int, *, now: datetime, status: str,
                     tier: str | None = None, summary: dict[str, Any] | None = None) -> None:
    """Record the end of alert run ``run_id`` (status "ok", "failed", ...)."""
    with transaction(conn):
        conn.execute("UPDATE alert_runs SET finished_at=?, status=?, tier=?, summary=? WHERE id=?",
                     (ts(now), status, tier, json.dumps(summary or {}, ensure_ascii=False, default=str), run_id))
