"""``floodtwin calibrate`` and ``floodtwin rating``: the calibrated 1D channel model at a gauge."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

__all__ = ["calibrate", "rating", "register"]


def register(root: typer.Typer) -> None:
    """Add the top-level ``calibrate`` and ``rating`` commands."""
    root.command("calibrate")(calibrate)
    # `--discharge 1000 3000 5000`: the values after the first arrive as extra arguments
    root.command("rating", context_settings={"allow_extra_args": True})(rating)


def calibrate(
    station: str = typer.Option("Huayuankou", "--station", help="Gauge station (bulletin name or gauge id)."),
    years: str = typer.Option("2018-2019", "--years", help="Fit years, e.g. 2018-2019 or 2012,2014."),
    validate: Optional[str] = typer.Option(None, "--validate", help="Validation years (default: all other years)."),
    reach: str = typer.Option("huayuankou", "--reach", help="Reach name under data/dikes/ or a .gpkg path."),
    data: Optional[str] = typer.Option(None, "--data", help="Daily bulletin CSV (default: data/yrcc, the YRCC bulletin 2001-2019)."),
    q_min: float = typer.Option(1000.0, "--q-min", help="Lowest discharge used (m³/s)."),
    q_max: float = typer.Option(5000.0, "--q-max", help="Highest discharge used (m³/s)."),
    period: str = typer.Option("month", "--period", help="Bed-offset period: year, season or month."),
    assimilate: int = typer.Option(7, "--assimilate", help="Validation: observations used to shift the rating."),
    output: Optional[str] = typer.Option(None, "--output", help="Calibration file to write (default: next to the reach; "
                                                                "an existing one there only with --in-place)."),
    in_place: bool = typer.Option(False, "--in-place", help="Replace the calibration next to the reach (for huayuankou "
                                                            "the committed one that rating and scenario read)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
) -> None:
    """Fit channel Manning n and the channel-bed offset to observed daily stage-discharge pairs;
    report RMSE and bias on the fit and validation years and write the calibration file.

    The file goes to ``--output``, by default next to the reach; a calibration already there (the one
    ``rating`` and ``scenario`` read, committed for huayuankou) is replaced only with ``--in-place``: without
    it the command stops with exit 2 before fitting, having written nothing."""
    from floodtwin.hydraulics.calibration import calibrate as run, load_observations, parse_years, write_calibration
    from floodtwin.hydraulics.sections import calibration_path
    from floodtwin.reach import load_reach

    from floodtwin.errors import MAX_DISCHARGE_M3S, InputError
    from floodtwin.files import require_file_to_read, require_file_to_write, require_number

    require_number(q_min, option="--q-min", low=0.0, high=MAX_DISCHARGE_M3S, low_inclusive=False, unit="m³/s")
    require_number(q_max, option="--q-max", low=0.0, high=MAX_DISCHARGE_M3S, low_inclusive=False, unit="m³/s")
    require_number(assimilate, option="--assimilate", low=1, high=366, unit="days")
    if data is not None:
        require_file_to_read(data, option="--data")
    if output is not None and in_place:
        raise InputError("--output and --in-place: give one (--output writes a file of your choice, --in-place "
                         "replaces the calibration next to the reach)")
    if output is not None:
        require_file_to_write(output, option="--output", suffixes=(".yaml", ".yml"))
    fit_years = parse_years(years)
    obs = load_observations(station, data)
    if validate:
        val_years = parse_years(validate)
    else:
        val_years = sorted(set(int(y) for y in obs["date"].dt.year.unique()) - set(fit_years))
    r = load_reach(reach)
    if output is None and not in_place and calibration_path(r).exists():
        raise InputError(f"calibrate would replace {_shown(calibration_path(r))}, the calibration rating and scenario "
                         "read: write elsewhere with --output FILE.yaml, or pass --in-place to replace it")
    if quiet or as_json:
        result = run(r, obs, fit_years, val_years, station=station, discharge_range_m3s=(q_min, q_max),
                     period=period, assimilate_days=assimilate)
    else:
        from rich.console import Console

        console = Console(stderr=True)
        with console.status("calibrating…") as status:
            result = run(r, obs, fit_years, val_years, station=station, discharge_range_m3s=(q_min, q_max),
                         period=period, assimilate_days=assimilate,
                         progress=lambda k: status.update(f"calibrating… model evaluation {k}"))
    path = write_calibration(result, output or calibration_path(r),
                             command=f"floodtwin calibrate --station {station} --years {years}")
    if as_json:
        d = result.to_yaml_dict()
        d["file"] = str(path)
        typer.echo(json.dumps(d, ensure_ascii=False, indent=2, default=float))
        return
    _print_calibration(result, path)


_ADJ = {"year": "yearly", "season": "seasonal", "month": "monthly"}


def _print_calibration(result, path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"1D calibration at {result.station} (gauge chainage {result.gauge_chainage_m:.0f} m)")
    t.add_column("")
    t.add_column("days", justify="right")
    t.add_column("RMSE m", justify="right")
    t.add_column("bias m", justify="right")
    t.add_column("max |err| m", justify="right")
    fit_years = f"{min(result.fit_years)}–{max(result.fit_years)}" if result.fit_years else ""
    for name, s in ((f"fit {fit_years} ({_ADJ.get(result.period, result.period)} bed shifts)", result.fit),
                    (f"fit {fit_years}, model as written (one bed offset)", result.fit_as_written),
                    (f"validation ({result.assimilate_days}-day rating shift)", result.validation),
                    ("validation, no shift update", result.validation_no_update)):
        t.add_row(name, str(s.n), f"{s.rmse_m:.3f}", f"{s.bias_m:+.3f}", f"{s.max_abs_m:.3f}")
    console.print(t)
    fp = "fitted" if result.floodplain_n_fitted else "prior (no overbank days in the data)"
    console.print(f"channel n {result.channel_n:.4f} · floodplain n {result.floodplain_n:.4f} ({fp}) · "
                  f"bed offset {result.bed_offset_m:+.3f} m (mean of the fit years; {result.latest_period}: "
                  f"{result.latest_period_offset_m:+.3f} m)")
    e = result.extrapolation
    console.print(f"at {e['discharge_max_m3s']:,.0f} m³/s: stage {e['stage_at_max_m']:.2f} m, crest {e['crest_m']:.2f} m, "
                  f"margin {e['margin_below_crest_m']:.2f} m (design freeboard {e['design_freeboard_m']:.1f} m), "
                  f"monotonic: {'yes' if e['monotonic'] else 'NO'}")
    console.print(f"written: {path}")


def rating(
    ctx: typer.Context,
    discharge: List[float] = typer.Option(..., "--discharge", help="Discharge(s) in m³/s."),
    gauge: str = typer.Option("Huayuankou", "--gauge", help="Gauge id or name."),
    reach: str = typer.Option("huayuankou", "--reach", help="Reach name under data/dikes/ or a .gpkg path."),
    calibration: Optional[str] = typer.Option(None, "--calibration", help="Calibration file (default: next to the reach)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {discharge_m3s, stage_m}."),
) -> None:
    """Stage at a gauge for one or more discharges, from the calibrated 1D model."""
    from floodtwin.hydraulics.calibration import rating as stages_at
    from floodtwin.errors import InputError
    from floodtwin.reach import load_reach

    values = list(discharge)
    for extra in ctx.args:
        try:
            values.append(float(extra))
        except ValueError:
            raise InputError(f"--discharge: {extra!r} is not a number (m³/s)") from None
    discharge = values
    if calibration is not None:
        from floodtwin.files import require_file_to_read

        require_file_to_read(calibration, option="--calibration")
    r = load_reach(reach)
    z = stages_at(r, discharge, gauge, calibration=calibration)
    rows = [{"discharge_m3s": float(q), "stage_m": round(float(s), 3)} for q, s in zip(discharge, z)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Model rating at {gauge}")
    t.add_column("discharge m³/s", justify="right")
    t.add_column("stage m", justify="right")
    for row in rows:
        t.add_row(f"{row['discharge_m3s']:,.0f}", f"{row['stage_m']:.2f}")
    Console().print(t)


def _shown(path) -> str:
    """A path as the user typed it: relative to the working folder where it lies below it."""
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
