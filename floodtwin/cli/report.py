"""``floodtwin report``: field reports (patrol rounds, dike dangers) from the front line.

A rejected report is stored with its reason (nothing received is lost) and the command exits
non-zero with one line saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from floodtwin.cli._common import (ACTOR_OPT, CONFIG_OPT, DB_OPT, DELIVER_OPT, JSON_OPT, NOW_OPT, clock, command,
                                   deliver_now, emit, esc, open_db, say)

__all__ = ["app", "add_cmd", "import_cmd", "list_cmd", "resolve_cmd", "kinds_cmd", "snap_cmd", "triage_cmd",
           "handle_cmd", "verify_cmd", "close_cmd", "show_cmd", "stats_cmd", "tick_cmd"]

app = typer.Typer(help="Field reports (patrols, dike dangers 险情) and snap-and-send photo reports (随手拍) "
                       "closed in a loop: snap, triage, handle, verify (with a photo), close; stats.",
                  no_args_is_help=True)


REASSESS_OPT = typer.Option(True, "--reassess/--no-reassess",
                            help="After a major danger at a works, evaluate the plan again at the last flow.")


def _reassess(conn: Any, cfg: Any, rows: list[dict[str, Any]], t: Any, actor: str, quiet: bool) -> Any:
    """Put the raised tier into effect at once when a new major danger at a works came in."""
    from floodtwin.alerts import reassess
    from floodtwin.reports import active_major_dangers

    new = {r["report_id"] for r in rows if r["status"] == "accepted" and not r["duplicate"]}
    hits = [d for d in active_major_dangers(conn) if d["report_id"] in new]
    if not hits:
        return None
    names = ", ".join(f"{d['kind']} at {d['works_id']}" for d in hits)  # from the danger table and the reach
    # the preplan's own trigger re-evaluates the plan, not the person who reported: a system actor's change
    out = reassess(conn, now=t, actor="alerts", reason=f"major danger reported by {actor}: {names}", config=cfg)
    if out is None:
        if not quiet:
            say(f"[yellow]major danger at a works ({names}): no flow activated yet, the next "
                f"`floodtwin tasks activate` applies the tier trigger[/]")
        return {"reassessed": False}
    decision, result = out
    if not quiet:
        say(f"[bold]tier {esc(decision.tier)}[/] ({esc(decision.colour)}): {esc(decision.reason)}; {len(result.created)} task(s) "
            f"created, {len(result.stood_down)} stood down")
    return {"reassessed": True, "decision": decision.to_dict(), **result.to_dict()}


def _fail_if_rejected(rows: list[dict[str, Any]]) -> None:
    from floodtwin.errors import InputError

    bad = [r for r in rows if r["status"] == "rejected"]
    if bad:
        first = bad[0]
        more = f" (and {len(bad) - 1} more rejected, kept with their reasons)" if len(bad) > 1 else " (kept)"
        raise InputError(f"report {first['report_id']} rejected: {first['reject_reason']}{more}")


@command(app, "add")
def add_cmd(
    kind: str = typer.Option("danger", "--kind", help="patrol or danger."),
    danger: Optional[str] = typer.Option(None, "--danger", help="Danger kind: leak, piping, seepage, slope_slip, crack, "
                                          "bank_collapse, sinkhole, overtopping, root_stone_loss, spur_settlement."),
    severity: Optional[str] = typer.Option(None, "--severity", help="general, major or critical (default: by kind)."),
    reporter: str = typer.Option(..., "--reporter", help="Staff id of the reporter."),
    lon: Optional[float] = typer.Option(None, "--lon", help="Longitude (WGS 84)."),
    lat: Optional[float] = typer.Option(None, "--lat", help="Latitude (WGS 84)."),
    works: Optional[str] = typer.Option(None, "--works", help="Works id (HYK, SZ, MD, EDX)."),
    spur: Optional[str] = typer.Option(None, "--spur", help="Spur id (HYK-090) or number within --works."),
    dike: Optional[str] = typer.Option(None, "--dike", help="Dike id (right/left) for --chainage."),
    chainage: Optional[str] = typer.Option(None, "--chainage", help="Dike chainage: metres or a post like 7+350."),
    grid: Optional[str] = typer.Option(None, "--grid", help="Grid id (default: from the location)."),
    photo: Optional[str] = typer.Option(None, "--photo", help="Path of the photo file."),
    text: Optional[str] = typer.Option(None, "--text", help="Free text."),
    observed_at: Optional[str] = typer.Option(None, "--observed-at", help="When it was seen (ISO time)."),
    report_id: Optional[str] = typer.Option(None, "--id", help="Report id from the app (re-sending it is recognised)."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    actor: Optional[str] = typer.Option(None, "--actor", help="Who hands it in, if not the reporter (a staff id "
                                        "or the town command's id)."),
    as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT, reassess: bool = REASSESS_OPT,
) -> None:
    """Receive one field report; a danger report puts its response tasks on the board, and a major
    danger at a works re-evaluates the plan at the last flow (tier trigger "major danger at a works")."""
    from floodtwin.reports import add_report

    raw = {"id": report_id, "kind": kind, "danger_kind": danger, "severity": severity, "reporter": reporter,
           "lon": lon, "lat": lat, "works_id": works, "spur": spur, "dike_id": dike, "chainage": chainage,
           "grid_id": grid, "photo": photo, "text": text, "observed_at": observed_at}
    raw = {k: v for k, v in raw.items() if v is not None}
    t = clock(now)
    conn, cfg = open_db(db, config)
    actor = actor or reporter  # the person who saw it hands it in, unless a duty officer types it for them
    row = add_report(conn, raw, now=t, actor=actor, config=cfg)
    if not as_json and row["status"] == "accepted":
        dup = " (already received)" if row["duplicate"] else ""
        say(esc(f"report {row['report_id']} accepted{dup}: {row['kind']} {row['danger_kind'] or ''} "
                f"{row['severity'] or ''} grid {row['grid_id'] or '-'} works {row['works_id'] or '-'}; "
                f"tasks: {', '.join(row['task_keys']) or 'none'}"))
    plan = _reassess(conn, cfg, [row], t, actor, as_json) if reassess else None
    delivery = deliver_now(conn, cfg, t, as_json) if deliver and row["status"] == "accepted" else None
    if as_json:
        emit({"report": row, "plan": plan, "delivery": delivery})
    _fail_if_rejected([row])


@command(app, "import")
def import_cmd(path: Path = typer.Argument(..., help="JSON-lines file, one report object per line."),
               db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
               actor: str = typer.Option("app", "--actor", help="Who hands the file in: the staff app's upload "
                                         "(app, a system actor; default), a staff id or the town command's id."),
               as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT, reassess: bool = REASSESS_OPT) -> None:
    """Import reports from a JSON-lines file (the app's upload); exits non-zero if any was rejected."""
    from floodtwin.reports import import_jsonl

    t = clock(now)
    conn, cfg = open_db(db, config)
    from floodtwin.files import require_file_to_read

    require_file_to_read(path, option="PATH")  # an empty file is a mistake, not zero reports
    rows = import_jsonl(conn, path, now=t, actor=actor, config=cfg)
    accepted = sum(r["status"] == "accepted" and not r["duplicate"] for r in rows)
    dup = sum(r["duplicate"] for r in rows)
    if not as_json:
        say(f"{len(rows)} report(s): {accepted} accepted, {dup} already received, "
            f"{sum(r['status'] == 'rejected' and not r['duplicate'] for r in rows)} rejected")
    plan = _reassess(conn, cfg, rows, t, actor, as_json) if reassess else None
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    if as_json:
        emit({"reports": rows, "plan": plan, "delivery": delivery})
    _fail_if_rejected([r for r in rows if not r["duplicate"]])


@command(app, "list")
def list_cmd(status: Optional[str] = typer.Option(None, "--status", help="accepted or rejected."),
             kind: Optional[str] = typer.Option(None, "--kind", help="patrol or danger."),
             grid: Optional[str] = typer.Option(None, "--grid", help="Only this grid."),
             db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, as_json: bool = JSON_OPT) -> None:
    """List received reports, newest first (rejected ones with their reason), times on the staff's clock."""
    from rich.console import Console
    from rich.table import Table

    from floodtwin.reports import list_reports, load_dangers
    from floodtwin.db import local_time, zone_label

    conn, cfg = open_db(db, config)
    offset_h = cfg.dispatch.utc_offset_h
    rows = list_reports(conn, status=status, kind=kind, grid=grid)
    if as_json:
        emit(rows)
        return
    from floodtwin.cli.mode import mode_line

    say(esc(mode_line(conn, offset_h)))  # the working mode and the flow level, as on the board
    dangers = load_dangers()
    table = Table(show_header=True, header_style="bold", title=f"{len(rows)} report(s)")
    for col in ("id", f"received ({zone_label(offset_h)})", "status", "kind", "severity", "where", "grid", "reporter", "note"):
        table.add_column(col, overflow="fold", no_wrap=col.startswith("received"))
    for r in rows:
        spec = dangers.kinds.get(r["danger_kind"] or "")
        label = f"[{spec.colour}]{spec.zh} {r['danger_kind']}[/]" if spec else esc(r["kind"] or "?")
        where = r["spur_id"] or (f"{r['dike_id']} {r['chainage_m']:.0f} m" if r["chainage_m"] is not None else "") \
            or (r["works_id"] or "")
        note = r["reject_reason"] if r["status"] == "rejected" else (r["text"] or "")
        table.add_row(esc(r["report_id"]), local_time(r["received_at"], offset_h, zone=False), r["status"], label,
                      esc(r["severity"] or ""), esc(where), esc(r["grid_id"] or ""), esc(r["reporter"] or ""),
                      esc(note))
    Console().print(table)


@command(app, "resolve")
def resolve_cmd(report_id: str = typer.Argument(..., help="Report id."),
                reason: str = typer.Option(..., "--reason", help="How it was dealt with."),
                db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
                actor: str = ACTOR_OPT, as_json: bool = JSON_OPT) -> None:
    """Mark a danger as dealt with (it no longer raises the tier as a major danger)."""
    from floodtwin.reports import resolve_report

    from floodtwin.db import local_time

    t = clock(now)
    conn, cfg = open_db(db, config)
    row = resolve_report(conn, report_id, now=t, actor=actor, reason=reason)
    if as_json:
        emit(row)
    else:
        say(f"report {esc(report_id)} resolved at {local_time(row['resolved_at'], cfg.dispatch.utc_offset_h)}")


@command(app, "kinds")
def kinds_cmd(as_json: bool = JSON_OPT) -> None:
    """The danger kinds with their Chinese and English labels, map colours and default severity."""
    from floodtwin.reports import load_dangers

    table = load_dangers()
    doc = {k: {"zh": v.zh, "en": v.en, "colour": v.colour, "default_severity": v.default_severity,
               "tasks": [t.id for t in v.tasks]} for k, v in table.kinds.items()}
    if as_json:
        emit(doc)
        return
    for k, v in doc.items():
        say(f"[{v['colour']}]■[/] {k:<16} {v['zh']:<8} {v['en']} (default {v['default_severity']})")


# ----------------------------------------------------------------------------------------------
# snap-and-send photo reports (随手拍): report -> triage -> dispatch -> handle -> verify -> close

def _status_line(row: dict[str, Any]) -> str:
    extra = f": {row['reject_reason']}" if row.get("reject_reason") else ""
    return esc(f"report {row['report_id']} {row['status']}{extra} (kind {row['kind'] or '-'}, grid "
               f"{row['grid_id'] or '-'}, task {row['task_key'] or '-'}, {len(row['attachments'])} photo(s))")


@command(app, "snap")
def snap_cmd(
    kind: str = typer.Option(..., "--kind", help="dike_damage, water_hazard, road_blocked, illegal_activity, "
                             "public_facility or other (data/config/citizen.yaml)."),
    text: str = typer.Option(..., "--text", help="What was seen."),
    reporter: str = typer.Option(..., "--reporter", help="A resident's app id, or a patrol's staff id."),
    photo: list[Path] = typer.Option(..., "--photo", help="Photo file (repeat for more); stored by content hash."),
    channel: str = typer.Option("citizen", "--channel", help="citizen or patrol."),
    lon: Optional[float] = typer.Option(None, "--lon", help="Longitude (WGS 84)."),
    lat: Optional[float] = typer.Option(None, "--lat", help="Latitude (WGS 84)."),
    grid: Optional[str] = typer.Option(None, "--grid", help="Grid id (default: from the location)."),
    report_id: Optional[str] = typer.Option(None, "--id", help="Report id from the app (re-sending it is recognised)."),
    observed_at: Optional[str] = typer.Option(None, "--observed-at", help="When it was seen (ISO time)."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
) -> None:
    """Receive a snap-and-send photo report; its photos are stored by content hash; the grid leader is told."""
    from floodtwin.errors import InputError
    from floodtwin.reports.citizen import receive

    raw = {"id": report_id, "channel": channel, "kind": kind, "text": text, "reporter": reporter,
           "photos": [str(p) for p in photo], "lon": lon, "lat": lat, "grid_id": grid, "observed_at": observed_at}
    raw = {k: v for k, v in raw.items() if v is not None}
    t = clock(now)
    conn, cfg = open_db(db, config)
    row = receive(conn, raw, now=t, config=cfg)
    delivery = deliver_now(conn, cfg, t, as_json) if deliver and row["status"] != "rejected" else None
    if as_json:
        emit({"report": row, "delivery": delivery})
    elif row["status"] != "rejected":
        say(_status_line(row) + (" (already received)" if row["duplicate"] else ""))
    if row["status"] == "rejected":
        raise InputError(f"report {row['report_id']} rejected: {row['reject_reason']} (kept)")


def _loop_command(name: str, doc: str) -> None:
    def run(
        report_id: str = typer.Argument(..., help="Report id."),
        actor: str = ACTOR_OPT,
        photo: Optional[Path] = typer.Option(None, "--photo", help="Photo file (verify: required)."),
        note: str = typer.Option("", "--note", help="A note for the timeline."),
        kind: Optional[str] = typer.Option(None, "--kind", help="triage: the corrected kind."),
        grid: Optional[str] = typer.Option(None, "--grid", help="triage: the corrected grid."),
        dismiss: Optional[str] = typer.Option(None, "--dismiss", help="triage: dismiss it, with this reason."),
        db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
        as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
    ) -> None:
        from floodtwin.errors import InputError
        from floodtwin.reports import citizen

        from floodtwin.files import require_file_to_read

        if photo is not None:  # an action's photo is checked first: nothing is done without it
            require_file_to_read(photo, option="--photo")
        t = clock(now)
        conn, cfg = open_db(db, config)
        if name != "triage" and (kind or grid or dismiss):
            raise InputError(f"report {name}: --kind, --grid and --dismiss are triage's options")
        if name in ("triage", "close") and photo is not None:
            raise InputError(f"report {name}: takes no --photo")
        if name == "triage":
            row = citizen.triage(conn, report_id, now=t, actor=actor, kind=kind, grid_id=grid, dismiss=dismiss,
                                 config=cfg)
        elif name == "handle":
            row = citizen.handle(conn, report_id, now=t, actor=actor, photo=str(photo) if photo else None, note=note,
                                 config=cfg)
        elif name == "verify":
            row = citizen.verify(conn, report_id, now=t, actor=actor, photo=str(photo) if photo else None, note=note,
                                 config=cfg)
        else:
            row = citizen.close(conn, report_id, now=t, actor=actor, note=note, config=cfg)
        delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
        if as_json:
            emit({"report": row, "delivery": delivery})
        else:
            say(_status_line(row))

    run.__doc__ = doc
    command(app, name)(run)


_loop_command("triage", "Triage a snap-and-send report (its grid's leader or the town command): confirm and "
              "dispatch its task at once, or --dismiss it with a reason.")
_loop_command("handle", "Report a snap-and-send report's work done (its task's assignee; optional --photo).")
_loop_command("verify", "Verify the work with a photo (--photo required; a leader, not one's own work).")
_loop_command("close", "Close a verified snap-and-send report and its task.")


@command(app, "show")
def show_cmd(report_id: str = typer.Argument(..., help="Report id."),
             db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, as_json: bool = JSON_OPT) -> None:
    """A snap-and-send report: its state, deadlines, photos (by content hash) and the timeline of every step."""
    from floodtwin.db import local_time
    from floodtwin.reports.citizen import get_report, timeline

    conn, cfg = open_db(db, config)
    row = get_report(conn, report_id)
    steps = timeline(conn, report_id)
    if as_json:
        emit({"report": row, "timeline": steps})
        return
    offset_h = cfg.dispatch.utc_offset_h
    say(_status_line(row))
    for a in row["attachments"]:
        say(f"  photo {esc(a['step'])}: {esc(a['name'])} sha256 {a['sha256'][:16]}… ({a['size_bytes']} bytes)")
    for e in steps:
        text = f"{e['kind']} {e['from_state'] or ''}->{e['to_state'] or ''} {e['actor']}: {e['reason']}"
        say(f"  {local_time(e['at'], offset_h, zone=False)}  {esc(text[:84])}")


@command(app, "stats")
def stats_cmd(db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, as_json: bool = JSON_OPT) -> None:
    """Snap-and-send reports: the closed share and the median time to close, per grid and per kind."""
    from floodtwin.cli.mode import mode_line
    from floodtwin.reports.citizen import stats

    conn, cfg = open_db(db, config)
    doc = stats(conn)
    if as_json:
        emit(doc)
        return
    say(esc(mode_line(conn, cfg.dispatch.utc_offset_h)))
    share = "-" if doc["closed_share"] is None else f"{doc['closed_share']:.0%}"
    say(f"{doc['reports']} report(s), {doc['closed']} closed ({share}), {doc['rejected']} rejected at receipt")
    for key, title in (("by_grid", "grid"), ("by_kind", "kind")):
        say(f"[bold]{title:<18} reports  closed  share  median min to close[/]")
        for g in doc[key]:
            med = "-" if g["median_min_to_close"] is None else f"{g['median_min_to_close']:.0f}"
            say(f"{esc(g[key[3:] if key == 'by_kind' else 'grid_id']):<18} {g['reports']:>7} {g['closed']:>7} "
                f"{g['closed_share']:>6.0%}  {med:>8}")


@command(app, "tick")
def tick_cmd(db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
             as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT) -> None:
    """Escalate snap-and-send reports whose triage or verification is late (grid leader, then town command)."""
    from floodtwin.reports.citizen import tick

    t = clock(now)
    conn, cfg = open_db(db, config)
    out = tick(conn, now=t, config=cfg)
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    if as_json:
        emit({"escalated": out, "delivery": delivery})
        return
    say(f"{len(out)} report step(s) escalated")
    for e in out:
        say(esc(f"  {e['report_id']}: {e['step']} {e['late_min']:.0f} min late -> {e['to']} (level {e['level']})"))
