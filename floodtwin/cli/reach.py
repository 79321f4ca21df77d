"""``floodtwin reach``: inventory, map and build of the reach data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

__all__ = ["app"]

app = typer.Typer(help="The reach: inventory, map, and (re)build of its GeoPackage and DEM.", no_args_is_help=True)

ReachOpt = typer.Option("huayuankou", "--reach", help="Reach name under data/dikes/ or a .gpkg path.")


@app.command("info")
def info(
    reach: str = ReachOpt,
    resolution_m: float = typer.Option(50.0, "--resolution", help="DEM resolution (m)."),
    as_json: bool = typer.Option(False, "--json", help="Print the inventory as JSON."),
) -> None:
    """Print the reach inventory: counts per layer, lengths, DEM and elevation ranges."""
    from floodtwin.files import require_number
    from floodtwin.reach import load_reach
    from floodtwin.reach.summary import FALLBACK_STAGE_KEY, reach_summary

    require_number(resolution_m, option="--resolution", low=1.0, high=10_000.0, unit="m")
    loaded = load_reach(reach, resolution_m)
    summary = reach_summary(loaded)
    if loaded.params is not None:  # the calibrated model's stage first: the one source; the fallback after it
        rows = list(summary["geometry"].items())
        at = next((k for k, (key, _) in enumerate(rows) if key == FALLBACK_STAGE_KEY), len(rows))
        summary["geometry"] = dict(rows[:at] + list(_model_stages(loaded).items()) + rows[at:])
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    _print_summary(summary)


def _model_stages(reach) -> dict[str, str]:
    """The stage at the gauge from the calibrated 1D model (the one source of a stage for a flow) and
    the model's valid discharge range; the terrain's uniform-flow stage of the summary is its fallback."""
    from floodtwin.hydraulics.calibration import model_rating
    from floodtwin.hydraulics.sanity import discharge_range_m3s
    from floodtwin.hydraulics.sections import sections_from_reach

    sections = sections_from_reach(reach)
    stages = model_rating(sections, reach.gauge_chainage_m, [1000.0, 3000.0, 22000.0])
    q_min, q_max = discharge_range_m3s(sections)
    return {"HYK stage, calibrated 1D model (1,000 / 3,000 / 22,000 m³/s)":
            " / ".join(f"{z:.2f}" for z in stages) + " m: what rating and scenario use",
            "valid discharge range of the 1D model": f"{q_min:,.0f}–{q_max:,.0f} m³/s"}


def _print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = f"{summary['name_zh']} {summary['name']} reach — {summary['crs']}"
    counts = Table(title=title, show_header=True, header_style="bold")
    counts.add_column("layer")
    counts.add_column("features", justify="right")
    counts.add_column("detail")
    for layer, row in summary["layers"].items():
        counts.add_row(layer, str(row["count"]), row.get("detail", ""))
    console.print(counts)
    geo = Table(show_header=True, header_style="bold", title="geometry and elevations")
    geo.add_column("quantity")
    geo.add_column("value")
    for key, value in summary["geometry"].items():
        geo.add_row(key, value)
    console.print(geo)


@app.command("map")
def map_(
    output: Path = typer.Option(Path("map.png"), "-o", "--output", help="PNG file to write."),
    reach: str = ReachOpt,
    dpi: int = typer.Option(150, help="Resolution of the PNG."),
) -> None:
    """Draw the reach (hillshaded DEM, dikes with chainage posts, works, grids, villages, stones) to a PNG."""
    from floodtwin.files import require_file_to_write, require_number
    from floodtwin.reach import load_reach
    from floodtwin.reach.map import reach_map_png

    # before loading or drawing anything: the map is written where it was asked, or not at all
    require_file_to_write(output, option="--output", suffixes=(".png",))
    require_number(dpi, option="--dpi", low=10, high=1200)
    path = reach_map_png(load_reach(reach), output, dpi=dpi)
    typer.echo(f"wrote {path}")


@app.command("build")
def build(
    yaml_path: Optional[Path] = typer.Argument(None, help="Reach parameter YAML (default data/dikes/huayuankou.yaml)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for the GeoPackage and DEM (default: beside the YAML, "
                                                               "only where that replaces no file)."),
    resolution: list[float] = typer.Option([50.0], "--resolution", help="DEM resolution(s) in m."),
    in_place: bool = typer.Option(False, "--in-place", help="Replace the GeoPackage and DEM beside the YAML (the "
                                                            "committed reach data for the default YAML)."),
) -> None:
    """Build the reach GeoPackage (EPSG:4547) and the CF NetCDF DEM from the parameter YAML.

    Without ``--out`` the files go beside the YAML, but a file already there (for the default YAML: the
    committed ``data/dikes/huayuankou.gpkg`` and DEM) is replaced only with ``--in-place``; otherwise the
    command names the files and stops with exit 2, having written nothing."""
    from floodtwin.config import DATA_DIR
    from floodtwin.errors import InputError
    from floodtwin.files import require_file_to_read, require_folder_to_write, require_number
    from floodtwin.reach.build import build_reach, build_targets, refuse_to_replace

    yaml_path = require_file_to_read(yaml_path or DATA_DIR / "dikes" / "huayuankou.yaml", option="YAML_PATH")
    for r in resolution:
        require_number(r, option="--resolution", low=1.0, high=10_000.0, unit="m")
    if out_dir is not None and in_place:
        raise InputError("--out and --in-place: give one (--out writes to a folder of your choice, --in-place "
                         "replaces the files beside the YAML)")
    if out_dir is not None:
        out_dir, created = require_folder_to_write(out_dir, option="--out")
        if created:
            typer.echo(f"created folder {out_dir}")
    elif not in_place:
        refuse_to_replace(build_targets(yaml_path, resolution))
    written = build_reach(yaml_path, out_dir, resolutions_m=tuple(resolution))
    for what, path in written.items():
        typer.echo(f"{what}: {path}")


