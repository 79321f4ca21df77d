"""``floodtwin camera``: camera and video-analytics events (crowd count, people on the closed floodplain,
vehicles on a closed dike road, water at the dike toe, smoke), received like field reports.

``camera ingest EVENTS.jsonl`` or ``camera ingest --mqtt mqtt://host:port``: each event is validated,
stored (a rejected one with its reason), placed at its camera on the grid map, and turned into tasks by
``data/config/cameras.yaml``; water at the dike toe re-evaluates the plan with the dike-toe trigger, a
crowd above the threshold in an exclusive grid switches the working mode. Exits 2 when an event was
rejected (one line; the event is kept).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from floodtwin.cli._common import (CONFIG_OPT, DB_OPT, DELIVER_OPT, JSON_OPT, NOW_OPT, clock, command, deliver_now,
                                   emit, esc, open_db, say)

app = typer.Typer(help="Camera events: crowd counts, closed zones and roads, dike-toe water, smoke -> tasks.",
                  no_args_is_help=True)

__all__ = ["app", "ingest_cmd", "list_cmd", "cameras_cmd"]


def _reassess_toe(conn: Any, cfg: Any, summary: Any, t: Any, quiet: bool) -> Any:
    """The dike-toe tier trigger: evaluate the plan again at the last flow with the water the cameras saw."""
    if not summary.toe_water:
        return None
    from floodtwin.alerts import reassess
    from floodtwin.preplan import RiskFacts

    seen = {w["segment_id"]: w["depth_m"] for w in summary.toe_water if w["segment_id"]}
    cams = ", ".join(sorted({w["camera_id"] for w in summary.toe_water}))
    risk = RiskFacts(segment_toe_depth_m=seen, source=f"camera {cams}")
    out = reassess(conn, now=t, actor="alerts", reason=f"water at the dike toe seen by camera {cams}", risk=risk,
                   config=cfg)
    if out is None:
        if not quiet:
            say(f"[yellow]water at the dike toe ({esc(cams)}): no flow activated yet, the next "
                "`floodtwin tasks activate` decides the level[/]")
        return {"reassessed": False}
    decision, result = out
    if not quiet:
        import textwrap

        text = (f"tier {decision.tier} ({decision.colour}): {decision.reason}; {len(result.created)} task(s) "
                f"created, {len(result.stood_down)} stood down")
        for k, line in enumerate(textwrap.wrap(text, 98)):
            say(("" if k == 0 else "  ") + esc(line))
    return {"reassessed": True, "decision": decision.to_dict(), **result.to_dict()}


def _line(text: str) -> None:
    """One plain-text line, cut to the terminal's width with an ellipsis (never wrapped)."""
    from rich.console import Console

    from floodtwin.cli.tasks import fit

    say(esc(fit(text, Console().width, pad=False)))


def _say_summary(s: Any) -> None:
    _line(f"{s.received} event(s): {s.accepted} accepted, {s.duplicates} already received, {len(s.rejected)} "
          f"rejected; {len(s.tasks_created)} task(s) created")
    for e in s.events:
        if e["status"] == "accepted" and not e["duplicate"]:
            _line(f"  {e['event_id']} {e['kind']} camera {e['camera_id']} grid {e['grid_id'] or '-'}: {e['action']}")
    for m in s.mode_switches:
        _line(f"  mode {m['from']} -> {m['to']}: {m['reason']}")


