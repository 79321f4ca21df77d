"""The orchestrator of the board: the preplan put into effect for a flow (with its history and the
works-danger trigger), and smart-stone alarms answered through the danger table (real SQLite,
real board, the repository's preplan, reach and danger table)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from floodtwin import alerts, reports
from floodtwin.db import connect
from floodtwin.dispatch.roster import Roster
from floodtwin.dispatch.settings import load_config
from floodtwin.errors import InputError
from floodtwin.preplan import Preplan
from floodtwin.reports import load_dangers
from floodtwin.sensors import readings as rd
from floodtwin.sensors.ingest import Ingestor, active_major_dangers
from floodtwin.sensors.store import open_db
from floodtwin.tasks import CATEGORIES

T0 = datetime(2026, 7, 20, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 7, 21, 12, 0, tzinfo=UTC)


def test_activation_from_the_preplan_sees_major_dangers_and_history(tmp_path, reach):
    """The preplan glue: a major danger report at a works raises the tier; the decision is kept."""
    conn = connect(tmp_path / "p.sqlite")
    config = load_config()
    roster = Roster.from_reach(reach)
    quiet, act = alerts.activate_discharge(conn, 3000, now=T0, actor="duty", reason="normal", reach=reach,
                                           config=config, roster=roster)
    assert quiet.tier == "normal" and act.created
    assert alerts.last_decision(conn).tier == "normal"
    reports.add_report(conn, {"danger_kind": "bank_collapse", "works_id": "HYK", "spur": "HYK-090",
                              "severity": "major", "reporter": "S100"}, now=T0, actor="app", reach=reach,
                       config=config, roster=roster)
    raised, act2 = alerts.activate_discharge(conn, 3000, now=T0 + timedelta(minutes=5), actor="duty",
                                           reason="danger", reach=reach, config=config, roster=roster)
    assert raised.trigger == "works_danger" and raised.rank > quiet.rank and act2.created
    with pytest.raises(InputError, match="--discharge"):
        alerts.activate_discharge(conn, None, now=T0, actor="d", reason="r", reach=reach, config=config)


def test_a_critical_danger_at_a_works_raises_the_tier_and_reassess_applies_it(tmp_path, reach):
    """Critical ranks above major in the danger table: it must pull the preplan's "major danger at a
    works" trigger too; reassess re-evaluates at the last flow so the raised tier's tasks go out."""
    conn = connect(tmp_path / "c.sqlite")
    config = load_config()
    roster = Roster.from_reach(reach)
    assert alerts.reassess(conn, now=T0, actor="duty", reason="nothing yet", config=config) is None
    quiet, _ = alerts.activate_discharge(conn, 3000, now=T0, actor="duty", reason="normal", reach=reach,
                                       config=config, roster=roster)
    row = reports.add_report(conn, {"danger_kind": "leak", "dike_id": "right", "chainage": "8+200",
                                    "reporter": "S010"}, now=T0, actor="app", reach=reach, config=config,
                             roster=roster)
    assert row["severity"] == "critical" and row["works_id"] == "HYK"
    raised, act = alerts.reassess(conn, now=T0 + timedelta(minutes=1), actor="duty", reason="leak", config=config)
    assert raised.trigger == "works_danger" and raised.rank > quiet.rank and raised.observed_m3s == 3000
    assert act.created and all(conn.execute("SELECT state FROM tasks WHERE key=?", (k,)).fetchone()[0]
                               == "dispatched" for k in act.created)
    # a general danger (seepage) at the same works does not count; the leak counts as the trigger's "major"
    reports.add_report(conn, {"danger_kind": "seepage", "dike_id": "right", "chainage": "9+000", "reporter": "S011"},
                       now=T0, actor="app", reach=reach, config=config, roster=roster)
    assert [(d.kind, d.severity) for d in alerts.works_dangers(conn, Preplan.load())] == [("leak", "major")]


# ----------------------------------------------------------------------------------------------
# stone alarms

def _msg(sid, seq, t, roll, event="heartbeat", accel=(0.0, 0.0, 1.0), link="ok"):
    if link == "lost":
        return {"stone_id": sid, "time": t.isoformat(), "seq": seq, "event": event, "link": link}
    return {"stone_id": sid, "time": t.isoformat(), "seq": seq, "roll_deg": roll, "pitch_deg": 0.0,
            "accel_g": list(accel), "battery_v": 3.8, "rssi_dbm": -70, "event": event, "link": link}


