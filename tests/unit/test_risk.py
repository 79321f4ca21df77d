"""risk: freeboard classes, the one stage interpolation, water at the dike toe, village exposure, freeboard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from floodtwin.errors import InputError
from floodtwin.risk import freeboard, freeboard_class, stage_along, toe_depth_m, village_exposure

CHAIN = np.array([0.0, 1000.0, 2000.0])
# two times: the water rises by 1 m between them; the surface falls 1 m per km downstream
STAGE = np.array([[91.0, 90.0, 89.0], [92.0, 91.0, 90.0]])


def test_freeboard_classes_at_their_bounds():
    got = freeboard_class([-0.01, 0.0, 0.999, 1.0, 1.999, 2.0, 5.0])
    assert list(got) == ["overtopped", "lt_1m", "lt_1m", "lt_2m", "lt_2m", "ge_2m", "ge_2m"]


def test_stage_along_is_linear_inside_and_keeps_the_slope_beyond_the_ends():
    z = stage_along(CHAIN, STAGE, np.array([-500.0, 0.0, 500.0, 2000.0, 2500.0]))
    # exact in binary: the values are multiples of 0.5 m
    np.testing.assert_array_equal(z, [[91.5, 91.0, 90.5, 89.0, 88.5], [92.5, 92.0, 91.5, 90.0, 89.5]])
    one = stage_along(CHAIN, STAGE[0], np.array([1500.0]))  # a single profile (steady run)
    assert one.shape == (1, 1) and one[0, 0] == 89.5


def test_toe_depth_with_and_without_the_levee_lip():
    level = np.array([92.0, 89.0, 92.0, 92.0])
    toe = np.array([90.0, 90.0, 90.0, 90.0])
    np.testing.assert_array_equal(toe_depth_m(level, toe), [2.0, 0.0, 2.0, 2.0])  # never negative
    lip = np.array([91.0, 91.0, 93.0, 92.0])  # water below or at the lip does not reach the toe
    np.testing.assert_array_equal(toe_depth_m(level, toe, lip), [2.0, 0.0, 0.0, 0.0])


@pytest.fixture
def villages():
    return pd.DataFrame({"village_id": ["V1", "V2", "V3"], "chainage_m": [500.0, 1000.0, 2500.0],
                         "ground_elevation_m": [91.0, 89.5, 90.0], "geometry": [None, None, None]})


def test_village_exposure_without_the_levee(villages):
    out = village_exposure(villages, CHAIN, STAGE, np.array([0.0, 3600.0]))
    assert "geometry" not in out.columns and list(out["village_id"]) == ["V1", "V2", "V3"]
    # V1: level 90.5 then 91.5 over ground 91 -> wet at the second time only
    # V2: 90 then 91 over 89.5 -> wet from the first; V3 (beyond the last section, extrapolated): 88.5, 89.5 -> dry
    assert list(out["flooded"]) == [True, True, False]
    np.testing.assert_array_equal(out["max_water_level_m"], [91.5, 91.0, 89.5])
    np.testing.assert_array_equal(out["max_depth_m"], [0.5, 1.5, 0.0])
    np.testing.assert_array_equal(out["arrival_time_s"].to_numpy()[:2], [3600.0, 0.0])
    assert np.isnan(out["arrival_time_s"].iloc[2])


def test_village_exposure_behind_a_levee_lip(villages):
    lip = np.array([92.0, 90.5, 95.0])  # V1 shielded throughout, V2 only until the water tops 90.5
    out = village_exposure(villages, CHAIN, STAGE, np.array([0.0, 3600.0]), lip)
    assert list(out["flooded"]) == [False, True, False]
    # a shielded village reports no water above its ground
    np.testing.assert_array_equal(out["max_water_level_m"], [91.0, 91.0, 89.5])
    np.testing.assert_array_equal(out["max_depth_m"], [0.0, 1.5, 0.0])
    assert out["arrival_time_s"].iloc[1] == 3600.0


def _dikes(rows):
    return pd.DataFrame(rows, columns=["segment_id", "chainage_from_m", "chainage_to_m", "crest_elevation_m"])


def test_freeboard_of_a_run_with_time_and_a_segment_beyond_the_sections():
    run = xr.Dataset({"stage": (("time", "chainage"), STAGE)}, coords={"time": [0.0, 3600.0], "chainage": CHAIN})
    dikes = _dikes([("A", 0.0, 1000.0, 95.0), ("B", 1500.0, 2500.0, 92.0)])
    out = freeboard(run, dikes)
    # A: the highest water is 92.0 at chainage 0 at t = 3600 s
    a, b = out.iloc[0], out.iloc[1]
    assert (a["max_water_level_m"], a["freeboard_m"], a["chainage_min_m"], a["time_min_freeboard_s"]) == \
        (92.0, 3.0, 0.0, 3600.0)
    assert not a["extrapolated"] and a["freeboard_class"] == "ge_2m"
    assert b["extrapolated"] and b["max_water_level_m"] == 90.5 and b["freeboard_m"] == 1.5 and b["freeboard_class"] == "lt_2m"


def test_freeboard_of_a_steady_profile_has_no_time():
    run = xr.Dataset({"stage": ("chainage", STAGE[1])}, coords={"chainage": CHAIN})
    out = freeboard(run, _dikes([("A", 0.0, 2000.0, 91.5)]))
    assert out["freeboard_m"].iloc[0] == -0.5 and out["freeboard_class"].iloc[0] == "overtopped"
    assert np.isnan(out["time_min_freeboard_s"].iloc[0])


def test_freeboard_refuses_what_is_not_a_1d_result():
    with pytest.raises(InputError, match="dikes: missing column"):
        freeboard(xr.Dataset(), pd.DataFrame({"segment_id": ["A"]}))
    with pytest.raises(InputError, match="expected a Dataset with stage over chainage"):
        freeboard(xr.Dataset(), _dikes([("A", 0.0, 1.0, 90.0)]))
    falling = xr.Dataset({"stage": ("chainage", [1.0, 2.0])}, coords={"chainage": [5.0, 1.0]})
    with pytest.raises(InputError, match="chainage must rise"):
        freeboard(falling, _dikes([("A", 0.0, 1.0, 90.0)]))
