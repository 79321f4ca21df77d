"""What a flood-map library was built from, as hashes, and the check that it still matches.

A library answers only for the inputs its members were computed on: the reach's DEM, the 1D
calibration, the reach parameters (terrain, roughness: everything of the model that does not depend
on the preplan), the design-wave shape, the grid and the floodtwin version. Their SHA-256 hashes go
into the library's attributes (``input_<name>``) at build time; :func:`stale_reasons` compares them
with the files as they are now: the DEM by its bytes, the YAML inputs by what they say (values without
notes, source labels or comments; of the parameters, only the sections the model is built from). Light on
purpose (hashlib, PyYAML's C loader, paths): the quick answer runs it on every call.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["INPUT_NAMES", "MODEL_SECTIONS", "default_library_path", "input_hashes", "input_paths", "library_attrs", "stale_reasons"]

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


#: the sections of the reach parameter YAML the hydraulic model is built from (terrain, channel, roughness,
#: rating, dikes and works geometry, gauges, the DEM's grid); the inventory sections (grids, staff, units,
#: stones, villages, depots, key points, cameras) do not change a member's water and are read at lookup
MODEL_SECTIONS = ("crs", "reach", "channel", "rating", "floodplain", "dikes", "works", "gauges", "dem")
#: keys that document a number without being one: a changed note or source label changes no member
_PROSE_KEYS = frozenset({"note", "notes", "source", "sources"})


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


def _without_prose(value):
    if isinstance(value, dict):
        return {k: _without_prose(v) for k, v in value.items() if k not in _PROSE_KEYS}
    if isinstance(value, list):
        return [_without_prose(v) for v in value]
    return value


def _yaml_sha256(path: Path | None, sections: tuple[str, ...] | None = None) -> str:
    """SHA-256 of what a YAML input says, not of how it is written: its values as canonical JSON, without
    comments, notes and source labels (a citation edited in a note left a whole library stale), and only
    ``sections`` of it when given. An unreadable file hashes its bytes (it cannot match a readable one)."""
    import json

    import yaml

    if path is None or not path.is_file():
        return _sha256(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError):
        return _sha256(path)
    if sections is not None and isinstance(data, dict):
        data = {k: data.get(k) for k in sections}
    text = json.dumps(_without_prose(data), sort_keys=True, ensure_ascii=False, default=str)
    return "yaml:" + hashlib.sha256(text.encode()).hexdigest()


def input_hashes(reach: str = "huayuankou", resolution_m: float = 50.0, *, duration_h: float | None = None) -> dict[str, str]:
    """``input_<name>`` -> SHA-256 of each input file ("none": not used, "missing": expected but absent),
    and ``input_model``: the grid, the wave's length and the floodtwin version."""
    from floodtwin import __version__

    paths = input_paths(reach, resolution_m)
    out = {"input_dem": _sha256(paths["dem"]), "input_calibration": _yaml_sha256(paths["calibration"]),
           "input_parameters": _yaml_sha256(paths["parameters"], MODEL_SECTIONS),
           "input_hydrograph": _yaml_sha256(paths["hydrograph"])}
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