def displacement(sid, t0, roll0, seq0=1):
    """Readings of one stone: calm, two shocks with a movement event, then three settled at +20°."""
    new = roll0 + 20
    rows = [_msg(sid, seq0, t0, roll0)]
    rows += [_msg(sid, seq0 + 1 + k, t0 + timedelta(seconds=60 + 5 * k), new, "movement", (0.4, 0.2, 2.5))
             for k in range(2)]
    rows += [_msg(sid, seq0 + 3 + k, t0 + timedelta(seconds=120 + 60 * k), new) for k in range(3)]
    return rows


def _batch(ing, rows):
    lines = [json.dumps(r) for r in rows]
    return ing.ingest_batch(rd.decode_json_lines(lines), lines, ["t"] * len(lines))


def test_a_stone_alarm_is_answered_with_the_danger_tables_root_stone_response(registry):
    """One fact, one place: the tasks of a lost stone are the danger table's root-stone-loss tasks
    (same templates, materials and deadlines as a field report of that danger), at the spur, from
    the stone's nearest depot, at the severity the table's stone_alarms gives "lost"."""
    table = load_dangers()
    spec = table.kinds["root_stone_loss"]
    stone = next(s for s in registry if s.works_id == "MD")
    instr = alerts.stone_alarm_instructions(stone, "lost", table, exclusive_grid=True)
    assert [i.template_id for i in instr] == [t.id for t in spec.tasks]
    for i, t in zip(instr, spec.tasks):
        assert i.category in CATEGORIES and i.source == "sensor" and i.works_id == "MD"
        assert i.deadline_min == t.deadline_min and i.repeat_min == t.repeat_min
        assert [(m.item, m.quantity, m.unit, m.depot_id) for m in i.materials] == [
            (item, qty, unit, stone.depot_id) for item, qty, unit in t.materials]
        assert i.location == (stone.x_m, stone.y_m) and i.grid_id == stone.grid_id
        assert i.owner_role == "team_member"  # "auto" in an exclusive grid: the professional team
    riprap, patrol = instr
    assert riprap.title_zh.startswith(f"马渡险工{stone.spur_number}号坝根石走失抢护")
    assert riprap.title_en.startswith(f"Root-stone loss at {stone.works_name_en} spur {stone.spur_number}")
    assert "critical" in riprap.note_en and stone.stone_id in riprap.note_en, riprap.note_en
    assert table.stone_alarms["lost"] == "critical" and riprap.extra["severity"] == "critical"
    assert (riprap.scope_kind, riprap.scope_id) == ("spur", stone.spur_id)
    assert (patrol.scope_kind, patrol.scope_id, patrol.repeat_min) == ("works", "MD", 30)
    # displaced and lost at the same spur, or another stone there: the same tasks (one response per spur)
    same_spur = [s for s in registry if s.spur_id == stone.spur_id and s.stone_id != stone.stone_id]
    for other, state in [(stone, "displaced")] + [(s, "lost") for s in same_spur]:
        keys = [i.key for i in alerts.stone_alarm_instructions(other, state, table, exclusive_grid=True)]
        assert keys == [i.key for i in instr]
    with pytest.raises(InputError, match="no root-stone response for state 'shaking'"):
        alerts.stone_alarm_instructions(stone, "shaking", table, exclusive_grid=True)


def test_a_displaced_stone_puts_its_tasks_on_the_board_once(tmp_path, registry, th):
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    answer = alerts.StoneAlarmAnswer(conn, registry, clock=lambda: NOW)
    stone = next(s for s in registry if s.works_id == "SZ")
    summary = answer(_batch(ing, displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg)))
    assert [(e["from"], e["to"]) for e in summary.events] == [("normal", "shaking"), ("shaking", "displaced")]
    keys = [i.key for i in alerts.stone_alarm_instructions(stone, "displaced", load_dangers(), exclusive_grid=True)]
    assert sorted(summary.tasks_created) == sorted(keys)
    tasks = {r["key"]: dict(r) for r in conn.execute("SELECT * FROM tasks")}
    assert set(tasks) == set(keys)
    loss = tasks[keys[0]]
    assert loss["source"] == "sensor" and loss["works_id"] == "SZ" and loss["title_zh"].startswith("申庄险工")
    assert [m["item"] for m in json.loads(loss["materials"])] == ["stone", "gabions"]
    # a named person on duty holds each task
    assert all(conn.execute("SELECT count(*) FROM assignments WHERE task_key=? AND active=1", (k,)).fetchone()[0]
               == 1 for k in keys)
    links = conn.execute("SELECT e.to_state, a.task_key FROM alarm_tasks a JOIN alarm_events e "
                         "ON e.id = a.event_id").fetchall()
    assert sorted(k for _, k in links) == sorted(keys) and {s for s, _ in links} == {"displaced"}
    # the cable then goes: lost, same spur -> no new task, but the event is linked too
    t_lost = NOW - timedelta(minutes=20)
    summary = answer(_batch(ing, [_msg(stone.stone_id, 10, t_lost, None, link="lost")]))
    assert [(e["from"], e["to"]) for e in summary.events] == [("displaced", "lost")]
    assert summary.tasks_created == []
    assert conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == len(keys)
    assert conn.execute("SELECT count(DISTINCT event_id) FROM alarm_tasks").fetchone()[0] == 2
    assert alerts.submit_alarm_tasks(conn, registry, now=NOW) == []
    assert active_major_dangers(conn) == [{"works_id": "SZ", "spur_id": stone.spur_id, "stone_id": stone.stone_id,
                                           "state": "lost", "since": t_lost.isoformat().replace("+00:00", ".000Z")}]


