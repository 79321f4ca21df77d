"""The Defra/EA hazard rating (FD2320/FD2321) and its classes, by hand-checkable values."""

import numpy as np
import pytest

from floodtwin.risk import HAZARD_CLASSES, debris_factor, hazard_class_code, hazard_class_name, hazard_rating


@pytest.mark.parametrize("depth, speed, df", [
    (0.25, 3.0, 0.0),  # at 0.25 m no debris whatever the speed
    (0.26, 0.0, 0.5),
    (0.26, 2.0, 0.5),  # 2 m/s itself is not "above 2"
    (0.26, 2.01, 1.0),
    (3.0, 0.1, 0.5),
])
def test_debris_factor_steps_at_quarter_metre_and_two_metres_per_second(depth, speed, df):
    assert debris_factor(depth, speed) == df


def test_rating_is_depth_times_speed_plus_half_plus_debris():
    # 1 m at 1 m/s: 1·1.5 + 0.5 = 2.0; 0.2 m at 0.5 m/s: 0.2·1.0 + 0 = 0.2; 0.5 m at 3 m/s: 0.5·3.5 + 1 = 2.75
    assert hazard_rating([1.0, 0.2, 0.5], [1.0, 0.5, 3.0]) == pytest.approx([2.0, 0.2, 2.75])


def test_classes_follow_fd2321_bounds_and_dry_cells_are_class_zero():
    hr = np.array([0.1, 0.749, 0.75, 1.249, 1.25, 2.0, 2.001, 5.0, 5.0, np.nan])
    depth = np.array([0.1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.05, np.nan])
    code = hazard_class_code(hr, depth)
    assert code.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 0, 0]
    assert list(hazard_class_name(code[[0, 2, 4, 6, 8]])) == ["low", "moderate", "significant", "extreme", "dry"]
    assert HAZARD_CLASSES == ("dry", "low", "moderate", "significant", "extreme")