@command(app, "ingest")
def ingest_cmd(
    path: Optional[Path] = typer.Argument(None, help="JSON-lines file of events (or use --mqtt)."),
    mqtt: Optional[str] = typer.Option(None, "--mqtt", help="Subscribe to mqtt://host:port instead of a file."),
    max_messages: Optional[int] = typer.Option(None, "--max-messages", min=1, max=10_000_000,
                                               help="With --mqtt: stop after this many events."),
    duration: Optional[float] = typer.Option(None, "--duration", min=0.1, max=86400.0,
                                             help="With --mqtt: stop after this many seconds."),
    client_id: str = typer.Option("floodtwin-cameras", "--client-id", help="With --mqtt: the persistent session."),
    reassess: bool = typer.Option(True, "--reassess/--no-reassess", help="Water at the dike toe: evaluate the plan "
                                  "again at the last flow (the dike-toe tier trigger)."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
) -> None:
    """Receive camera events: validate, store (rejected ones with the reason), place at the camera, apply
    the rules (tasks, the dike-toe trigger, the crowd mode switch)."""
    from floodtwin.errors import InputError
    from floodtwin.reports.cameras import import_events

    if (path is None) == (mqtt is None):
        raise InputError("camera ingest: give a JSON-lines FILE or --mqtt URL (one of them)")
    t = clock(now)
    conn, cfg = open_db(db, config)
    if path is not None:
        from floodtwin.files import require_file_to_read

        require_file_to_read(path, option="PATH")
        summary = import_events(conn, path, now=t, config=cfg)
    else:
        from floodtwin.reports.camera_mqtt import CameraSubscriber
        from floodtwin.sensors.mqtt import BrokerConfig

        broker = BrokerConfig.from_url(mqtt, client_id=client_id)
        fixed = now is not None
        sub = CameraSubscriber(conn, broker, clock=(lambda: t) if fixed else (lambda: clock(None)), config=cfg)
        summary = sub.run(max_messages=max_messages, duration_s=duration)
        t = t if fixed else clock(None)
    plan = _reassess_toe(conn, cfg, summary, t, as_json) if reassess else None
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    if as_json:
        emit({**summary.to_dict(), "plan": plan, "delivery": delivery})
    else:
        _say_summary(summary)
    if summary.rejected:
        first = summary.rejected[0]
        more = f" (and {len(summary.rejected) - 1} more, kept with their reasons)" if len(summary.rejected) > 1 \
            else " (kept)"
        raise InputError(f"camera event {first['event_id']} ({first['source']}) rejected: {first['reason']}{more}")


@command(app, "list")
def list_cmd(status: Optional[str] = typer.Option(None, "--status", help="accepted or rejected."),
             camera: Optional[str] = typer.Option(None, "--camera", help="Only this camera."),
             limit: int = typer.Option(50, "--limit", min=1, max=100000, help="How many, newest first."),
             db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, as_json: bool = JSON_OPT) -> None:
    """Received camera events, newest first: rejected ones with their reason, accepted ones with what they set off."""
    from floodtwin.db import local_time
    from floodtwin.reports.cameras import list_events

    conn, cfg = open_db(db, config)
    rows = list_events(conn, status=status, camera=camera, limit=limit)
    if as_json:
        emit(rows)
        return
    offset_h = cfg.dispatch.utc_offset_h
    say(f"{len(rows)} camera event(s), newest first (times on the staff's clock)")
    for r in rows:
        what = r["reject_reason"] if r["status"] == "rejected" else r["action"]
        _line(f"  {local_time(r['received_at'], offset_h, zone=False)} {r['event_id']} {r['status']} "
              f"{r['kind'] or '?'} camera {r['camera_id'] or '?'}: {what or ''}")


@command(app, "cameras")
def cameras_cmd(as_json: bool = JSON_OPT) -> None:
    """The reach's cameras: id, kind, grid, chainage, on the floodplain or not."""
    from floodtwin.reach.build import post_label
    from floodtwin.reports.cameras import CameraIndex

    index = CameraIndex.read("huayuankou")
    rows = [{"camera_id": c.camera_id, "name_zh": c.name_zh, "name_en": c.name_en, "kind": c.kind,
             "grid_id": c.grid_id, "exclusive": c.exclusive, "floodplain": c.floodplain, "chainage_m": c.chainage_m,
             "segment_id": c.segment_id, "lon": round(c.lon, 6), "lat": round(c.lat, 6)} for c in index.cameras.values()]
    if as_json:
        emit(rows)
        return
    for r in rows:
        say(f"{r['camera_id']:<4} {r['kind']:<10} grid {r['grid_id'] or '-':<4} {post_label(r['chainage_m']):>7} "
            f"{'floodplain' if r['floodplain'] else 'dike/land ':<10} {esc(r['name_zh'])} {esc(r['name_en'])}")
