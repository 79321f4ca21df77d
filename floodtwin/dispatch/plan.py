"""Putting the preplan into effect for a flow: decide the tier, expand its tasks, activate them.

The glue between the preplan engine and the board that ``floodtwin tasks activate --discharge Q``
and the alert run use. The previous decision (for the preplan's hysteresis) and the active major
dangers at the works (for its "major danger at a works" trigger) come from the database, so
successive activations from different processes see the same history.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from datetime import datetime
from typing import Any

from floodtwin.dispatch.board import Activation, activate
from floodtwin.dispatch.reports import active_major_dangers
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import DispatchConfig
from floodtwin.errors import InputError


def last_decision(conn: sqlite3.Connection) -> Any:
    """The TierDecision of the latest activation that recorded one (None if none or unreadable)."""
    from floodtwin.preplan import TierDecision

    ensure_schema(conn)
    row = conn.execute("SELECT decision FROM activations WHERE decision IS NOT NULL AND decision != 'null' "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    doc = json.loads(row[0])
    names = {f.name for f in fields(TierDecision)}
    kwargs = {k: v for k, v in doc.items() if k in names}
    for key in ("time", "above_since", "below_since"):
        if kwargs.get(key):
            kwargs[key] = datetime.fromisoformat(str(kwargs[key]))
    kwargs["active_triggers"] = tuple(kwargs.get("active_triggers") or ())
    try:
        return TierDecision(**kwargs)
    except TypeError:
        return None  # recorded by an older preplan engine: start without hysteresis history


def stone_dangers(conn: sqlite3.Connection) -> tuple[Any, ...]:
    """Smart stones now displaced or lost (sensors component), as preplan Dangers of root-stone loss.

    A stone alarm that has moved to displaced/lost counts as a major danger at its works: the
    remedy (riprap at the spur) and the tier trigger are the same as for a field report.
    """
    from floodtwin.preplan import Danger

    try:
        from floodtwin.sensors.ingest import active_major_dangers as stones_now
    except ImportError:  # floodtwin without the sensors component
        return ()
    return tuple(Danger(works_id=d["works_id"], kind="root_stone_loss", severity="major", source="stone",
                        spur_id=d.get("spur_id")) for d in stones_now(conn) if d.get("works_id"))


def works_dangers(conn: sqlite3.Connection, plan: Any) -> tuple[Any, ...]:
    """Active major dangers at the works as preplan Dangers: field reports and smart stones.

    Field reports use the severity scale of the danger table (general < major < critical); the
    preplan's trigger names the severities that raise the tier. A report counts for the trigger
    when its severity ranks at or above the lowest trigger severity the table knows, so a critical
    danger (a leak) raises the tier wherever a major one does.
    """
    from floodtwin.dispatch.reports import load_dangers
    from floodtwin.preplan import Danger

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
             config: DispatchConfig | None = None) -> tuple[Any, Activation] | None:
    """Evaluate the plan again at the flow of the latest activation, e.g. after a major danger at a
    works was reported, so that the raised tier's tasks go out at once. None when no activation
    has recorded a flow yet (then the next ``tasks activate`` or alert run applies the trigger)."""
    previous = last_decision(conn)
    if previous is None or (previous.observed_m3s is None and previous.forecast_m3s is None):
        return None
    return activate_discharge(conn, previous.observed_m3s, forecast_m3s=previous.forecast_m3s, now=now,
                              actor=actor, reason=reason, preplan=preplan, config=config)


def activate_discharge(conn: sqlite3.Connection, discharge_m3s: float | None, *, now: datetime, actor: str,
                       reason: str, forecast_m3s: float | None = None, preplan: Any = None, reach: Any = None,
                       config: DispatchConfig | None = None, roster: Roster | None = None) -> tuple[Any, Activation]:
    """Evaluate the preplan for the flow at ``now`` and put its tasks on the board.

    ``discharge_m3s`` (observed) and ``forecast_m3s`` are m³/s at Huayuankou; ``preplan`` is a
    loaded Preplan or a path (default: the repository's), ``reach`` a loaded Reach or ReachTables
    (default: the Huayuankou reach's tables read straight from its GeoPackage, the roster from the
    same tables: the duty officer's "set the flow, the task list updates at once" path, without
    loading the terrain or GeoDataFrames). Returns the TierDecision and the Activation
    (created / stood-down keys).
    """
    from floodtwin.preplan import FlowState, Preplan, ReachTables

    if discharge_m3s is None and forecast_m3s is None:
        raise InputError("activate: give --discharge (and/or --forecast) in m3/s")
    for name, value in (("discharge", discharge_m3s), ("forecast", forecast_m3s)):
        if value is not None and not (0 <= value < 100_000):
            raise InputError(f"activate: --{name} {value} m3/s is outside 0-100000 m3/s")
    plan = preplan if isinstance(preplan, Preplan) else Preplan.load(preplan)
    if reach is None:
        reach = ReachTables.read("huayuankou")
    state = FlowState(observed_m3s=discharge_m3s, forecast_m3s=forecast_m3s, time=now,
                      previous=last_decision(conn), dangers=works_dangers(conn, plan))
    decision = plan.evaluate(state)
    instructions = plan.tasks_for(decision, reach)
    if roster is None:
        roster = Roster.from_tables(reach) if isinstance(reach, ReachTables) else Roster.from_reach(reach)
    result = activate(conn, instructions, now=now, actor=actor, reason=f"{reason} ({decision.reason})".strip(),
                      decision=decision, config=config, roster=roster)
    return decision, result
