"""`reach build` and `calibrate` never silently rewrite committed files: without `--out`/`--output` they stop
with one line (exit 2) where a file would be replaced, and replace it only with `--in-place`."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIKES = REPO / "data" / "dikes"
COMMITTED = [DIKES / "huayuankou.gpkg", DIKES / "huayuankou_dem_50m.nc", DIKES / "huayuankou.calibration.yaml"]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "floodtwin", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def digests(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_reach_build_refuses_to_replace_the_committed_reach():
    before = digests(COMMITTED)
    line = one_line(run("reach", "build"))
    assert "reach build would replace data/dikes/huayuankou.gpkg, data/dikes/huayuankou_dem_50m.nc" in line
    assert "--out FOLDER" in line and "--in-place" in line
    line = one_line(run("reach", "build", "--in-place", "--out", "/tmp"))
    assert "--out and --in-place: give one" in line
    assert digests(COMMITTED) == before, "nothing written"


def test_the_module_entry_point_refuses_as_the_command_line_does():
    """``python -m floodtwin.reach build`` (the entry point without Typer) asks the same question first."""
    before = digests(COMMITTED)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "floodtwin.reach", "build"], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=300)
    line = one_line(proc)
    assert "reach build would replace data/dikes/huayuankou.gpkg" in line and "--in-place" in line
    assert digests(COMMITTED) == before, "nothing written"


def test_reach_build_beside_a_new_yaml_then_only_in_place(tmp_path):
    yaml_copy = tmp_path / "huayuankou.yaml"
    shutil.copyfile(DIKES / "huayuankou.yaml", yaml_copy)
    first = run("reach", "build", str(yaml_copy), "--resolution", "500")
    assert first.returncode == 0, first.stderr  # nothing there yet: written beside the YAML
    gpkg, dem = tmp_path / "huayuankou.gpkg", tmp_path / "huayuankou_dem_500m.nc"
    assert gpkg.is_file() and dem.is_file()
    stamp = (gpkg.stat().st_mtime_ns, dem.stat().st_mtime_ns)
    line = one_line(run("reach", "build", str(yaml_copy), "--resolution", "500"))
    assert f"would replace {gpkg}, {dem}" in line
    assert (gpkg.stat().st_mtime_ns, dem.stat().st_mtime_ns) == stamp
    again = run("reach", "build", str(yaml_copy), "--resolution", "500", "--in-place")
    assert again.returncode == 0, again.stderr
    assert gpkg.stat().st_mtime_ns > stamp[0] and dem.stat().st_mtime_ns > stamp[1]


def test_calibrate_refuses_to_replace_the_committed_calibration_before_fitting():
    before = digests(COMMITTED)
    proc = run("calibrate", "--years", "2018", "--quiet")
    line = one_line(proc)
    assert line.startswith("error: calibrate would replace data/dikes/huayuankou.calibration.yaml"), line
    assert "--output FILE.yaml" in line and "--in-place" in line
    line = one_line(run("calibrate", "--years", "2018", "--output", "x.yaml", "--in-place"))
    assert "--output and --in-place: give one" in line
    assert digests(COMMITTED) == before, "nothing written"


@pytest.mark.parametrize("flag", ["--in-place", "--output"])
def test_calibrate_in_place_replaces_a_copied_reach_calibration(tmp_path, flag):
    """A reach copied with its calibration: --in-place replaces that file; --output writes a new one beside."""
    for name in ("huayuankou.gpkg", "huayuankou_dem_50m.nc", "huayuankou.yaml", "huayuankou.calibration.yaml"):
        shutil.copyfile(DIKES / name, tmp_path / name)
    target = tmp_path / "huayuankou.calibration.yaml"
    old = target.read_bytes()
    args = ["calibrate", "--reach", str(tmp_path / "huayuankou.gpkg"), "--years", "2018", "--validate", "2019",
            "--quiet"]
    if flag == "--in-place":
        proc = run(*args, "--in-place")
        assert proc.returncode == 0, proc.stderr
        assert target.read_bytes() != old and "floodtwin calibrate --station Huayuankou --years 2018" in target.read_text()
        assert f"written: {target}" in proc.stdout.replace("\n", "")
    else:
        new = tmp_path / "fit2018.yaml"
        proc = run(*args, "--output", str(new))
        assert proc.returncode == 0, proc.stderr
        assert target.read_bytes() == old and "channel_n" in new.read_text()
