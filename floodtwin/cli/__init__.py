"""The ``floodtwin`` command line: a thin Typer layer over the library.

Each command group lives in its own module (``floodtwin/cli/<group>.py``) exposing ``app`` (a
``typer.Typer``) or ``register(root)``; modules import heavy libraries inside the commands, never
at import time, so ``floodtwin --help`` answers in well under a second.
"""

from __future__ import annotations

import importlib
import sys

import typer

from floodtwin.errors import FloodtwinError

app = typer.Typer(
    name="floodtwin",
    help="Flood-defence digital twin and task dispatcher for the Huayuankou reach of the Yellow River.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command groups, in the order they appear in --help. A module either has ``app`` (mounted as a
# sub-command group named after the module) or ``register(root_app)`` (adds top-level commands).
_GROUPS = ["reach", "preplan", "tasks", "report", "push", "stones", "hydraulics", "scenario"]

for _name in _GROUPS:
    _module = importlib.import_module(f"floodtwin.cli.{_name}")
    if hasattr(_module, "register"):
        _module.register(app)
    else:
        app.add_typer(_module.app, name=_name.replace("_", "-"))


def fail(message: str, exit_code: int = 2) -> None:
    """Print one red error line to stderr and exit (the CLI's only way of reporting bad input)."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise SystemExit(exit_code)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app, turning FloodtwinError into one red line and its exit code."""
    try:
        app(args=argv, prog_name="floodtwin", standalone_mode=True)
    except FloodtwinError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(1) from None


if __name__ == "__main__":  # pragma: no cover
    main()
