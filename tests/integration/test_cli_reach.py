"""The CLI as a user runs it: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLOODTWIN = [sys.executable, "-m", "floodtwin"]


def run(*args, cwd=None, env=None, timeout=120):
    return subprocess.run([*FLOODTWIN, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys, time; t = time.perf_counter(); import floodtwin.cli; "
            "print(time.perf_counter() - t, [m for m in ('numba', 'geopandas', 'xarray', 'numpy', 'scipy') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    assert out[1].strip() == "[]", f"heavy modules imported for --help: {out[1]}"
    t = time.perf_counter()
    proc = run("--help")
    elapsed = time.perf_counter() - t
    assert proc.returncode == 0 and "reach" in proc.stdout
    assert elapsed < 1.5  # budget 1 s; allow for a loaded CI machine


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


def test_reach_map_writes_a_png(tmp_path):
    out = tmp_path / "map.png"
    proc = run("reach", "map", "-o", str(out), "--dpi", "60")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    img = imread(out)
    assert img.shape[0] > 400 and img.shape[1] > 600
    assert img[..., :3].std() > 0.05  # a picture, not a blank canvas


def test_bad_reach_is_one_red_line_and_exit_2(tmp_path):
    proc = run("reach", "info", "--reach", str(tmp_path / "none.gpkg"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "reach GeoPackage not found" in lines[0]


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
