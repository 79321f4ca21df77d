"""Result files: the one writer/reader, CF-valid (IOOS compliance checker, CF-1.8), with run metadata."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import xarray as xr

import floodtwin
from floodtwin.errors import DataError
from floodtwin.results import CONVENTIONS, read_result, write_result

START = datetime(2021, 9, 27, 8, 0, tzinfo=timezone(timedelta(hours=8)))


def cf_problems(path) -> list[str]:
    """The failed high-priority (error-level) checks of the IOOS compliance checker's CF-1.8 suite."""
    pytest.importorskip("compliance_checker")
    from compliance_checker.base import BaseCheck
    from compliance_checker.runner import CheckSuite

    suite = CheckSuite()
    suite.load_all_available_checkers()
    results, errors = suite.run_all(suite.load_dataset(str(path)), ["cf:1.8"], skip_checks=[])["cf:1.8"]
    assert not errors, f"the checker itself failed: {errors}"
    return [f"{r.name}: {'; '.join(r.msgs)}" for r in results if r.weight == BaseCheck.HIGH and r.value[0] < r.value[1]]


def result_1d() -> xr.Dataset:
    t = np.arange(4) * 600.0
    ch = np.arange(5) * 500.0
    stage = 92.0 - 1e-4 * ch[None, :] + 0.1 * t[:, None] / 600.0
    return xr.Dataset({"stage": (("time", "chainage"), stage),
                       "discharge": (("time", "chainage"), np.full(stage.shape, 22000.0)),
                       "bed": ("chainage", 85.0 - 1e-4 * ch),
                       "max_stage": ("chainage", stage.max(axis=0))},
                      coords={"time": t, "chainage": ch}, attrs={"history": "2026-12-03 simulate_1d"})


def result_2d() -> xr.Dataset:
    from pyproj import CRS

    x = 500_000.0 + 50.0 * np.arange(4)
    y = 3_850_000.0 - 50.0 * np.arange(3)
    depth = np.full((2, 3, 4), 0.5)
    depth[:, 0, 0] = np.nan  # a dry cell outside the domain
    ds = xr.Dataset({"depth": (("time", "y", "x"), depth), "velocity_x": (("time", "y", "x"), np.zeros_like(depth)),
                     "velocity_y": (("time", "y", "x"), np.zeros_like(depth)), "bed": (("y", "x"), np.full((3, 4), 90.0)),
                     "max_depth": (("y", "x"), depth.max(axis=0)), "arrival_time": (("y", "x"), np.full((3, 4), 600.0))},
                    coords={"time": [0.0, 600.0], "y": y, "x": x})
    crs = CRS.from_epsg(4547)
    ds = ds.assign_coords(crs=xr.DataArray(np.int32(0), attrs=crs.to_cf()))
    for name in ("depth", "velocity_x", "velocity_y", "bed", "max_depth", "arrival_time"):
        ds[name].attrs["grid_mapping"] = "crs"
    return ds


@pytest.mark.parametrize("make", [result_1d, result_2d], ids=["1d", "2d"])
def test_result_files_pass_the_cf_checker(tmp_path, make):
    path = write_result(make(), tmp_path / "run.nc", source="test run", start=START)
    assert cf_problems(path) == [], "CF-1.8 errors reported by the IOOS compliance checker"


def test_without_a_start_the_time_is_no_cf_time_axis(tmp_path):
    """The checker does see a time without an epoch (what ``start`` is for): the test above can fail."""
    path = write_result(result_1d(), tmp_path / "run.nc")
    problems = cf_problems(path)
    assert any("time" in p and "since" in p for p in problems), problems


def test_the_dem_is_written_through_results_and_passes_the_cf_checker(tmp_path):
    from floodtwin.config import DATA_DIR
    from floodtwin.reach.load import read_dem
    from floodtwin.reach.params import load_params
    from floodtwin.reach.terrain import ReachTerrain, build_dem, write_dem

    dem = build_dem(ReachTerrain(load_params(DATA_DIR / "dikes" / "huayuankou.yaml")), 400.0)
    write_dem(dem, tmp_path / "dem.nc")
    assert cf_problems(tmp_path / "dem.nc") == [], "CF-1.8 errors in the DEM file"
    back = read_dem(tmp_path / "dem.nc")
    np.testing.assert_array_equal(back.values, dem.values)  # float64 on disk, NaN where NaN: bit-equal
    assert back.attrs["standard_name"] == "surface_altitude" and back.attrs["grid_mapping"] == "crs"


def test_metadata_round_trip_and_the_input_is_left_alone(tmp_path):
    ds = result_1d()
    before = ds.copy(deep=True)
    path = write_result(ds, tmp_path / "sub" / "run.nc", start=START)
    xr.testing.assert_identical(ds, before)
    back = read_result(path)
    assert back.attrs["Conventions"] == CONVENTIONS and back.attrs["source"] == "floodtwin"
    first, line = back.attrs["history"].split("\n")
    assert first == "2026-12-03 simulate_1d"  # appended, never replaced
    assert f"floodtwin {floodtwin.__version__}" in line and back.attrs["floodtwin_version"] == floodtwin.__version__
    # times come back as seconds since the start of the run, the epoch being that start in UTC
    np.testing.assert_array_equal(back["time"].values, ds["time"].values)
    assert back["time"].attrs["units"] == "seconds since 2021-09-27 00:00:00"
    np.testing.assert_array_equal(back["stage"].values, ds["stage"].values)
    assert back["stage"].attrs["standard_name"] == "water_surface_height_above_reference_datum"
    assert read_result(path, variable="bed").attrs["units"] == "m"


def test_bad_paths_are_one_line_data_errors(tmp_path):
    with pytest.raises(DataError, match=r"none\.nc: result file not found"):
        read_result(tmp_path / "none.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(DataError, match=r"junk\.nc: cannot read the result"):
        read_result(junk)
    path = write_result(result_1d(), tmp_path / "run.nc")
    with pytest.raises(DataError, match=r"run\.nc: no 'depth' variable"):
        read_result(path, variable="depth")
    with pytest.raises(DataError, match=r"cannot write the result"):
        write_result(result_1d(), "/dev/null/run.nc")
    with pytest.raises(DataError, match="time-zone aware"):
        write_result(result_1d(), tmp_path / "naive.nc", start=datetime(2021, 9, 27))
