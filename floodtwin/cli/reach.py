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
    from floodtwin.reach.summary import reach_summary

    from floodtwin.reach import load_reach

    summary = reach_summary(load_reach(reach, resolution_m))
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    _print_summary(summary)


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
    from floodtwin.reach.map import reach_map_png
    from floodtwin.reach import load_reach

    path = reach_map_png(load_reach(reach), output, dpi=dpi)
    typer.echo(f"wrote {path}")


@app.command("build")
def build(
    yaml_path: Optional[Path] = typer.Argument(None, help="Reach parameter YAML (default data/dikes/huayuankou.yaml)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for the GeoPackage and DEM (default: beside the YAML)."),
    resolution: list[float] = typer.Option([50.0], "--resolution", help="DEM resolution(s) in m."),
) -> None:
    """Build the reach GeoPackage (EPSG:4547) and the CF NetCDF DEM from the parameter YAML."""
    from floodtwin.config import DATA_DIR
    from floodtwin.reach.build import build_reach

    yaml_path = yaml_path or DATA_DIR / "dikes" / "huayuankou.yaml"
    written = build_reach(yaml_path, out_dir, resolutions_m=tuple(resolution))
    for what, path in written.items():
        typer.echo(f"{what}: {path}")
