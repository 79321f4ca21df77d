"""``python -m floodtwin.reach build [YAML] [--out DIR] [--resolution M ...]``: regenerate the reach
GeoPackage and DEM.

A library entry point without the command line: it calls :func:`floodtwin.reach.build.build_reach`
directly (argparse only), so the reach can be rebuilt where the CLI's dependencies (Typer, Rich) are
not installed. A bad input is one ``error:`` line on stderr and exit code 2, as in the CLI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from floodtwin.errors import FloodtwinError, InputError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments), build the reach, print what was written."""
    parser = argparse.ArgumentParser(prog="python -m floodtwin.reach",
                                     description="Regenerate the reach GeoPackage (EPSG:4547) and CF NetCDF DEM.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the GeoPackage and DEM from the reach parameter YAML")
    build.add_argument("yaml_path", nargs="?", type=Path,
                       help="reach parameter YAML (default data/dikes/huayuankou.yaml)")
    build.add_argument("--out", dest="out_dir", type=Path, default=None,
                       help="folder for the GeoPackage and DEM (default: beside the YAML, where it replaces no file)")
    build.add_argument("--in-place", action="store_true",
                       help="replace the GeoPackage and DEM beside the YAML (the committed reach data for the default)")
    build.add_argument("--resolution", dest="resolutions_m", type=float, action="append",
                       help="DEM resolution in m (repeatable; default 50)")
    args = parser.parse_args(argv)

    from floodtwin.config import DATA_DIR
    from floodtwin.reach.build import build_reach, build_targets, refuse_to_replace

    yaml_path = args.yaml_path or DATA_DIR / "dikes" / "huayuankou.yaml"
    resolutions = tuple(args.resolutions_m or [50.0])
    try:
        if args.out_dir is not None and args.in_place:
            raise InputError("--out and --in-place: give one")
        if args.out_dir is None and not args.in_place:
            refuse_to_replace(build_targets(yaml_path, resolutions))  # never a silent rewrite of committed files
        written = build_reach(yaml_path, args.out_dir, resolutions_m=resolutions)
    except FloodtwinError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for what, path in written.items():
        print(f"{what}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
