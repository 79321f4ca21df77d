"""``floodtwin tasks``: activate the plan for a flow, follow every task to closure, tick the SLA timers.

Every command takes ``--db`` (default ``$FLOODTWIN_DB`` or the user data folder), ``--config``
(dispatch YAML; default ``$FLOODTWIN_CONFIG`` or the shipped example), ``--now`` (ISO time, for
drills and tests) and ``--json``. An action on a task names the person taking it (``--actor``: a
staff id, or the town command's id), checked against the task (states.py says who may). Text
output shows times on the staff's clock (``utc_offset_h``) with the zone; JSON stays UTC. Commands that change state deliver the queued notifications
afterwards; what cannot be delivered now stays in the outbox for ``floodtwin tasks deliver``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(help="Dispatch: activate the plan, assign, acknowledge, escalate and close tasks.",
                  no_args_is_help=True)

from floodtwin.cli._common import (ACTOR_OPT, CONFIG_OPT, DB_OPT, DELIVER_OPT, JSON_OPT, NOW_OPT, clock, command,
                                   deliver_now, emit, esc, open_db, say)

__all__ = ["app", "activate_cmd", "load_cmd", "list_cmd", "show_cmd", "tick_cmd", "deliver_cmd", "export_cmd",
           "sync_roster_cmd", "compact_lines", "wide_records", "fit", "due_clock"]


def wide_records(tasks: list[dict[str, Any]], *, offset_h: float, overdue: dict[str, list[str]]) -> list[str]:
    """Everything about each task, as Rich markup: a head line (key, short id, state, tier, category, grid,
    owner role, source), who has it and the deadline on the local clock, both titles, then the notes,
    materials and dependencies where there are any. Lines are left to wrap at the terminal's width: a
    table of a dozen columns folds into an unreadable grid at 100 columns."""
    from floodtwin.db import local_time

    out = [f"[bold]{len(tasks)} task(s)[/]"]
    for t in tasks:
        rnd = f" round {t['round']}" if t.get("repeat_min") else ""
        out.append(f"[bold]{esc(t['key'])}[/] (id {esc(t.get('short_id') or t['key'])})  {t['state']}  tier "
                   f"{esc(t['tier'])}  {esc(t['category'])}  grid {esc(t['grid_id'] or '-')}  owner "
                   f"{esc(t['owner_role'])}  from {esc(t['source'])}{rnd}")
        late = overdue.get(t["key"])
        out.append(f"  assignees {esc(', '.join(t.get('assignees') or ['-']))}  due "
                   f"{local_time(t['handle_due_at'], offset_h)}  escalation level {t['escalation_level'] or 0}"
                   + (f"  [red]missed: {', '.join(late)}[/]" if late else "")
                   + (f"  every {t['repeat_min']:g} min" if t.get("repeat_min") else ""))
        out.append(f"  {esc(t['title_zh'])}")
        out.append(f"  {esc(t['title_en'])}")
        for note in (t.get("note_zh"), t.get("note_en")):
            if note:
                out.append(f"  [dim]{esc(note)}[/]")
        if t.get("materials"):
            out.append("  materials: " + esc(", ".join(f"{m['item']} {m['quantity']:g} {m['unit']}"
                                                       + (f" from {m['depot_id']}" if m.get("depot_id") else "")
                                                       for m in t["materials"])))
        if t.get("depends_on"):
            out.append("  after: " + esc(", ".join(t["depends_on"])))
    return out


def fit(text: str, width: int, *, pad: bool = True) -> str:
    """``text`` cut to ``width`` terminal cells (CJK counts two) with an ellipsis; padded to ``width``
    unless ``pad`` is false (the last field of a line)."""
    from rich.cells import cell_len, set_cell_size

    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width) if pad else text


def due_clock(stamp: str | None, now: Any, offset_h: float) -> str:
    """A deadline as the local ``HH:MM``, with ``+1`` / ``-1`` … when it falls on another local day than
    ``now`` (as timetables write it)."""
    from datetime import timedelta, timezone

    from floodtwin.db import parse_ts

    if not stamp:
        return "-"
    zone = timezone(timedelta(hours=offset_h))
    due = parse_ts(stamp).astimezone(zone)
    days = (due.date() - now.astimezone(zone).date()).days
    return due.strftime("%H:%M") + (f"{days:+d}" if days else "")


def compact_lines(tasks: list[dict[str, Any]], *, lang: str, offset_h: float, now: Any, width: int,
                  roster: Any, town: Any, overdue: set[str]) -> list[str]:
    """The default task list: one Rich-markup line per task, never wider than ``width``, grouped by grid.

    By grid, because that is how the town works: a grid's staff carry its tasks and its leader answers
    for them, so each group opens with the person to call. Tasks outside every grid (town level and the
    plan's units) come last, under the town command. Per task: the short id (what ``tasks ack`` takes),
    the state, who has it, the deadline on the local clock (``!`` a missed timer), who it was escalated
    to, and the title cut to the width with an ellipsis.
    """
    from floodtwin.db import local_time, zone_label

    zone = zone_label(offset_h)
    id_w = min(max([len(t.get("short_id") or t["key"]) for t in tasks] + [2]), 12)
    # staff ids are short; a unit of the plan (materials_group) is cut rather than widening every line
    who_w = min(max([len((t.get("assignees") or ["-"])[0]) for t in tasks] + [3]), 12)
    widths = (id_w, 12, who_w, 7, 1, 6)  # id, state, who, due, missed-timer mark, escalated to
    title_w = max(width - 1 - sum(widths) - len(widths), 10)

    def row(cells: list[str]) -> str:  # cells already fitted; one leading space, one between
        return " " + " ".join(cells)

    lines = [esc(fit(f"{len(tasks)} task(s) at {local_time(now, offset_h)}; due times {zone}, +1 the next "
                     f"day, ! a missed timer; by grid", width, pad=False)),
             "[bold]" + esc(row([fit(h, w) for h, w in zip(("id", "state", "who", "due", " ", "esc"), widths)]
                                + ["title"])) + "[/]"]
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for t in tasks:
        groups.setdefault(t["grid_id"], []).append(t)
    for grid_id in sorted(groups, key=lambda g: (g is None, g or "")):
        members = sorted(groups[grid_id], key=lambda t: (t["handle_due_at"] or "", t["key"]))
        late = sum(t["key"] in overdue for t in members)
        count = f"{len(members)} task(s)" + (f", {late} overdue" if late else "")
        head = _group_head(grid_id, lang, roster, town) + " · " + count
        lines.append("[bold]" + esc(fit(head, width, pad=False)) + "[/]")
        for t in members:
            who = t.get("assignees") or ["-"]
            up = ("↑" + who[-1]) if len(who) > 1 else ""
            title = t["title_zh"] if lang == "zh" else t["title_en"]
            mark = "[red bold]![/]" if t["key"] in overdue else " "
            lines.append(row([esc(fit(t.get("short_id") or t["key"], id_w)), fit(t["state"], 12),
                              esc(fit(who[0], who_w)), fit(due_clock(t["handle_due_at"], now, offset_h), 7), mark,
                              "[yellow]" + esc(fit(up, 6)) + "[/]", esc(fit(title, title_w, pad=False))]))
    return lines


def _group_head(grid_id: str | None, lang: str, roster: Any, town: Any) -> str:
    """``G07 <name> · leader S007``; tasks without a grid are the town command's to answer for."""
    if grid_id is None:
        return f"town level, no grid · town command {town.id} {town.name_zh if lang == 'zh' else town.name_en}"
    grid = roster.grids.get(grid_id) if roster is not None else None
    if grid is None:
        return f"{grid_id} (not in the roster) · town command {town.id}"
    name = grid.name_zh if lang == "zh" else grid.name_en
    leader = roster.staff.get(grid.leader_id) if grid.leader_id else None
    duty = "" if leader is None or leader.on_duty else " (off duty)"
    return f"{grid_id} {name or ''} · leader {grid.leader_id or '-'}{duty}".replace("  ", " ")


# ----------------------------------------------------------------------------------------------
# commands

@command(app, "activate")
def activate_cmd(
    discharge: Optional[float] = typer.Option(None, "--discharge", "-q", help="Observed discharge at Huayuankou (m3/s)."),
    forecast: Optional[float] = typer.Option(None, "--forecast", help="Forecast peak discharge (m3/s)."),
    reason: str = typer.Option("", "--reason", help="Why (recorded with every change)."),
    preplan: Optional[Path] = typer.Option(None, "--preplan", help="Preplan YAML (default: data/preplans/huayuankou.yaml)."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    actor: Optional[str] = typer.Option(None, "--actor", help="Who orders it: the town command (default, its id "
                                        "from the dispatch YAML), a staff id, or a system run (alerts)."),
    as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
) -> None:
    """Put the plan for a flow into effect: create, assign and notify its tasks; stand down the rest."""
    from floodtwin.alerts import activate_discharge
    from floodtwin.dispatch.board.states import require_actor

    from floodtwin.errors import InputError

    if discharge is None and forecast is None:
        raise InputError("activate: give --discharge (and/or --forecast) in m3/s")
    t = clock(now)
    conn, cfg = open_db(db, config)
    # an activation is the command's order (防指): it is recorded under the command unless someone else is named
    if actor is None:
        actor = cfg.dispatch.town_command.id
    else:  # someone named: check them (the default is the command, known by construction)
        require_actor(conn, actor, action="activate the plan", now=t, config=cfg, person=False)
    flow = discharge if discharge is not None else forecast
    decision, result = activate_discharge(conn, discharge, forecast_m3s=forecast, now=t, actor=actor,
                                          reason=reason or f"flow {flow:g} m3/s", preplan=preplan, config=cfg)
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    from floodtwin.dispatch.board.queries import load_report

    if as_json:
        emit({"decision": decision.to_dict(), **result.to_dict(), "load": load_report(conn, config=cfg),
              "delivery": delivery})
        return
    say(f"[bold]tier {esc(decision.tier)}[/] ({esc(decision.colour)}): {esc(decision.reason)}")
    say(f"{len(result.created)} task(s) created and assigned, {len(result.stood_down)} stood down, "
        f"{result.unchanged} unchanged (activation {result.activation_id})")
    for line in _load_lines(load_report(conn, config=cfg)):
        say(line)
    from floodtwin.cli.mode import mode_line

    say(esc(mode_line(conn, cfg.dispatch.utc_offset_h, preplan)))


def _load_lines(report: dict[str, Any], shown: int = 6) -> list[str]:
    """The load summary (each line under 100 columns): the most tasks one person holds due in the same
    window against the cap, who, and the open tasks held by no named person."""
    top, cap, window = report["max_tasks_in_window"], report["cap"], report["window_min"]
    people = report["people_at_max"]
    named = ", ".join(people[:shown]) + (f" and {len(people) - shown} more" if len(people) > shown else "")
    verdict = "within" if top <= cap else "[red]OVER[/]"
    lines = [f"load: at most {top} task(s) per person due in the same {window:g} min, {verdict} the cap of {cap}",
             f"  (the cap: {window:g} min to be on site / {report['ack_min']:g} min to answer each, rounded down)",
             f"  {len(people)} at {top}: {esc(named)}" if people else "  no open tasks"]
    unnamed = report["unnamed_holders"]
    if unnamed:
        lines.append("  [red]held by no named person:[/] "
                     + esc(", ".join(f"{k} {v}" for k, v in sorted(unnamed.items()))))
    else:
        lines.append(f"  every open task has a named person ({report['people_with_tasks']} people hold them)")
    return lines


@command(app, "load")
def load_cmd(db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, as_json: bool = JSON_OPT) -> None:
    """Who carries the open tasks: the most any one person holds with deadlines in the same 10 minutes
    (against the cap the 3/5/10/30-minute rule allows), and tasks held by no named person."""
    from floodtwin.dispatch.board.queries import load_report

    from floodtwin.db import local_time

    conn, cfg = open_db(db, config)
    report = load_report(conn, config=cfg)
    if as_json:
        emit(report)
        return
    for line in _load_lines(report):
        say(line)
    offset_h = cfg.dispatch.utc_offset_h
    for r in report["top"]:
        start = local_time(r["window_start"], offset_h) if r["window_start"] else "-"
        say(f"  {esc(r['staff_id']):<12} {r['tasks_in_window']} due within {report['window_min']:g} min from "
            f"{start}, {r['open_tasks']} open in all")


@command(app, "list")
def list_cmd(
    grid: Optional[str] = typer.Option(None, "--grid", help="Only this grid."),
    state: Optional[str] = typer.Option(None, "--state", help="Only this state."),
    overdue: bool = typer.Option(False, "--overdue", help="Only tasks with a missed SLA timer."),
    assignee: Optional[str] = typer.Option(None, "--assignee", help="Only tasks of this person or unit (a to-do list)."),
    lang: str = typer.Option("en", "--lang", help="zh or en titles."),
    wide: bool = typer.Option(False, "--wide", help="Everything about each task, both titles in full, notes, "
                              "materials (default: one line per task, grouped by grid)."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """List tasks by grid, one line each: short id, state, who has it, local deadline, escalation, title."""
    from rich.console import Console

    from floodtwin.dispatch.board import list_tasks, missed_timers
    from floodtwin.dispatch.roster import load_roster

    t = clock(now)
    conn, cfg = open_db(db, config)
    tasks = list_tasks(conn, grid=grid, state=state, overdue=overdue, assignee=assignee, now=t, config=cfg)
    if as_json:
        emit(tasks)
        return
    offset_h = cfg.dispatch.utc_offset_h
    missed = {task["key"]: [name for name, _ in missed_timers(task, t, cfg)] for task in tasks}
    late = {key for key, names in missed.items() if names}
    from floodtwin.cli.mode import mode_line

    say(esc(fit(mode_line(conn, offset_h), Console().width, pad=False)))  # the board's mode and level first
    if wide:
        for line in wide_records(tasks, offset_h=offset_h, overdue=missed):
            Console(highlight=False).print(line)
        return
    for line in compact_lines(tasks, lang=lang, offset_h=offset_h, now=t, width=Console().width,
                              roster=load_roster(conn), town=cfg.dispatch.town_command, overdue=late):
        say(line)


@command(app, "show")
def show_cmd(key: str = typer.Argument(..., help="Task key (or a unique prefix)."),
             db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
             as_json: bool = JSON_OPT) -> None:
    """One task: details, assignments, escalations, timers overdue at --now and its full event history."""
    from floodtwin.dispatch.board import missed_timers, show_task
    from floodtwin.db import local_time, ts, zone_label

    t = clock(now)
    conn, cfg = open_db(db, config)
    task = show_task(conn, key)
    task["overdue"] = [{"timer": name, "due_at": ts(due)} for name, due in missed_timers(task, t, cfg)]
    if as_json:
        emit(task)
        return
    offset_h = cfg.dispatch.utc_offset_h
    say(f"[bold]{esc(task['key'])}[/] (id {esc(task['short_id'])})  {task['state']}  grid {esc(task['grid_id'] or '-')}"
        f"  due {local_time(task['handle_due_at'], offset_h)}")
    say(f"{esc(task['title_zh'])}\n{esc(task['title_en'])}")
    for o in task["overdue"]:
        say(f"  [red]overdue[/] {o['timer']} (due {local_time(o['due_at'], offset_h)})")
    say(f"times {zone_label(offset_h)}:")
    for a in task["assignments"]:
        say(f"  assigned {esc(a['staff_id'])} ({esc(a['role'])}, level {a['level']}) at "
            f"{local_time(a['assigned_at'], offset_h, zone=False)}: {esc(a['reason'])}")
    for e in task["events"]:
        say(f"  {local_time(e['at'], offset_h, zone=False, seconds=True)}  {e['kind']:<11} {e['from_state'] or '':>12} "
            f"-> {e['to_state'] or '':<12} {esc(e['actor'])}: {esc(e['reason'])}")


def _transition_command(action: str, help_text: str) -> None:
    def run(
        key: str = typer.Argument(..., help="Task key (or a unique prefix)."),
        reason: str = typer.Option("", "--reason", help="Why / note (required for cancel)."),
        db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
        actor: str = ACTOR_OPT, as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
    ) -> None:
        from floodtwin.dispatch.board import transition

        t = clock(now)
        conn, cfg = open_db(db, config)
        row = transition(conn, key, action, now=t, actor=actor, reason=reason, config=cfg)
        delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
        if as_json:
            emit({"task": row, "delivery": delivery})
        else:
            say(f"{esc(row['key'])}: {row['state']}" + (" (on site reported)" if action == "on_site" else ""))

    run.__doc__ = help_text
    command(app, action.replace("_", "-"))(run)


_transition_command("ack", "Acknowledge a dispatched task (its assignee; meets the 3-minute timer).")
_transition_command("start", "Set out on an acknowledged task (its assignee; meets the set-out timer).")
_transition_command("on_site", "Report being on site (its assignee; meets the on-site timer; stays in progress).")
_transition_command("done", "Report a task in progress as done (its assignee).")
_transition_command("verify", "Verify a done task (the grid leader, a leader above, or the command; not your own work).")
_transition_command("reject", "Send a done task back to in progress (verification failed; as verify).")
_transition_command("close", "Close a verified task (the grid leader, a leader above, or the command).")
_transition_command("cancel", "Cancel an open task (the town command only; needs --reason).")


@command(app, "tick")
def tick_cmd(db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
             actor: str = typer.Option("tick", "--actor"), as_json: bool = JSON_OPT,
             deliver: bool = DELIVER_OPT) -> None:
    """Evaluate the SLA timers (escalate each timer missed past its grace one step: member → leader →
    town → superior), send one digest per person, start due rounds."""
    from floodtwin.dispatch.board.timers import tick_report

    t = clock(now)
    conn, cfg = open_db(db, config)
    report = tick_report(conn, now=t, actor=actor, config=cfg)
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    tasks = {e["task_key"] for e in report.escalations}
    if as_json:
        emit({"escalations": report.escalations, "rounds": report.rounds,
              "digests": [{**d, "tasks": [{k: v for k, v in e.items() if k != "holders"} for e in d["tasks"]]}
                          for d in report.digests.values()],
              "summary": {"missed_timers": len(report.escalations), "tasks_escalated": len(tasks),
                          "no_one_above": len({e["task_key"] for e in report.escalations
                                               if e["outcome"] == "no_one_above"}),
                          "digests": len(report.digests), "rounds": len(report.rounds),
                          "grace_min": cfg.dispatch.sla.grace_min},
              "delivery": delivery})
        return
    for line in _tick_lines(report, cfg):
        say(line)


def _tick_lines(report: Any, cfg: Any, width: int = 100, people_shown: int = 20) -> list[str]:
    """The tick's summary as Rich lines of at most ``width`` columns: a headline, then one line per
    person (those who received most escalations first, at most ``people_shown``): how many tasks,
    how many went to them, how many of theirs are overdue, and their most urgent task."""
    from rich.cells import cell_len

    from floodtwin.tasks import CATEGORIES

    def fit(text: str) -> str:
        if cell_len(text) <= width:
            return esc(text)
        while cell_len(text) > width - 1:
            text = text[:-1]
        return esc(text + "…")

    tasks = {e["task_key"] for e in report.escalations}
    top = {e["task_key"] for e in report.escalations if e["outcome"] == "no_one_above"}
    grace = f"{cfg.dispatch.sla.grace_min:g} min"
    if not tasks:
        lines = [fit(f"nothing to escalate (timers escalate {grace} after their due time); "
                     f"{len(report.rounds)} new round(s)")]
    else:
        lines = [fit(f"{len(tasks)} task(s) escalated, {len(top)} of them with no one above; "
                     f"{len(report.digests)} digest(s), one per person; {len(report.rounds)} new round(s)"),
                 fit(f"{len(report.escalations)} missed timer(s), each past its due time + {grace} grace")]
    people = sorted(report.digests.values(), key=lambda d: (-d["to_you"], -len(d["tasks"]), d["recipient"]))
    for d in people[:people_shown]:
        first = d["tasks"][0]
        cat = CATEGORIES.get(first["category"], ("", first["category"]))[1]
        lines.append(fit(f"{d['recipient']:<12} {len(d['tasks']):>4} task(s) {d['to_you']:>4} to them "
                         f"{d['overdue_total']:>4} overdue | {cat}, {first['late_min']:.0f} min: {first['title_en']}"))
    if len(people) > people_shown:
        rest = people[people_shown:]
        lines.append(fit(f"… {len(rest)} more people, {sum(len(d['tasks']) for d in rest)} task(s) between them "
                         f"(--json lists every digest)"))
    for r in report.rounds:
        lines.append(fit(f"round {r['round']} of {r['task_key']} dispatched to {r['assignee']}"))
    return lines


@command(app, "deliver")
def deliver_cmd(wait: float = typer.Option(0.0, "--wait", min=0, help="Keep retrying on the wall clock for up to S seconds."),
                db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
                as_json: bool = JSON_OPT) -> None:
    """Deliver the notifications waiting in the outbox (retries with backoff; dead ones are listed; what a
    killed process had claimed is taken over at once)."""
    from floodtwin.dispatch.notify import deliver, deliver_until_done, outbox_counts

    t = clock(now)
    conn, cfg = open_db(db, config)
    from floodtwin.files import require_number

    require_number(wait, option="--wait", low=0.0, high=3600.0, unit="s")
    if wait > 0:
        report = deliver_until_done(conn, cfg, wait_s=wait)
    else:
        report = deliver(conn, cfg, now=t)
    counts = outbox_counts(conn)
    if as_json:
        emit({**report.to_dict(), "outbox": counts})
        return
    say(f"{report.sent} sent, {report.retrying} to retry, {report.deferred} held back (notifier down), "
        f"{report.dead} failed for good; outbox: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if report.reclaimed:
        say(f"{report.reclaimed} taken over from a delivery that did not finish (a process that is gone), "
            f"{report.already_logged} of them found already in the log")
    for err in report.errors[:5]:
        say(f"  [yellow]{esc(err)}[/]")


@command(app, "export")
def export_cmd(geojson: Path = typer.Option(..., "--geojson", help="GeoJSON file to write ('-' for stdout)."),
               include_closed: bool = typer.Option(False, "--all", help="Also closed, cancelled and stood-down tasks."),
               db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
               as_json: bool = JSON_OPT) -> None:
    """Write the map layer: tasks coloured by state (overdue ones flagged at --now) and field reports
    coloured by danger kind (WGS 84)."""
    from floodtwin.reports import export_geojson
    from floodtwin.errors import InputError

    t = clock(now)
    if str(geojson) != "-":
        if geojson.is_dir():
            raise InputError(f"--geojson {geojson}: is a directory, expected a file name")
        if not geojson.parent.is_dir():
            raise InputError(f"--geojson {geojson}: folder {geojson.parent} does not exist")
    conn, cfg = open_db(db, config)
    doc = export_geojson(conn, include_closed=include_closed, now=t, config=cfg)
    text = json.dumps(doc, ensure_ascii=False)
    if str(geojson) == "-":
        typer.echo(text)
        return
    # write next to the target, then rename: a reader (the map) never sees half a file
    partial = geojson.with_name(f".{geojson.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(geojson)
    layers = [f["properties"]["layer"] for f in doc["features"]]
    summary = {"path": str(geojson), "tasks": layers.count("task"), "reports": layers.count("report"),
               "camera_events": layers.count("camera_event")}
    if as_json:
        emit(summary)
    else:
        say(f"{summary['tasks']} task(s), {summary['reports']} report(s) and {summary['camera_events']} camera "
            f"event(s) written to {esc(geojson)}")


@command(app, "sync-roster")
def sync_roster_cmd(reach: str = typer.Option("huayuankou", "--reach", help="Reach whose staff and grids to use."),
                    db: Optional[Path] = DB_OPT, as_json: bool = JSON_OPT) -> None:
    """Refresh the stored roster (staff, grids, leaders) from the reach's GeoPackage."""
    from floodtwin.reach import load_reach
    from floodtwin.dispatch.roster import Roster, sync_roster
    from floodtwin.dispatch.schema import ensure_schema
    from floodtwin.db import connect

    conn = connect(db)
    ensure_schema(conn)
    roster = Roster.from_reach(load_reach(reach))
    sync_roster(conn, roster)
    if as_json:
        emit({"staff": len(roster.staff), "grids": len(roster.grids)})
    else:
        say(f"roster: {len(roster.staff)} staff in {len(roster.grids)} grids")
