"""The full run's physics on the real reach: the coupled 1D channel + 2D floodplain model of Huayuankou.

Small runs where they suffice: the 100 m grid (a quarter of the 50 m cells, twice the time step),
steady flows held for some hours. The 50 m design run is measured in benchmarks/bench_full.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from floodtwin.hydrograph import Hydrograph, load_scenario
from floodtwin.reach import load_reach
from floodtwin.scenario import run_scenario

LADDER_M3S = (4000, 6500, 8000, 10000, 15000, 22000)


@pytest.fixture(scope="module")
def reach100():
    return load_reach("huayuankou", resolution_m=100)


def _held(q_m3s: float, hours: float) -> Hydrograph:
    return Hydrograph(np.array([0.0, hours * 3600.0]), np.array([q_m3s, q_m3s], float))


@pytest.fixture(scope="module")
def ladder(reach100):
    """One full run per flow, each held 8 h from the channel's steady state with a dry floodplain."""
    return {q: run_scenario(hydrograph=_held(q, 8.0), name=f"held-{q}", full=True, reach=reach100)
            for q in LADDER_M3S}


def test_the_coupled_volume_balances_to_far_below_a_millionth_of_the_inflow(ladder):
    for q, r in ladder.items():
        err = r.flood_summary["mass_balance_relative_error"]
        assert err < 1e-6, (q, err)


def test_flooded_area_volume_and_people_never_fall_as_the_flow_rises(ladder):
    rows = [(q, r.flood_summary["floodplain_inundated_area_km2"], r.flood_summary["floodplain_volume_peak_m3"],
             r.people_to_move()["population"]) for q, r in sorted(ladder.items())]
    for (q0, a0, v0, p0), (q1, a1, v1, p1) in zip(rows, rows[1:]):
        assert a1 >= a0 and v1 >= v0 and p1 >= p0, (q0, q1, rows)
    assert rows[-1][1] > 100.0, "22,000 m³/s floods the floodplain between the dikes widely"
    assert rows[0][1] < rows[-1][1] / 10


def test_no_floodplain_village_floods_at_or_below_5000(reach100, ladder):
    # bankfull at Huayuankou was at least 6,500 m³/s in 2022 (docs/scenarios.md)
    at_5000 = run_scenario(hydrograph=_held(5000.0, 8.0), name="held-5000", full=True, reach=reach100)
    for r in (ladder[4000], at_5000):
        assert not r.villages["flooded"].any(), r.villages[["village_id", "max_depth_m"]]
        assert (r.villages["hazard_class"] == "dry").all()


def test_the_design_flood_floods_between_the_dikes_only_and_tops_no_dike(reach100):
    r = run_scenario(22000.0, full=True, reach=reach100)
    assert (r.decision.tier, r.decision.colour) == ("I", "red")
    s = r.flood_summary
    assert s["floodplain_inundated_area_km2"] > 100.0
    assert s["behind_dikes_inundated_area_km2"] == 0.0, "the land behind the dikes stays dry"
    assert (r.dikes["freeboard_m"] > 0).all(), r.dikes.sort_values("freeboard_m").head(3)
    v = r.villages
    assert v["flooded"].all() and np.isfinite(v["arrival_time_s"]).all()
    assert set(v["hazard_class"]) <= {"low", "moderate", "significant", "extreme"}
    # the 2D answer drives the plan: its risk facts are the 2D run's
    assert "coupled 1D–2D" in r.method
    d = r.to_dict()
    assert d["model"] == "coupled 1D-2D" and sum(d["villages_by_hazard"].values()) == len(v)


def _wet_behind(reach, flood) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells under more than 5 cm at the flood's peak, and the land behind the right and the left dike."""
    t = reach.terrain
    xx, yy = np.meshgrid(flood.x.values, flood.y.values)
    s, n = t.frame.to_sn(xx.ravel(), yy.ravel())
    n = n.reshape(xx.shape)
    wet = np.nan_to_num(flood["max_depth"].values) > 0.05
    return wet, n < 0, n > t.spacing_m(s).reshape(xx.shape)


@pytest.mark.parametrize("name, side", [("breach-right", "right"), ("breach-left", "left")])
def test_a_breach_floods_the_land_behind_that_dike(reach100, name, side):
    sc = load_scenario(name)
    assert [b.bank for b in sc.breaches] == [side]
    r = run_scenario(hydrograph=sc.hydrograph, name=sc.name, full=True, breaches=sc.breaches, reach=reach100)
    wet, behind_right, behind_left = _wet_behind(reach100, r.flood)
    cell_km2 = reach100.resolution_m ** 2 / 1e6
    this, other = (behind_right, behind_left) if side == "right" else (behind_left, behind_right)
    assert (wet & this).sum() * cell_km2 > 1.0, "the land behind the breached dike is under water"
    assert not (wet & other).any(), "the other bank's land stays dry"
    assert r.flood_summary["behind_dikes_inundated_area_km2"] > 1.0
    if side == "right":  # the town's grids lie behind the right dike: some of them are flooded
        g = r.layers["grids"]
        assert (g["flooded_area_km2"] > 0.1).any()


