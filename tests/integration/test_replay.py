"""Replays of real seasons (the YRCC daily bulletin, data/yrcc): the level timeline the alert run
gives day by day on a simulated clock, against what the data and the preplan call for."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from floodtwin.alerts.replay import replay

REPO = Path(__file__).resolve().parents[2]
BULLETIN = REPO / "data" / "yrcc" / "daily_lower_river_2001_2019.csv"
XSD = etree.XMLSchema(etree.parse(str(REPO / "tests" / "fixtures" / "cap" / "CAP-v1.2.xsd")))
STAND_DOWN_M3S = 4000 * (1 - 0.05)  # the preplan's hysteresis: leave IV below 3,800 m³/s, held 6 h


@pytest.fixture(scope="module")
def season_2019(tmp_path_factory):
    work = tmp_path_factory.mktemp("replay2019")
    timeline = replay(BULLETIN, date(2019, 6, 20), date(2019, 7, 20), workdir=work, flooded_villages=lambda q: [])
    return timeline, work


def test_level_iv_when_huayuankou_passes_4000_and_normal_after_the_hold(season_2019):
    timeline, _ = season_2019
    assert [r["exit_code"] for r in timeline].count(3) == 0
    for r in timeline:  # an observed 4,000 m³/s or more is level IV, every day
        if r["observed_m3s"] >= 4000:
            assert r["tier"] == "IV", r
    first_obs = next(i for i, r in enumerate(timeline) if r["observed_m3s"] >= 4000)
    first_iv = next(i for i, r in enumerate(timeline) if r["tier"] == "IV")
    assert first_obs - 1 <= first_iv <= first_obs  # the forecast may raise it a day early, never later
    assert timeline[first_iv]["created"] > 50  # the level-IV tasks went out on that day
    if first_iv < first_obs:
        assert timeline[first_iv]["deciding"] == "forecast"
    # back to normal: on the second day that the deciding flow is under the stand-down level (6 h hold
    # < one day), with the level-IV tasks stood down that day
    def deciding(r):
        return max(v for v in (r["observed_m3s"], r["forecast_m3s"]) if v is not None)
    last_iv = max(i for i, r in enumerate(timeline) if r["tier"] == "IV")
    back = last_iv + 1
    assert timeline[back]["tier"] == "normal" and timeline[back]["stood_down"] > 50
    assert deciding(timeline[back - 1]) < STAND_DOWN_M3S and deciding(timeline[back]) < STAND_DOWN_M3S
    for r in timeline[first_iv:last_iv + 1]:
        assert r["tier"] == "IV" and r["stood_down"] == 0  # held through the dips above 3,800 m³/s
    assert [r["tier"] for r in timeline] == expected_tiers(timeline)


def expected_tiers(timeline: list[dict]) -> list[str]:
    """The preplan's rule on the deciding flow of each day (the higher of observed and forecast): IV
    from 4,000 m³/s; back to normal once the flow has been under 3,800 m³/s for the 6 h hold, i.e. on
    the second day in a row under it (one day apart > 6 h); a day back at 3,800 or more restarts it."""
    out, tier, below = [], "normal", 0
    for r in timeline:
        q = max(v for v in (r["observed_m3s"], r["forecast_m3s"]) if v is not None)
        if q >= 4000:
            tier, below = "IV", 0
        elif tier == "IV":
            below = below + 1 if q < STAND_DOWN_M3S else 0
            tier = "normal" if below >= 2 else "IV"
        out.append(tier)
    return out


@pytest.mark.parametrize("start, end", [(date(2012, 6, 15), date(2012, 7, 10)), (date(2018, 7, 10), date(2018, 7, 31)),
                                        (date(2019, 7, 31), date(2019, 8, 15))])
def test_other_seasons_follow_the_rule(start, end):
    timeline = replay(BULLETIN, start, end, cap=False)
    tiers = [r["tier"] for r in timeline]
    assert "IV" in tiers and tiers == expected_tiers(timeline)
    assert all(r["exit_code"] in (0, 1) for r in timeline)
    changes = [(a, b) for a, b in zip(timeline, timeline[1:]) if a["tier"] != b["tier"]]
    assert all((b["created"] if b["tier"] == "IV" else b["stood_down"]) > 50 for a, b in changes)


def test_season_writes_cap_alert_then_cancel(season_2019):
    timeline, work = season_2019
    files = sorted((work / "cap").glob("*.xml"))
    kinds = [f.stem.rsplit(".", 1)[-1] for f in files]
    assert kinds.count("Alert") == 1 and kinds.count("Cancel") == 1
    ns = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
    docs = {}
    for f in files:
        doc = etree.parse(str(f))
        XSD.assertValid(doc)
        docs[doc.findtext("c:msgType", namespaces=ns)] = doc
    alert, cancel = docs["Alert"], docs["Cancel"]
    assert alert.findtext("c:status", namespaces=ns) == "Exercise"  # a replay is a drill
    ref = cancel.findtext("c:references", namespaces=ns)
    assert ref.split(",")[1] == alert.findtext("c:identifier", namespaces=ns)
    params = {p.findtext("c:valueName", namespaces=ns): p.findtext("c:value", namespaces=ns)
              for p in alert.findall("c:info[1]/c:parameter", namespaces=ns)}
    assert params["level"] == "IV" and params["colour"] == "blue"


def test_cli_replay_prints_the_timeline(capsys):
    from floodtwin.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["replay", str(BULLETIN), "--from", "2019-06-28", "--to", "2019-07-02", "--no-cap"])
    assert exc.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["date", "observed", "forecast", "by", "level"]
    assert [ln.split()[0] for ln in lines[1:]] == ["2019-06-28", "2019-06-29", "2019-06-30", "2019-07-01",
                                                   "2019-07-02"]
    assert all(len(ln) <= 100 for ln in lines)
    assert " IV " in lines[3] and "normal" in lines[1]
