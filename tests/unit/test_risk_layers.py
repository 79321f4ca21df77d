"""Risk of villages, grids, dikes and works from a 2D flood, on a small synthetic grid with known fields."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr

from floodtwin.errors import InputError
from floodtwin.risk import (
    cell_values_near, dike_risk, flood_summary, grid_risk, hazard_polygons, hazard_rating, village_risk, works_risk,
)

DX = 50.0


def _flood(ny=20, nx=30):
    x = 1000.0 + DX * np.arange(nx)
    y = 5000.0 - DX * np.arange(ny)  # north up, as the reach DEM
    depth = np.zeros((ny, nx))
    depth[:, 10:20] = 1.0  # a 500 m wide band 1 m deep
    depth[5, 15] = 2.5  # one deep cell
    speed = np.where(depth > 0, 0.5, 0.0)
    arrival = np.where(depth > 0.05, 3600.0, np.nan)
    arrival[:, 15] = 1800.0
    ds = xr.Dataset({
        "max_depth": (("y", "x"), depth), "max_speed": (("y", "x"), speed), "arrival_time": (("y", "x"), arrival),
        "duration_above": (("y", "x"), np.where(depth > 0.3, 7200.0, 0.0)),
        "max_hazard_rating": (("y", "x"), hazard_rating(depth, speed)),
        "bed": (("y", "x"), np.full((ny, nx), 80.0)),
    }, coords={"x": x, "y": y})
    ds["max_depth"][0, 0] = np.nan  # outside the model
    return ds


def _pt(col, row):
    return shapely.Point(1000.0 + DX * col, 5000.0 - DX * row)


def test_village_takes_the_worst_cell_within_its_radius():
    flood = _flood()
    villages = gpd.GeoDataFrame({"village_id": ["A", "B", "C"], "population": [10, 20, 30], "households": [3, 6, 9],
                                 "special_attention": [1, 2, 3], "grid_id": ["G1", "G1", "G2"],
                                 "name_zh": ["甲", "乙", "丙"], "name_en": ["A", "B", "C"]},
                                geometry=[_pt(16, 5), _pt(2, 2), _pt(12, 10)], crs="EPSG:4547")
    out = village_risk(villages, flood, radius_m=60.0)
    a, b, c = out.itertuples()
    assert a.max_depth_m == 2.5 and a.arrival_time_s == 1800.0  # the deep cell 50 m away, the early column
    assert a.hazard_class == "extreme"  # 2.5·1.0 + 0.5 = 3.0
    assert not b.flooded and b.hazard_class == "dry" and np.isnan(b.arrival_time_s)
    assert c.max_depth_m == 1.0 and c.hazard_rating == pytest.approx(1.5) and c.hazard_class == "significant"
    assert c.duration_above_s == 7200.0
    grids = gpd.GeoDataFrame({"grid_id": ["G1", "G2"]},
                             geometry=[shapely.box(1000 - 25, 4500 - 25 + 1, 1000 + 29 * DX + 25, 5025),
                                       shapely.box(1000 - 25, 4000, 1000 + 29 * DX + 25, 4500 - 25)], crs="EPSG:4547")
    g = grid_risk(grids, flood, out, task_lines={"G1": ["3 min · patrol · S001 (grid_leader)"]})
    # G1 holds rows 0..10 (11 rows) of the 10 wet columns
    assert g.loc[0, "flooded_area_km2"] == pytest.approx(11 * 10 * DX * DX / 1e6)
    assert g.loc[0, "people"] == 10 and g.loc[1, "people"] == 30  # B is dry: not counted
    assert g.loc[0, "task_count"] == 1 and g.loc[1, "task_count"] == 0
    assert "甲 A" in g.loc[0, "villages"] and "乙" not in g.loc[0, "villages"]


def test_dike_water_is_the_higher_of_channel_and_floodplain():
    flood = _flood()
    dikes = gpd.GeoDataFrame({"segment_id": ["S1", "S2"], "crest_elevation_m": [82.0, 82.0],
                              "max_water_level_m": [80.5, 81.8]}, geometry=[_pt(0, 0), _pt(1, 1)], crs="EPSG:4547")
    toes = {"S1": (np.array([1000 + 12 * DX]), np.array([5000 - 3 * DX])), "S2": (np.array([1000 + 2 * DX]),
                                                                                np.array([5000 - 3 * DX]))}
    out = dike_risk(dikes, flood, toes)
    assert out.loc[0, "toe_depth_m"] == 1.0 and out.loc[0, "water_source"] == "floodplain"
    assert out.loc[0, "freeboard_m"] == pytest.approx(1.0)  # crest 82 − (bed 80 + 1 m)
    assert out.loc[1, "toe_depth_m"] == 0.0 and out.loc[1, "water_source"] == "channel"
    assert out.loc[1, "freeboard_m"] == pytest.approx(0.2) and out.loc[1, "freeboard_class"] == "lt_1m"


def test_works_speed_is_the_larger_of_channel_and_2d_at_the_spur_heads():
    flood = _flood()
    works = gpd.GeoDataFrame({"works_id": ["W1", "W2"]}, geometry=[_pt(0, 0), _pt(1, 1)], crs="EPSG:4547")
    spurs = gpd.GeoDataFrame({"spur_id": ["W1-1", "W1-2", "W2-1"], "works_id": ["W1", "W1", "W2"],
                              "chainage_m": [100.0, 200.0, 300.0]},
                             geometry=[shapely.LineString([_pt(0, 3), _pt(12, 3)]),  # head in the wet band
                                       shapely.LineString([_pt(0, 4), _pt(3, 4)]),
                                       shapely.LineString([_pt(0, 5), _pt(3, 5)])], crs="EPSG:4547")
    out = works_risk(works, spurs, flood, lambda s: np.where(np.asarray(s) > 250, 2.4, 0.2))
    assert out.loc[0, "max_speed_ms"] == 0.5 and out.loc[0, "spur_max"] == "W1-1" and not out.loc[0, "attack"]
    assert out.loc[1, "max_speed_ms"] == 2.4 and out.loc[1, "attack"]


def test_hazard_polygons_cover_exactly_the_class_cells_and_summary_adds_up():
    flood = _flood()
    poly = hazard_polygons(flood, crs="EPSG:4547")
    by = dict(zip(poly["hazard_class"], poly["area_km2"]))
    cell = DX * DX / 1e6
    assert by == pytest.approx({"significant": (20 * 10 - 1) * cell, "extreme": cell})
    s = flood_summary(flood)
    assert s["inundated_area_km2"] == pytest.approx(200 * cell)
    assert s["max_depth_volume_m3"] == pytest.approx((199 * 1.0 + 2.5) * DX * DX)
    assert s["area_significant_km2"] + s["area_extreme_km2"] == pytest.approx(s["inundated_area_km2"])


def test_a_flood_without_its_fields_is_refused_in_one_line():
    flood = _flood().drop_vars("max_hazard_rating")
    with pytest.raises(InputError, match="missing per-cell field.*max_hazard_rating"):
        hazard_polygons(flood)
    assert np.isnan(cell_values_near(_flood(), "max_depth", [0.0], [0.0], 50.0)[0])  # off the grid