def test_two_breaches_in_one_run_flood_the_land_behind_both_dikes(reach100):
    """Both breach cases at once (the CLI's repeated --breach): each dike's gap floods its own land."""
    right, left = load_scenario("breach-right"), load_scenario("breach-left")
    r = run_scenario(hydrograph=right.hydrograph, name="two-breaches", full=True,
                     breaches=right.breaches + left.breaches, reach=reach100)
    wet, behind_right, behind_left = _wet_behind(reach100, r.flood)
    cell_km2 = reach100.resolution_m ** 2 / 1e6
    assert (wet & behind_right).sum() * cell_km2 > 1.0 and (wet & behind_left).sum() * cell_km2 > 1.0
    assert r.flood_summary["mass_balance_relative_error"] < 1e-6
    assert "breach at 11,700 m right" in r.method and "breach at 5,500 m left" in r.method
    # the breaches are a layer of the run (maps, risk.gpkg): each on its own bank's dike line
    b = r.layers["breaches"]
    assert list(b.breach_id) == ["B1", "B2"] and list(b.post) == ["11+700", "5+500"]
    for point, bank in zip(b.geometry, b.bank):
        dikes = reach100.dikes[reach100.dikes["bank"] == bank]
        assert dikes.distance(point).min() < 1.0


def test_in_bank_stage_at_the_gauge_follows_the_calibrated_rating(reach100):
    """A slow in-bank rise 2,000 → 5,000 m³/s: the coupled run's stage at the Huayuankou gauge stays
    within 0.3 m of the calibrated model rating of the discharge passing the gauge."""
    from floodtwin.hydraulics import simulate_coupled
    from floodtwin.hydraulics.calibration import rating

    t = np.array([0.0, 24 * 3600.0])
    ds = simulate_coupled(reach100, (t, np.array([2000.0, 5000.0])), float(t[-1]))
    chain = ds["chainage"].values
    k = int(np.argmin(np.abs(chain - reach100.gauge_chainage_m)))
    rows = np.arange(0, ds.sizes["time"], 60)  # hourly
    q = ds["discharge"].values[rows, k]
    z = ds["stage"].values[rows, k]
    expected = rating(reach100, q)
    assert np.abs(z - expected).max() < 0.3, np.abs(z - expected).max()
    assert float(ds["max_depth"].max()) <= 0.05 or ds.attrs["bank_exchange_volume_m3"] < 1e5  # in bank: no spill


def test_the_full_command_writes_every_file_and_shows_the_map(tmp_path, capsys, monkeypatch):
    from floodtwin.cli import main

    monkeypatch.setenv("COLUMNS", "100")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_:
        main(["scenario", "--full", "--discharge", "22000", "--resolution", "100", "--out", str(out), "--quiet"])
    assert exit_.value.code in (0, None)
    text = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["map.html", "map.png", "result.nc", "risk.gpkg", "summary.json",
                                                     "tasks.csv", "tasks.json"]
    assert str(out / "map.png") in text and "coupled 1D–2D run" in text and "Level I" in text
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["tier"] == "I" and summary["model"] == "coupled 1D-2D"
    assert summary["flood"]["floodplain_inundated_area_km2"] > 100
    import pyogrio

    assert {name for name, _ in pyogrio.list_layers(out / "risk.gpkg")} == {"villages", "grids", "dikes", "works",
                                                                             "hazard"}
    assert len(json.loads((out / "tasks.json").read_text(encoding="utf-8"))) == summary["task_count"]


@pytest.mark.parametrize("args, words", [
    (["--scenario", "nosuch"], "nosuch"),
    (["--hydrograph", "{tmp}/no_column.csv"], "discharge_m3s"),
    (["--hydrograph", "{tmp}/backwards.csv"], "line 3"),
    (["--hydrograph", "{tmp}/negative.csv"], "negative"),
    (["--hydrograph", "{tmp}/text.csv"], "'lots' is not a number"),
    (["--discharge", "0"], "--discharge"),
    (["--discharge", "150000"], "--discharge"),
    (["--discharge", "22000", "--breach", "99000:right"], "chainage outside the right dike"),
    (["--discharge", "22000", "--breach", "12000:middle"], "bank 'middle'"),
    (["--discharge", "22000", "--breach", "12000:right@200"], "after the end of the run"),
    (["--discharge", "22000", "--out", "{tmp}/plain.txt/run"], "is a file"),
    (["--discharge", "22000", "--resolution", "30"], "--resolution 30"),
    (["--discharge", "22000", "--layer", "speed"], "--layer speed"),
])
def test_bad_input_of_the_full_run_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch, args, words):
    from floodtwin.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "no_column.csv").write_text("time_h,flow\n0,3000\n6,5000\n", encoding="utf-8")
    (tmp_path / "backwards.csv").write_text("time_h,discharge_m3s\n0,3000\n6,5000\n3,4000\n", encoding="utf-8")
    (tmp_path / "negative.csv").write_text("time_h,discharge_m3s\n0,3000\n6,-5\n", encoding="utf-8")
    (tmp_path / "text.csv").write_text("time_h,discharge_m3s\n0,3000\n6,lots\n", encoding="utf-8")
    (tmp_path / "plain.txt").write_text("x", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as exit_:
        main(["scenario", "--full", "--quiet", *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert exit_.value.code == 2, (exit_.value.code, err)
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in err, lines
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing is written, not even outputs/"
