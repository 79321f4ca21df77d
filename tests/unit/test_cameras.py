"""Camera and video-analytics events (issue 20.4): validation with every rejection kept and its reason,
placing at the camera's grid, the YAML rules that make tasks (clear the floodplain road at level III+,
a dike-toe patrol and the tier trigger, the crowd switch of the working mode)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from floodtwin import alerts
from floodtwin.db import connect
from floodtwin.dispatch.modes import current_mode, set_mode
from floodtwin.dispatch.roster import load_roster
from floodtwin.dispatch.settings import load_config
from floodtwin.reports.cameras import CameraIndex, list_events, load_camera_rules, receive_events

T0 = datetime(2026, 7, 21, 2, 0, tzinfo=UTC)  # 10:00 in Zhengzhou


@pytest.fixture(scope="module")
def index():
    return CameraIndex.read("huayuankou")


@pytest.fixture()
def conn(tmp_path):
    c = connect(tmp_path / "ft.sqlite")
    yield c
    c.close()


def event(camera="C06", kind="person_in_closed_zone", minutes=-2.0, confidence=0.9, **over):
    doc = {"camera_id": camera, "time": (T0 + timedelta(minutes=minutes)).isoformat(), "kind": kind,
           "confidence": confidence, "snapshot": f"snap/{camera}/{int(minutes * 60)}.jpg", **over}
    return json.dumps({k: v for k, v in doc.items() if v is not None})


def feed(conn, lines, index, now=T0, **kw):
    return receive_events(conn, [(line, f"test:{i + 1}") for i, line in enumerate(lines)], now=now, index=index,
                          config=load_config(), **kw)


def test_the_camera_layer_places_each_camera_in_a_grid(index):
    cams = index.cameras
    assert len(cams) >= 12 and {c.kind for c in cams.values()} >= {"floodplain", "dike_toe", "scenic", "works"}
    assert cams["C06"].floodplain and cams["C06"].grid_id == "G09"
    assert cams["C12"].grid_id == "X03" and cams["C12"].exclusive and not cams["C12"].floodplain
    assert cams["C09"].segment_id == "R-005" and 34.8 < cams["C09"].lat < 35.0


@pytest.mark.parametrize("line, reason", [
    ("{broken", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (event(camera="C99"), "unknown camera 'C99'"),
    (event(kind="ufo"), "kind 'ufo': expected one of crowd_count"),
    (event(confidence=1.5), "confidence 1.5: expected a number from 0 to 1"),
    (event(confidence="high"), "confidence 'high'"),
    (event(snapshot=None), "snapshot is missing"),
    (event(minutes=30), "is in the future"),
    (json.dumps({"camera_id": "C06", "time": "2026-07-21T10:00:00", "kind": "smoke", "confidence": 0.9,
                 "snapshot": "s.jpg"}), "has no zone"),
    (event(kind="crowd_count"), "a crowd_count event needs its count"),
    (event(kind="crowd_count", count=-5), "count -5"),
    (event(colour="red"), "unknown field 'colour'"),
], ids=["json", "array", "camera", "kind", "confidence", "confidence-text", "snapshot", "future", "zoneless",
        "no-count", "negative-count", "extra-field"])
def test_a_bad_event_is_kept_with_its_reason(conn, index, line, reason):
    s = feed(conn, [line], index)
    assert s.accepted == 0 and len(s.rejected) == 1 and reason in s.rejected[0]["reason"]
    stored = list_events(conn, status="rejected")
    assert len(stored) == 1 and reason in stored[0]["reject_reason"] and stored[0]["source"] == "test:1"
    assert stored[0]["raw"]  # the event as received
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0


def test_people_on_the_closed_floodplain_need_level_three(conn, index):
    config = load_config()
    alerts.activate_discharge(conn, 5000, now=T0 - timedelta(hours=1), actor="alerts", reason="gauge", config=config)
    s = feed(conn, [event(event_id="A1")], index)
    assert s.accepted == 1 and s.tasks_created == [] and "level IV below III" in s.events[0]["action"]
    alerts.activate_discharge(conn, 7000, now=T0 - timedelta(minutes=30), actor="alerts", reason="gauge",
                              config=config)
    s = feed(conn, [event(event_id="A2"), event(event_id="A3", minutes=-1)], index)
    assert len(s.tasks_created) == 1  # the second sighting joins the open task
    key = s.tasks_created[0]
    task = conn.execute("SELECT * FROM tasks WHERE key=?", (key,)).fetchone()
    assert task["template_id"] == "cam-clear-floodplain" and task["grid_id"] == "G09" and task["source"] == "camera"
    assert "清理" in task["title_zh"] and "Clear the floodplain road at Nanyueti" in task["title_en"]
    assert task["category"] == "evacuation" and task["deadline_min"] == 10
    who = conn.execute("SELECT staff_id, role FROM assignments WHERE task_key=?", (key,)).fetchone()
    assert who["role"] == "grid_member" and load_roster(conn).staff[who["staff_id"]].grid_id == "G09"
    assert s.events[1]["task_keys"] == [key] and "joins the open task" in s.events[1]["action"]
    # a camera on the dike, not the floodplain: no clearing task
    s = feed(conn, [event(camera="C05", event_id="A4")], index)
    assert s.tasks_created == [] and "not on the floodplain" in s.events[0]["action"]
    # low confidence: stored, no task
    s = feed(conn, [event(camera="C07", event_id="A5", confidence=0.3)], index)
    assert s.accepted == 1 and s.tasks_created == [] and "confidence 0.30 below 0.6" in s.events[0]["action"]
    # the same event again: a duplicate, counted, nothing new
    s = feed(conn, [event(event_id="A2")], index)
    assert s.duplicates == 1 and s.accepted == 0


def test_water_at_the_dike_toe_sends_a_patrol_there_and_raises_the_level(conn, index):
    config = load_config()
    alerts.activate_discharge(conn, 5000, now=T0 - timedelta(hours=1), actor="alerts", reason="gauge", config=config)
    s = feed(conn, [event(camera="C09", kind="water_at_dike_toe", event_id="W1")], index)
    key = s.tasks_created[0]
    task = conn.execute("SELECT * FROM tasks WHERE key=?", (key,)).fetchone()
    assert task["template_id"] == "cam-dike-toe-patrol" and task["repeat_min"] == 60 and "5+200" in task["title_en"]
    assert s.toe_water == [{"camera_id": "C09", "segment_id": "R-005", "chainage_m": 5200.0, "event_id": "W1",
                            "depth_m": load_camera_rules().toe_depth_m}]
    # the tier trigger (the orchestrator's part, as `floodtwin camera ingest` does it)
    from floodtwin.preplan import RiskFacts

    decision, _ = alerts.reassess(conn, now=T0, actor="alerts", reason="camera C09", config=config,
                                  risk=RiskFacts(segment_toe_depth_m={"R-005": 0.1}, source="camera C09"))
    assert decision.tier == "III" and decision.trigger == "dike_toe_water" and "camera C09" in decision.reason


def test_a_crowd_in_the_scenic_area_switches_holiday_to_emergency_and_creates_the_tasks(conn, index):
    config = load_config()
    set_mode(conn, "holiday", now=T0 - timedelta(hours=2), actor="TOWN", reason="National Day", config=config)
    s = feed(conn, [event(camera="C12", kind="crowd_count", count=12_000, event_id="K1", minutes=-30)], index)
    assert s.mode_switches == [] and s.tasks_created == [] and current_mode(conn)["mode"] == "holiday"
    s = feed(conn, [event(camera="C12", kind="crowd_count", count=50_000, event_id="K2")], index)
    assert [(m["from"], m["to"], m["trigger"]) for m in s.mode_switches] == [("holiday", "emergency", "crowd")]
    mode = current_mode(conn)
    assert mode["mode"] == "emergency" and mode["actor"] == "cameras" and "50,000 people" in mode["reason"]
    limit = [k for k in s.tasks_created if k.startswith("cam-crowd-limit")]
    routine = [k for k in s.tasks_created if k.startswith("mode.emergency.")]
    assert len(limit) == 1 and len(routine) == 5
    task = conn.execute("SELECT * FROM tasks WHERE key=?", (limit[0],)).fetchone()
    assert task["grid_id"] == "X03" and "50,000 people" in task["title_en"]
    assert conn.execute("SELECT role FROM assignments WHERE task_key=?", (limit[0],)).fetchone()[0] == "team_member"
    # the switch is in the audit log, by the camera platform, with the camera named
    ev = conn.execute("SELECT actor, reason FROM events WHERE kind='mode_switch' ORDER BY id DESC").fetchone()
    assert ev["actor"] == "cameras" and "camera C12" in ev["reason"]


def test_camera_events_that_set_off_a_task_are_on_the_map(conn, index):
    from floodtwin.reports import export_geojson

    config = load_config()
    alerts.activate_discharge(conn, 7000, now=T0 - timedelta(hours=1), actor="alerts", reason="gauge", config=config)
    feed(conn, [event(event_id="G1"), event(camera="C07", event_id="G2", confidence=0.2)], index)
    doc = export_geojson(conn)
    cams = [f for f in doc["features"] if f["properties"]["layer"] == "camera_event"]
    assert [f["properties"]["event_id"] for f in cams] == ["G1"]  # G2 set nothing off
    lon, lat = cams[0]["geometry"]["coordinates"]
    c06 = index.cameras["C06"]
    assert (lon, lat) == (round(c06.lon, 7), round(c06.lat, 7)) and cams[0]["properties"]["grid_id"] == "G09"
    assert cams[0]["properties"]["colour"] == load_camera_rules().kinds["person_in_closed_zone"].colour
