"""``floodtwin scenario --discharge Q``: what a flow means, end to end, for the duty officer."""

from __future__ import annotations

import json

import typer

__all__ = ["register", "scenario"]

COLOUR_STYLE = {"red": "bold white on red", "orange": "bold black on dark_orange", "yellow": "bold black on yellow",
                "blue": "bold white on blue"}
CLASS_LABEL = {"overtopped": "overtopped 漫顶", "lt_1m": "< 1 m", "lt_2m": "< 2 m", "ge_2m": "≥ 2 m"}


def register(root: typer.Typer) -> None:
    root.command("scenario")(scenario)


def scenario(
    discharge: float = typer.Option(..., "--discharge", "-q", help="Peak discharge at Huayuankou (m³/s)."),
    steady: bool = typer.Option(False, "--steady", help="Steady profile of the peak only (no hydrograph, no times)."),
    lang: str = typer.Option("en", "--lang", help="Task text language: en or zh."),
    show_tasks: int = typer.Option(12, "--tasks", help="How many task instructions to list (by deadline)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as JSON."),
) -> None:
    """Response level, water against every dike section, flooded villages and when, people to move, tasks."""
    from floodtwin.errors import InputError, require_discharge_m3s
    from floodtwin.scenario import run_scenario

    discharge = require_discharge_m3s(discharge, name="--discharge", positive=True)
    if lang not in ("en", "zh"):
        raise InputError(f"--lang {lang}: expected en or zh")
    from floodtwin.files import require_number

    require_number(show_tasks, option="--tasks", low=0, high=10_000)
    result = run_scenario(discharge, unsteady=not steady)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
        return
    _render(result, lang, show_tasks)


def _hours(t_s: float) -> str:
    return "—" if t_s != t_s else f"{t_s / 3600:.1f} h"


def _render(result, lang: str, show_tasks: int) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    c = Console()
    d = result.decision
    style = COLOUR_STYLE.get(d.colour, "bold")
    c.print(Panel(f"[{style}] Level {d.tier} · {d.colour.upper()} [/]  {result.discharge_m3s:,.0f} m³/s at 花园口 "
                  f"Huayuankou · stage {result.gauge_stage_m:.2f} m\n{d.reason}\n[dim]{result.method}[/]",
                  title="floodtwin scenario", expand=False))
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
    for col in ("village", "people", "special", "depth m", "water arrives", "evacuate to"):
        vt.add_column(col, justify="right" if col in ("people", "special", "depth m") else "left")
    for r in v.itertuples():
        arrival = "dry"
        if r.flooded:
            arrival = _hours(r.arrival_time_s)
            if r.arrival_time_s == r.arrival_time_s and peak_s == peak_s:
                arrival += f", crest +{(peak_s - r.arrival_time_s) / 3600:.0f} h"
        mark = "[bold red]" if r.flooded else ""
        vt.add_row(f"{mark}{r.name_zh}", str(r.population), str(r.special_attention), f"{mark}{r.max_depth_m:.2f}",
                   arrival, r.evacuation_point.replace("安置点（堤后）", "安置点"))
    c.print(vt)
    p = result.people_to_move()
    c.print(f"  [bold]to move:[/] {p['population']} people ({p['households']} households, "
            f"{p['special_attention']} needing special attention) from {p['villages']} villages")

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
