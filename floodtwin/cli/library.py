"""``floodtwin library build|info``: the flood-map library of full runs, one per discharge."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["app"]

app = typer.Typer(help="The flood-map library: full coupled 1D–2D runs per discharge, for instant answers.",
                  no_args_is_help=True)

LIBRARY_OPT = typer.Option(None, "--library", help="Library file (default: data/library/<reach>-<resolution>m.nc).")


@app.command("build")
def build(
    q_from: float = typer.Option(2000, "--from", help="Lowest member discharge (m³/s)."),
    q_to: float = typer.Option(25000, "--to", help="Highest member discharge (m³/s)."),
    step: float = typer.Option(1000, "--step", help="Discharge step between members (m³/s)."),
    resolution: int = typer.Option(50, "--resolution", help="Grid of the full runs (m): 25, 50 or 100."),
    workers: int = typer.Option(2, "--workers", help="Worker processes on this machine (one thread each)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler "
                                            "(tcp://host:8786) instead of local workers."),
    duration: Optional[float] = typer.Option(None, "--duration-h", help="Compress the design wave to this many "
                                             "hours (same peak; small test libraries). Default: the design wave."),
    out: Optional[Path] = LIBRARY_OPT,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Run the full model for each discharge (design wave) on worker processes, each member written
    atomically (an interrupted build resumes), and store them in one NetCDF."""
    from floodtwin.cli.scenario import RESOLUTIONS_M
    from floodtwin.errors import InputError
    from floodtwin.files import require_file_to_write, require_number
    from floodtwin.batch import MAX_LOCAL_WORKERS

    if resolution not in RESOLUTIONS_M:
        raise InputError(f"--resolution {resolution}: expected one of {', '.join(map(str, RESOLUTIONS_M))} (m)")
    require_number(workers, option="--workers", low=1, high=MAX_LOCAL_WORKERS)
    if duration is not None:
        require_number(duration, option="--duration-h", low=1, high=240)
    import functools
    import time

    from floodtwin.library.build import build_library, library_discharges
    from floodtwin.library.inputs import default_library_path, library_attrs
    from floodtwin.risk.layers import VILLAGE_RADIUS_M
    from floodtwin.scenario.run import library_member

    discharges = library_discharges(q_from, q_to, step)
    if out is None:
        out = default_library_path("huayuankou", resolution)
        out.parent.mkdir(parents=True, exist_ok=True)
    path = require_file_to_write(out, option="--library", suffixes=(".nc",))
    attrs = library_attrs("huayuankou", float(resolution), duration)
    compute = functools.partial(library_member, resolution_m=float(resolution), duration_h=duration)
    bar = None if quiet else _MemberBar(len(discharges))
    t0 = time.perf_counter()
    try:
        build_library(discharges, path, compute=compute, attrs=attrs, village_radius_m=VILLAGE_RADIUS_M,
                      workers=workers, scheduler=scheduler, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    from floodtwin.cli._common import say

    size = path.stat().st_size / 2**20
    say(f"[bold green]library written:[/] {path} ({len(discharges)} members {discharges[0]:,.0f}–{discharges[-1]:,.0f} "
        f"m³/s, {resolution} m, {size:.1f} MiB) in {time.perf_counter() - t0:,.0f} s")


class _MemberBar:
    """Rich progress of the build on stderr: members finished of all, the last one, wall time, ETA."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self._console = Console(stderr=True)
        self._p = Progress(TextColumn("[bold]library build[/]"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[last]}"), TimeElapsedColumn(), TextColumn("ETA"),
                           TimeRemainingColumn(), console=self._console)
        self._p.start()
        self._task = self._p.add_task("build", total=total, last="starting workers")

    def __call__(self, outcome, finished: int, total: int) -> None:
        from rich.markup import escape

        if outcome.status == "skipped":
            self._p.console.print(f"{outcome.name} already built (kept from the interrupted build)")
        if outcome.status == "failed":
            self._p.console.print(f"[bold red]member {outcome.name} failed:[/] {escape(outcome.error or '')}")
        last = {"done": f"{outcome.name} done in {outcome.wall_s:.0f} s", "skipped": f"{outcome.name} already built",
                "failed": f"{outcome.name} failed"}[outcome.status]
        self._p.update(self._task, completed=finished, last=last)

    def close(self) -> None:
        self._p.stop()


@app.command("info")
def info(library: Optional[Path] = LIBRARY_OPT,
         resolution: int = typer.Option(50, "--resolution", help="Grid of the library (m), when --library is not given."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON.")) -> None:
    """What a library holds, what it was built from, and whether it is still fresh (exit 1 when stale)."""
    from floodtwin.cli._common import emit, esc, say
    from floodtwin.files import require_file_to_read
    from floodtwin.library import open_library

    if library is not None:
        require_file_to_read(library, option="--library")
    with open_library(library, resolution_m=float(resolution)) as lib:
        stale = lib.stale_reasons()
        doc = {"library": str(lib.path), "members": len(lib.discharges_m3s),
               "discharges_m3s": [float(q) for q in lib.discharges_m3s], "resolution_m": lib.resolution_m,
               "size_mib": round(lib.path.stat().st_size / 2**20, 2), "built_at": lib.attrs.get("built_at"),
               "fresh": not stale, "stale_because": stale,
               "inputs": {k: v for k, v in lib.attrs.items() if k.startswith("input_")}}
    if as_json:
        emit(doc)
    else:
        qs = doc["discharges_m3s"]
        say(f"[bold]{esc(doc['library'])}[/]: {doc['members']} members {qs[0]:,.0f}–{qs[-1]:,.0f} m³/s, "
            f"{doc['resolution_m']:g} m, {doc['size_mib']} MiB, built {doc['built_at']}")
        say("[bold green]fresh[/]: built from the inputs as they are now" if not stale else
            f"[bold red]stale[/]: {esc('; '.join(stale))}; not used (rebuild: floodtwin library build)")
    if stale:
        raise typer.Exit(1)
