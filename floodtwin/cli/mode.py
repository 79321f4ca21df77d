"""``floodtwin mode``: the town's working mode (normal, holiday, major event, emergency): show it, set it.

``mode set holiday --reason "Spring Festival"`` switches by hand (the town command by default, or a
staff id with ``--actor``); the flow level (IV or above forces the emergency mode) and a crowd count in
an exclusive grid (``floodtwin camera ingest``) switch automatically. Every switch is in the board's
event log with who and why (``mode show`` lists the last ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from floodtwin.cli._common import (CONFIG_OPT, DB_OPT, DELIVER_OPT, JSON_OPT, NOW_OPT, clock, command, deliver_now,
                                   emit, esc, open_db, say)

app = typer.Typer(help="Working modes: normal, holiday, major event, emergency (wartime); show and set.",
                  no_args_is_help=True)

__all__ = ["app", "set_cmd", "show_cmd", "mode_line"]

PREPLAN_OPT = typer.Option(None, "--preplan", help="Preplan YAML (default: data/preplans/huayuankou.yaml).")


def mode_line(conn: Any, offset_h: float, preplan: Optional[Path] = None) -> str:
    """``mode emergency 应急战时模式 since 2026-07-21 10:00 (UTC+8) (level, TOWN) · level I (red)``: what
    the board and the report show first (plain text, escaped by the caller)."""
    from floodtwin.db import local_time
    from floodtwin.dispatch.modes import current_level, current_mode
    from floodtwin.preplan import Preplan
    from floodtwin.preplan.modes import mode_spec

    plan = Preplan.load(preplan)
    section = plan.model.modes
    if section is None:
        return "mode: (the preplan has no working modes)"
    mode = current_mode(conn, section.default)
    spec = mode_spec(section, mode["mode"])
    since = (f" since {local_time(mode['since'], offset_h)} ({mode['trigger']}, {mode['actor']})"
             if mode["since"] else " (default)")
    level = current_level(conn)
    lvl = f"level {level['tier']} ({level['colour']})" if level else "level: no activation yet"
    return f"mode {spec.id} {spec.name_zh}{since} · {lvl}"


@command(app, "set")
def set_cmd(
    mode: str = typer.Argument(..., help="normal, holiday, major_event or emergency."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded with the switch)."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Who orders it: the town command (default) or a "
                                        "staff id."),
    preplan: Optional[Path] = PREPLAN_OPT,
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
) -> None:
    """Switch the working mode (routine tasks swapped, leaders told; at level IV+ only emergency)."""
    from floodtwin.dispatch.modes import set_mode

    t = clock(now)
    conn, cfg = open_db(db, config)
    out = set_mode(conn, mode, now=t, actor=actor or cfg.dispatch.town_command.id, reason=reason, preplan=preplan,
                   config=cfg)
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    if as_json:
        emit({**out.to_dict(), "delivery": delivery})
        return
    if not out.switched:
        say(f"already in the {esc(out.to_mode)} mode: nothing changed")
        return
    say(f"mode {esc(out.from_mode)} -> [bold]{esc(out.to_mode)}[/]: {len(out.created)} routine task(s) on the "
        f"board, {len(out.stood_down)} stood down, {out.notified} leader(s) told")
    say(esc(mode_line(conn, cfg.dispatch.utc_offset_h, preplan)))


@command(app, "show")
def show_cmd(
    limit: int = typer.Option(10, "--limit", help="How many past switches to list.", min=1, max=1000),
    preplan: Optional[Path] = PREPLAN_OPT,
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, as_json: bool = JSON_OPT,
) -> None:
    """The working mode and flow level, the mode's duty arrangements, the last switches (who, why)."""
    from floodtwin.db import local_time
    from floodtwin.dispatch.modes import current_level, current_mode, mode_history
    from floodtwin.preplan import Preplan
    from floodtwin.preplan.modes import mode_spec

    conn, cfg = open_db(db, config)
    plan = Preplan.load(preplan)
    section = plan.model.modes
    if section is None:
        from floodtwin.errors import InputError

        raise InputError(f"preplan {plan.model.name}: no working modes (add a modes: section)")
    mode = current_mode(conn, section.default)
    spec = mode_spec(section, mode["mode"])
    history = mode_history(conn, limit)
    if as_json:
        emit({"mode": mode, "level": current_level(conn), "duty": spec.duty.model_dump(), "history": history})
        return
    import textwrap

    from rich.cells import cell_len

    offset_h = cfg.dispatch.utc_offset_h
    say(esc(mode_line(conn, offset_h, preplan)))
    for line in textwrap.wrap(f"{spec.name_en}: {spec.duty.summary_en}", 96):
        say(f"  {esc(line)}")
    zh, line = spec.duty.summary_zh, ""
    for ch in zh:  # Chinese has no spaces to wrap at: cut by terminal cells (two per character)
        if cell_len(line + ch) > 96:
            say(f"  {esc(line)}")
            line = ""
        line += ch
    say(f"  {esc(line)}")
    say(f"  key points staffed {spec.duty.key_points}, mobile patrol teams {spec.duty.patrol_teams}, "
        f"leader on duty around the clock: {'yes' if spec.duty.leader_24h else 'no'}")
    for h in history:
        text = (f"{local_time(h['at'], offset_h, zone=False)}  {h['from_mode']} -> {h['to_mode']}  {h['trigger']} by "
                f"{h['actor']}: {h['reason']}")
        for k, line in enumerate(textwrap.wrap(text, 96)):
            say(("  " if k == 0 else "      ") + esc(line))
