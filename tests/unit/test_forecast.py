"""The Huayuankou routing forecast (floodtwin.forecast): Muskingum coefficients, the fit on the real
bulletin (data/yrcc) and its skill on years held out of the fit."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.errors import InputError
from floodtwin.forecast import (FIT_YEARS, TEST_YEARS, Routing, fit_routing, forecast_next, load_daily,
                                muskingum_coefficients, nse, skill, threshold_table)


@pytest.fixture(scope="module")
def daily():
    return load_daily()


@pytest.fixture(scope="module")
def routing(daily):
    return fit_routing(daily)


@pytest.mark.parametrize("k_d, x", [(1.0, 0.2), (2.66, 0.0), (1.5, 0.3)])
def test_muskingum_coefficients_conserve_mass(k_d, x):
    c = muskingum_coefficients(k_d, x)
    assert sum(c) == pytest.approx(1.0) and min(c) >= 0.0
    # a steady inflow routes to itself: O = C0 I + C1 I + C2 O  =>  O = I
    o = 1000.0
    for _ in range(50):
        o = c[0] * 3000.0 + c[1] * 3000.0 + c[2] * o
    assert o == pytest.approx(3000.0, rel=1e-6)


def test_negative_coefficient_refused():
    with pytest.raises(InputError, match="negative"):
        muskingum_coefficients(3.0, 0.45)  # 2KX = 2.7 d > Δt = 1 d


def test_fit_on_real_data_is_physical_and_beats_persistence_on_held_out_years(daily, routing):
    assert routing.fit_years == FIT_YEARS and not set(FIT_YEARS) & set(TEST_YEARS)
    assert 0.5 <= routing.k_d <= 5.0 and 0.0 <= routing.x <= 0.5
    assert 0.85 <= routing.gain <= 1.1  # losses and ungauged inflow of a few per cent, not a fudge factor
    s = skill(daily, routing)
    for lead in (1, 2):
        d = s[f"lead_{lead}d"]
        assert d["nse"] > d["nse_persistence"], d  # adds information to "tomorrow as today"
    assert s["lead_1d"]["nse"] > 0.9 and s["lead_2d"]["nse"] > 0.85
    hits = s["lead_1d"]["level_iv"]
    assert hits["hits"] + hits["misses"] == 17  # the level-IV days of 2015-2019 at Huayuankou (2018: 3, 2019: 14)


def test_skill_refuses_years_of_the_fit(daily, routing):
    with pytest.raises(InputError, match="used in the fit"):
        skill(daily, routing, years=(2010, 2016))


def test_forecast_next_matches_the_series_form(daily, routing):
    fs = __import__("floodtwin.forecast", fromlist=["forecast_series"]).forecast_series(daily, routing)
    day = fs.loc["2019-07-08"]
    up = daily.loc["2019-07-08", ["Xiaolangdi", "Heishiguan", "Wuzhi"]].sum()
    up_y = daily.loc["2019-07-07", ["Xiaolangdi", "Heishiguan", "Wuzhi"]].sum()
    f1, f2 = forecast_next(daily.loc["2019-07-08", "Huayuankou"], up, up_y, routing)
    assert f1 == pytest.approx(day["fc1"]) and f2 == pytest.approx(day["fc2"])


def test_nse_and_threshold_table():
    obs = np.array([1000.0, 3000.0, 4500.0, 5000.0])
    assert nse(obs, obs) == 1.0 and nse(np.full(4, obs.mean()), obs) == pytest.approx(0.0)
    t = threshold_table(np.array([3900.0, 4100.0, 4500.0, 3000.0]), obs)
    assert t == {"hits": 1, "misses": 1, "false_alarms": 1, "correct_negatives": 1}
    assert Routing(1.0, 0.1, 1.0).to_dict()["k_d"] == 1.0
