"""What the commands share: the options every board and sensor command takes, the database and
clock they open, SQLite failures as one line, JSON and Rich output, one delivery pass."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer

__all__ = ["DB_OPT", "CONFIG_OPT", "NOW_OPT", "JSON_OPT", "ACTOR_OPT", "DELIVER_OPT", "db_guard", "command",
           "open_db", "clock", "emit", "esc", "say", "deliver_now"]

DB_OPT = typer.Option(None, "--db", help="SQLite database (default: $FLOODTWIN_DB or ~/.local/share/floodtwin).")
CONFIG_OPT = typer.Option(None, "--config", help="Dispatch YAML (default: $FLOODTWIN_CONFIG or data/config/dispatch.yaml).")
NOW_OPT = typer.Option(None, "--now", help="Clock for drills and tests: ISO 8601 time (default: now, UTC).")
JSON_OPT = typer.Option(False, "--json", help="Machine-readable JSON output.")
#: a person's action names the person: no default (system runs name themselves, see roster.SYSTEM_ACTORS)
ACTOR_OPT = typer.Option(..., "--actor", help="Who does this: your staff id (or the town command's id, e.g. "
                         "TOWN); checked against the roster and the task, recorded in the event log.")
DELIVER_OPT = typer.Option(True, "--deliver/--no-deliver", help="Deliver queued notifications after the change.")


def db_guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a SQLite failure (corrupt file, disk full) or a file-system error inside a command into one
    DataError line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import sqlite3

        from floodtwin.errors import DataError

        try:
            return fn(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{kwargs.get('db') or 'database'}: {exc}; nothing was changed") from None
        except OSError as exc:  # a file the command reads or writes (export target, import source)
            where = exc.filename if exc.filename is not None else (kwargs.get("db") or "file")
            raise DataError(f"{where}: {exc.strerror or exc}") from None

    return wrapper


def command(typer_app: typer.Typer, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``typer_app.command(name)`` with :func:`db_guard` applied."""
    return lambda fn: typer_app.command(name)(db_guard(fn))


def open_db(db: Optional[Path], config: Optional[Path]) -> tuple[Any, Any]:
    """(connection with the dispatch schema, dispatch configuration)."""
    from floodtwin.dispatch.schema import ensure_schema
    from floodtwin.dispatch.settings import load_config
    from floodtwin.db import connect

    cfg = load_config(config)
    conn = connect(db)
    ensure_schema(conn)
    return conn, cfg


def clock(now: Optional[str], option: str = "--now") -> Any:
    """The command's clock: ``now`` (ISO 8601; ``option`` names it in the error) or the current UTC time."""
    from floodtwin.db import parse_now
    from floodtwin.errors import InputError

    try:
        return parse_now(now)
    except InputError as exc:
        raise InputError(str(exc).replace("--now", option, 1)) from None


def emit(doc: Any) -> None:
    """Print ``doc`` as JSON (UTF-8, keys as given)."""
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=1, default=str))


def esc(value: Any) -> str:
    """``value`` as text that Rich prints as it is (user text may contain ``[...]``, Rich's markup)."""
    from rich.markup import escape

    return escape(str(value))


def say(text: str) -> None:
    """Print Rich markup ``text`` on stdout (no highlighting, long lines wrapped softly)."""
    from rich.console import Console

    Console(highlight=False, soft_wrap=True).print(text)


def deliver_now(conn: Any, cfg: Any, now: Any, quiet: bool) -> dict[str, Any]:
    """One delivery pass at ``now``; prints a line when something is left for later."""
    from floodtwin.dispatch.notify import deliver

    report = deliver(conn, cfg, now=now)
    if not quiet and (report.retrying or report.dead):
        later = f", {report.deferred} more held back (notifier down)" if report.deferred else ""
        say(f"[yellow]notifications: {report.sent} sent, {report.retrying} to retry{later}, {report.dead} failed "
            f"for good[/] ({esc(report.errors[0]) if report.errors else ''}); `floodtwin tasks deliver` retries")
    return report.to_dict()
