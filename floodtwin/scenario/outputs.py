"""The files of one scenario run, in one folder: ``outputs/<scenario>-<UTC time>/`` by default.

``result.nc``   the hydraulic result (CF attributes, compressed; the channel's stage and discharge every
                10 minutes, the 2D fields of the full run)
``risk.gpkg``   layers villages, grids, dikes, works, hazard and any breaches (full run; villages and dikes for
                the 1D run)
``tasks.json``  the plan's task instructions, ``tasks.csv`` the same one per line
``map.png``     the flood map (depth or hazard), ``map.html`` the offline interactive map (full run only:
                the 1D run has no flood field to draw)
``summary.json`` what ``--json`` prints

Everything is written into a hidden sibling folder first and moved into place at the end, so a run
that fails (bad data, a model error, a full disk) leaves nothing half-written behind.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from floodtwin.errors import InputError

__all__ = ["OUTPUT_ROOT", "TASK_COLUMNS", "default_output_folder", "prepare_output_folder", "write_outputs"]

#: where runs write unless told otherwise (relative to the working directory)
OUTPUT_ROOT = Path("outputs")
#: one line per task in tasks.csv
TASK_COLUMNS = ("key", "tier", "category", "template_id", "owner_role", "grid_id", "works_id", "scope_kind",
                "scope_id", "deadline_min", "repeat_min", "title_zh", "title_en", "materials", "depends_on",
                "location_x_m", "location_y_m", "source")
#: stored interval (s) of the channel's time series in result.nc
SERIES_INTERVAL_S = 600.0


def default_output_folder(name: str, now: datetime | None = None) -> Path:
    """``outputs/<name>-<UTC time, YYYYmmddTHHMMSSZ>``."""
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return OUTPUT_ROOT / f"{name}-{stamp}"


def prepare_output_folder(path: str | Path, *, option: str = "--out") -> Path:
    """Check, before any computing, that a run's folder can be written: absent or empty, under a
    writable folder (``files.require_new_folder_to_write``). Creates nothing."""
    from floodtwin.files import require_new_folder_to_write

    return require_new_folder_to_write(path, option=option)


def _thin_series(run):
    """The run with its time axis thinned to every ``SERIES_INTERVAL_S`` (the last time kept)."""
    if "time" not in run.dims or run.sizes["time"] < 3:
        return run
    t = run["time"].values.astype(float)
    keep = np.unique(np.append(np.searchsorted(t, np.arange(0.0, t[-1], SERIES_INTERVAL_S)), t.size - 1))
    return run.isel(time=keep)


def _task_rows(tasks) -> list[dict[str, Any]]:
    """tasks.csv's rows of task instructions (or of their ``to_dict()`` dicts)."""
    rows = []
    for t in tasks:
        d = dict(t) if isinstance(t, dict) else t.to_dict()
        loc = d.pop("location") or [None, None]
        d["location_x_m"], d["location_y_m"] = loc
        d["materials"] = "; ".join(f"{m['item']} {m['quantity']:g}" + (f" from {m['depot_id']}" if m.get("depot_id") else "")
                                   for m in d["materials"])
        d["depends_on"] = " ".join(d["depends_on"])
        rows.append({k: d.get(k) for k in TASK_COLUMNS})
    return rows


def _write_gpkg(layers: dict[str, Any], path: Path) -> None:
    for name, gdf in layers.items():
        frame = gdf.copy()
        for col in frame.columns:  # GeoPackage has no boolean-with-NaN or object-of-mixed columns
            if frame[col].dtype == bool:
                frame[col] = frame[col].astype("int8")
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")


