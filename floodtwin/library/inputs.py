"""What a flood-map library was built from, as hashes, and the check that it still matches.

A library answers only for the inputs its members were computed on: the reach's DEM, the 1D
calibration, the reach parameters (terrain, roughness: everything of the model that does not depend
on the preplan), the design-wave shape, the grid and the floodtwin version. Their SHA-256 hashes go
into the library's attributes (``input_<name>``) at build time; :func:`stale_reasons` compares them
with the files as they are now. Light on purpose (hashlib and paths only): the quick answer runs it
on every call.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["INPUT_NAMES", "default_library_path", "input_hashes", "input_paths", "library_attrs", "stale_reasons"]

#: the inputs whose hashes a library records, in this order
INPUT_NAMES = ("dem", "calibration", "parameters", "hydrograph", "model")


def default_library_path(reach: str = "huayuankou", resolution_m: float = 50.0) -> Path:
    """``data/library/<reach>-<resolution>m.nc``: where the library of a reach is built and looked for."""
    from floodtwin.config import DATA_DIR

    return DATA_DIR / "library" / f"{reach}-{resolution_m:g}m.nc"


def input_paths(reach: str = "huayuankou", resolution_m: float = 50.0) -> dict[str, Path | None]:
    """The files behind a reach's model at ``resolution_m``: the DEM (None when the grid is built from
    the parameters), the calibration file, the parameter YAML and the design scenario (wave shape)."""
    from floodtwin.reach.load import dem_filename, reach_paths

    gpkg, yaml_path, name = reach_paths(reach)
    dem = gpkg.parent / dem_filename(name, float(resolution_m))
    # next to the GeoPackage, as floodtwin.hydraulics.sections.calibration_path puts it (that module
    # loads numba, which the quick answer must not; tests/unit/test_library.py checks the two agree)
    calibration = gpkg.parent / f"{name}.calibration.yaml"
    from floodtwin.config import DATA_DIR

    # floodtwin.hydrograph.default_scenario_path (that module loads scipy; the same test checks it)
    design = DATA_DIR.parent / "scenarios" / "design.yaml"
    return {"dem": dem if dem.is_file() else None, "calibration": calibration, "parameters": yaml_path,
            "hydrograph": design}


def _sha256(path: Path | None) -> str:
    if path is None:
        return "none"
    if not path.is_file():
        return "missing"
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def input_hashes(reach: str = "huayuankou", resolution_m: float = 50.0, *, duration_h: float | None = None) -> dict[str, str]:
    """``input_<name>`` -> SHA-256 of each input file ("none": not used, "missing": expected but absent),
    and ``input_model``: the grid, the wave's length and the floodtwin version."""
    from floodtwin import __version__

    out = {f"input_{k}": _sha256(p) for k, p in input_paths(reach, resolution_m).items()}
    model = f"reach={reach}; resolution_m={float(resolution_m):g}; duration_h={duration_h or 'design'}; " \
            f"floodtwin={__version__}"
    out["input_model"] = hashlib.sha256(model.encode()).hexdigest()[:16] + " " + model
    return out


def stale_reasons(attrs: dict, reach: str, resolution_m: float, duration_h: float | None) -> list[str]:
    """What no longer matches between a library's recorded inputs (its attributes) and the inputs now:
    one phrase per input that changed ("the DEM changed", ...); empty when the library is fresh."""
    words = {"dem": "the DEM", "calibration": "the calibration file", "parameters": "the reach parameters",
             "hydrograph": "the design wave (scenarios/design.yaml)", "model": "the model version or grid"}
    now = input_hashes(reach, resolution_m, duration_h=duration_h)
    return [f"{words[k]} changed" for k in INPUT_NAMES if attrs.get(f"input_{k}") != now[f"input_{k}"]]


def library_attrs(reach: str, resolution_m: float, duration_h: float | None) -> dict:
    """The attributes a library is built with: its input hashes, the reach, the grid (m), the wave's
    length ("design": the design wave as it is) and the UTC time of the build."""
    import time

    return {**input_hashes(reach, resolution_m, duration_h=duration_h), "reach": reach,
            "resolution_m": float(resolution_m),
            "hydrograph_duration_h": "design" if duration_h is None else float(duration_h),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
