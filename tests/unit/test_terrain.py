"""reach.terrain: Manning normal depth, the curvilinear frame, the compound section, deprecated names."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from floodtwin.config import DATA_DIR
from floodtwin.errors import DataError, InputError
from floodtwin.reach.params import load_params
from floodtwin.reach.terrain import (ReachTerrain, fit_channel_to_rating, frame_from_points,
                                     rectangular_normal_depth_m)


@pytest.fixture(scope="module")
def terrain():
    return ReachTerrain(load_params(DATA_DIR / "dikes" / "huayuankou.yaml"))


def test_normal_depth_satisfies_manning():
    q = np.array([10.0, 500.0, 8000.0])
    b, slope, n = 400.0, 2e-4, 0.015
    h = rectangular_normal_depth_m(q, width_m=b, slope=slope, manning_n=n)
    area, radius = b * h, b * h / (b + 2 * h)
    back = area * radius ** (2 / 3) * np.sqrt(slope) / n
    np.testing.assert_allclose(back, q, rtol=1e-9, err_msg="Newton stops at steps below 1e-10 m")
    scalar = rectangular_normal_depth_m(500.0, width_m=b, slope=slope, manning_n=n)
    assert isinstance(scalar, float)
    assert scalar == pytest.approx(h[1], abs=1e-9), "Newton stops at steps below 1e-10 m (scalar and array alike)"


def test_fit_to_rating_recovers_the_channel_it_was_built_from():
    b, slope, n, bed = 500.0, 1.9e-4, 0.012, 88.0
    qs = [500.0, 1500.0, 3000.0, 5000.0]
    points = [[q, bed + rectangular_normal_depth_m(q, width_m=b, slope=slope, manning_n=n)] for q in qs]
    fit = fit_channel_to_rating(points, width_m=b, slope=slope, bankfull_discharge_m3s=5000.0)
    assert fit.bed_at_gauge_m == pytest.approx(bed, abs=1e-6), "least_squares on exact points: its default tolerance"
    assert fit.manning_n == pytest.approx(n, rel=1e-6), "least_squares on exact points: its default tolerance"
    assert fit.rms_misfit_m < 1e-6, "exact points: no misfit beyond least_squares' tolerance"
    with pytest.raises(DataError, match="Manning n = .* is implausible"):
        fit_channel_to_rating([[q, 90.0 + 1e-3 * i] for i, q in enumerate(qs)], width_m=b, slope=slope,
                              bankfull_discharge_m3s=5000.0)


def test_frame_round_trip():
    t = np.linspace(0.0, np.pi / 2, 50)
    x, y = 1000.0 * np.cos(t), 1000.0 * np.sin(t)  # a quarter circle, 1571 m long
    fr = frame_from_points(x, y, 1500.0)
    s = np.array([100.0, 800.0, 1400.0])
    nn = np.array([-50.0, 0.0, 120.0])
    xs, ys = fr.to_xy(s, nn)
    s2, n2 = fr.to_sn(xs, ys)
    np.testing.assert_allclose(s2, s, atol=0.05, err_msg="the frame is sampled every 5 m (step_m): 0.05 m on the arc")
    np.testing.assert_allclose(n2, nn, atol=0.05, err_msg="the frame is sampled every 5 m (step_m): 0.05 m on the arc")


def test_section_carries_the_normal_stage_discharge(terrain):
    s = terrain.gauge_chainage_m
    for q in (1000.0, 6500.0, 22000.0):
        z = terrain.normal_stage_m(s, q)
        assert terrain.section_discharge_m3s(s, z) == pytest.approx(q, rel=2e-3), \
            "brentq stops at xtol = 1e-4 m of stage: a fraction of a per mille of discharge"
    assert terrain.normal_stage_m(s, 22000.0) > terrain.normal_stage_m(s, 6500.0)


def test_crest_is_the_design_level_plus_freeboard(terrain):
    s = np.array([0.0, 9600.0, 27000.0])
    np.testing.assert_allclose(terrain.crest_m(s) - terrain.design_level_m(s), terrain.freeboard_m, rtol=0, atol=1e-12,
                               err_msg="float64 addition")
    assert np.all(terrain.lip_m(s) > terrain.bed_m(s)) and np.all(terrain.land_m(s) < terrain.bed_m(s))


def test_normal_stage_refuses_bad_and_impossible_discharges(terrain):
    with pytest.raises(InputError, match="discharge 0.0 m³/s: expected a finite number > 0"):
        terrain.normal_stage_m(9600.0, 0.0)
    with pytest.raises(InputError, match=r"at most 100,000 m³/s"):
        terrain.normal_stage_m(9600.0, 150_000.0)


def test_old_argument_names_still_work_with_a_warning(terrain):
    with pytest.warns(DeprecationWarning, match=r"ReachTerrain.lip_m: argument 's' is deprecated, use 's_m'"):
        old = terrain.lip_m(s=1000.0)
    assert old == terrain.lip_m(s_m=1000.0) == terrain.lip_m(1000.0)
    with pytest.warns(DeprecationWarning, match=r"elevation_m: argument '(s|n)' is deprecated") as both:
        old = terrain.elevation_m(s=np.array([1000.0]), n=np.array([500.0]))
    assert len(both) == 2, [str(w.message) for w in both]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names do not warn
        new = terrain.elevation_m(s_m=np.array([1000.0]), n_m=np.array([500.0]))
    np.testing.assert_array_equal(old, new)
    with pytest.raises(InputError, match="give s_m only"):
        terrain.lip_m(s=1.0, s_m=1.0)
