"""Feed formats and quality rules (floodtwin.feeds): each reader on a body of its format, the bodies
a reader must refuse, and each quality rule on a series that breaks it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from floodtwin.errors import ConfigError, FeedError
from floodtwin.feeds import (FeedsConfig, SourceSpec, check_observations, empty_observations, normalise, PARSERS,
                             station_status)
from floodtwin.feeds.formats import parse_sensorthings, parse_waterml2

UTC = timezone.utc
NOW = datetime(2026, 7, 20, 1, 0, tzinfo=UTC)
STATIONS = [{"id": "HYK", "stcd": "40105150", "name_zh": "花园口", "name_en": "Huayuankou", "role": "target",
             "min_discharge_m3s": 50}]


def cfg(**src) -> FeedsConfig:
    return FeedsConfig(stations=STATIONS, sources=[{"name": "s", "format": "sl323_csv", "path": "x", **src}])


def read(fmt: str, body: bytes, **src) -> pd.DataFrame:
    c = cfg(format=fmt, **src)
    return normalise(PARSERS[fmt](body, c.sources[0]), c.sources[0], c)


def test_sl323_csv_beijing_time_to_utc_and_both_variables():
    df = read("sl323_csv", "STCD,TM,Z,Q,WPTN\n40105150,2026-07-20 08:00:00,92.31,4210,5\n".encode())
    assert set(df["variable"]) == {"stage", "discharge"} and (df["qc"] == "ok").all()
    q = df[df["variable"] == "discharge"].iloc[0]
    assert q["value"] == 4210.0 and q["value_time"] == pd.Timestamp("2026-07-20T00:00:00Z")


def test_sl323_json_and_declared_units_convert():
    body = b'[{"STCD": "40105150", "TM": "2026-07-20 08:00:00", "Q": 4.21}]'
    df = read("sl323_json", body, discharge_units="1000 m3/s")
    assert df.iloc[0]["value"] == pytest.approx(4210.0) and df.iloc[0]["raw_value"] == 4.21


def test_bad_values_are_kept_rejected_and_other_stations_kept_ignored():
    body = ("STCD,TM,Q\n99999999,2026-07-20 08:00:00,100\n40105150,yesterday,100\n40105150,2026-07-20 08:00:00,"
            "n/a\n").encode()
    df = read("sl323_csv", body)
    assert list(df["qc"]) == ["ignored", "rejected", "rejected"]  # a basin-wide table holds other stations
    assert [r.split(" ")[0] for r in df["reason"]] == ["station", "time", "value"]
    status = station_status(check_observations(df, empty_observations(), now=NOW, cfg=cfg()), empty_observations(),
                            now=NOW, cfg=cfg())["HYK"]
    assert not any("99999999" in p for p in status.problems)


@pytest.mark.parametrize("body, words", [(b"STCD,TM,Q\n40105150,2026-07-20 08:00:00", "wrong number"),
                                         (b"<html>oops</html>", "missing column")])
def test_truncated_or_garbage_csv_refused(body, words):
    c = cfg()
    with pytest.raises(FeedError, match=words):
        PARSERS["sl323_csv"](body + b"\n40105150,2026" if words == "wrong number" else body, c.sources[0])


def test_waterml2_refuses_entities_and_external_entities():
    c = cfg(format="waterml2")
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><x>&b;</x>'
    with pytest.raises(FeedError, match="XML refused"):
        parse_waterml2(bomb, c.sources[0])
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    with pytest.raises(FeedError, match="XML refused"):
        parse_waterml2(xxe, c.sources[0])
    with pytest.raises(FeedError, match="not well-formed"):
        parse_waterml2(b"<wml2:Collection xmlns:wml2='http://www.opengis.net/waterml/2.0'><a>", c.sources[0])


def test_sensorthings_next_link_and_interval_time():
    c = cfg(format="sensorthings", station="HYK", variable="discharge")
    body = b'{"value": [{"phenomenonTime": "2026-07-20T00:00:00Z/2026-07-20T01:00:00Z", "result": 4100}], ' \
           b'"@iot.nextLink": "http://127.0.0.1/next"}'
    records, link = parse_sensorthings(body, c.sources[0])
    assert link == "http://127.0.0.1/next" and records[0]["time"] == "2026-07-20T01:00:00Z"


def test_config_refuses_url_and_path_together_and_unknown_units():
    with pytest.raises(ValueError, match="exactly one"):
        SourceSpec(name="a", format="csv", url="http://x", path="y")
    with pytest.raises(ValueError, match="discharge_units"):
        SourceSpec(name="a", format="csv", path="y", discharge_units="cfs")
    with pytest.raises(ConfigError, match="TOKEN_FOR_TEST"):
        SourceSpec(name="a", format="csv", url="https://x", auth={"env": "TOKEN_FOR_TEST"}).auth.value()


def series(values, start=NOW - timedelta(hours=5), step_h=1.0) -> pd.DataFrame:
    body = "STCD,TM,Q\n" + "".join(
        f"40105150,{(start + timedelta(hours=step_h * i)).astimezone(timezone(timedelta(hours=8))):%Y-%m-%d %H:%M:%S},"
        f"{v}\n" for i, v in enumerate(values))
    return read("sl323_csv", body.encode())


@pytest.mark.parametrize("values, bad, rule", [
    ([4000, 4050, 4100, -5, 4150], 3, "negative"),
    ([4000, 4050, 4100, 4_150_000, 4150], 3, "absurd"),
    ([4000, 4050, 4100, 4.1, 4150], 3, "unit"),
    ([4000, 4050, 4100, 9000, 4150], 3, "spike"),
])
def test_each_rule_rejects_one_value_and_the_series_goes_on(values, bad, rule):
    checked = check_observations(series(values), empty_observations(), now=NOW, cfg=cfg())
    assert list(checked["qc"] == "rejected").index(True) == bad and (checked["qc"] == "rejected").sum() == 1
    assert checked.iloc[bad]["reason"].startswith(rule)
    # the rejected value never becomes the reference: the next one is judged against the last good one
    assert checked.iloc[bad + 1]["qc"] == "ok"


def test_below_minimum_without_history_is_a_unit_mistake():
    checked = check_observations(series([4.2]), empty_observations(), now=NOW, cfg=cfg())
    assert checked.iloc[0]["qc"] == "rejected" and "1,000 m³/s" in checked.iloc[0]["reason"]


def test_gap_flagged_and_future_rejected():
    df = series([4000, 4100], start=NOW - timedelta(hours=40), step_h=36)
    checked = check_observations(df, empty_observations(), now=NOW, cfg=cfg())
    assert checked.iloc[1]["qc"] == "ok" and checked.iloc[1]["reason"].startswith("gap: 36 h")
    future = check_observations(series([4000], start=NOW + timedelta(hours=3)), empty_observations(), now=NOW, cfg=cfg())
    assert future.iloc[0]["reason"].startswith("future")


def test_status_falls_back_to_history_with_age_and_stale():
    c = cfg()
    history = check_observations(series([4000, 4100]), empty_observations(), now=NOW, cfg=c)
    later = NOW + timedelta(hours=40)
    status = station_status(empty_observations(), history, now=later, cfg=c)["HYK"]
    assert status.fallback and status.stale and status.value == 4100 and status.age_h == pytest.approx(44.0)
    assert any(p.startswith("stale") for p in status.problems)
    none = station_status(empty_observations(), empty_observations(), now=NOW, cfg=c)["HYK"]
    assert none.value is None and none.stale


def test_duplicates_of_stored_values_are_not_judged_again():
    c = cfg()
    first = check_observations(series([4000, 4100]), empty_observations(), now=NOW, cfg=c)
    again = check_observations(series([4000, 4100]), first, now=NOW, cfg=c)
    assert list(again["qc"]) == ["duplicate", "duplicate"]


def test_a_rejected_value_served_again_stays_rejected():
    c = cfg()
    first = check_observations(series([4000, 4100, 4.1]), empty_observations(), now=NOW, cfg=c)
    again = check_observations(series([4000, 4100, 4.1]), first, now=NOW, cfg=c)
    assert list(again["qc"]) == ["duplicate", "duplicate", "rejected"]
    assert again.iloc[2]["reason"].startswith("already rejected: unit")
    status = station_status(again, first, now=NOW, cfg=c)["HYK"]
    assert status.value == 4100 and not status.problems  # the bad value is neither used nor warned again


def test_a_jump_confirmed_by_the_next_value_is_real_not_a_spike():
    """A flood can rise faster than the rate rule: one value off is a spike, two that agree are a rise
    (else a real rise would be refused for ever, the gap growing as fast as the allowance)."""
    c = cfg()
    checked = check_observations(series([4000, 4100, 6000, 6150, 6300]), empty_observations(), now=NOW, cfg=c)
    assert list(checked["qc"]) == ["ok", "ok", "rejected", "ok", "ok"]
    assert checked.iloc[3]["reason"].startswith("jump confirmed: 6,000 then 6,150")
    # across runs: the spike stored by one run is confirmed by the next run's value
    first = check_observations(series([4000, 4100, 6000]), empty_observations(), now=NOW, cfg=c)
    later = check_observations(series([4000, 4100, 6000, 6150]), first, now=NOW, cfg=c)
    assert list(later["qc"]) == ["duplicate", "duplicate", "rejected", "ok"]
    # a lone spike and a drop the other way confirm nothing
    other = check_observations(series([4000, 4100, 9000, 1000, 4150]), empty_observations(), now=NOW, cfg=c)
    assert list(other["qc"]) == ["ok", "ok", "rejected", "rejected", "ok"]


def test_a_river_near_dry_may_rise_a_thousandfold():
    """The Qin River at Wuzhi: 0.016 m³/s on 2019-08-05, 136 m³/s the next day (the YRCC bulletin)."""
    near_dry = FeedsConfig(stations=[{**STATIONS[0], "min_discharge_m3s": 0}],
                           sources=[{"name": "s", "format": "sl323_csv", "path": "x"}])
    checked = check_observations(series([0.016, 136.0], start=NOW - timedelta(hours=25), step_h=24),
                                 empty_observations(), now=NOW, cfg=near_dry)
    assert list(checked["qc"]) == ["ok", "ok"], list(checked["reason"])
