"""The CLI as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

FLOODTWIN = [sys.executable, "-m", "floodtwin"]


def run(*args, cwd=None, env=None, timeout=120):
    return subprocess.run([*FLOODTWIN, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})})


HEAVY = ("numba", "geopandas", "xarray", "numpy", "scipy", "pandas", "matplotlib", "pyogrio", "shapely")


@pytest.mark.parametrize("args", [["--help"], ["reach", "--help"], ["reach", "map", "--help"]])
def test_help_imports_nothing_heavy(args):
    """Help is answered by the command line alone: no numba, geopandas or numpy loaded for it."""
    code = ("import sys; from floodtwin.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as e:\n    code = e.code\n"
            f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stderr.strip().splitlines()[-1] == "0 []", proc.stderr


def test_help_is_fast():
    run("--help")  # warm the bytecode cache
    best = min(_timed("--help") for _ in range(3))
    assert best < 1.0, f"floodtwin --help took {best:.2f} s (budget 1 s)"


def _timed(*args) -> float:
    t = time.perf_counter()
    proc = run(*args)
    elapsed = time.perf_counter() - t
    assert proc.returncode == 0 and "reach" in proc.stdout
    return elapsed


def test_reach_info_prints_the_inventory():
    proc = run("reach", "info")
    assert proc.returncode == 0, proc.stderr
    assert "huayuankou" in proc.stdout and "EPSG:4547" in proc.stdout
    assert "294" in proc.stdout and "249" in proc.stdout


def test_reach_info_json():
    proc = run("reach", "info", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["layers"]["grids"]["count"] == 72
    assert data["layers"]["staff"]["count"] == 294
    assert data["layers"]["stones"]["count"] == 249
    assert data["crs"] == "EPSG:4547"
    # one stage for one flow: the inventory's stage is the calibrated model's, as `rating` gives it
    # (the terrain's uniform-flow stage is there too, labelled as the fallback it is)
    rated = json.loads(run("rating", "--discharge", "1000", "3000", "22000", "--json").stdout)
    model = data["geometry"]["HYK stage, calibrated 1D model (1,000 / 3,000 / 22,000 m³/s)"]
    assert model.split(" m")[0] == " / ".join(f"{r['stage_m']:.2f}" for r in rated), (model, rated)
    assert "HYK stage, terrain fallback (same flows)" in data["geometry"]
    assert data["geometry"]["valid discharge range of the 1D model"] == "64–76,072 m³/s"


def test_reach_map_writes_a_png(tmp_path):
    out = tmp_path / "map.png"
    proc = run("reach", "map", "-o", str(out), "--dpi", "60")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    img = imread(out)
    assert img.shape[0] > 400 and img.shape[1] > 600
    assert img[..., :3].std() > 0.05  # a picture, not a blank canvas


def test_map_draws_every_works_and_stone_at_detail_scale_without_missing_glyphs(tmp_path):
    """The wall map: each works and each of the 249 stones falls in a detail strip; no label loses a glyph."""
    import warnings

    import shapely

    import floodtwin
    from floodtwin.reach.map import reach_map_png
    from floodtwin.reach.map_layout import dike_frame, strips_of

    reach = floodtwin.load_reach("huayuankou")
    frame = dike_frame(reach.dikes)
    strips = strips_of(reach.layers, frame)
    assert [st.letter for st in strips] == ["A", "B", "C"]
    assert sorted(w.works_id for st in strips for w in st.works) == sorted(reach.works.works_id)
    xy = shapely.get_coordinates(reach.stones.geometry.values)
    s, n = frame.to_sn(xy[:, 0], xy[:, 1])
    assert np.any([st.contains(s, n) for st in strips], axis=0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would be a warning
        out = reach_map_png(reach, tmp_path / "wall.png", dpi=40)
    from matplotlib.image import imread

    img = imread(out)
    assert img.shape[1] == 18 * 40 and img.shape[0] > img.shape[1] * 0.7


def test_bad_reach_is_one_red_line_and_exit_2(tmp_path):
    proc = run("reach", "info", "--reach", str(tmp_path / "none.gpkg"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "reach GeoPackage not found" in lines[0]


@pytest.mark.parametrize("args, message", [
    (["-o", "/dev/null/map.png"], "--output /dev/null/map.png: /dev/null is a file, not a folder"),
    (["-o", "map.png", "--dpi", "5"], "--dpi 5: expected >= 10 and <= 1,200"),
])
def test_bad_map_output_is_one_red_line_and_exit_2(tmp_path, args, message):
    proc = run("reach", "map", *args, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_reach_build_into_a_folder(tmp_path):
    from floodtwin.config import DATA_DIR

    yaml_copy = tmp_path / "huayuankou.yaml"
    yaml_copy.write_text((DATA_DIR / "dikes" / "huayuankou.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "floodtwin.reach", "build", str(yaml_copy), "--resolution", "200"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "huayuankou.gpkg").is_file()
    assert (tmp_path / "huayuankou_dem_200m.nc").is_file()
    import xarray as xr

    with xr.open_dataset(tmp_path / "huayuankou_dem_200m.nc") as ds:
        assert ds["elevation"].attrs["units"] == "m"
        assert ds["elevation"].attrs["grid_mapping"] == "crs"
        assert ds.attrs["Conventions"].startswith("CF")


def test_bad_yaml_for_build_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nreach: [1, 2\n", encoding="utf-8")
    proc = run("reach", "build", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "bad.yaml:" in proc.stderr and "not valid YAML" in proc.stderr


def test_python_m_reach_does_not_import_the_cli(tmp_path):
    """``python -m floodtwin.reach`` is the library's own entry point: Typer and floodtwin.cli stay unloaded."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nreach: [1, 2\n", encoding="utf-8")
    code = ("import runpy, sys\n"
            f"sys.argv = ['floodtwin.reach', 'build', {str(bad)!r}]\n"
            "try:\n    runpy.run_module('floodtwin.reach', run_name='__main__')\n"
            "except SystemExit as e:\n    code = e.code\n"
            "print(code, sorted(m for m in ('floodtwin.cli', 'typer', 'rich') if m in sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == "2 []", proc.stderr
    assert len(lines) == 2 and lines[0].startswith("error: ") and "bad.yaml:" in lines[0] and "not valid YAML" in lines[0]
