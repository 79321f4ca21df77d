"""``floodtwin scenario --discharge Q [--full]``: what a flow means, end to end, for the duty officer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

__all__ = ["register", "scenario"]

COLOUR_STYLE = {"red": "bold white on red", "orange": "bold black on dark_orange", "yellow": "bold black on yellow",
                "blue": "bold white on blue"}
HAZARD_STYLE = {"low": "[green]", "moderate": "[yellow]", "significant": "[bold dark_orange]",
                "extreme": "[bold red]"}
CLASS_LABEL = {"overtopped": "overtopped 漫顶", "lt_1m": "< 1 m", "lt_2m": "< 2 m", "ge_2m": "≥ 2 m"}


def register(root: typer.Typer) -> None:
    root.command("scenario")(scenario)


def scenario(
    discharge: Optional[float] = typer.Option(None, "--discharge", "-q",
                                              help="Peak discharge at Huayuankou (m³/s): the design wave scaled to it."),
    hydrograph: Optional[Path] = typer.Option(None, "--hydrograph", help="Inflow series CSV (time_h or time, "
                                              "discharge_m3s): see docs/scenarios.md."),
    scenario_name: Optional[str] = typer.Option(None, "--scenario", help="A named scenario: scenarios/NAME.yaml "
                                                "(design, 1958, 1982, bankfull, 2021-autumn, breach-right, ...)."),
    full: bool = typer.Option(False, "--full", help="Coupled 1D channel + 2D floodplain run on the reach DEM: depth, "
                              "speed, arrival and hazard per cell, maps (about a minute)."),
    breach: list[str] = typer.Option([], "--breach", help="Dike breach CHAINAGE_M[:left|right][@HOURS] (with --full; "
                                     "repeatable)."),
    resolution: int = typer.Option(50, "--resolution", help="Grid of the full run (m): 25, 50 or 100."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the run's files (default: "
                                       "outputs/<scenario>-<UTC time>)."),
    layer: str = typer.Option("depth", "--layer", help="What map.png shows: depth or hazard."),
    steady: bool = typer.Option(False, "--steady", help="Steady profile of the peak only (no hydrograph, no times)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    lang: str = typer.Option("en", "--lang", help="Task text language: en or zh."),
    show_tasks: int = typer.Option(12, "--tasks", help="How many task instructions to list (by deadline)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's summary (summary.json) as JSON."),
    library: Optional[Path] = typer.Option(None, "--library", help="Flood-map library to answer from (default: "
                                           "data/library/huayuankou-50m.nc when built; see floodtwin library)."),
    no_library: bool = typer.Option(False, "--no-library", help="Answer with the 1D model even when a library is there."),
) -> None:
    """Response level, water against every dike section, flooded villages and when, people to move, tasks;
    with --full the flood of the whole reach, its hazard and maps. Writes the run's files to one folder."""
    from floodtwin.errors import InputError, require_discharge_m3s
    from floodtwin.files import require_number
    from floodtwin.scenario import run_scenario
    from floodtwin.scenario.outputs import default_output_folder, prepare_output_folder, write_outputs

    given = [name for name, v in (("--discharge", discharge), ("--hydrograph", hydrograph),
                                  ("--scenario", scenario_name)) if v is not None]
    if len(given) != 1:
        raise InputError("scenario: give one of --discharge, --hydrograph, --scenario"
                         + (f" (got {', '.join(given)})" if given else ""))
    if lang not in ("en", "zh"):
        raise InputError(f"--lang {lang}: expected en or zh")
    if layer not in ("depth", "hazard"):
        raise InputError(f"--layer {layer}: expected depth or hazard")
    if resolution not in RESOLUTIONS_M:
        raise InputError(f"--resolution {resolution}: expected one of {', '.join(map(str, RESOLUTIONS_M))} (m)")
    require_number(show_tasks, option="--tasks", low=0, high=10_000)
    if library is not None:  # a named library must be one, whichever model ends up answering
        from floodtwin.files import require_file_to_read
        from floodtwin.library import open_library

        open_library(require_file_to_read(library, option="--library")).close()
    series, name, breaches = None, "design", []
    if discharge is not None:
        discharge = require_discharge_m3s(discharge, name="--discharge", positive=True)
        name = f"design-{discharge:.0f}"
    elif hydrograph is not None:
        from floodtwin.hydrograph import read_hydrograph_csv

        series, name = read_hydrograph_csv(hydrograph), hydrograph.stem
    else:
        from floodtwin.hydrograph import load_scenario

        sc = load_scenario(scenario_name)
        series, name, breaches = sc.hydrograph, sc.name, list(sc.breaches)
    if breach:
        from floodtwin.hydrograph import parse_breach

        breaches += [parse_breach(text, option="--breach") for text in breach]
    if breaches and not full:
        raise InputError("a dike breach needs the full run: add --full (the 1D model has no land behind the dikes)")
    if steady and (full or series is not None):
        raise InputError("--steady is the 1D envelope of one peak discharge: not with --full, --hydrograph or --scenario")
    folder = prepare_output_folder(out if out is not None else default_output_folder(name))
    progress = None if (quiet or not full) else _ProgressBar()
    try:
        result = run_scenario(discharge if series is None else None, hydrograph=series, name=name, full=full,
                              breaches=tuple(breaches), resolution_m=float(resolution), unsteady=not steady,
                              progress=progress, library=False if no_library else library)
    finally:
        if progress is not None:
            progress.close()
    files = write_outputs(result, folder, layer=layer)
    if as_json:
        # summary.json, with the task instructions themselves (tasks.json) as the JSON of a run always had
        summary = json.loads(files["summary.json"].read_text(encoding="utf-8"))
        summary["tasks"] = json.loads(files["tasks.json"].read_text(encoding="utf-8"))
        summary["folder"] = str(folder)
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
        return
    _render(result, lang, show_tasks)
    _render_files(folder, files)