def write_outputs(result, folder: str | Path, *, layer: str = "depth", now: datetime | None = None) -> dict[str, Path]:
    """Write the files of ``result`` (a ScenarioResult) into ``folder`` (new or empty); return name -> path.

    Everything goes into a hidden sibling first and is moved into place when all is written; on any
    error the sibling is removed and the error raised.
    """
    from floodtwin.results import write_result

    if getattr(result, "from_library", False):
        return _write_library_outputs(result, folder, now=now)
    reach = result.reach
    final = prepare_output_folder(folder)
    paths: dict[str, Path] = {}
    with _written_whole(final) as work:
        run = _thin_series(result.run)
        paths["result.nc"] = write_result(run, work / "result.nc",
                                          source=f"floodtwin scenario {result.name}: {result.method}")
        if result.full:
            layers = result.layers
        else:
            import geopandas as gpd

            layers = {"villages": gpd.GeoDataFrame(result.villages.merge(reach.villages[["village_id", "geometry"]]),
                                                   geometry="geometry", crs=reach.crs),
                      "dikes": gpd.GeoDataFrame(result.dikes.merge(reach.dikes[["segment_id", "geometry"]]),
                                                geometry="geometry", crs=reach.crs)}
        _write_gpkg(layers, work / "risk.gpkg")
        paths["risk.gpkg"] = work / "risk.gpkg"
        _write_tasks(work, [t.to_dict() for t in result.tasks], paths)
        if result.full:
            from floodtwin.maps import render_html, render_png

            d = result.decision
            breaches = f" + {len(result.breaches)} breach{'es' if len(result.breaches) > 1 else ''}" \
                if result.breaches and "breach" not in result.name else ""
            title = (f"{result.name}{breaches} · {result.discharge_m3s:,.0f} m³/s at 花园口 Huayuankou · level {d.tier} · "
                     f"{d.colour.upper()}")
            subtitle = result.method
            paths["map.png"] = render_png(result.flood, layers, reach, title=title, subtitle=subtitle,
                                          path=work / "map.png", layer=layer)
            paths["map.html"] = render_html(result.flood, layers, reach, title=title, path=work / "map.html")
        _write_summary(work, result.to_dict(), paths, now)
    return {name: final / p.name for name, p in paths.items()}


def _write_library_outputs(result, folder: str | Path, *, now: datetime | None = None) -> dict[str, Path]:
    """The files of an answer from the flood-map library: ``tasks.json``, ``tasks.csv``, ``villages.csv``,
    ``dikes.csv`` (the library's values per village and dike segment) and ``summary.json``; nothing that
    needs the geometry libraries (the quick answer's one-second budget). Atomic as ``write_outputs``."""
    final = prepare_output_folder(folder)
    paths: dict[str, Path] = {}
    with _written_whole(final) as work:
        _write_tasks(work, [t.to_dict() for t in result.tasks], paths)
        for name, table in (("villages.csv", result.villages), ("dikes.csv", result.dikes)):
            table.to_csv(work / name, index=False, encoding="utf-8")
            paths[name] = work / name
        _write_summary(work, result.to_dict(with_tasks=False), paths, now)
    return {name: final / p.name for name, p in paths.items()}


@contextmanager
def _written_whole(final: Path):
    """A hidden sibling of ``final`` to write into, moved into place when the block ends without an error and
    removed when it raises: a run that fails (bad data, a model error, a full disk) leaves nothing half-written."""
    final.parent.mkdir(parents=True, exist_ok=True)
    work = final.parent / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        yield work
        if final.exists():
            final.rmdir()  # empty (prepare_output_folder checked): replaced by the finished folder
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _write_tasks(work: Path, docs: list[dict[str, Any]], paths: dict[str, Path]) -> None:
    """``tasks.json`` and ``tasks.csv`` (one task a line) of the task dicts."""
    (work / "tasks.json").write_text(json.dumps(docs, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["tasks.json"] = work / "tasks.json"
    with open(work / "tasks.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(TASK_COLUMNS))
        w.writeheader()
        w.writerows(_task_rows(docs))
    paths["tasks.csv"] = work / "tasks.csv"


def _write_summary(work: Path, summary: dict[str, Any], paths: dict[str, Path], now: datetime | None) -> None:
    """``summary.json``: what ``--json`` prints, with the files written and the time (UTC)."""
    summary.pop("tasks", None)
    summary["files"] = sorted(list(paths) + ["summary.json"])
    summary["written_utc"] = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat()
    (work / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["summary.json"] = work / "summary.json"
