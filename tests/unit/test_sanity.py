"""The physical sanity checks of hydraulic results and the valid discharge range of a reach model
(floodtwin.hydraulics.sanity): each check fails on the result it is there to refuse."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.errors import InputError, ModelError
from floodtwin.hydraulics.channel import simulate_1d, steady_stage
from floodtwin.hydraulics.sanity import (MIN_DEPTH_LEVELS, VOLUME_BALANCE_REL, check_1d_run, check_stages,
                                         discharge_range_m3s, require_in_range)
from test_channel import _trapezoid


@pytest.fixture(scope="module")
def channel():
    return _trapezoid(n_sec=9)


@pytest.fixture(scope="module")
def run(channel):
    return simulate_1d(channel, (np.array([0.0, 7200.0]), np.array([50.0, 150.0])), 7200.0, dt_s=60.0,
                       output_interval_s=600.0)


def test_a_good_run_passes_and_its_volume_balances(channel, run):
    check_1d_run(run, channel)
    imbalance = run.attrs["volume_end_m3"] - run.attrs["volume_start_m3"] - run.attrs["boundary_volume_m3"]
    # the Preissmann scheme conserves volume to the Newton tolerance (1e-9 m): far inside VOLUME_BALANCE_REL
    assert abs(imbalance) < 1e-3 * VOLUME_BALANCE_REL * run.attrs["volume_start_m3"], imbalance


def test_unconverged_steps_are_refused(channel, run):
    bad = run.copy()
    bad.attrs = {**run.attrs, "failed_steps": 7}
    with pytest.raises(ModelError, match="Newton did not converge in 7 of 120 steps: the result is not an answer"):
        check_1d_run(bad, channel)


@pytest.mark.parametrize("value, words", [(np.nan, "not finite"), (1e6, "above the top of its tables"),
                                          (0.0, "below its bed")])
def test_stages_that_left_the_model_are_refused(channel, run, value, words):
    bad = run.copy(deep=True)
    bad["stage"][3, 4] = value
    with pytest.raises(ModelError, match=words):
        check_1d_run(bad, channel)


def test_a_volume_that_does_not_balance_is_refused(channel, run):
    bad = run.copy()
    bad.attrs = {**run.attrs, "volume_end_m3": run.attrs["volume_end_m3"] * 1.01}
    with pytest.raises(ModelError, match="the volume is not balanced"):
        check_1d_run(bad, channel)


def test_simulate_1d_raises_instead_of_returning_a_diverged_run(channel):
    # a step 100 times the wave's travel time between sections with theta 0.5 (no damping) from a
    # near-dry start: Newton fails; unchecked, the run says so in failed_steps
    inflow = (np.array([0.0, 600.0, 1200.0]), np.array([1.0, 5000.0, 1.0]))
    raw = simulate_1d(channel, inflow, 1200.0, dt_s=600.0, output_interval_s=600.0, theta=0.5, max_iter=2,
                      check=False)
    assert raw.attrs["failed_steps"] > 0, "the probe must diverge for the check to be tested"
    with pytest.raises(ModelError):
        simulate_1d(channel, inflow, 1200.0, dt_s=600.0, output_interval_s=600.0, theta=0.5, max_iter=2)


def test_the_valid_range_comes_from_the_tables_and_the_crests(channel):
    q_min, q_max = discharge_range_m3s(channel)
    _, z0, dz = channel.tables
    crest = np.array([np.max(channel.profile(i)[1]) for i in range(channel.n_sections)])  # no dikes: bank tops
    # at the ends of the range the steady profile is MIN_DEPTH_LEVELS deep / reaches the lowest crest
    # (to the bisection's 1e-3 on a log scale)
    assert np.min(steady_stage(channel, q_min * 1.01)[0] - z0 - MIN_DEPTH_LEVELS * dz) > 0
    assert np.min(steady_stage(channel, q_min * 0.99)[0] - z0 - MIN_DEPTH_LEVELS * dz) < 0
    assert np.all(steady_stage(channel, q_max * 0.99)[0] < crest)
    assert np.any(steady_stage(channel, q_max * 1.01)[0] >= crest)
    assert require_in_range(channel, 0.5 * (q_min + q_max)) == 0.5 * (q_min + q_max)
    with pytest.raises(ModelError, match=r"below the valid range of the reach model"):
        require_in_range(channel, q_min / 2)
    with pytest.raises(ModelError, match=r"above the valid range of the reach model .* above a dike crest"):
        require_in_range(channel, q_max * 2)
    with pytest.raises(InputError, match="expected a finite number > 0"):
        require_in_range(channel, -1.0)


def test_check_stages_names_the_section(channel):
    _, z0, _ = channel.tables
    stage = z0 + 1.0
    stage[2] = z0[2] + 1e4
    with pytest.raises(ModelError, match=f"section {channel.section_id[2]} is above the top of its tables"):
        check_stages(channel, stage, what="probe")
