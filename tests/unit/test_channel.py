"""Unit tests of the 1D channel: property tables, section validation, file readers, boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from floodtwin.errors import DataError, InputError
from floodtwin.hydraulics.channel import RatingCurve, steady_profile, steady_stage
from floodtwin.hydraulics.sections import Sections, read_sections


def _trapezoid(n_sec=5, bottom_m=50.0, side=2.0, depth=5.0, slope=1e-3, n=0.03):
    ch = np.linspace(0.0, 4000.0, n_sec)
    prof = []
    for c in ch:
        z = 100.0 - slope * c
        sta = np.array([0.0, side * depth, side * depth + bottom_m, 2 * side * depth + bottom_m])
        prof.append((sta, np.array([z + depth, z, z, z + depth])))
    return Sections.from_arrays(prof, ch, banks_m=[(0.0, sta[-1])] * n_sec, manning_n=(n, n, n))


def test_tables_match_trapezoid_geometry():
    sec = _trapezoid()
    for h in (0.5, 1.7, 3.3):
        p = sec.properties(0, 100.0 + h)
        area = h * (50.0 + 2.0 * h)
        perim = 50.0 + 2.0 * h * np.sqrt(5.0)
        # 2e-4 (source: the table is sampled on 801 levels with PCHIP between them; the levee fill ramp
        # of FILL_RAMP_M and the Hermite look-up leave errors of order (dz/h)^2 ~ 1e-4 on a trapezoid)
        assert p["area_m2"] == pytest.approx(area, rel=2e-4), "area (table interpolation)"
        assert p["top_width_m"] == pytest.approx(50.0 + 4.0 * h, rel=1e-9), "top width is linear in stage: exact to rounding"
        assert p["wetted_perimeter_m"] == pytest.approx(perim, rel=2e-4), "perimeter (table interpolation)"
        assert p["conveyance_m3s"] == pytest.approx(area * (area / perim) ** (2 / 3) / 0.03, rel=2e-4), \
            "conveyance (table interpolation)"
        assert p["alpha"] == pytest.approx(1.0), "one roughness: alpha = 1 (pytest.approx default 1e-6: rounding)"


def test_levee_keeps_the_low_floodplain_dry_until_overtopped():
    # channel 0..100 m between levee tops at 103 m; behind the right levee the ground drops to 101 m
    sta = np.array([-50.0, 0.0, 10.0, 90.0, 100.0, 150.0, 400.0])
    elev = np.array([104.0, 103.0, 100.0, 100.0, 103.0, 101.0, 106.0])
    sec = Sections.from_arrays([(sta, elev), (sta, elev - 0.1)], [0.0, 100.0], banks_m=[(0.0, 100.0)] * 2,
                               manning_n=(0.04, 0.02, 0.04))
    below = sec.properties(0, 102.5)
    assert below["top_width_m"] == pytest.approx(80.0 + 2 * 2.5 * 10 / 3, rel=1e-6), \
        "channel only: linear geometry, exact to the table's rounding (1e-6)"
    above = sec.properties(0, 103.5)
    assert above["top_width_m"] > 200.0  # the dike-toe zone fills once the levee is overtopped
    assert above["alpha"] > 1.0


@pytest.mark.parametrize("case, match", [
    ("few_points", "XS002: needs at least 3"),
    ("chainage", "XS003: non-monotonic chainage"),
    ("no_wet", "XS001: no wet area in the channel"),
    ("banks", "XS002: bank stations"),
    ("stations", "XS001: stations must rise"),
])
def test_bad_sections_name_the_section(case, match):
    sta = np.array([0.0, 10.0, 60.0, 70.0])
    elev = np.array([105.0, 100.0, 100.0, 105.0])
    prof = [(sta, elev)] * 3
    chain = [0.0, 100.0, 200.0]
    banks = [(0.0, 70.0)] * 3
    if case == "few_points":
        prof = [prof[0], (sta[:2], elev[:2]), prof[2]]
    elif case == "chainage":
        chain = [0.0, 100.0, 50.0]
    elif case == "no_wet":
        prof = [(sta, np.array([105.0, 100.0, 100.0, 99.0]))] + prof[1:]
        banks = [(0.0, 60.0)] + banks[1:]
    elif case == "banks":
        banks = [banks[0], (50.0, 20.0), banks[2]]
    elif case == "stations":
        prof = [(np.array([0.0, 10.0, 10.0, 70.0]), elev)] + prof[1:]
    with pytest.raises(DataError, match=match):
        Sections.from_arrays(prof, chain, banks_m=banks, manning_n=(0.03, 0.03, 0.03))


def test_crossing_sections_are_refused():
    from shapely.geometry import LineString

    sta = np.array([0.0, 10.0, 60.0, 70.0])
    elev = np.array([105.0, 100.0, 100.0, 105.0])
    lines = [LineString([(0, 0), (0, 70)]), LineString([(-10, 0), (10, 70)]), LineString([(200, 0), (200, 70)])]
    with pytest.raises(DataError, match="section XS001: crosses section XS002"):
        Sections.from_arrays([(sta, elev)] * 3, [0.0, 100.0, 200.0], banks_m=[(0.0, 70.0)] * 3,
                             manning_n=(0.03, 0.03, 0.03), lines=lines)


def test_rating_curve_must_rise():
    with pytest.raises(InputError, match="not monotonic at point 2"):
        RatingCurve([100.0, 200.0, 150.0], [1.0, 2.0, 3.0]).arrays()
    sec = _trapezoid()
    with pytest.raises(InputError, match="downstream boundary at section XS005: rating curve: not monotonic"):
        steady_profile(sec, 100.0, RatingCurve([100.0, 200.0], [97.0, 96.0]))
    from floodtwin.hydraulics.channel import simulate_1d

    with pytest.raises(InputError, match="section XS005: rating curve: not monotonic at point 1"):
        simulate_1d(sec, 100.0, 3600.0, downstream=RatingCurve([100.0, 200.0], [97.0, 96.0]))


def test_rating_boundary_sets_the_downstream_stage():
    sec = _trapezoid()
    z, crit = steady_stage(sec, 150.0, RatingCurve([100.0, 200.0], [98.0, 99.0]))
    assert z[-1] == pytest.approx(98.5), "the rating at 150 m³/s, linear between its points (approx default: rounding)"
    assert not crit.any()
    assert np.all(np.diff(z) < 0)  # a mild M1 backwater still falls downstream here


def test_supercritical_reach_is_flagged_critical():
    sec = _trapezoid(slope=0.02, n=0.012)
    ds = steady_profile(sec, 300.0, "normal")
    assert bool(ds["critical"].any())
    assert float(ds["froude"].max()) == pytest.approx(1.0, abs=1e-3), \
        "critical stage found to the table resolution (source: critical_stage bisects to ~1e-3 of the Froude number on the 801-level tables)"


def test_read_sections_csv_round_trip(tmp_path):
    rows = ["section_id,chainage_m,station_m,elevation_m,bank_left_m,bank_right_m,n_left,n_channel,n_right,crest_left_m,crest_right_m"]
    for sid, c in (("A", 0.0), ("B", 500.0), ("C", 1000.0)):
        z = 100.0 - 1e-3 * c
        for s, e in ((0, z + 5), (10, z), (60, z), (70, z + 5)):
            rows.append(f"{sid},{c},{s},{e},0,70,0.04,0.03,0.04,{z + 6},{z + 6.5}")
    path = tmp_path / "xs.csv"
    path.write_text("\n".join(rows) + "\n")
    sec = read_sections(path)
    assert sec.section_id == ["A", "B", "C"]
    assert np.allclose(sec.crest_right_m - sec.thalweg_m, 6.5), "read back exactly (np.allclose default: CSV decimal rounding)"
    ds = steady_profile(sec, 80.0)
    assert ds.sizes["chainage"] == 3


def test_read_sections_reports_missing_columns_and_bad_values(tmp_path):
    path = tmp_path / "xs.csv"
    path.write_text("section_id,chainage_m,station_m\nA,0,0\n")
    with pytest.raises(DataError, match="missing column"):
        read_sections(path)
    rows = ["section_id,chainage_m,station_m,elevation_m,bank_left_m,bank_right_m,n_left,n_channel,n_right"]
    rows += ["A,0,0,105,0,70,0.04,0.03,0.04", "A,0,10,100,0,70,0.04,0.03,0.04", "A,0,70,105,0,71,0.04,0.03,0.04"]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="section A: column bank_right_m differs"):
        read_sections(path)


def test_read_sections_geopackage_checks_crossing(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    recs = []
    for sid, c, x0 in (("A", 0.0, 0.0), ("B", 100.0, 100.0), ("C", 200.0, 150.0)):
        z = 100.0 - 1e-3 * c
        for s, e in ((0, z + 5), (10, z), (60, z), (70, z + 5)):
            # section C leans back across B
            x = x0 - (s * 1.5 if sid == "C" else 0.0)
            recs.append({"section_id": sid, "chainage_m": c, "station_m": s, "elevation_m": e, "bank_left_m": 0.0,
                         "bank_right_m": 70.0, "n_left": 0.04, "n_channel": 0.03, "n_right": 0.04,
                         "geometry": Point(x, s)})
    path = tmp_path / "xs.gpkg"
    gpd.GeoDataFrame(recs, crs="EPSG:4547").to_file(path, layer="sections")
    with pytest.raises(DataError, match="section B: crosses section C"):
        read_sections(path)


def test_unsteady_bad_arguments():
    from floodtwin.hydraulics.channel import simulate_1d

    sec = _trapezoid()
    with pytest.raises(InputError, match="theta"):
        simulate_1d(sec, 100.0, 3600.0, theta=0.3)
    with pytest.raises(InputError, match="multiple of dt_s"):
        simulate_1d(sec, 100.0, 3600.0, dt_s=70.0, output_interval_s=100.0)
    with pytest.raises(InputError, match="inflow_m3s: series covers"):
        simulate_1d(sec, ([0.0, 1000.0], [100.0, 120.0]), 3600.0)
