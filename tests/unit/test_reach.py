"""The Huayuankou reach as data: inventory counts, geometry rules, DEM shape, validation errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from floodtwin.config import DATA_DIR
from floodtwin.errors import ConfigError, DataError
from floodtwin.reach import LAYER_SCHEMAS, GaugeRating, load_reach
from floodtwin.reach.build import build_layers, post_label
from floodtwin.reach.params import load_params

GPKG = DATA_DIR / "dikes" / "huayuankou.gpkg"
DEM = DATA_DIR / "dikes" / "huayuankou_dem_50m.nc"
YAML = DATA_DIR / "dikes" / "huayuankou.yaml"


# --- inventory ------------------------------------------------------------------------------
def test_inventory_counts(reach):
    grids = reach.grids
    assert (grids.level == "grid").sum() == 68
    assert (grids.level == "exclusive").sum() == 4
    assert len(reach.staff) == 294
    roles = reach.staff.role.value_counts()
    assert roles["micro_grid_leader"] == 28
    assert roles["grid_member"] == 136
    assert roles["grid_leader"] == 72  # one per grid, exclusive grids included
    assert roles["grid_leader"] + roles["team_member"] == 294 - 28 - 136
    assert len(reach.stones) == 249
    hyk = reach.works.set_index("works_id").loc["HYK"]
    assert (hyk.chainage_from_m, hyk.chainage_to_m) == (6663, 16738)
    assert hyk.n_structures == 152 and (hyk.n_spurs, hyk.n_short_spurs, hyk.n_revetments) == (41, 48, 63)
    assert (reach.spurs.works_id == "HYK").sum() == 152
    assert set(reach.works.works_id) == {"HYK", "EDX", "SZ", "MD"}
    assert reach.gauges.set_index("gauge_id").loc["HYK", "stcd"] == "40105150"
    general = reach.spurs.set_index("spur_id").loc["HYK-090"]
    assert general.name_zh == "将军坝"


def test_crs_is_cgcs2000_gk_114(reach):
    assert reach.crs.to_epsg() == 4547
    for name in LAYER_SCHEMAS:
        assert reach.layers[name].crs.to_epsg() == 4547
    assert "crs" in reach.dem.coords and "Gauss" in reach.dem.attrs["crs_wkt"]


def test_reach_length_and_town(reach):
    assert reach.centerline.length.iloc[0] == pytest.approx(27000, rel=0.03), \
        "docs/reach.md: 27 km of the Huiji reach along the dike; the river axis meanders within 3 %"
    right = reach.dikes[reach.dikes.bank == "right"]
    assert right.length.sum() == pytest.approx(27000, rel=1e-3), \
        "docs/reach.md: 27 km of dike; the build resamples the line every 5 m (0.1 %)"
    town = reach.grids[reach.grids.level == "grid"]
    assert town.area.sum() / 1e6 == pytest.approx(47.56, rel=0.005), \
        "docs/reach.md: the town's 47.56 km² of land; grid polygons are drawn to 0.5 %"


def test_every_stone_lies_on_a_spur_of_its_works(reach):
    spurs = reach.spurs.set_index("spur_id")
    works = reach.works.set_index("works_id")
    for stone in reach.stones.itertuples():
        spur = spurs.loc[stone.spur_id]
        assert spur.works_id == stone.works_id
        assert spur.kind in ("spur", "short_spur")
        assert spur.geometry.distance(stone.geometry) < 0.01, "stones are placed on their spur's line (1 cm: float rounding)"
        assert works.geometry[stone.works_id].contains(stone.geometry)
    per_works = reach.stones.works_id.value_counts()
    assert per_works.to_dict() == works.n_stones.to_dict()


def test_grids_tile_the_town_without_overlap(reach):
    from shapely import union_all

    grids = reach.grids[reach.grids.level == "grid"]
    union = union_all(list(grids.geometry))
    assert union.area == pytest.approx(grids.area.sum(), rel=1e-9), "no overlap: only float rounding of the union"
    assert union.geom_type == "Polygon"  # one piece, no gaps between grids
    assert not list(union.interiors)
    geoms = list(grids.geometry)
    worst = max(a.intersection(b).area for a, b in itertools.combinations(geoms, 2))
    assert worst < 1e-3, f"grids share edges only: {worst} m² of overlap is more than float rounding (1e-3 m²)"
    # exclusive grids lie over the town (their parents exist) and not over each other
    excl = reach.grids[reach.grids.level == "exclusive"]
    assert set(excl.parent) <= set(grids.grid_id)
    for a, b in itertools.combinations(list(excl.geometry), 2):
        assert a.intersection(b).area < 1e-3, "exclusive grids share edges only (1e-3 m²: float rounding)"


def test_each_staff_member_belongs_to_an_existing_grid(reach):
    assert set(reach.staff.grid_id) <= set(reach.grids.grid_id)
    leaders = reach.staff.set_index("staff_id")
    for g in reach.grids.itertuples():
        assert leaders.loc[g.leader_id, "grid_id"] == g.grid_id
        assert leaders.loc[g.leader_id, "role"] == "grid_leader"
    community = set(reach.grids.grid_id[reach.grids.kind == "community"])
    assert set(reach.staff.grid_id[reach.staff.role == "micro_grid_leader"]) == community


def test_staff_are_ids_and_roles_only(reach):
    assert set(reach.staff.columns) == {"staff_id", "role", "role_zh", "grid_id", "shift", "on_duty", "geometry"}
    assert reach.staff.staff_id.str.fullmatch(r"S\d{3}").all()  # no names, no phone numbers


def test_works_heads_are_the_heads_of_their_spurs(reach):
    from shapely.geometry import Point

    spurs = reach.spurs.set_index("spur_id")
    heads = reach.key_points[reach.key_points.kind == "works_head"]
    assert set(heads.spur_id) == {"HYK-090", "HYK-120", "SZ-012", "MD-027"}
    for k in heads.itertuples():
        spur = spurs.loc[k.spur_id]
        assert spur.works_id == k.works_id and spur.kind == "spur"
        assert k.geometry.distance(Point(spur.geometry.coords[-1])) < 0.01, "a key point sits on its spur's head (1 cm: rounding)"
        assert k.chainage_m == spur.chainage_m
    others = reach.key_points[reach.key_points.kind != "works_head"]
    assert (others.spur_id == "").all()
    assert spurs.loc["HYK-120", "name_zh"] == "东大坝" and spurs.loc["MD-027", "name_zh"] == "马渡险工27坝"


def test_villages_are_in_the_floodplain_and_in_town_grids(reach):
    t = reach.terrain
    for v in reach.villages.itertuples():
        s, n = t.frame.to_sn(v.geometry.x, v.geometry.y)
        assert 0 < n < t.channel_edges_m(s)[0]
        g = reach.grids.set_index("grid_id").geometry[v.grid_id]
        assert g.contains(v.geometry)
        assert v.population > 0 and v.special_attention <= v.population


def test_dike_chainage_posts(reach):
    right = reach.dikes[reach.dikes.bank == "right"].sort_values("chainage_from_m")
    assert list(right.post_from[:3]) == ["0+000", "1+000", "2+000"]
    assert post_label(6663) == "6+663" and post_label(16738) == "16+738"
    assert np.all(np.diff(right.chainage_from_m) == 1000)


# --- the DEM reproduces the cross-section ------------------------------------------------------
def _dem_at(reach, s, n):
    """DEM value (nearest cell) at chainage/offset points."""
    x, y = reach.terrain.frame.to_xy(np.asarray(s, float), np.asarray(n, float))
    return reach.dem.sel(x=xr_index(x), y=xr_index(y), method="nearest").values.diagonal()


def xr_index(v):
    import xarray as xr

    return xr.DataArray(np.atleast_1d(v), dims="p")


@pytest.mark.parametrize("s", [2500.0, 4000.0, 12000.0, 21400.0])
def test_dem_cross_section_shape(reach, s):
    t = reach.terrain
    dem = reach.dem
    x, y = t.frame.to_xy(np.full(3, s), np.array([0.0, 0.0, 0.0]))
    right_edge, left_edge = t.channel_edges_m(s)
    centre = t.channel_centre_m(s)
    z = lambda n: float(dem.sel(x=t.frame.to_xy(s, n)[0], y=t.frame.to_xy(s, n)[1], method="nearest"))
    bed = z(centre)
    lip = z(right_edge - 60)
    toe = z(t.dike_toe_offset_m(s) + 80)
    land = z(-600)
    crest = max(z(dn) for dn in (-25.0, 0.0, 25.0))
    # channel bed below the floodplain
    assert bed < lip - 2.0
    # the floodplain falls towards the dike toe where it is wide (secondary suspended river): steadily,
    # by the transverse slope up to its cap
    if right_edge > 1000:
        assert toe < lip - 0.3
        n = np.arange(t.dike_toe_offset_m(s) + 80, right_edge - 60, 50.0)
        profile = np.array([z(v) for v in n])
        assert np.all(np.diff(profile) > -0.02), "floodplain must not rise towards the dike toe"
        expected_drop = min(t.transverse_slope * (n[-1] - n[0]), t.max_drop_m)
        assert profile[-1] - profile[0] == pytest.approx(expected_drop, abs=0.1), \
            "the profile is sampled on a grid: the bank and toe cells shift the drop by < 0.1 m"
    # land behind the dike 4-6 m below the bed
    assert 4.0 <= bed - land <= 6.0 + 0.05
    # crest at least the design flood level + freeboard (within the DEM's cell sampling)
    design = float(t.design_level_m(s))
    assert crest >= design + t.freeboard_m - 0.05
    assert np.isfinite([bed, lip, toe, land, crest]).all()


def test_dike_segments_carry_crest_above_design_level_plus_freeboard(reach):
    fb = float(load_params(YAML).dikes.freeboard_m.value)
    d = reach.dikes
    assert (d.crest_elevation_m >= d.design_flood_level_m + fb - 1e-6).all()
    assert ((d.toe_elevation_m - d.land_elevation_m) > 4.0).all()


def test_dem_crest_line_is_watertight(reach):
    """Following the right dike, every DEM cell it crosses is at crest height: no gap for water."""
    t = reach.terrain
    s = np.arange(100.0, 26900.0, 10.0)
    x, y = t.frame.to_xy(s, np.zeros_like(s))
    import xarray as xr

    zc = reach.dem.sel(x=xr.DataArray(x, dims="p"), y=xr.DataArray(y, dims="p"), method="nearest").values
    assert np.all(zc >= t.design_level_m(s) + t.freeboard_m - 0.5)


def test_rating_tie(reach):
    # the channel is fitted to the Huayuankou rating points (2018-2019 bed)
    for q, z in [(1000, 88.9), (3000, 89.9), (4500, 90.7)]:
        assert reach.stage_at_gauge_m(q) == pytest.approx(z, abs=0.15), \
            "docs/reach.md rating points (2018-19 bed, [D]); the least-squares fit misses them by up to 0.15 m"
    stages = [reach.stage_at_gauge_m(q) for q in (1000, 3000, 6500, 10000, 15000, 22000)]
    assert np.all(np.diff(stages) > 0)
    gauge = reach.dikes[(reach.dikes.bank == "right") & (reach.dikes.chainage_from_m == 9000)].iloc[0]
    assert reach.stage_at_gauge_m(22000) == pytest.approx(gauge.design_flood_level_m, abs=0.2), \
        "the design level is sampled every 250 m and interpolated: 0.2 m at the gauge"


def test_build_is_deterministic_and_committed_files_are_current(tmp_path):
    """Building from the YAML reproduces the committed GeoPackage layers exactly."""
    import geopandas as gpd

    params = load_params(YAML)
    fresh = build_layers(params)
    for name, gdf in fresh.items():
        committed = gpd.read_file(GPKG, layer=name)
        assert list(committed.columns) == list(gdf.columns), name
        assert len(committed) == len(gdf), name
        assert committed.geometry.geom_equals_exact(gdf.geometry, tolerance=1e-6, align=False).all(), name
        for col in gdf.columns:
            if col != "geometry":
                assert list(committed[col]) == list(gdf[col]), (name, col)


def test_committed_dem_is_the_build_output():
    """The committed NetCDF DEM is exactly what the terrain model builds from the YAML (deterministic)."""
    from floodtwin.reach.load import read_dem
    from floodtwin.reach.terrain import ReachTerrain, build_dem

    fresh = build_dem(ReachTerrain(load_params(YAML)), 50.0)
    committed = read_dem(DEM)
    assert committed.shape == fresh.shape
    np.testing.assert_array_equal(committed.x.values, fresh.x.values)
    np.testing.assert_array_equal(committed.y.values, fresh.y.values)
    np.testing.assert_array_equal(committed.values, fresh.values)  # NaN where NaN, bit-equal elsewhere
    assert committed.attrs["units"] == "m" and committed.attrs["standard_name"] == "surface_altitude"


def test_loading_needs_no_terrain_model():
    """load_reach reads files only: the terrain model (floodtwin.reach.terrain and the scipy interpolation,
    optimisation and k-d tree it builds a DEM with) is not imported unless a DEM must be built. (scipy's
    package itself may be: xarray imports dask when it is installed, and dask imports scipy.sparse.)"""
    import subprocess
    import sys

    code = ("import sys, floodtwin; floodtwin.load_reach(); "
            "print(sorted(m for m in ('floodtwin.reach.terrain', 'scipy.interpolate', 'scipy.optimize', "
            "'scipy.spatial') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_dem_matches_rebuild_at_other_resolution():
    r100 = load_reach("huayuankou", resolution_m=100)  # no file: built from the YAML on the fly
    assert r100.resolution_m == 100
    r50 = load_reach("huayuankou")
    assert abs(float(np.nanmax(r100.dem)) - float(np.nanmax(r50.dem))) < 0.5, \
        "coarser cells sample the dike crest less often: the highest cell may differ by < 0.5 m"


# --- every kind of broken layer gives its one-line error ---------------------------------------
@pytest.fixture(scope="module")
def layers():
    import geopandas as gpd

    return {name: gpd.read_file(GPKG, layer=name) for name in LAYER_SCHEMAS}


def _write(tmp_path, layers, skip=()):
    path = tmp_path / "broken.gpkg"
    for name, gdf in layers.items():
        if name not in skip:
            gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path


def _expect(tmp_path, layers, match, skip=()):
    path = _write(tmp_path, layers, skip)
    with pytest.raises(DataError, match=match) as info:
        load_reach(path, dem_path=DEM)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_broken_missing_layer(tmp_path, layers):
    _expect(tmp_path, layers, r"broken\.gpkg: layer 'stones' is missing", skip=("stones",))


def test_broken_missing_column(tmp_path, layers):
    broken = dict(layers, villages=layers["villages"].drop(columns=["population"]))
    _expect(tmp_path, broken, r"layer 'villages': column 'population' is missing")


def test_broken_wrong_geometry_type(tmp_path, layers):
    works = layers["works"].copy()
    works["geometry"] = works.geometry.centroid
    _expect(tmp_path, dict(layers, works=works), r"layer 'works' feature HYK: geometry is Point, expected Polygon")


def test_broken_unknown_grid_reference(tmp_path, layers):
    villages = layers["villages"].copy()
    villages.loc[2, "grid_id"] = "G99"
    _expect(tmp_path, dict(layers, villages=villages), r"layer 'villages' feature V03: grid 'G99' does not exist")


def test_broken_unknown_works_reference(tmp_path, layers):
    stones = layers["stones"].copy()
    stones.loc[10, "works_id"] = "XYZ"
    _expect(tmp_path, dict(layers, stones=stones), r"layer 'stones' feature ST011: works 'XYZ' does not exist")


def test_broken_stone_off_its_works(tmp_path, layers):
    from shapely.affinity import translate

    stones = layers["stones"].copy()
    stones.loc[5, "geometry"] = translate(stones.geometry[5], 300.0, 300.0)
    _expect(tmp_path, dict(layers, stones=stones), r"layer 'stones' feature ST006: lies 4\d\d\.\d m from spur")


def test_broken_stone_outside_its_works(tmp_path, layers):
    from shapely.affinity import translate

    works = layers["works"].copy()
    i = int(np.flatnonzero(works.works_id == "SZ")[0])
    works.loc[i, "geometry"] = translate(works.geometry[i], 0.0, -400.0)  # the footprint moved off its spurs
    _expect(tmp_path, dict(layers, works=works), r"layer 'stones' feature ST\d{3}: lies outside its works SZ")


def test_broken_stone_spur_number(tmp_path, layers):
    stones = layers["stones"].copy()
    stones.loc[3, "spur_number"] = stones.spur_number[3] + 1
    _expect(tmp_path, dict(layers, stones=stones), r"feature ST004: spur_number \d+ does not match spur HYK-\d{3}")


def test_broken_key_point_spur(tmp_path, layers):
    keys = layers["key_points"].copy()
    keys.loc[keys.point_id == "K06", "spur_id"] = "MD-999"
    _expect(tmp_path, dict(layers, key_points=keys), r"layer 'key_points' feature K06: spur 'MD-999' does not exist")


def test_broken_stone_on_another_works_spur(tmp_path, layers):
    stones = layers["stones"].copy()
    stones.loc[0, "works_id"] = "MD"
    _expect(tmp_path, dict(layers, stones=stones), r"feature ST001: spur HYK-\d+ belongs to works HYK, not MD")


def test_broken_staff_in_no_grid(tmp_path, layers):
    staff = layers["staff"].copy()
    staff.loc[7, "grid_id"] = ""
    _expect(tmp_path, dict(layers, staff=staff), r"layer 'staff' feature S008: is in no grid")


def test_unit_duty_rosters(reach):
    """Issue 20.2: every unit of the plan has a leader and people on duty on both shifts, ids only."""
    units, staff = reach.units, reach.unit_staff
    assert set(units["unit_id"]) == {"works_team", "river_bureau", "materials_group", "rescue_team",
                                     "traffic_police", "hydrology", "info_office", "town_command"}
    on = staff[staff["on_duty"] & (staff["role"] == "unit_member")]
    assert all(set(on[on["unit_id"] == u]["shift"]) == {"A", "B"} for u in units["unit_id"])
    crews = staff[(staff["unit_id"] == "works_team") & (staff["role"] == "unit_member")]
    assert set(crews["works_id"]) == set(reach.works["works_id"])  # a crew at every works
    assert not set(staff["staff_id"]) & set(reach.staff["staff_id"]) and len(reach.staff) == 294
    assert set(staff.columns) - {"geometry"} == {"staff_id", "unit_id", "role", "role_zh", "works_id", "shift",
                                                 "on_duty"}


def test_broken_unit_rosters(tmp_path, layers):
    staff = layers["unit_staff"].copy()
    staff.loc[3, "unit_id"] = "navy"
    _expect(tmp_path, dict(layers, unit_staff=staff), r"layer 'unit_staff' feature WT-HYK-A03: unit 'navy' is not")
    units = layers["units"].copy()
    units.loc[0, "leader_id"] = "S001"
    _expect(tmp_path, dict(layers, units=units), r"layer 'units' feature works_team: leader 'S001' is not in its")


def test_broken_duplicate_id(tmp_path, layers):
    grids = layers["grids"].copy()
    grids.loc[1, "grid_id"] = "G01"
    _expect(tmp_path, dict(layers, grids=grids), r"layer 'grids' feature G01: duplicate grid_id")


def test_broken_wrong_crs(tmp_path, layers):
    converted = {name: gdf.to_crs(4326) for name, gdf in layers.items()}
    _expect(tmp_path, converted, r"reach CRS is EPSG:4326, expected EPSG:4547")


def test_broken_not_a_geopackage(tmp_path):
    bad = tmp_path / "junk.gpkg"
    bad.write_text("not a database")
    with pytest.raises(DataError, match=r"junk\.gpkg: cannot read as a GeoPackage"):
        load_reach(bad)


def test_missing_reach():
    with pytest.raises(DataError, match=r"nowhere\.gpkg: reach GeoPackage not found"):
        load_reach("nowhere")


def test_broken_parameter_file_names_line_and_key(tmp_path):
    text = YAML.read_text(encoding="utf-8").replace(
        "width_m: {value: 1000, unit: m, source: E", "width_m: {value: 1000, unit: m, source: X")
    path = tmp_path / "huayuankou.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "source: X" in ln)
    with pytest.raises(ConfigError, match=rf"huayuankou\.yaml:{line}: channel\.width_m\.source: "):
        load_params(path)


def test_parameter_totals_are_checked(tmp_path):
    text = YAML.read_text(encoding="utf-8").replace("stones: {value: 150,", "stones: {value: 151,")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"works stones add up to 250, stones.total says 249"):
        load_params(path)


def _user_dem(tmp_path, change):
    import xarray as xr

    with xr.open_dataset(DEM) as ds:
        ds = change(ds.load())
    path = tmp_path / "survey_dem.nc"
    ds.to_netcdf(path)
    return path


def test_user_dem_in_another_crs_is_refused(tmp_path):
    from pyproj import CRS

    utm = CRS.from_epsg(32649)

    def reproject_label(ds):
        ds["elevation"].attrs["crs_wkt"] = utm.to_wkt()
        ds["crs"].attrs.update(utm.to_cf())
        return ds

    with pytest.raises(DataError, match=r"survey_dem\.nc: DEM CRS is EPSG:32649, the reach layers are in EPSG:4547"):
        load_reach("huayuankou", dem_path=_user_dem(tmp_path, reproject_label))


def test_user_dem_that_misses_the_dikes_is_refused(tmp_path):
    path = _user_dem(tmp_path, lambda ds: ds.isel(x=slice(0, 200)))
    with pytest.raises(DataError, match=r"survey_dem\.nc: DEM covers x \d+–\d+, .* not the dikes"):
        load_reach("huayuankou", dem_path=path)


def test_user_dem_without_elevation_is_refused(tmp_path):
    path = _user_dem(tmp_path, lambda ds: ds.rename({"elevation": "height"}))
    with pytest.raises(DataError, match=r"survey_dem\.nc: no 'elevation' variable"):
        load_reach("huayuankou", dem_path=path)


def test_parameter_table_rows_are_checked(tmp_path):
    text = YAML.read_text(encoding="utf-8").replace(", 24, 61, -600]", ", 24, 61]")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("villages:"))
    with pytest.raises(ConfigError, match=rf"p\.yaml:{line}: villages: .*row 1 has 11 values, expected 12"):
        load_params(path)


def test_user_dem_replaces_the_built_one(tmp_path):
    """A survey DEM that differs from the built one (1.5 m higher, a hollow at one cell) is what loads."""
    path = _user_dem(tmp_path, lambda ds: ds.assign(elevation=ds["elevation"] + 1.5))
    import xarray as xr

    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds["elevation"][100, 100] = 60.0
    path.unlink()
    ds.to_netcdf(path)
    built = load_reach("huayuankou").dem
    r = load_reach("huayuankou", dem_path=path)
    assert r.dem.shape == built.shape
    assert float(r.dem[100, 100]) == 60.0
    diff = (r.dem - built).values
    finite = np.isfinite(diff)
    finite[100, 100] = False
    # the file's values exactly: +1.5 m everywhere else (float64 sums, so 1e-9 m is rounding only)
    np.testing.assert_allclose(diff[finite], 1.5, atol=1e-9, err_msg="float64 rounding of the +1.5 m offset")


def test_tabulated_gauge_rating_matches_the_section_model(reach):
    t = reach.terrain
    assert isinstance(reach.rating_table, GaugeRating) and reach.rating_table.discharge_m3s.size > 10
    for q in (800.0, 2500.0, 6500.0, 9000.0, 15700.0, 22000.0):
        assert reach.stage_at_gauge_m(q) == pytest.approx(t.normal_stage_m(reach.gauge_chainage_m, q), abs=0.002), \
            "build_gauge_rating: a dense log-spaced table, ~1 mm from the model by interpolation (2 mm bound)"
    assert np.all(np.diff(reach.rating_table.stage_m) >= 0)
    # the fallback level falls along the reach with the bed slope
    upstream = reach.fallback_water_level_m(22000, 0.0)
    downstream = reach.fallback_water_level_m(22000, 27000.0)
    assert upstream - downstream == pytest.approx(27000.0 * t.slope, rel=1e-9), "a straight line: float rounding only"


def test_broken_rating_table(tmp_path, layers):
    import pyogrio

    path = _write(tmp_path, layers)
    table = pyogrio.read_dataframe(GPKG, layer="gauge_rating").sort_values("discharge_m3s").reset_index(drop=True)
    table.loc[5, "stage_m"] = table.loc[4, "stage_m"] - 1.0
    pyogrio.write_dataframe(table, path, layer="gauge_rating")
    with pytest.raises(DataError, match=r"layer 'gauge_rating': discharge must rise and stage must not fall"):
        load_reach(path, dem_path=DEM)


def test_non_positive_discharge_is_refused(reach):
    from floodtwin.errors import InputError

    with pytest.raises(InputError, match="discharge 0.0 m³/s: expected a finite number > 0"):
        reach.stage_at_gauge_m(0.0)
