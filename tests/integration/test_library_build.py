"""A small real flood-map library (100 m grid, a 12 h wave, members at 8,000 / 10,000 / 12,000 m³/s) built
with the CLI on 2 Dask worker processes, killed with SIGKILL mid-build and resumed; its answers at the
members are the full runs' own, between them the wet edge moves; a library whose DEM or calibration
changed is reported stale and not used."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[2]
DIKES = REPO / "data" / "dikes"
ARGS = ["--from", "8000", "--to", "12000", "--step", "2000", "--resolution", "100", "--duration-h", "12",
        "--workers", "2"]


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), COLUMNS="100")


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "floodtwin", *args], capture_output=True, text=True, env=_env(),
                         timeout=600)
    if check:
        assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The library built by the CLI, killed (SIGKILL to the build and its workers) once the first member
    was written, then resumed; returns (library path, stderr of the resumed build)."""
    folder = tmp_path_factory.mktemp("library")
    path = folder / "small.nc"
    members = folder / ".small.members"
    proc = subprocess.Popen([sys.executable, "-m", "floodtwin", "library", "build", *ARGS, "--library", str(path)],
                            env=_env(), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (members.is_dir() and any(
                p.is_dir() and not p.name.startswith(".") for p in members.iterdir())):
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    finished = sorted(p.name for p in members.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert 1 <= len(finished) < 3, finished  # killed part-way
    assert not path.exists()
    resumed = _cli("library", "build", *ARGS, "--library", str(path))
    return path, finished, resumed.stderr + resumed.stdout


def test_build_resumes_after_kill_and_says_so(built):
    path, finished, out = built
    for name in finished:
        assert f"{name} already built" in out, out[-2000:]
    assert "library written" in out and "3 members 8,000–12,000 m³/s, 100 m" in out
    assert not (path.parent / ".small.members").exists()  # members folded into the one file
    info = json.loads(_cli("library", "info", "--library", str(path), "--json").stdout)
    assert info["members"] == 3 and info["fresh"] and info["discharges_m3s"] == [8000.0, 10000.0, 12000.0]


def test_member_answer_is_the_full_runs_own(built):
    from floodtwin.hydrograph import Hydrograph, design_hydrograph
    from floodtwin.library import open_library
    from floodtwin.reach import load_reach
    from floodtwin.scenario import run_scenario

    path = built[0]
    reach = load_reach("huayuankou", resolution_m=100.0)
    h = design_hydrograph(10000.0)
    full = run_scenario(hydrograph=Hydrograph(h.times_s * 12 * 3600 / h.times_s[-1], h.discharge_m3s), full=True,
                        reach=reach)
    with open_library(path) as lib:
        a = lib.lookup(10000.0)
    assert a.exact and a.lower_m3s == 10000.0
    v = full.villages.set_index("village_id").loc[a.village_ids]
    np.testing.assert_allclose(a.villages["max_depth_m"], v["max_depth_m"], atol=1e-3)
    assert list(a.villages["flooded"]) == list(v["flooded"])
    assert list(a.villages["hazard_class"]) == list(v["hazard_class"])
    d = full.dikes.set_index("segment_id").loc[a.segment_ids]
    np.testing.assert_allclose(a.segments["freeboard_m"], d["freeboard_m"], atol=1e-6)
    depth = np.nan_to_num(full.flood["max_depth"].values, nan=0.0)
    np.testing.assert_allclose(np.nan_to_num(a.depth_m, nan=0.0), depth, atol=1e-3)
    assert abs(a.summary["floodplain_inundated_area_km2"] - full.flood_summary["floodplain_inundated_area_km2"]) < 0.05


def test_between_members_the_wet_edge_moves(built):
    from floodtwin.library import open_library

    with open_library(built[0]) as lib:
        # the interpolation itself (the onset rule, which takes the upper member whole where the lower one is
        # nearly dry, is tested on the shipped library below)
        lo, mid, hi = lib.lookup(8000.0), lib.lookup(9000.0, onset_fraction=0.0), lib.lookup(10000.0)
    wet = {k: np.nan_to_num(a.depth_m, nan=0.0) > 0.05 for k, a in (("lo", lo), ("mid", mid), ("hi", hi))}
    new = wet["hi"] & ~wet["lo"]  # land the water reaches only at the higher member
    assert new.sum() > 20
    # the interpolated flood covers what the lower covers, and part (not all, not none) of the new land
    assert not (wet["lo"] & ~wet["mid"]).any()
    share = (wet["mid"] & new).sum() / new.sum()
    assert 0.05 < share < 0.95, share
    # depth interpolation would have wet all of it with a film of half the upper depth: not so here
    assert mid.weight == 0.5
    assert np.all(np.nan_to_num(mid.depth_m)[new] <= 0.5 * np.nan_to_num(hi.depth_m)[new] + 1e-4)
    a, b = lo.summary["floodplain_inundated_area_km2"], hi.summary["floodplain_inundated_area_km2"]
    assert a < mid.summary["floodplain_inundated_area_km2"] < b


def test_outside_the_range_is_refused(built):
    from floodtwin.errors import InputError
    from floodtwin.library import open_library

    with open_library(built[0]) as lib, pytest.raises(InputError, match="outside the flood-map library"):
        lib.lookup(12500.0)


def test_scenario_answers_from_the_library_and_says_so(built, tmp_path):
    # between two wet members (8,000 → 10,000 of this short-wave library brackets the spill: not answered there)
    run = _cli("scenario", "--discharge", "11000", "--library", str(built[0]), "--out", str(tmp_path / "o"))
    assert "answer from: the flood-map library" in run.stdout
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["library"]["lower_m3s"] == 10000.0 and summary["library"]["upper_m3s"] == 12000.0
    assert summary["task_count"] == len(json.loads((tmp_path / "o" / "tasks.json").read_text())) > 0
    assert sorted(summary["files"]) == ["dikes.csv", "summary.json", "tasks.csv", "tasks.json", "villages.csv"]


@pytest.fixture()
def copied_reach(tmp_path):
    """The reach's files in a folder of their own, to change without touching the repository."""
    folder = tmp_path / "reach"
    folder.mkdir()
    for f in ("huayuankou.gpkg", "huayuankou.yaml", "huayuankou.calibration.yaml"):
        shutil.copy(DIKES / f, folder / f)
    return folder / "huayuankou.gpkg"


def test_a_changed_calibration_or_dem_makes_the_library_stale_and_unused(built, copied_reach, tmp_path):
    """The built library's recorded inputs rewritten to the copied reach (whose files are byte-identical
    to the repository's): fresh; then the copy's calibration file or DEM changes: stale, not used."""
    import netCDF4

    from floodtwin.library import open_library
    from floodtwin.library.inputs import input_hashes
    from floodtwin.scenario import run_scenario

    lib_path = tmp_path / "moved.nc"
    shutil.copy(built[0], lib_path)
    with netCDF4.Dataset(lib_path, "a") as nc:
        nc.reach = str(copied_reach)
        for k, v in input_hashes(str(copied_reach), 100.0, duration_h=12.0).items():
            nc.setncattr(k, v)
    with open_library(lib_path) as lib:
        assert lib.stale_reasons() == []
    assert run_scenario(11000.0, library=lib_path).from_library

    cal = copied_reach.with_name("huayuankou.calibration.yaml")
    # what a file says counts, not how it is written: a comment or a changed note leaves the library fresh
    cal.write_text("# recalibrated? no: a comment only\n" + cal.read_text())
    params = copied_reach.with_name("huayuankou.yaml")
    text = params.read_text()
    assert 'note: "' in text
    params.write_text(text.replace('note: "', 'note: "edited: ', 1))
    with open_library(lib_path) as lib:
        assert lib.stale_reasons() == []
    cal.write_text(cal.read_text().replace("channel_n: 0.", "channel_n: 0.0", 1))  # n ten times smaller
    with open_library(lib_path) as lib:
        assert lib.stale_reasons() == ["the calibration file changed"]
    result = run_scenario(11000.0, library=lib_path)
    assert not result.from_library and "stale (the calibration file changed)" in result.library_note
    run = _cli("scenario", "--discharge", "11000", "--library", str(lib_path), "--out", str(tmp_path / "o"))
    assert "library not used:" in run.stdout and "stale" in run.stdout
    assert "answer from: the 1D channel model" in run.stdout
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["library"]["not_used"].startswith("flood-map")

    shutil.copy(built[0], lib_path)  # a DEM file appears where the grid was built from the parameters
    with netCDF4.Dataset(lib_path, "a") as nc:
        nc.reach = str(copied_reach)
        for k, v in input_hashes(str(copied_reach), 100.0, duration_h=12.0).items():
            nc.setncattr(k, v)
    shutil.copy(DIKES / "huayuankou_dem_50m.nc", copied_reach.with_name("huayuankou_dem_100m.nc"))
    with open_library(lib_path) as lib:
        assert lib.stale_reasons() == ["the DEM changed"]


SHIPPED = REPO / "data" / "library" / "huayuankou-50m.nc"


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the default library is not built (floodtwin library build)")
@pytest.mark.parametrize("discharge, tier, colour, flooded", [("22000", "I", "red", 6), ("3000", "normal", "green", 0)])
def test_the_shipped_library_answers_the_quick_scenario(discharge, tier, colour, flooded, tmp_path):
    """``floodtwin scenario --discharge Q`` with the repository's library: from the library, fresh, 22,000
    m³/s level I red with every floodplain village flooded (as the full run: benchmarks/RESULTS.md), 3,000
    m³/s the normal state with none."""
    run = _cli("scenario", "--discharge", discharge, "--out", str(tmp_path / "o"))
    assert "answer from: the flood-map library" in run.stdout
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert (summary["tier"], summary["colour"]) == (tier, colour)
    assert sum(v["flooded"] for v in summary["villages"]) == flooded == summary["people_to_move"]["villages"]
    assert summary["library"]["lower_m3s"] == float(discharge) and summary["library"]["weight"] == 0.0


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the default library is not built (floodtwin library build)")
def test_between_a_dry_and_a_wet_member_the_library_does_not_answer_and_says_why(tmp_path):
    """8,000 m³/s floods nothing, 9,000 m³/s 120 km²: the river spills over the natural levee in between, at a
    flow no interpolation knows (at 8,500 the full run floods 1.8 km² and no village; the water-level
    interpolation gave 77 km² and 3 villages: benchmarks/RESULTS.md). The lookup marks it (``onset``, the
    9,000 m³/s run's flood to prepare for) and the quick answer does not use it: it says why and answers from
    the 1D model. Between two wet members (9,000 and 10,000) the water level is interpolated as before."""
    from floodtwin.library import open_library
    from floodtwin.scenario import run_scenario

    with open_library(SHIPPED) as lib:
        onset, upper, wet = lib.lookup(8500.0), lib.lookup(9000.0), lib.lookup(9500.0)
    assert onset.onset and "starts to fill between the runs at 8,000 and 9,000" in onset.describe()
    assert onset.summary["floodplain_inundated_area_km2"] == upper.summary["floodplain_inundated_area_km2"] > 50.0
    assert not wet.onset and 0.0 < wet.weight < 1.0 and not upper.onset
    result = run_scenario(8500.0)
    assert not result.from_library and "cannot interpolate" in result.library_note
    assert run_scenario(9500.0).from_library
    run = _cli("scenario", "--discharge", "8500", "--out", str(tmp_path / "o"))
    assert "library not used:" in run.stdout and "answer from: the 1D channel model" in run.stdout
