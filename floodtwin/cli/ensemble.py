"""``floodtwin ensemble FILE [--workers N | --scheduler ADDRESS]``: many full runs on Dask, reduced to the
probability of flooding per cell, village and dike segment."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

__all__ = ["ensemble", "register"]

#: a Dask scheduler address: tcp://, tls:// or inproc-free forms with host and port
_ADDRESS = re.compile(r"^(tcp|tls|ucx|ws|wss)://[^\s/:]+(:\d{1,5})?$")


def register(root: typer.Typer) -> None:
    root.command("ensemble")(ensemble)


def ensemble(
    file: Path = typer.Argument(..., help="Ensemble YAML (scenarios/ensembles/*.yaml): base scenario, parameter "
                                "distributions, members, seed, outputs."),
    workers: int = typer.Option(2, "--workers", "-w", help="Worker processes of a local Dask cluster (one member each "
                                "at a time)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a running Dask scheduler, e.g. "
                                            "tcp://10.0.0.5:8786, instead of a local cluster."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder of the ensemble (default: "
                                       "outputs/ensembles/<name>); run again to resume its unfinished members."),
    allow_failed: bool = typer.Option(False, "--allow-failed", help="Give the statistics over the finished members "
                                      "when some failed (named in the outputs); without it nothing is reduced."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json."),
) -> None:
    """Run every member of an ensemble (a full coupled 1D–2D run each) on Dask, resume what is finished, and
    write the probability of depth > 0.3 m / > 1 m, depth quantiles, village and dike probabilities (NetCDF,
    GeoPackage, probability map PNG and HTML)."""
    from floodtwin.errors import InputError
    from floodtwin.files import require_number
    from floodtwin.scenario.ensemble import load_ensemble_spec, run_ensemble
    from floodtwin.scenario.ensemble.run import default_ensemble_folder, require_ensemble_folder

    if scheduler is not None:
        if not _ADDRESS.match(scheduler.strip()):
            raise InputError(f"--scheduler {scheduler!r}: expected an address such as tcp://10.0.0.5:8786")
        scheduler = scheduler.strip()
    else:
        from floodtwin.batch import MAX_LOCAL_WORKERS

        require_number(workers, option="--workers", low=1, high=MAX_LOCAL_WORKERS)
    if out is not None:
        require_ensemble_folder(out)
    spec = load_ensemble_spec(file)
    folder = require_ensemble_folder(out if out is not None else default_ensemble_folder(spec.name))
    bar = None if quiet or as_json else _Progress(spec.members)
    try:
        run = run_ensemble(spec, folder=folder, workers=workers, scheduler=scheduler, allow_failed=allow_failed,
                           progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if as_json and run.files:
        typer.echo(run.files["summary.json"].read_text(encoding="utf-8"))
    elif not as_json:
        _render(run)
    if run.report.failed and not allow_failed:
        raise typer.Exit(1)


class _Progress:
    """Rich progress of the members (and of the reduction) on stderr; a failed member is one line above it."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.console = Console(stderr=True, highlight=False)
        self._p = Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("{task.fields[note]}"), TimeElapsedColumn(), TextColumn("ETA"),
                           TimeRemainingColumn(), console=self.console, transient=True)
        self._tasks: dict[str, int] = {}
        self._live = self.console.is_terminal  # a log file gets lines, not a bar
        if self._live:
            self._p.start()

    def __call__(self, phase: str, outcome, finished: int, total: int) -> None:
        from rich.markup import escape

        if not self._live:
            if outcome.status == "failed":
                self.console.print(f"{phase}: {escape(outcome.name)} failed: {escape(outcome.error or '')}")
            elif outcome.status == "done":
                self.console.print(f"{phase}: {escape(outcome.name)} done in {outcome.wall_s:.0f} s ({finished} of {total})")
            return
        if phase not in self._tasks:
            self._tasks[phase] = self._p.add_task("members" if phase == "members" else "reduction", total=total,
                                                  note="")
        if outcome.status == "failed":
            self._p.console.print(f"[red]{escape(outcome.name)} failed:[/] {escape(outcome.error or '')}")
        note = "resumed" if outcome.status == "skipped" else f"last {outcome.name} {outcome.wall_s:.0f} s"
        self._p.update(self._tasks[phase], completed=finished, note=note)

    def close(self) -> None:
        if self._live:
            self._p.stop()


def _render(run) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    c = Console(highlight=False)
    r = run.report
    c.print(f"[bold]{escape(run.spec.title_en)}[/]")
    c.print(f"members: {len(r.names('done'))} run now, {len(r.names('skipped'))} finished before, "
            f"{len(r.failed)} failed (of {len(run.members)}) · folder {escape(str(run.folder))}")
    for name, error in r.failed.items():
        c.print(f"  [red]{escape(name)}[/]: {escape(error)}")
    if run.cells is None:
        if r.failed:
            c.print("[red]no statistics:[/] members failed; fix them and run again (finished members are kept), "
                    "or give --allow-failed")
        return
    t = Table(title=f"villages over {len(run.used)} members", title_justify="left")
    t.add_column("village", no_wrap=True, overflow="ellipsis", max_width=38)
    for col in ("P(flooded)", "P(signif.)", "P(extreme)", "median depth"):
        t.add_column(col, justify="right", no_wrap=True)
    names = run.villages.merge(run.reach.villages[["village_id", "name_zh", "name_en"]], on="village_id", how="left")
    for v in names.sort_values("prob_flooded", ascending=False).itertuples():
        t.add_row(f"{v.village_id} {v.name_zh} {v.name_en}", f"{v.prob_flooded:.0%}", f"{v.prob_significant:.0%}",
                  f"{v.prob_extreme:.0%}", f"{v.depth_median_m:.2f} m")
    c.print(t)
    d = run.dikes.sort_values("prob_freeboard_lt_1m", ascending=False)
    risky = d[d["prob_freeboard_lt_1m"] > 0]
    c.print(f"dike segments with a freeboard below 1 m in some members: {len(risky)} of {len(d)}"
            + (": " + ", ".join(f"{s.segment_id} {s.prob_freeboard_lt_1m:.0%}" for s in risky.head(8).itertuples())
               if len(risky) else ""))
    for name, path in run.files.items():
        c.print(f"  {name:<18} {escape(str(path))}")

