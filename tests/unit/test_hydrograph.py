"""hydrograph: the design wave's shape, its fit to the 1958 flood, scaling to a peak, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.errors import ConfigError, InputError
from floodtwin.hydrograph import (design_hydrograph, fit_shape_exponent, gamma_shape, hours_above,
                                  load_scenario_spec)


@pytest.fixture(scope="module")
def spec():
    return load_scenario_spec().hydrograph


def test_unit_shape_peaks_at_one_at_the_time_to_peak():
    t = np.linspace(0.0, 200.0, 2001)
    g = gamma_shape(t, 50.0, 3.0)
    assert g[0] == 0.0 and g.max() == 1.0 and t[np.argmax(g)] == 50.0
    assert np.all(np.diff(g[t <= 50.0]) > 0) and np.all(np.diff(g[t >= 50.0]) < 0)


def test_fitted_shape_keeps_the_reference_hours_above_the_threshold(spec):
    m = fit_shape_exponent(spec)
    hours = hours_above(float(spec.reference_threshold_m3s.value), float(spec.reference_peak_m3s.value),
                        float(spec.base_discharge_m3s.value), float(spec.time_to_peak_h.value), m)
    # the count runs on a grid of 40 tp / 400,000 steps: one step is the resolution
    step_h = 40 * float(spec.time_to_peak_h.value) / 400_000
    assert hours == pytest.approx(float(spec.reference_hours_above.value), abs=2 * step_h), \
        "hours_above counts grid steps of 40 tp / 400,000: two steps is its resolution"


def test_design_wave_is_scaled_to_the_peak(spec):
    h = design_hydrograph(22000, spec)
    assert h.peak_m3s == pytest.approx(22000, rel=1e-3), "600 s sampling of the wave may miss the crest by < 0.1 %"
    assert h.times_s[0] == 0.0 and np.all(np.diff(h.times_s) == 600.0)
    assert h.times_s[-1] == pytest.approx(float(spec.duration_h.value) * 3600.0), "the run lasts duration_h"
    assert h.discharge_m3s[0] == pytest.approx(float(spec.base_discharge_m3s.value)), "the wave starts at base flow"


def test_small_peak_caps_the_base_flow_below_it(spec):
    small = 0.5 * float(spec.base_discharge_m3s.value)  # below the base flow of the design wave
    h = design_hydrograph(small, spec)
    assert h.discharge_m3s[0] == pytest.approx(0.5 * small), "base flow capped at half the peak"
    assert h.peak_m3s == pytest.approx(small, rel=1e-3), "600 s sampling of the wave may miss the crest by < 0.1 %"


@pytest.mark.parametrize("peak, words", [
    (0.0, "peak discharge 0.0 m³/s: expected a finite number > 0"),
    (float("nan"), "peak discharge nan m³/s"),
    (1e6, "at most 100,000 m³/s"),
    (True, "not a number of m³/s"),
])
def test_bad_peaks_are_refused(spec, peak, words):
    with pytest.raises(InputError, match=words):
        design_hydrograph(peak, spec)


def test_bad_scenario_file_names_file_line_and_key(tmp_path):
    from floodtwin.hydrograph import default_scenario_path

    text = default_scenario_path().read_text(encoding="utf-8")
    assert "\nhydrograph:\n" in text
    bad = text.replace("\nhydrograph:\n", "\nhydrograph:\n  colour: red\n")
    line = bad.splitlines().index("  colour: red") + 1
    path = tmp_path / "design.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"design\.yaml:{line}: hydrograph.colour: unknown key"):
        load_scenario_spec(path)
