"""``floodtwin serve``: the command-centre screen in the browser (local web application)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from floodtwin.cli._common import CONFIG_OPT, DB_OPT

__all__ = ["register", "serve"]

#: where the token for the screen's actions comes from when no --token-file is given
TOKEN_ENV = "FLOODTWIN_SERVE_TOKEN"


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8050, "--port", help="TCP port."),
    db: Optional[Path] = DB_OPT, config: Optional[Path] = CONFIG_OPT,
    library: Optional[Path] = typer.Option(None, "--library", help="Flood-map library (default: "
                                           "data/library/huayuankou-50m.nc)."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help=f"File holding the token that actions "
                                              f"(activate, push, acknowledge) need (default: ${TOKEN_ENV}; "
                                              "without one the screen is read-only)."),
) -> None:
    """Serve the screen: grid e-map, discharge control (instant answers from the flood-map library),
    monitoring, the plan's to-do list and the live task board. Open http://HOST:PORT/ in a browser."""
    import os

    from floodtwin.errors import ConfigError
    from floodtwin.files import require_file_to_read, require_number

    require_number(port, option="--port", low=1, high=65535)
    if library is not None:
        require_file_to_read(library, option="--library")
    token = None
    if token_file is not None:
        try:
            token = require_file_to_read(token_file, option="--token-file").read_bytes().decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ConfigError(f"--token-file {token_file}: not UTF-8 text") from None
        if not token:
            raise ConfigError(f"--token-file {token_file}: empty")
    elif os.environ.get(TOKEN_ENV, "").strip():
        token = os.environ[TOKEN_ENV].strip()
    if token is not None and len(token) < 12:
        raise ConfigError("the screen's token must have at least 12 characters")
    import uvicorn

    from floodtwin.cli._common import say
    from floodtwin.serve import Screen, create_app

    screen = Screen(library_path=library, db=db, config=config)
    app = create_app(screen, token=token)
    say(f"[bold]floodtwin screen[/] on http://{host}:{port}/ ({'actions need the token' if token else 'read-only'}; "
        f"library {screen.library.path.name}); Ctrl-C stops it")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