def test_the_ingest_alone_puts_nothing_on_the_board_and_a_later_answer_catches_up(tmp_path, registry, th):
    """Sensors do not dispatch: events stored by an ingest (or before a crash) wait for the answer."""
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    stone = next(s for s in registry if s.works_id == "EDX")
    summary = _batch(ing, displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg))
    assert summary.tasks_created == [] and summary.events[-1]["to"] == "displaced"
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='tasks'").fetchone()[0] == 0
    created = alerts.submit_alarm_tasks(conn, registry, now=NOW)
    assert len(created) == len(load_dangers().kinds["root_stone_loss"].tasks)
    assert alerts.submit_alarm_tasks(conn, registry, now=NOW) == []


def test_a_dispatch_failure_keeps_the_readings_and_retries_the_tasks(tmp_path, registry, th, monkeypatch):
    conn = open_db(tmp_path / "ft.sqlite")
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    answer = alerts.StoneAlarmAnswer(conn, registry, clock=lambda: NOW)
    stone = next(s for s in registry if s.works_id == "HYK")
    rows = displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg)
    monkeypatch.setenv("FLOODTWIN_CONFIG", str(tmp_path / "missing-dispatch.yaml"))
    summary = answer(_batch(ing, rows))
    assert summary.accepted == len(rows) and summary.tasks_created == []
    assert len(summary.task_errors) == 1 and "missing-dispatch.yaml" in summary.task_errors[0]
    assert conn.execute("SELECT count(*) FROM alarm_events WHERE to_state = 'displaced'").fetchone()[0] == 1
    monkeypatch.delenv("FLOODTWIN_CONFIG")
    summary = answer(_batch(ing, [_msg(stone.stone_id, 20, NOW - timedelta(minutes=5), stone.baseline_roll_deg + 20)]))
    assert len(summary.tasks_created) == 2 and summary.task_errors == []


def test_a_displaced_stone_raises_the_tier_through_the_major_danger_trigger(tmp_path, registry, th):
    """The preplan's "major danger at a works" trigger sees a stone alarm: tier II at a low flow."""
    conn = open_db(tmp_path / "ft.sqlite")
    before, _ = alerts.activate_discharge(conn, 1000.0, now=NOW - timedelta(hours=1), actor="test", reason="drill")
    assert before.trigger != "works_danger" and before.tier != "II"
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    stone = next(s for s in registry if s.works_id == "MD")
    _batch(ing, displacement(stone.stone_id, NOW - timedelta(minutes=30), stone.baseline_roll_deg))
    decision, _ = alerts.activate_discharge(conn, 1000.0, now=NOW, actor="test", reason="drill")
    assert (decision.tier, decision.trigger) == ("II", "works_danger")
    assert f"works MD spur {stone.spur_id}" in decision.reason and "from stone" in decision.reason


def test_the_last_decision_round_trips_through_the_database(tmp_path, reach):
    conn = connect(tmp_path / "d.sqlite")
    decision, _ = alerts.activate_discharge(conn, 9000.0, forecast_m3s=12000.0, now=T0, actor="duty",
                                            reason="rising", reach=reach, config=load_config(),
                                            roster=Roster.from_reach(reach))
    assert alerts.last_decision(conn) == decision


@pytest.mark.parametrize("q, words", [(-5.0, "-5.0 m³/s"), (float("nan"), "nan m³/s"), (2e5, "at most 100,000")])
def test_activation_refuses_a_discharge_outside_the_valid_range(tmp_path, q, words):
    with pytest.raises(InputError, match=words):
        alerts.activate_discharge(connect(tmp_path / "x.sqlite"), q, now=T0, actor="duty", reason="")
