"""``floodtwin tasks``: activate the plan for a flow, follow every task to closure, tick the SLA timers.

Every command takes ``--db`` (default ``$FLOODTWIN_DB`` or the user data folder), ``--config``
(dispatch YAML; default ``$FLOODTWIN_CONFIG`` or the shipped example), ``--now`` (ISO time, for
drills and tests) and ``--json``. Commands that change state deliver the queued notifications
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

__all__ = ["app", "activate_cmd", "list_cmd", "show_cmd", "tick_cmd", "deliver_cmd", "export_cmd",
           "sync_roster_cmd"]


def _task_table(tasks: list[dict[str, Any]], lang: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", title=f"{len(tasks)} task(s)")
    for col in ("key", "state", "grid", "assignees", "due (UTC)", "esc", "title"):
        table.add_column(col, overflow="fold")
    for t in tasks:
        table.add_row(esc(t["key"]), t["state"], esc(t["grid_id"] or "-"), esc(",".join(t.get("assignees", []))),
                      (t["handle_due_at"] or "")[:16].replace("T", " "), str(t["escalation_level"] or ""),
                      esc(t["title_zh"] if lang == "zh" else t["title_en"]))
    Console().print(table)


# ----------------------------------------------------------------------------------------------
# commands

@command(app, "activate")
def activate_cmd(
    discharge: Optional[float] = typer.Option(None, "--discharge", "-q", help="Observed discharge at Huayuankou (m3/s)."),
    forecast: Optional[float] = typer.Option(None, "--forecast", help="Forecast peak discharge (m3/s)."),
    reason: str = typer.Option("", "--reason", help="Why (recorded with every change)."),
    preplan: Optional[Path] = typer.Option(None, "--preplan", help="Preplan YAML (default: data/preplans/huayuankou.yaml)."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    actor: str = ACTOR_OPT, as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
) -> None:
    """Put the plan for a flow into effect: create, assign and notify its tasks; stand down the rest."""
    from floodtwin.alerts import activate_discharge

    from floodtwin.errors import InputError

    if discharge is None and forecast is None:
        raise InputError("activate: give --discharge (and/or --forecast) in m3/s")
    t = clock(now)
    conn, cfg = open_db(db, config)
    flow = discharge if discharge is not None else forecast
    decision, result = activate_discharge(conn, discharge, forecast_m3s=forecast, now=t, actor=actor,
                                          reason=reason or f"flow {flow:g} m3/s", preplan=preplan, config=cfg)
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    if as_json:
        emit({"decision": decision.to_dict(), **result.to_dict(), "delivery": delivery})
        return
    say(f"[bold]tier {esc(decision.tier)}[/] ({esc(decision.colour)}): {esc(decision.reason)}")
    say(f"{len(result.created)} task(s) created and assigned, {len(result.stood_down)} stood down, "
        f"{result.unchanged} unchanged (activation {result.activation_id})")


@command(app, "list")
def list_cmd(
    grid: Optional[str] = typer.Option(None, "--grid", help="Only this grid."),
    state: Optional[str] = typer.Option(None, "--state", help="Only this state."),
    overdue: bool = typer.Option(False, "--overdue", help="Only tasks with a missed SLA timer."),
    assignee: Optional[str] = typer.Option(None, "--assignee", help="Only tasks of this person or unit (a to-do list)."),
    lang: str = typer.Option("en", "--lang", help="zh or en titles."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """List tasks with their state, grid, assignees and deadline."""
    from floodtwin.dispatch.board import list_tasks

    t = clock(now)
    conn, cfg = open_db(db, config)
    tasks = list_tasks(conn, grid=grid, state=state, overdue=overdue, assignee=assignee, now=t, config=cfg)
    if as_json:
        emit(tasks)
    else:
        _task_table(tasks, lang)


@command(app, "show")
def show_cmd(key: str = typer.Argument(..., help="Task key (or a unique prefix)."),
             db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
             as_json: bool = JSON_OPT) -> None:
    """One task: details, assignments, escalations, timers overdue at --now and its full event history."""
    from floodtwin.dispatch.board import missed_timers, show_task
    from floodtwin.db import ts

    t = clock(now)
    conn, cfg = open_db(db, config)
    task = show_task(conn, key)
    task["overdue"] = [{"timer": name, "due_at": ts(due)} for name, due in missed_timers(task, t, cfg)]
    if as_json:
        emit(task)
        return
    say(f"[bold]{esc(task['key'])}[/]  {task['state']}  grid {esc(task['grid_id'] or '-')}  due {task['handle_due_at']}")
    say(f"{esc(task['title_zh'])}\n{esc(task['title_en'])}")
    for o in task["overdue"]:
        say(f"  [red]overdue[/] {o['timer']} (due {o['due_at']})")
    for a in task["assignments"]:
        say(f"  assigned {esc(a['staff_id'])} ({esc(a['role'])}, level {a['level']}) at {a['assigned_at']}: "
            f"{esc(a['reason'])}")
    for e in task["events"]:
        say(f"  {e['at']}  {e['kind']:<11} {e['from_state'] or '':>12} -> {e['to_state'] or '':<12} "
            f"{esc(e['actor'])}: {esc(e['reason'])}")


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


_transition_command("ack", "Acknowledge a dispatched task (meets the 3-minute timer).")
_transition_command("start", "Set out on an acknowledged task (meets the set-out timer).")
_transition_command("on_site", "Report being on site (meets the on-site timer; the task stays in progress).")
_transition_command("done", "Report a task in progress as done.")
_transition_command("verify", "Verify a done task (by the grid leader or command).")
_transition_command("reject", "Send a done task back to in progress (verification failed).")
_transition_command("close", "Close a verified task.")
_transition_command("cancel", "Cancel an open task (needs --reason).")


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
    n_tasks = sum(f["properties"]["layer"] == "task" for f in doc["features"])
    summary = {"path": str(geojson), "tasks": n_tasks, "reports": len(doc["features"]) - n_tasks}
    if as_json:
        emit(summary)
    else:
        say(f"{summary['tasks']} task(s) and {summary['reports']} report(s) written to {esc(geojson)}")


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
