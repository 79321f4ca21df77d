"""``floodtwin push``: one-click push of a message to everyone on duty in a grid, a role, or all."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from floodtwin.cli._common import (ACTOR_OPT, CONFIG_OPT, DB_OPT, DELIVER_OPT, JSON_OPT, NOW_OPT, clock, db_guard,
                                   deliver_now, emit, open_db, say)

__all__ = ["push", "register"]


def push(
    message: str = typer.Option(..., "--message", "-m", help="The text to push (both languages if needed)."),
    grid: Optional[str] = typer.Option(None, "--grid", help="Everyone on duty in this grid."),
    role: Optional[str] = typer.Option(None, "--role", help="Everyone on duty with this role."),
    everyone: bool = typer.Option(False, "--all", help="Everyone on duty."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT, now: Optional[str] = NOW_OPT,
    actor: str = ACTOR_OPT, as_json: bool = JSON_OPT, deliver: bool = DELIVER_OPT,
) -> None:
    """Push a message to everyone on duty in scope (--grid, --role, --all; --grid and --role combine)."""
    from floodtwin.dispatch.board import push as push_message

    t = clock(now)
    conn, cfg = open_db(db, config)
    out = push_message(conn, message=message, grid=grid, role=role, everyone=everyone, now=t, actor=actor,
                       config=cfg)
    delivery = deliver_now(conn, cfg, t, as_json) if deliver else None
    if as_json:
        emit({**out, "delivery": delivery})
    else:
        say(f"pushed to {len(out['recipients'])} people ({out['outbox_rows']} notification(s) queued)")


def register(root: typer.Typer) -> None:
    """Add ``floodtwin push`` to the root command."""
    root.command("push")(db_guard(push))