#: grids the full run offers (m): the committed DEM is 50 m; 25 and 100 are built from the parameters
RESOLUTIONS_M = (25, 50, 100)


class _ProgressBar:
    """Rich progress of the full run on stderr: simulated hours of total, wall time, ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._p = Progress(TextColumn("[bold]coupled 1D–2D run[/]"), BarColumn(),
                           TextColumn("{task.fields[hours]}"), TextColumn("wall"), TimeElapsedColumn(),
                           TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._task = None

    def __call__(self, t_s: float, total_s: float) -> None:
        if self._task is None:
            self._p.start()
            self._task = self._p.add_task("run", total=total_s, hours="")
        self._p.update(self._task, completed=t_s, hours=f"{t_s / 3600:5.1f} of {total_s / 3600:.0f} h simulated")

    def close(self) -> None:
        if self._task is not None:
            self._p.stop()


def _render_files(folder: Path, files: dict[str, Path]) -> None:
    from rich.console import Console

    c = Console()
    c.print(f"  [bold]wrote[/] {folder}/: " + ", ".join(sorted(files)))
    if "map.png" in files:
        c.print(f"  [bold]flood map:[/] {files['map.png']}  ·  interactive (offline): {files['map.html']}")


def _hours(t_s: float) -> str:
    return "—" if t_s != t_s else f"{t_s / 3600:.1f} h"


def _render(result, lang: str, show_tasks: int) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from floodtwin.cli._common import esc

    c = Console()
    d = result.decision
    style = COLOUR_STYLE.get(d.colour, "bold")
    c.print(Panel(f"[{style}] Level {d.tier} · {d.colour.upper()} [/]  {result.discharge_m3s:,.0f} m³/s at 花园口 "
                  f"Huayuankou · stage {result.gauge_stage_m:.2f} m\n{d.reason}\n[dim]{result.method}[/]",
                  title="floodtwin scenario", expand=False))
    if result.full:
        c.print("  [bold]answer from:[/] the coupled 1D–2D run (the water's path over the floodplain and behind the dikes)")
    elif result.from_library:
        c.print("  [bold]answer from:[/] the flood-map library (precomputed full coupled 1D–2D runs, fresh: built "
                "from today's DEM and calibration); --full runs the model")
    else:
        if result.library_note:
            c.print(f"  [bold yellow]library not used:[/] {esc(result.library_note)}")
        c.print("  [bold]answer from:[/] the 1D channel model alone (no flood map; add --full for the coupled 1D–2D run)")
    peak_s = result.hydrograph.time_of_peak_s if result.hydrograph is not None else float("nan")

    dikes = result.dikes
    counts = dikes["freeboard_class"].value_counts().to_dict()
    t = Table(title="Water against the dikes (freeboard = crest − highest water level)", header_style="bold")
    for col in ("segment", "posts", "water m", "crest m", "freeboard m", "class", "min at"):
        t.add_column(col, justify="right" if col.endswith("m") else "left", no_wrap=True)
    lowest = dikes.sort_values("freeboard_m").head(8)
    for r in lowest.itertuples():
        t.add_row(r.segment_id, f"{r.post_from}–{r.post_to}", f"{r.max_water_level_m:.2f}", f"{r.crest_elevation_m:.2f}",
                  f"{r.freeboard_m:.2f}", CLASS_LABEL.get(r.freeboard_class, r.freeboard_class),
                  _hours(r.time_min_freeboard_s))
    c.print(t)
    c.print("  all " + str(len(dikes)) + " segments: " + ", ".join(
        f"{CLASS_LABEL[k]} {counts.get(k, 0)}" for k in CLASS_LABEL) + "  (8 lowest shown)")

    v = result.villages
    vt = Table(title="Floodplain villages (滩区村庄): depth at the crest, hours from the start of the wave",
               header_style="bold")
    cols = ("village", "people", "special", "depth m") + (("hazard",) if result.full or result.from_library else ()) + (
        "arrives", "crest in", "evacuate to")
    for col in cols:
        # an evacuation point's name wraps in its cell rather than losing its end
        vt.add_column(col, justify="right" if col in ("people", "special", "depth m", "crest in") else "left",
                      overflow="fold" if col == "evacuate to" else "ellipsis")
    for r in v.itertuples():
        arrival, lead = "dry", ""
        if r.flooded:
            arrival = _hours(r.arrival_time_s)
            if r.arrival_time_s == r.arrival_time_s and peak_s == peak_s:
                # "crest in": the time from the water's arrival to the flood's crest at Huayuankou
                lead = f"{(peak_s - r.arrival_time_s) / 3600:.0f} h"
        mark = "[bold red]" if r.flooded else ""
        hazard = ((HAZARD_STYLE.get(r.hazard_class, "") + r.hazard_class + "[/]" if r.hazard_class != "dry" else "dry"),) \
            if result.full or result.from_library else ()
        vt.add_row(f"{mark}{r.name_zh}", str(r.population), str(r.special_attention), f"{mark}{r.max_depth_m:.2f}",
                   *hazard, arrival, lead, r.evacuation_point.replace("安置点（堤后）", "安置点"))
    c.print(vt)
    p = result.people_to_move()
    c.print(f"  [bold]to move:[/] {p['population']} people ({p['households']} households, "
            f"{p['special_attention']} needing special attention) from {p['villages']} villages")

    if result.full:
        _render_flood(c, result)
    elif result.from_library:
        f = result.flood_summary
        c.print(f"  [bold]flood between the dikes (滩区):[/] {f['floodplain_inundated_area_km2']:.1f} km² under water; "
                f"behind the dikes: " + ("[bold green]dry[/]" if f["behind_dikes_inundated_area_km2"] == 0 else
                                         f"[bold red]{f['behind_dikes_inundated_area_km2']:.2f} km² under water[/]"))

    tasks = result.tasks
    by_cat: dict[str, int] = {}
    for task in tasks:
        by_cat[task.category] = by_cat.get(task.category, 0) + 1
    tt = Table(title=f"{len(tasks)} task instructions of the plan at level {d.tier} (first {min(show_tasks, len(tasks))} "
                     f"by deadline)", header_style="bold")
    tt.add_column("min", justify="right")
    tt.add_column("owner")
    tt.add_column("task")
    for task in tasks[:show_tasks]:
        tt.add_row(f"{task.deadline_min:g}", task.owner_role, task.title(lang))
    c.print(tt)
    c.print("  by category: " + ", ".join(f"{k} {n}" for k, n in sorted(by_cat.items(), key=lambda kv: -kv[1])))
    c.print(f"  dispatch them: [bold]floodtwin tasks activate --discharge {result.discharge_m3s:g}[/]")


def _render_flood(c, result) -> None:
    """The full run's flood: area and volume, hazard, grids affected, works under attack."""
    from rich.table import Table

    from floodtwin.risk import ATTACK_SPEED_MS, HAZARD_CLASSES

    f = result.flood_summary
    c.print(f"  [bold]flood between the dikes (滩区):[/] {f['floodplain_inundated_area_km2']:.1f} km² under water, "
            f"at most {f['floodplain_volume_peak_m3'] / 1e6:,.0f} Mm³ on the land at once")
    c.print("    by hazard (km²): " + " · ".join(f"{k} {f[f'floodplain_area_{k}_km2']:.1f}" for k in HAZARD_CLASSES[1:]))
    behind = f["behind_dikes_inundated_area_km2"]
    c.print("  [bold]behind the dikes:[/] " + ("[bold green]dry[/]" if behind == 0 else
                                                f"[bold red]{behind:.2f} km² under water[/], "
                                                f"{f['behind_dikes_max_depth_volume_m3'] / 1e6:,.1f} Mm³ at the "
                                                "deepest of each cell"))
    v = result.villages
    by = v.groupby("hazard_class")
    c.print("  [bold]villages by hazard[/] (hours from the start of the wave):")
    for k in reversed(HAZARD_CLASSES):
        if k in by.groups:
            rows = by.get_group(k).sort_values("arrival_time_s").itertuples()
            c.print(f"    {HAZARD_STYLE.get(k, '')}{k}[/] {len(by.get_group(k))}: "
                    + ", ".join(f"{r.name_zh} {_hours(r.arrival_time_s)}" for r in rows))
    g = result.layers["grids"]
    hit = g[(g["flooded_area_km2"] > 0) | (g["people"] > 0)].sort_values("people", ascending=False)
    if len(hit):
        gt = Table(title=f"{len(hit)} grids with water in them or people to move", header_style="bold")
        for col in ("grid", "flooded km²", "people", "villages", "tasks"):
            gt.add_column(col, justify="right" if col in ("flooded km²", "people", "tasks") else "left")
        for r in hit.head(10).itertuples():
            gt.add_row(f"{r.grid_id} {r.name_zh}", f"{r.flooded_area_km2:.2f}", str(r.people),
                       " ".join(v.split(" ")[0] for v in r.villages.split("; ")) if r.villages else "",
                       str(r.task_count))
        c.print(gt)
        if len(hit) > 10:
            c.print(f"  … and {len(hit) - 10} more grids (risk.gpkg, layer grids)")
    w = result.layers["works"]
    c.print("  works, highest speed at the spur heads: " + ", ".join(
        f"{'[bold red]' if r.attack else ''}{r.name_zh} {r.max_speed_ms:.1f} m/s{'[/]' if r.attack else ''}"
        for r in w.itertuples()) + f"  (main-current attack from {ATTACK_SPEED_MS:g} m/s, red)")
