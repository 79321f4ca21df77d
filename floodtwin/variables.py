"""One table of result variables: name -> CF standard_name, long_name and units.

Every result Dataset is annotated from here (``annotate``), so a variable has the same name,
units and meaning in the 1D model, the 2D model, the flood-map library and the NetCDF files
(written and read by :mod:`floodtwin.results`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["VARIABLES", "annotate"]

# standard_name only where the CF standard-name table (v93, shipped with the IOOS compliance checker
# and checked in tests/unit/test_variables.py) has a name that means this variable; else long_name
# and units alone. Heights are above a vertical datum tied to mean sea level (the Dagu datum of the
# Yellow River or the national 1985 datum), i.e. near the geoid, so CF "altitude" names apply.
VARIABLES: dict[str, dict[str, str]] = {
    # the DEM: the land surface of the reach without water on it
    "elevation": {"standard_name": "surface_altitude", "long_name": "ground elevation above datum", "units": "m"},
    # the upper boundary of the solid ground, under the water too (channel bed, floodplain, dikes)
    "bed": {"standard_name": "ground_level_altitude", "long_name": "bed elevation above datum", "units": "m"},
    # no standard_name: flood_water_thickness is water on land "normally not covered by water", and the
    # depth here is also the water in the channel; CF "depth" is a distance below a surface (a coordinate)
    "depth": {"long_name": "water depth", "units": "m"},
    "stage": {"standard_name": "water_surface_height_above_reference_datum", "long_name": "water surface elevation", "units": "m"},
    "discharge": {"standard_name": "water_volume_transport_in_river_channel", "long_name": "discharge", "units": "m3 s-1"},
    # no standard_name: the table's eastward_/northward_flood_water_velocity exclude the channel, and
    # the components are along the projected grid's x (easting) and y (northing) axes
    "velocity_x": {"long_name": "depth-averaged velocity, x (easting) component", "units": "m s-1"},
    "velocity_y": {"long_name": "depth-averaged velocity, y (northing) component", "units": "m s-1"},
    "max_depth": {"long_name": "maximum water depth over the run", "units": "m"},
    "max_speed": {"long_name": "maximum depth-averaged speed over the run", "units": "m s-1"},
    "max_stage": {"long_name": "maximum water surface elevation over the run", "units": "m"},
    "time_of_max_depth": {"long_name": "time of maximum depth since the start of the run", "units": "s"},
    "time_of_max_stage": {"long_name": "time of maximum stage since the start of the run", "units": "s"},
    "arrival_time": {"long_name": "time when the depth first exceeds the arrival threshold", "units": "s"},
    "duration_above": {"long_name": "total time the depth exceeds the duration threshold", "units": "s"},
    # Defra/EA FD2320/FD2321 hazard rating h·(v + 0.5) + DF: dimensionless (a score, not a physical quantity)
    "max_hazard_rating": {"long_name": "maximum flood hazard rating over the run", "units": "1"},
    "velocity": {"long_name": "cross-section mean velocity", "units": "m s-1"},
    "area": {"long_name": "wetted cross-section area", "units": "m2"},
    "top_width": {"long_name": "water surface width", "units": "m"},
    "froude": {"long_name": "Froude number", "units": "1"},
    "freeboard": {"long_name": "dike crest minus water level", "units": "m"},
    "gauge_depth": {"long_name": "water depth at the gauge", "units": "m"},
    "gauge_stage": {"long_name": "water surface elevation at the gauge", "units": "m"},
    "gauge_velocity_x": {"long_name": "depth-averaged velocity at the gauge, x component", "units": "m s-1"},
    "gauge_velocity_y": {"long_name": "depth-averaged velocity at the gauge, y component", "units": "m s-1"},
    "gauge_x": {"long_name": "gauge easting", "units": "m"},
    "gauge_y": {"long_name": "gauge northing", "units": "m"},
    "time": {"standard_name": "time", "long_name": "time since the start of the run", "units": "s"},
    "x": {"standard_name": "projection_x_coordinate", "long_name": "easting", "units": "m"},
    "y": {"standard_name": "projection_y_coordinate", "long_name": "northing", "units": "m"},
    "chainage": {"long_name": "distance along the reach from its upstream end", "units": "m"},
}


def annotate(ds: Any) -> Any:
    """Set CF attributes on every variable and coordinate of ``ds`` that the table knows; return ds."""
    for name in list(ds.variables):
        if name in VARIABLES:
            for key, value in VARIABLES[name].items():
                # encoding-owned keys (units of a time coordinate) must not be duplicated in attrs
                if key == "units" and "units" in ds[name].encoding:
                    continue
                ds[name].attrs.setdefault(key, value)
    return ds
