"""Freeboard per dike segment from 1D results: exact on a constructed case, and on the real reach."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from floodtwin.errors import InputError
from floodtwin.risk import freeboard, freeboard_class


def _dikes():
    return pd.DataFrame({
        "segment_id": ["R-000", "R-001", "R-002", "R-003"],
        "chainage_from_m": [0.0, 1000.0, 2000.0, 3000.0],
        "chainage_to_m": [1000.0, 2000.0, 3000.0, 4000.0],
        "crest_elevation_m": [100.0, 99.5, 101.5, 104.0],
    })


def test_freeboard_of_a_moving_water_surface_is_exact():
    chain = np.array([250.0, 1250.0, 2250.0, 3250.0])  # the ends are extrapolated
    t = np.array([0.0, 3600.0, 7200.0])
    # a sloping surface (1 m per km) rising 1 m, peaking at t = 3600 s
    surface = 100.0 - 1e-3 * chain
    stage = np.vstack([surface - 1.0, surface, surface - 0.5])
    ds = xr.Dataset({"stage": (("time", "chainage"), stage)}, coords={"time": t, "chainage": chain})
    out = freeboard(ds, _dikes())
    # highest water at each segment's upstream end: 100 - chainage_from/1000
    assert np.allclose(out["max_water_level_m"], [100.0, 99.0, 98.0, 97.0]), "exact up to float rounding (np.allclose default: linear data, linear interpolation)"
    assert np.allclose(out["freeboard_m"], [0.0, 0.5, 3.5, 7.0]), "exact up to float rounding (np.allclose default)"
    assert list(out["freeboard_class"]) == ["lt_1m", "lt_1m", "ge_2m", "ge_2m"]
    assert np.allclose(out["time_min_freeboard_s"], 3600.0), "the peak time exactly (np.allclose default: rounding only)"
    assert list(out["extrapolated"]) == [True, False, False, True]
    assert np.allclose(out["chainage_min_m"], [0.0, 1000.0, 2000.0, 3000.0]), "segment starts exactly (rounding only)"


def test_freeboard_classes_and_bad_input():
    assert list(freeboard_class([-0.01, 0.0, 0.99, 1.0, 1.99, 2.0])) == [
        "overtopped", "lt_1m", "lt_1m", "lt_2m", "lt_2m", "ge_2m"]
    ds = xr.Dataset({"stage": ("chainage", [1.0, 2.0])}, coords={"chainage": [0.0, 10.0]})
    with pytest.raises(InputError, match="missing column"):
        freeboard(ds, _dikes().drop(columns="crest_elevation_m"))
    with pytest.raises(InputError, match="chainage must rise"):
        freeboard(ds.assign_coords(chainage=[10.0, 0.0]), _dikes())


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "data/dikes/huayuankou.gpkg").is_file(),
                    reason="reach not built")
def test_design_flood_keeps_about_the_design_freeboard_on_the_real_reach():
    import floodtwin
    from floodtwin.hydraulics.channel import simulate_1d
    from floodtwin.hydraulics.sections import sections_from_reach

    reach = floodtwin.load_reach("huayuankou")
    sec = sections_from_reach(reach, 500.0)
    # a 22,000 m³/s crest (1958-like: 2.5 h at the peak) from a 10,000 m³/s base
    hydro = ([0.0, 6 * 3600.0, 10 * 3600.0, 12.5 * 3600.0, 18 * 3600.0, 36 * 3600.0],
             [10000.0, 14000.0, 22000.0, 22000.0, 15000.0, 10000.0])
    res = simulate_1d(sec, hydro, 36 * 3600.0, dt_s=120.0)
    fb = freeboard(res, reach.dikes)
    assert len(fb) == len(reach.dikes)
    assert res.attrs["failed_steps"] == 0
    design = reach.dikes["crest_elevation_m"] - reach.dikes["design_flood_level_m"]
    # the reach is built with crests 3 m above the design level: the 1D model lands close to it
    assert float((fb["freeboard_m"] - design).abs().max()) < 0.8, \
        "within 0.8 m of the design freeboard (source: the design levels are a 1D model of the YRCC, not ours; calibration RMSE ~0.1 m plus the bed offset spread of the period offsets, up to ~0.6 m, in data/dikes/huayuankou.calibration.yaml)"
    assert set(fb["freeboard_class"]) <= {"lt_2m", "ge_2m"}
    assert (fb["time_min_freeboard_s"] > 8 * 3600).all()
