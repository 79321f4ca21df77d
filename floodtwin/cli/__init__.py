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

__all__ = ["app", "fail", "main"]

app = typer.Typer(
    name="floodtwin",
    help="Flood-defence digital twin and task dispatcher for the Huayuankou reach of the Yellow River.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command groups, in the order they appear in --help. A module either has ``app`` (mounted as a
# sub-command group named after the module) or ``register(root_app)`` (adds top-level commands).
_GROUPS = ["reach", "preplan", "tasks", "mode", "report", "camera", "push", "stones", "hydraulics", "scenario",
           "library", "ensemble", "alert", "serve"]

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


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """The exception types of a command-line usage error (bad or missing option): Typer ≥ 0.2x
    vendors click and exposes their base as ``typer.TyperException``; older versions raise click's."""
    types: list[type[BaseException]] = []
    if hasattr(typer, "TyperException"):
        types.append(typer.TyperException)
    try:
        import click

        types.append(click.ClickException)
    except ImportError:
        pass
    return tuple(types)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the Typer app; a FloodtwinError or a usage error (bad option value, missing or
    unknown option) becomes one red line and its exit code."""
    usage_errors = _usage_error_types()
    try:
        # not standalone: errors come here instead of click's multi-line usage panel; --help and a
        # typer.Exit come back as the exit code
        result = app(args=argv, prog_name="floodtwin", standalone_mode=False)
    except FloodtwinError as exc:
        fail(str(exc), exc.exit_code)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        raise SystemExit(code) from None
    except typer.Abort:
        fail("aborted", 130)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(1) from None
    except usage_errors as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group called without a command: its help
            exc.show()
            raise SystemExit(getattr(exc, "exit_code", 2)) from None
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "floodtwin"
        message = " ".join(exc.format_message().split())
        fail(f"{where}: {message} (see {where} --help)", getattr(exc, "exit_code", 2))
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, said in one line
        import os

        if os.environ.get("FLOODTWIN_DEBUG"):
            raise
        where = " ".join(argv if argv is not None else sys.argv[1:])[:120]
        fail(f"internal error (a bug in floodtwin, please report it): {type(exc).__name__}: "
             f"{' '.join(str(exc).split())[:200]} (in `floodtwin {where}`; FLOODTWIN_DEBUG=1 shows the traceback)",
             70)
    raise SystemExit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
