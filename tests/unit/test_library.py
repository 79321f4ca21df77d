"""The flood-map library's pure parts: the level above the bed that lets the wet edge move, the village
cells (the same cells the risk layer takes), the member discharges, the input files it hashes."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.errors import InputError
from floodtwin.library.build import library_discharges, member_name
from floodtwin.library.store import level_above_bed, village_cells


def test_level_above_bed_is_depth_where_wet_and_the_nearest_surface_below_ground_where_dry():
    bed = np.array([[90.0, 90.5, 91.0, 92.0, np.nan]])
    depth = np.array([[1.0, 0.2, 0.0, 0.0, np.nan]])
    out = level_above_bed(depth, bed, np.full(bed.shape, 95.0))
    # wet: the depth itself; dry: nearest wet surface (90.5 + 0.2 = 90.7) minus the bed, never above 0
    np.testing.assert_allclose(out[0, :4], [1.0, 0.2, 90.7 - 91.0, 90.7 - 92.0])
    assert np.isnan(out[0, 4])


def test_level_above_bed_dry_land_above_a_surface_higher_than_it_stays_at_zero():
    # a cell lower than the nearest water surface but still dry (behind a rise): level 0, not a depth
    out = level_above_bed(np.array([[0.5, 0.0]]), np.array([[90.0, 89.0]]), np.full((1, 2), 95.0))
    np.testing.assert_allclose(out, [[0.5, 0.0]])


def test_level_above_bed_without_any_water_uses_the_channel_level():
    bed = np.array([[90.0, 92.0]])
    out = level_above_bed(np.zeros((1, 2)), bed, np.array([[89.0, 89.5]]))
    np.testing.assert_allclose(out, [[-1.0, -2.5]])


def test_village_cells_are_the_cells_the_risk_layer_takes():
    import xarray as xr

    from floodtwin.risk import cell_values_near

    rng = np.random.default_rng(3)
    x = np.arange(0.0, 2000.0, 50.0) + 25.0
    y = np.arange(3000.0, 0.0, -50.0) - 25.0
    field = rng.random((y.size, x.size))
    field[5:9, 3:6] = np.nan
    flood = xr.Dataset({"f": (("y", "x"), field)}, coords={"x": x, "y": y})
    px = np.array([130.0, 1000.2, 1980.0, 5000.0, 230.0])
    py = np.array([2800.0, 1500.0, 20.0, 100.0, 2650.0])
    cells = village_cells(x, y, px, py, 100.0)
    flat = field.ravel()
    got = np.array([np.nanmax(flat[c[c >= 0]]) if (c >= 0).any() and np.isfinite(flat[c[c >= 0]]).any() else np.nan
                    for c in cells])
    want = cell_values_near(flood, "f", px, py, 100.0)
    np.testing.assert_allclose(got, want)
    assert not (cells[3] >= 0).any()  # off the grid: no cells


def test_member_discharges_and_names():
    assert library_discharges(2000, 25000, 1000) == [float(q) for q in range(2000, 25001, 1000)]
    assert member_name(7500) == "q07500" and member_name(22000) == "q22000"
    with pytest.raises(InputError, match="whole steps"):
        library_discharges(2000, 25000, 700)
    with pytest.raises(InputError, match="--to"):
        library_discharges(5000, 5000, 1000)
    with pytest.raises(InputError, match="--step"):
        library_discharges(2000, 25000, 0)


def test_the_hashed_inputs_are_the_files_the_model_reads(reach):
    from floodtwin.hydraulics.sections import calibration_path
    from floodtwin.hydrograph import default_scenario_path
    from floodtwin.library.inputs import input_paths

    paths = input_paths("huayuankou", 50.0)
    assert paths["calibration"] == calibration_path(reach)
    assert paths["hydrograph"] == default_scenario_path()
    assert paths["dem"] is not None and paths["dem"].name == "huayuankou_dem_50m.nc"
    assert input_paths("huayuankou", 100.0)["dem"] is None  # the 100 m grid is built from the parameters
