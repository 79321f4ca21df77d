"""The variable table: every CF standard_name exists in the CF standard-name table and means the variable."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from floodtwin.variables import VARIABLES, annotate

compliance_checker = pytest.importorskip("compliance_checker")
cf_units = pytest.importorskip("cf_units")

#: the CF standard-name table shipped with the IOOS compliance checker (the test extra)
TABLE = Path(compliance_checker.__file__).parent / "data" / "cf-standard-name-table.xml"


@pytest.fixture(scope="module")
def cf_table() -> dict[str, str]:
    """standard_name -> canonical units, from the table XML."""
    root = ET.parse(TABLE).getroot()
    return {e.get("id"): (e.findtext("canonical_units") or "") for e in root.iter("entry")}


def test_every_standard_name_is_in_the_cf_table_with_compatible_units(cf_table):
    assert len(cf_table) > 4000, f"{TABLE}: expected the full CF table (v93 has 5023 entries), got {len(cf_table)}"
    for name, attrs in VARIABLES.items():
        if "standard_name" not in attrs:
            continue
        sn = attrs["standard_name"]
        assert sn in cf_table, f"{name}: standard_name {sn!r} is not in the CF standard-name table {TABLE.name}"
        canonical = cf_table[sn]
        if canonical and sn != "time":  # time's canonical unit is s; a time axis carries "s since <epoch>"
            assert cf_units.Unit(attrs["units"]).is_convertible(cf_units.Unit(canonical)), \
                f"{name}: units {attrs['units']!r} cannot express {sn} (CF canonical units {canonical!r})"


def test_units_are_valid_udunits():
    for name, attrs in VARIABLES.items():
        assert "long_name" in attrs and "units" in attrs, f"{name}: every variable has a long_name and units"
        cf_units.Unit(attrs["units"])  # raises ValueError for a unit UDUNITS-2 does not know


@pytest.mark.parametrize("variable, wrong", [
    ("depth", "sea_floor_depth_below_sea_surface"),  # an ocean quantity: the depth of the sea floor
    ("bed", "bedrock_altitude"),  # the rock under the sediment, not the river bed
    ("elevation", "height_above_reference_ellipsoid"),  # our heights are above a sea-level datum
    ("velocity_x", "eastward_water_velocity"),  # not in the CF table
])
def test_names_that_meant_something_else_are_gone(variable, wrong):
    assert VARIABLES[variable].get("standard_name") != wrong, f"{variable} must not be {wrong}"


def test_the_names_that_fit(cf_table):
    assert VARIABLES["stage"]["standard_name"] == "water_surface_height_above_reference_datum"
    assert VARIABLES["discharge"]["standard_name"] == "water_volume_transport_in_river_channel"
    assert VARIABLES["bed"]["standard_name"] == "ground_level_altitude"
    assert VARIABLES["elevation"]["standard_name"] == "surface_altitude"
    assert "standard_name" not in VARIABLES["depth"] and "standard_name" not in VARIABLES["velocity_x"]


def test_annotate_fills_attributes_and_keeps_the_callers():
    ds = xr.Dataset({"depth": (("y", "x"), np.zeros((2, 3))), "stage": ("x", np.zeros(3)), "other": ("x", np.ones(3))},
                    coords={"x": [0.0, 1.0, 2.0], "y": [1.0, 0.0]})
    ds["stage"].attrs["long_name"] = "stage at the posts"
    ds["x"].encoding["units"] = "km"
    out = annotate(ds)
    assert out is ds
    assert ds["depth"].attrs == VARIABLES["depth"]
    assert ds["stage"].attrs["long_name"] == "stage at the posts"  # the caller's attribute wins
    assert ds["stage"].attrs["standard_name"] == "water_surface_height_above_reference_datum"
    assert "units" not in ds["x"].attrs  # owned by the encoding, not duplicated
    assert ds["other"].attrs == {}
