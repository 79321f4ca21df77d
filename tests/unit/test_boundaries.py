"""Unit tests of the 2D boundary objects (floodtwin.hydraulics.boundaries) and of the deprecated
argument names of the hydraulics API (issue 13: units in names; the old names live one release)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from floodtwin.errors import InputError
from floodtwin.hydraulics import Floodplain, Inflow, NormalDepth, Stage, simulate_2d
from floodtwin.hydraulics.channel import simulate_1d


def test_series_boundaries_interpolate_and_check_cover():
    inflow = Inflow("west", None, None, [0.0, 100.0], [0.0, 50.0])
    assert inflow.value_at(25.0) == 12.5, "linear in time between the given points"
    with pytest.raises(InputError, match="Inflow"):
        inflow.check_covers(200.0)
    with pytest.raises(InputError):
        Stage("east", None, None, [0.0, 10.0, 5.0], [1.0, 1.0, 1.0])  # times must increase


def test_normal_depth_old_manning_name_warns_and_works():
    with pytest.warns(DeprecationWarning, match="'manning' is deprecated, use 'manning_n'"):
        old = NormalDepth("east", 0.001, manning=0.04)
    assert old.manning_n == 0.04, "the old name sets the new field"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = NormalDepth("east", 0.001, manning_n=0.04)  # the new name does not warn
    assert new.manning_n == old.manning_n
    with pytest.raises(InputError, match="give manning_n only"):
        NormalDepth("east", 0.001, manning_n=0.04, manning=0.05)
    with pytest.raises(InputError, match="manning_n = -1 must be a positive"), pytest.warns(DeprecationWarning):
        NormalDepth("east", 0.001, manning=-1)


def _bed():
    return 10.0 + 0.001 * np.arange(12)[None, :] * np.ones((8, 1))


def test_simulate_2d_old_names_warn_and_give_the_same_result():
    kw = dict(dx_m=5.0, duration_s=20.0, output_times_s=[20.0], threads=1)
    h0, v0 = np.full((8, 12), 0.3), (np.full((8, 12), 0.1), 0.0)
    new = simulate_2d(_bed(), depth0_m=h0, manning_n=0.03, velocity0_ms=v0, **kw)
    for old_name, new_name in (("depth0", "depth0_m"), ("manning", "manning_n"), ("velocity0", "velocity0_ms")):
        args = dict(depth0_m=h0, manning_n=0.03, velocity0_ms=v0)
        args[old_name] = args.pop(new_name)
        with pytest.warns(DeprecationWarning, match=f"simulate_2d: argument '{old_name}' is deprecated, use '{new_name}'"):
            old = simulate_2d(_bed(), **args, **kw)
        np.testing.assert_array_equal(old.depth.values, new.depth.values, err_msg=f"{old_name} means {new_name}")
    with pytest.warns(DeprecationWarning, match="Floodplain: argument 'depth0'"):
        Floodplain(_bed(), dx_m=5.0, duration_s=20.0, depth0=h0)
    with pytest.raises(InputError, match="give depth0_m only"):
        simulate_2d(_bed(), depth0_m=h0, depth0=h0, **kw)


def test_1d_and_coupled_old_names_warn():
    from test_channel import _trapezoid  # the prismatic channel of the channel tests

    sec = _trapezoid()
    with pytest.warns(DeprecationWarning, match="simulate_1d: argument 'inflow' is deprecated, use 'inflow_m3s'"):
        old = simulate_1d(sec, inflow=150.0, duration_s=3600.0, dt_s=600.0)
    new = simulate_1d(sec, 150.0, 3600.0, dt_s=600.0)
    np.testing.assert_array_equal(old.stage.values, new.stage.values, err_msg="inflow means inflow_m3s")


def test_rename_kwargs_maps_every_old_name():
    from floodtwin._renamed import rename_kwargs

    with pytest.warns(DeprecationWarning) as rec:
        out = rename_kwargs("couple", {"inflow": 1.0, "manning_2d": 0.03, "dx_m": 5.0},
                            {"inflow": "inflow_m3s", "manning_2d": "manning_n_2d"})
    assert out == {"inflow_m3s": 1.0, "manning_n_2d": 0.03, "dx_m": 5.0}
    assert len(rec) == 2 and "use 'manning_n_2d'" in str(rec[1].message), "one warning per old name"
