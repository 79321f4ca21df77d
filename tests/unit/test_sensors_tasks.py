"""Root-stone alarms -> task instructions -> the dispatch board (real SQLite, real board)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from floodtwin.sensors import readings as rd
from floodtwin.sensors.alarms import load_thresholds
from floodtwin.sensors.ingest import Ingestor, active_major_dangers, submit_pending_tasks
from floodtwin.sensors.registry import load_registry
from floodtwin.sensors.response import rootstone_instructions
from floodtwin.sensors.store import open_db
from floodtwin.tasks import CATEGORIES

NOW = datetime(2026, 7, 21, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def registry():
    return load_registry("huayuankou")


@pytest.fixture(scope="module")
def th():
    return load_thresholds()


def test_registry_matches_the_reach_stones_layer(registry):
    import floodtwin

    reach = floodtwin.load_reach("huayuankou")
    assert len(registry) == 249 == len(reach.stones)
    assert registry.ids == list(reach.stones["stone_id"])
    works = set(reach.works["works_id"])
    depots = reach.depots.set_index("depot_id")
    for s in registry:
        assert s.works_id in works and s.spur_id.startswith(s.works_id + "-")
        assert s.report_interval_min > 0 and s.install_depth_m > 0
        # the depot is the nearest one that stocks both stone and gabions
        stocked = depots[(depots.stone_m3 > 0) & (depots.gabions > 0)]
        dist = stocked.geometry.distance(reach.stones.geometry[registry.index[s.stone_id]])
        assert s.depot_id == dist.idxmin() and s.depot_distance_m == pytest.approx(dist.min(), abs=0.1)
        assert s.grid_id in set(reach.grids["grid_id"])
    first = registry["ST001"]
    row = reach.stones.iloc[0]
    assert (first.baseline_roll_deg, first.baseline_pitch_deg, first.x_m) == (
        row.baseline_roll_deg, row.baseline_pitch_deg, row.geometry.x)


def test_instructions_for_a_lost_stone(registry, th):
    stone = next(s for s in registry if s.works_id == "MD")
    instr = rootstone_instructions(stone, "lost", th.response)
    transport, emergency, patrol = instr
    assert [i.category for i in instr] == ["materials", "works_emergency", "patrol"]
    assert all(i.category in CATEGORIES and i.source == "sensor" and i.works_id == "MD" for i in instr)
    assert emergency.title_zh.startswith(f"根石走失：马渡险工{stone.spur_number}号坝")
    assert emergency.title_en.startswith(f"root-stone loss at {stone.works_name_en} spur {stone.spur_number}: ")
    assert "Madu" in stone.works_name_en
    assert {(m.item, m.quantity, m.depot_id) for m in emergency.materials} == {
        ("riprap", th.response.lost.riprap_m3, stone.depot_id), ("gabions", th.response.lost.gabions, stone.depot_id)}
    assert emergency.depends_on == (transport.key,)
    assert emergency.deadline_min == th.response.lost.deadline_min
    assert patrol.repeat_min == th.response.patrol_repeat_min and patrol.scope_id == "MD"
    assert emergency.location == (stone.x_m, stone.y_m) and emergency.grid_id == stone.grid_id
    # displaced and lost at the same spur are the same tasks (one emergency per spur)
    assert [i.key for i in rootstone_instructions(stone, "displaced", th.response)] == [i.key for i in instr]
    with pytest.raises(ValueError):
        rootstone_instructions(stone, "shaking", th.response)


def _msg(sid, seq, t, roll, event="heartbeat", accel=(0.0, 0.0, 1.0), link="ok"):
    if link == "lost":
        return {"stone_id": sid, "time": t.isoformat(), "seq": seq, "event": event, "link": link}
    return {"stone_id": sid, "time": t.isoformat(), "seq": seq, "roll_deg": roll, "pitch_deg": 0.0,
            "accel_g": list(accel), "battery_v": 3.8, "rssi_dbm": -70, "event": event, "link": link}


def displacement(sid, t0, roll0, seq0=1):
    new = roll0 + 20
    rows = [_msg(sid, seq0, t0, roll0)]
    rows += [_msg(sid, seq0 + 1 + k, t0 + timedelta(seconds=60 + 5 * k), new, "movement", (0.4, 0.2, 2.5))
             for k in range(2)]
    rows += [_msg(sid, seq0 + 3 + k, t0 + timedelta(seconds=120 + 60 * k), new) for k in range(3)]
    return rows


def test_a_displaced_stone_puts_its_tasks_on_the_board_once(tmp_path, registry, th):
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=True)
    stone = next(s for s in registry if s.works_id == "SZ")
    rows = displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg)
    lines = [json.dumps(r) for r in rows]
    summary = ing.ingest_batch(rd.decode_json_lines(lines), lines, ["t"] * len(lines))
    assert [(e["from"], e["to"]) for e in summary.events] == [("normal", "shaking"), ("shaking", "displaced")]
    keys = [i.key for i in rootstone_instructions(stone, "displaced", th.response)]
    assert sorted(summary.tasks_created) == sorted(keys)
    tasks = {r["key"]: dict(r) for r in conn.execute("SELECT * FROM tasks")}
    assert set(tasks) == set(keys)
    loss = tasks[keys[1]]
    assert loss["source"] == "sensor" and loss["works_id"] == "SZ" and loss["title_zh"].startswith("根石走失：申庄险工")
    assert json.loads(loss["materials"])[0]["item"] == "riprap"
    # linked to the alarm event
    links = conn.execute("SELECT e.to_state, a.task_key FROM alarm_tasks a JOIN alarm_events e "
                         "ON e.id = a.event_id").fetchall()
    assert sorted(k for _, k in links) == sorted(keys) and {s for s, _ in links} == {"displaced"}
    # the cable then goes: lost, same spur -> no new task, but the event is linked too
    t_lost = NOW - timedelta(minutes=20)
    line = json.dumps(_msg(stone.stone_id, 10, t_lost, None, link="lost"))
    summary = ing.ingest_batch(rd.decode_json_lines([line]), [line], ["t"])
    assert [(e["from"], e["to"]) for e in summary.events] == [("displaced", "lost")]
    assert summary.tasks_created == []
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 3
    assert conn.execute("SELECT count(DISTINCT event_id) FROM alarm_tasks").fetchone()[0] == 2
    assert submit_pending_tasks(conn, registry, th, now=NOW) == []
    dangers = active_major_dangers(conn)
    assert dangers == [{"works_id": "SZ", "spur_id": stone.spur_id, "stone_id": stone.stone_id, "state": "lost",
                        "since": t_lost.isoformat().replace("+00:00", ".000Z")}]


def test_tasks_missed_by_a_crash_are_submitted_later(tmp_path, registry, th):
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=False)
    stone = next(s for s in registry if s.works_id == "EDX")
    lines = [json.dumps(r) for r in displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg)]
    ing.ingest_batch(rd.decode_json_lines(lines), lines, ["t"] * len(lines))
    assert conn.execute("SELECT count(*) FROM alarm_events WHERE to_state = 'displaced'").fetchone()[0] == 1
    created = submit_pending_tasks(conn, registry, th, now=NOW)
    assert len(created) == 3
    assert submit_pending_tasks(conn, registry, th, now=NOW) == []


def test_saving_a_changed_registry_keeps_numbers_and_history(tmp_path, registry):
    from floodtwin.sensors.registry import Registry, registry_from_db, save_registry

    conn = open_db(tmp_path / "ft.sqlite")
    save_registry(conn, registry)
    numbers = registry_from_db(conn).numbers
    ing = Ingestor(conn, registry=registry_from_db(conn), thresholds=load_thresholds(), clock=lambda: NOW,
                   submit=False)
    line = json.dumps(_msg("ST002", 1, NOW - timedelta(minutes=5), 0.0))
    ing.ingest_batch(rd.decode_json_lines([line]), [line], ["t"])
    smaller = Registry([s for s in registry if s.stone_id not in ("ST001", "ST002")], reach=registry.reach)
    save_registry(conn, smaller)
    again = registry_from_db(conn)
    # ST001 (no readings) is gone; ST002 keeps its row because readings refer to it; numbers are stable
    assert "ST001" not in again and "ST002" in again and len(again) == 248
    assert all(again.numbers[s] == numbers[s] for s in again.ids)


def test_a_dispatch_failure_keeps_the_readings_and_retries_the_tasks(tmp_path, registry, th, monkeypatch):
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=True)
    stone = next(s for s in registry if s.works_id == "HYK")
    lines = [json.dumps(r) for r in displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg)]
    monkeypatch.setenv("FLOODTWIN_CONFIG", str(tmp_path / "missing-dispatch.yaml"))
    summary = ing.ingest_batch(rd.decode_json_lines(lines), lines, ["t"] * len(lines))
    assert summary.accepted == len(lines) and summary.tasks_created == []
    assert len(summary.task_errors) == 1 and "missing-dispatch.yaml" in summary.task_errors[0]
    assert conn.execute("SELECT count(*) FROM alarm_events WHERE to_state = 'displaced'").fetchone()[0] == 1
    monkeypatch.delenv("FLOODTWIN_CONFIG")
    line = json.dumps(_msg(stone.stone_id, 20, NOW - timedelta(minutes=5), stone.baseline_roll_deg + 20))
    summary = ing.ingest_batch(rd.decode_json_lines([line]), [line], ["t"])
    assert len(summary.tasks_created) == 3 and summary.task_errors == []


def test_a_displaced_stone_raises_the_tier_through_the_major_danger_trigger(tmp_path, registry, th):
    """The preplan's "major danger at a works" trigger sees a stone alarm: tier II at a low flow."""
    from floodtwin.dispatch.plan import activate_discharge

    conn = open_db(tmp_path / "ft.sqlite")
    before, _ = activate_discharge(conn, 1000.0, now=NOW - timedelta(hours=1), actor="test", reason="drill")
    assert before.trigger != "works_danger" and before.tier != "II"
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW, submit=False)
    stone = next(s for s in registry if s.works_id == "MD")
    lines = [json.dumps(r) for r in displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg)]
    ing.ingest_batch(rd.decode_json_lines(lines), lines, ["t"] * len(lines))
    decision, _ = activate_discharge(conn, 1000.0, now=NOW, actor="test", reason="drill")
    assert (decision.tier, decision.trigger) == ("II", "works_danger")
    assert f"works MD spur {stone.spur_id}" in decision.reason and "from stone" in decision.reason
