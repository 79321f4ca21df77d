"""Unit tests of the task board: assignment, idempotent submit, activation diffs, states, SLA timers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from floodtwin import alerts
from floodtwin.dispatch import board
from floodtwin.dispatch.board._common import message
from floodtwin.dispatch.board.states import refusal, short_ids, who_may
from floodtwin.dispatch.roster import Roster, load_roster
from floodtwin.dispatch.schema import MIGRATIONS, ensure_schema
from floodtwin.dispatch.settings import load_config
from floodtwin.db import connect, migrate, schema_version
from floodtwin.errors import DataError, InputError
from floodtwin.tasks import TaskInstruction, task_key

# 10:00 in Zhengzhou (UTC+8): shift A (08:00-20:00 local) is on duty
T0 = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)


def small_roster() -> Roster:
    grids = [
        {"grid_id": "G01", "level": "grid", "parent": None, "leader_id": "L1", "cx": 100.0, "cy": 200.0},
        {"grid_id": "G02", "level": "grid", "parent": None, "leader_id": "L2", "cx": 300.0, "cy": 200.0},
        {"grid_id": "X01", "level": "exclusive", "parent": "G01", "leader_id": "LX", "cx": 150.0, "cy": 250.0},
    ]
    staff = [
        {"staff_id": "L1", "role": "grid_leader", "grid_id": "G01", "shift": "A", "on_duty": True},
        {"staff_id": "M1", "role": "grid_member", "grid_id": "G01", "shift": "A", "on_duty": True},
        {"staff_id": "M2", "role": "grid_member", "grid_id": "G01", "shift": "A", "on_duty": True},
        {"staff_id": "M3", "role": "grid_member", "grid_id": "G01", "shift": "B", "on_duty": True},
        {"staff_id": "M4", "role": "grid_member", "grid_id": "G01", "shift": "A", "on_duty": False},
        {"staff_id": "L2", "role": "grid_leader", "grid_id": "G02", "shift": "A", "on_duty": False},
        {"staff_id": "N1", "role": "grid_member", "grid_id": "G02", "shift": "B", "on_duty": True},
        {"staff_id": "LX", "role": "grid_leader", "grid_id": "X01", "shift": "A", "on_duty": True},
        {"staff_id": "T1", "role": "team_member", "grid_id": "X01", "shift": "A", "on_duty": True},
    ]
    return Roster.from_records(staff, grids)


def instr(n: int, grid: str | None = "G01", role: str = "grid_member", category: str = "patrol",
          deadline: float = 30.0, source: str = "preplan", tier: str = "I", **kw) -> TaskInstruction:
    return TaskInstruction(key=task_key(f"tpl{n}", "grid", grid), template_id=f"tpl{n}", category=category,
                           tier=tier, owner_role=role, title_zh=f"任务{n}", title_en=f"task {n}",
                           deadline_min=deadline, scope_kind="grid", scope_id=grid, grid_id=grid, source=source,
                           **kw)


@pytest.fixture()
def env(tmp_path):
    conn = connect(tmp_path / "ft.sqlite")
    ensure_schema(conn)
    config = load_config()
    roster = small_roster()
    yield conn, config, roster
    conn.close()


def test_assignment_balances_load_on_the_current_shift(env):
    conn, config, roster = env
    tasks = [instr(n) for n in range(4)]
    created = board.submit(conn, tasks, now=T0, actor="test", reason="drill", config=config, roster=roster)
    assert created == [t.key for t in tasks]
    who = [r[0] for r in conn.execute("SELECT staff_id FROM assignments ORDER BY id")]
    # M3 is on shift B and M4 off duty: the two on-shift members share the load evenly
    assert sorted(who) == ["M1", "M1", "M2", "M2"]
    mine = board.list_tasks(conn, assignee="M1")
    assert len(mine) == 2 and all(t["assignees"] == ["M1"] for t in mine)
    assert board.list_tasks(conn, grid="G02") == []
    assert {r[0] for r in conn.execute("SELECT state FROM tasks")} == {"dispatched"}


def test_shift_b_at_night_and_fallback_chain(env):
    conn, config, roster = env
    night = T0 + timedelta(hours=13)  # 23:00 local: shift B
    board.submit(conn, [instr(1), instr(2, grid="G02"), instr(3, grid="X01", role="grid_member"),
                        instr(4, grid=None, role="town_command"), instr(5, grid="G99")],
                 now=night, actor="test", reason="drill", config=config, roster=roster)
    got = {r["key"].split(":")[0]: (r["staff_id"], r["reason"]) for r in conn.execute(
        "SELECT task_key AS key, staff_id, reason FROM assignments")}
    assert got["tpl1"][0] == "M3"
    assert got["tpl2"][0] == "N1"
    # no grid member in X01: its leader (兜底)
    assert got["tpl3"][0] == "LX" and "no grid_member" in got["tpl3"][1]
    assert got["tpl4"][0] == "TOWN"
    assert got["tpl5"][0] == "TOWN" and "G99" in got["tpl5"][1]


def test_leader_off_duty_falls_to_town(env):
    conn, config, roster = env
    # G02 at 10:00: N1 is on shift B, leader L2 off duty -> town command
    board.submit(conn, [instr(1, grid="G02")], now=T0, actor="t", reason="r", config=config, roster=roster)
    assert conn.execute("SELECT staff_id FROM assignments").fetchone()[0] == "TOWN"


def test_submit_is_idempotent_and_writes_outbox_in_same_transaction(env):
    conn, config, roster = env
    tasks = [instr(n) for n in range(3)]
    assert len(board.submit(conn, tasks, now=T0, actor="t", reason="r", config=config, roster=roster)) == 3
    assert board.submit(conn, tasks, now=T0 + timedelta(minutes=1), actor="t", reason="r", config=config,
                        roster=roster) == []
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 3
    outbox = [dict(r) for r in conn.execute("SELECT * FROM outbox")]
    assert len(outbox) == 3 and len({o["idem_key"] for o in outbox}) == 3
    payload = json.loads(outbox[0]["payload"])
    assert payload["kind"] == "dispatched" and payload["task"]["key"] == tasks[0].key
    assert "任务0" in payload["text_zh"] and "task 0" in payload["text_en"]


def test_failed_submission_writes_nothing(env):
    conn, config, roster = env
    bad = [instr(1), instr(1)]  # duplicate key
    with pytest.raises(InputError, match="same key twice"):
        board.submit(conn, bad, now=T0, actor="t", reason="r", config=config, roster=roster)
    with pytest.raises(InputError, match="category"):
        board.submit(conn, [instr(2, category="fishing")], now=T0, actor="t", reason="r", config=config,
                     roster=roster)
    # an exception inside the transaction, after the inserts, rolls back everything
    with pytest.raises(RuntimeError, match="before commit"):
        _raise_inside(conn, config, roster)
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def _raise_inside(conn, config, roster):
    from floodtwin.db import transaction

    with transaction(conn):
        board.submit_in_transaction(conn, [instr(3)], now=T0, actor="t", reason="r", config=config, roster=roster,
                            activation_id=None)
        raise RuntimeError("crash after the inserts, before commit")


def test_activate_diff_stands_down_and_reopens(env):
    conn, config, roster = env
    high = [instr(n) for n in range(5)]
    a1 = board.activate(conn, high, now=T0, actor="duty", reason="Q=16000", config=config, roster=roster)
    assert len(a1.created) == 5 and a1.stood_down == []
    sensor_task = instr(99, source="sensor")
    board.submit(conn, [sensor_task], now=T0, actor="sensors", reason="alarm", config=config, roster=roster)
    board.ack(conn, high[0].key, now=T0, actor="M1", config=config)
    a2 = board.activate(conn, high, now=T0 + timedelta(minutes=5), actor="duty", reason="again", config=config,
                        roster=roster)
    assert a2.created == [] and a2.stood_down == [] and a2.unchanged == 5
    low = high[:2]
    a3 = board.activate(conn, low, now=T0 + timedelta(minutes=10), actor="duty", reason="Q=9000", config=config,
                        roster=roster)
    assert sorted(a3.stood_down) == sorted(t.key for t in high[2:])
    states = {r[0]: r[1] for r in conn.execute("SELECT key, state FROM tasks")}
    assert states[sensor_task.key] == "dispatched"  # not a preplan task: never stood down by a diff
    assert states[high[0].key] == "acknowledged"
    assert all(states[t.key] == "stood_down" for t in high[2:])
    kinds = [r[0] for r in conn.execute("SELECT kind FROM outbox ORDER BY id")]
    assert kinds.count("stood_down") == 3
    a4 = board.activate(conn, high, now=T0 + timedelta(minutes=20), actor="duty", reason="up again",
                        config=config, roster=roster)
    assert sorted(a4.created) == sorted(t.key for t in high[2:])
    assert conn.execute("SELECT COUNT(*) FROM activations").fetchone()[0] == 4


def test_full_state_machine_and_illegal_transitions(env):
    conn, config, roster = env
    t = instr(1)
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    kw = dict(actor="M1", config=config)
    with pytest.raises(InputError, match="cannot start a task that is dispatched"):
        board.start(conn, t.key, now=T0, **kw)
    board.ack(conn, t.key, now=T0 + timedelta(minutes=1), **kw)
    with pytest.raises(InputError, match="cannot ack"):
        board.ack(conn, t.key, now=T0, **kw)
    board.start(conn, t.key, now=T0 + timedelta(minutes=2), **kw)
    board.on_site(conn, t.key[:8], now=T0 + timedelta(minutes=6), **kw)  # unique prefix accepted
    board.done(conn, t.key, now=T0 + timedelta(minutes=20), **kw)
    board.transition(conn, t.key, "reject", now=T0 + timedelta(minutes=21), actor="L1", reason="photo missing",
                     config=config)
    board.done(conn, t.key, now=T0 + timedelta(minutes=25), **kw)
    board.verify(conn, t.key, now=T0 + timedelta(minutes=26), actor="L1", config=config)
    row = board.close(conn, t.key, now=T0 + timedelta(minutes=27), actor="L1", config=config)
    assert row["state"] == "closed" and row["ended_at"] is not None
    with pytest.raises(InputError, match="cannot cancel a task that is closed"):
        board.cancel(conn, t.key, now=T0, actor="TOWN", reason="late", config=config)
    with pytest.raises(InputError, match="no such task"):
        board.ack(conn, "nope", now=T0, **kw)
    with pytest.raises(InputError, match="task key is empty"):  # not a prefix of every key
        board.cancel(conn, " ", now=T0, actor="TOWN", reason="r", config=config)
    shown = board.show_task(conn, t.key)
    # the three refused actions (start, ack again, cancel when closed) are in the log as refusals
    assert [e["kind"] for e in shown["events"]] == ["created", "dispatched", "refused", "ack", "refused", "start",
                                                    "on_site", "done", "reject", "done", "verify", "close", "refused"]
    # met every timer in time: nothing to escalate
    assert board.tick(conn, now=T0 + timedelta(hours=2), config=config, roster=roster) == []


def test_event_log_is_append_only(env):
    conn, config, roster = env
    board.submit(conn, [instr(1)], now=T0, actor="t", reason="r", config=config, roster=roster)
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE events SET actor='mallory'")
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM events")


def test_dependencies_block_start(env):
    conn, config, roster = env
    first = instr(1)
    second = instr(2, depends_on=(first.key,))
    board.submit(conn, [first, second], now=T0, actor="t", reason="r", config=config, roster=roster)
    board.ack(conn, second.key, now=T0, actor="M2", config=config)
    with pytest.raises(InputError, match="cannot start before"):
        board.start(conn, second.key, now=T0, actor="M2", config=config)


def test_sla_escalation_chain_with_injected_clock(env):
    conn, config, roster = env
    grace = timedelta(minutes=config.dispatch.sla.grace_min)
    t = instr(1, grid="X01", role="team_member", category="works_emergency", deadline=30)
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    # the acknowledgement is due at 3 min; it escalates once the grace period has passed too
    assert board.tick(conn, now=T0 + timedelta(minutes=2, seconds=59) + grace, config=config, roster=roster) == []
    e1 = board.tick(conn, now=T0 + timedelta(minutes=3, seconds=1) + grace, config=config, roster=roster)
    assert [(e["timer"], e["escalated_to"]) for e in e1] == [("ack", "LX")]
    assert board.tick(conn, now=T0 + timedelta(minutes=4) + grace, config=config, roster=roster) == []  # once
    board.ack(conn, t.key, now=T0 + timedelta(minutes=4) + grace, actor="T1", config=config)
    e2 = board.tick(conn, now=T0 + timedelta(minutes=5, seconds=30) + grace, config=config, roster=roster)
    # member -> exclusive-grid leader -> parent grid leader -> town command
    assert [(e["timer"], e["escalated_to"]) for e in e2] == [("set_out", "L1")]
    # on-site and handle missed together: both recorded, the task climbs one step (to the town command)
    e3 = board.tick(conn, now=T0 + timedelta(minutes=31) + grace, config=config, roster=roster)
    assert [(e["timer"], e["escalated_to"]) for e in e3] == [("on_site", "TOWN"), ("handle", "TOWN")]
    row = board.show_task(conn, t.key)
    assert row["escalation_level"] == 3
    assert [a["staff_id"] for a in row["assignments"]] == ["T1", "LX", "L1", "TOWN"]
    assert {(m["timer"], m["escalated_to"], m["level"]) for m in row["sla_misses"]} == {
        ("ack", "LX", 1), ("set_out", "L1", 2), ("on_site", "TOWN", 3), ("handle", "TOWN", 3)}
    digests = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM outbox WHERE kind='escalated' ORDER BY id")]
    # one digest per person per tick, to everyone responsible so far
    assert [(d["event_id"], d["recipient"]) for d in digests] == [
        (digests[0]["event_id"], "LX"), (digests[0]["event_id"], "T1"),
        (digests[2]["event_id"], "L1"), (digests[2]["event_id"], "LX"), (digests[2]["event_id"], "T1"),
        (digests[5]["event_id"], "L1"), (digests[5]["event_id"], "LX"), (digests[5]["event_id"], "T1"),
        (digests[5]["event_id"], "TOWN")]
    assert [d["digest"]["to_you"] for d in digests[:2]] == [1, 0]  # LX got it, T1 is told it went up
    overdue = board.list_tasks(conn, overdue=True, now=T0 + timedelta(minutes=31), config=config)
    assert [o["key"] for o in overdue] == [t.key]  # overdue from the due time; the grace is for escalating


def test_office_task_has_no_field_timers(env):
    conn, config, roster = env
    grace = timedelta(minutes=config.dispatch.sla.grace_min)
    t = instr(1, category="information", deadline=60)
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    board.ack(conn, t.key, now=T0 + timedelta(minutes=1), actor="M1", config=config)
    assert board.tick(conn, now=T0 + timedelta(minutes=59) + grace, config=config, roster=roster) == []
    assert [e["timer"] for e in board.tick(conn, now=T0 + timedelta(minutes=61) + grace, config=config,
                                           roster=roster)] == ["handle"]


def test_push_reaches_everyone_on_duty_in_scope(env):
    conn, config, roster = env
    out = board.push(conn, message="大堤封闭 / dike closed", grid="G01", now=T0, actor="TOWN", config=config,
                     roster=roster)
    assert out["recipients"] == ["L1", "M1", "M2", "M3"]  # M4 is off duty
    assert board.push(conn, message="all", everyone=True, now=T0, actor="L1", config=config,
                      roster=roster)["recipients"] == ["L1", "LX", "M1", "M2", "M3", "N1", "T1"]
    with pytest.raises(InputError, match="G77"):
        board.push(conn, message="x", grid="G77", now=T0, actor="L1", config=config, roster=roster)


def test_roster_stored_and_validated(env):
    conn, config, roster = env
    board.submit(conn, [instr(1)], now=T0, actor="t", reason="r", config=config, roster=roster)
    assert load_roster(conn).staff == roster.staff
    with pytest.raises(DataError, match="leader X9"):
        Roster.from_records([], [{"grid_id": "G1", "level": "grid", "leader_id": "X9"}])


def test_migrations_upgrade_and_newer_database_refused(tmp_path):
    conn = connect(tmp_path / "a.sqlite")
    assert ensure_schema(conn) == len(MIGRATIONS)
    assert ensure_schema(conn) == len(MIGRATIONS)  # reopening changes nothing
    conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'dispatch'")
    with pytest.raises(DataError, match="newer than this floodtwin"):
        ensure_schema(conn)
    # an older database (version 1 of a component with two steps) is upgraded in place
    fresh = connect(tmp_path / "b.sqlite")
    migrate(fresh, "demo", ["CREATE TABLE t(a INTEGER);"])
    fresh.execute("INSERT INTO t VALUES (1)")
    assert migrate(fresh, "demo", ["CREATE TABLE t(a INTEGER);", "ALTER TABLE t ADD COLUMN b TEXT;"]) == 2
    assert schema_version(fresh, "demo") == 2
    assert tuple(fresh.execute("SELECT a, b FROM t").fetchone()) == (1, None)


def test_naive_time_is_refused(env):
    conn, config, roster = env
    with pytest.raises(InputError, match="timezone-aware"):
        board.submit(conn, [instr(1)], now=datetime(2026, 7, 20, 10), actor="t", reason="r", config=config,
                     roster=roster)


def test_units_own_their_tasks_and_located_works_tasks_reach_the_exclusive_team(env):
    from shapely.geometry import box

    conn, config, _ = env
    base = small_roster()
    roster = Roster(staff=base.staff, grids=base.grids, outlines={"X01": box(0, 0, 1000, 1000)})
    inside = instr(1, grid=None, role="works_team", category="works_emergency", location=(500.0, 500.0))
    outside = instr(2, grid=None, role="works_team", category="works_emergency", location=(5000.0, 500.0))
    bureau = instr(3, grid=None, role="river_bureau", category="patrol")
    village = instr(4, grid="G01", role="village_committee", category="evacuation")
    board.submit(conn, [inside, outside, bureau, village], now=T0, actor="t", reason="r", config=config,
                 roster=roster)
    got = {r[0].split(":")[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT a.task_key, a.staff_id, t.grid_id FROM assignments a JOIN tasks t ON t.key = a.task_key")}
    assert got == {"tpl1": ("T1", "X01"), "tpl2": ("works_team", None), "tpl3": ("river_bureau", None),
                   "tpl4": ("L1", "G01")}
    # a unit task escalates straight to the town command; the exclusive team's to its leader first
    grace = timedelta(minutes=config.dispatch.sla.grace_min)
    esc = board.tick(conn, now=T0 + timedelta(minutes=4) + grace, config=config, roster=roster)
    assert {(e["task_key"].split(":")[0], e["escalated_to"]) for e in esc} == {
        ("tpl1", "LX"), ("tpl2", "TOWN"), ("tpl3", "TOWN"), ("tpl4", "TOWN")}


def test_recurring_task_rounds_and_their_stand_down(env):
    conn, config, roster = env
    rnd = instr(1, deadline=30, repeat_min=60)
    board.activate(conn, [rnd], now=T0, actor="duty", reason="II", config=config, roster=roster)
    kw = dict(actor="M1", config=config)
    board.ack(conn, rnd.key, now=T0 + timedelta(minutes=1), **kw)
    board.start(conn, rnd.key, now=T0 + timedelta(minutes=2), **kw)
    board.on_site(conn, rnd.key, now=T0 + timedelta(minutes=5), **kw)
    board.done(conn, rnd.key, now=T0 + timedelta(minutes=20), **kw)
    assert board.tick(conn, now=T0 + timedelta(minutes=59), config=config, roster=roster) == []
    nxt = board.tick(conn, now=T0 + timedelta(minutes=60), config=config, roster=roster)
    assert [(a["action"], a["round"]) for a in nxt] == [("next_round", 2)]
    row = board.show_task(conn, rnd.key)
    assert row["state"] == "dispatched" and row["round"] == 2 and row["acknowledged_at"] is None
    assert [a["active"] for a in row["assignments"]] == [0, 1]
    # the new round has fresh timers: its acknowledgement is due 3 min after the round started
    grace = timedelta(minutes=config.dispatch.sla.grace_min)
    esc = board.tick(conn, now=T0 + timedelta(minutes=63, seconds=1) + grace, config=config, roster=roster)
    assert [(a["action"], a["timer"]) for a in esc] == [("escalated", "ack")]
    # an unfinished round is never doubled
    assert board.tick(conn, now=T0 + timedelta(minutes=130), config=config, roster=roster)[0]["action"] != "next_round"
    # once the plan drops it, even a finished recurring task stops: stood down, no more rounds
    for action in ("ack", "start", "done"):
        board.transition(conn, rnd.key, action, now=T0 + timedelta(minutes=131), **kw)
    act = board.activate(conn, [], now=T0 + timedelta(minutes=140), actor="duty", reason="normal",
                         config=config, roster=roster)
    assert act.stood_down == [rnd.key]
    assert board.tick(conn, now=T0 + timedelta(hours=5), config=config, roster=roster) == []


def test_alert_run_records_and_event_history(env):
    conn, config, roster = env
    run_id = alerts.start_alert_run(conn, now=T0, discharge_m3s=16000.0, reason="scheduled")
    board.submit(conn, [instr(1)], now=T0, actor="alerts", reason=f"alert run {run_id}", config=config,
                 roster=roster)
    alerts.finish_alert_run(conn, run_id, now=T0 + timedelta(seconds=40), status="ok", tier="I",
                           summary={"created": 1})
    row = dict(conn.execute("SELECT * FROM alert_runs WHERE id=?", (run_id,)).fetchone())
    assert row["status"] == "ok" and row["tier"] == "I" and json.loads(row["summary"]) == {"created": 1}
    assert row["finished_at"] > row["started_at"]
    history = board.events(conn, task_key=instr(1).key)
    assert [e["kind"] for e in history] == ["created", "dispatched"]
    assert all(e["reason"] == f"alert run {run_id}" for e in history)


def test_deadline_zero_uses_the_sla_handle_time_and_bad_deadlines_are_refused(env):
    conn, config, roster = env
    own, none = instr(1, deadline=45), instr(2, deadline=0)
    board.submit(conn, [own, none], now=T0, actor="t", reason="r", config=config, roster=roster)
    due = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT key, deadline_min, handle_due_at FROM tasks")}
    assert due[own.key] == (45, "2026-07-20T02:45:00.000000Z")
    assert due[none.key] == (config.dispatch.sla.handle_min, "2026-07-20T02:30:00.000000Z")
    for bad in (float("nan"), -5.0, float("inf")):
        with pytest.raises(InputError, match="deadline_min must be a number of minutes >= 0"):
            board.submit(conn, [instr(3, deadline=bad)], now=T0, actor="t", reason="r", config=config,
                         roster=roster)
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 2


def test_rejected_work_runs_the_handle_timer_again(env):
    conn, config, roster = env
    t = instr(1, category="information", deadline=30)
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    for minutes, action in ((1, "ack"), (2, "start"), (10, "done")):
        board.transition(conn, t.key, action, now=T0 + timedelta(minutes=minutes), actor="M1", config=config)
    board.transition(conn, t.key, "reject", now=T0 + timedelta(minutes=12), actor="L1", reason="photo missing",
                     config=config)
    # back in progress and past its deadline: that is a missed handle timer, not a task met in time
    grace = timedelta(minutes=config.dispatch.sla.grace_min)
    esc = board.tick(conn, now=T0 + timedelta(minutes=31) + grace, config=config, roster=roster)
    assert [(e["timer"], e["escalated_to"]) for e in esc] == [("handle", "L1")]
    kinds = [e["kind"] for e in board.show_task(conn, t.key)["events"]]
    assert kinds == ["created", "dispatched", "ack", "start", "done", "reject", "escalated"]


def test_push_by_role_and_scope_conflicts(env):
    conn, config, roster = env
    out = board.push(conn, message="集合", role="grid_leader", now=T0, actor="TOWN", config=config, roster=roster)
    assert out["recipients"] == ["L1", "LX"]  # L2 is off duty
    both = board.push(conn, message="G01 members", grid="G01", role="grid_member", now=T0, actor="L1",
                      config=config, roster=roster)
    assert both["recipients"] == ["M1", "M2", "M3"]
    with pytest.raises(InputError, match="--all cannot be combined"):
        board.push(conn, message="x", grid="G01", everyone=True, now=T0, actor="L1", config=config, roster=roster)
    rows = conn.execute("SELECT recipient FROM outbox WHERE kind='push' ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["L1", "LX", "M1", "M2", "M3"]


def test_roster_from_the_fast_reach_tables_equals_the_reach_roster():
    from floodtwin import load_reach
    from floodtwin.preplan import ReachTables

    fast = Roster.from_tables(ReachTables.read("huayuankou"))
    full = Roster.from_reach(load_reach("huayuankou"))
    assert fast.staff == full.staff and fast.grids == full.grids and fast.units == full.units
    assert sum(m.unit is None for m in fast.staff.values()) == 294  # the grid staff of docs/reach.md
    assert len(fast.units) == 8 and all(fast.unit_members(u) for u in fast.units)
    assert sorted(fast.outlines) == sorted(full.outlines)
    assert all(fast.outlines[g].equals(full.outlines[g]) for g in fast.outlines)


def _config_with(tmp_path, **town_command):
    """The shipped dispatch YAML with the town command's settings changed (None removes a key)."""
    import yaml

    from floodtwin.config import DATA_DIR

    doc = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))
    for key, value in town_command.items():
        if value is None:
            doc["dispatch"]["town_command"].pop(key, None)
        else:
            doc["dispatch"]["town_command"][key] = value
    path = tmp_path / "dispatch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_config(path)


def test_level_one_activation_escalates_without_a_storm(tmp_path):
    """Issue 14.3: the real preplan at 22,000 m3/s (310 tasks). At +5 min nothing escalates (the
    timers are due, the grace has not passed); at +40 min every task escalates one step, the outbox
    gets one digest per person, no task escalates to whoever holds it, and every one names whom."""
    from floodtwin.dispatch.board.timers import tick_report

    conn = connect(tmp_path / "ft.sqlite")
    config = load_config()
    superior = config.dispatch.town_command.superior
    decision, act = alerts.activate_discharge(conn, 22000, now=T0, actor="duty", reason="design flood", config=config)
    assert decision.tier == "I" and len(act.created) >= 300
    all_created = set(act.created) | set(act.mode_switch["created"])  # + the emergency mode's routine tasks
    roster = load_roster(conn)
    before = {r[0]: r[1] for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE level = 0")}
    outbox_before = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    quiet = tick_report(conn, now=T0 + timedelta(minutes=5), config=config)
    assert quiet.escalations == [] and quiet.digests == {}
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == outbox_before
    # overdue all the same: the lists show the missed acknowledgements from their due time
    assert len(board.list_tasks(conn, overdue=True, now=T0 + timedelta(minutes=5), config=config)) == len(all_created)

    late = tick_report(conn, now=T0 + timedelta(minutes=40), config=config)
    escalated = {e["task_key"] for e in late.escalations}
    assert escalated == all_created
    people = set(roster.staff) | {config.dispatch.town_command.id, superior.id}
    for e in late.escalations:  # a person of the roster, the town command or its superior: never a unit's name
        assert e["escalated_to"] in people, e
        assert e["escalated_to"] != before[e["task_key"]], e  # never to whoever held it
    # issue 20: no task is held by a unit: the town command's own tasks are held by a duty officer of its
    # duty room and go to the room's leader; unit tasks to their unit's leader
    assert set(before.values()) <= set(roster.staff)
    owners = {r[0]: r[1] for r in conn.execute("SELECT key, owner_role FROM tasks")}
    town_tasks = {k for k in before if owners[k] == "town_command"}
    leader = roster.units["town_command"].leader_id
    assert town_tasks and {e["escalated_to"] for e in late.escalations if e["task_key"] in town_tasks} == {leader}
    crew_tasks = {k for k, who in before.items() if roster.unit_of(who) == "works_team"}
    assert len(crew_tasks) > 50
    assert {e["escalated_to"] for e in late.escalations if e["task_key"] in crew_tasks} == \
        {roster.units["works_team"].leader_id}
    for key in escalated:  # each task's rows still record its escalation: one step, one new person
        row = board.show_task(conn, key)
        assert [a["level"] for a in row["assignments"]] == [0, 1] and row["escalation_level"] == 1
        assert len({a["staff_id"] for a in row["assignments"]}) == 2
        assert row["sla_misses"]
        assert {m["escalated_to"] for m in row["sla_misses"]} == {row["assignments"][1]["staff_id"]}
        assert row["events"][-1]["kind"] == "escalated"
    # one digest per person in the outbox, each listing that person's tasks, most urgent first
    rows = [json.loads(r[0]) for r in conn.execute("SELECT payload FROM outbox WHERE kind = 'escalated'")]
    recipients = [r["recipient"] for r in rows]
    # (issue 20: the tasks are spread over named people now, so more people get a digest, each one)
    targets = {e["escalated_to"] for e in late.escalations}
    assert len(recipients) == len(set(recipients)) == len(late.digests) == len(set(before.values()) | targets)
    assert len(late.digests) < len(escalated)
    holders = {r[0] for r in conn.execute("SELECT staff_id FROM assignments WHERE active = 1")}
    assert set(recipients) == holders
    lead_id = roster.units["works_team"].leader_id
    lead = next(r for r in rows if r["recipient"] == lead_id)
    listed = lead["digest"]["tasks"]
    order = config.dispatch.digest.category_order
    ranks = [order.index(e["category"]) for e in listed]
    assert ranks == sorted(ranks) and listed[0]["category"] == "works_emergency"
    assert lead["digest"]["to_you"] == sum(e["escalated_to"] == lead_id for e in listed) == len(crew_tasks)
    assert f"{len(listed)}项" in lead["text_zh"] and f"{len(listed)} task(s)" in lead["text_en"]
    town = next(r for r in rows if r["recipient"] == config.dispatch.town_command.id)
    assert town["digest"]["to_you"] > 0  # the grid leaders' own tasks
    # one step up each: the superior stands two steps above every holder, nothing reaches them yet
    assert superior.id not in recipients
    # the next tick a minute later: nothing new to escalate, nothing sent
    assert tick_report(conn, now=T0 + timedelta(minutes=41), config=config).digests == {}


def test_top_of_the_chain_escalates_to_the_superior_then_to_no_one(tmp_path, env):
    conn, _, roster = env
    for superior, second in (({"id": "HJ-1", "name_zh": "区值班领导", "name_en": "district duty leader",
                               "contact": "+86 371 0000 0000"}, "HJ-1"), (None, None)):
        config = _config_with(tmp_path, superior=superior)
        grace = timedelta(minutes=config.dispatch.sla.grace_min)
        db = connect(tmp_path / f"top-{second}.sqlite")
        ensure_schema(db)
        own = instr(1, grid=None, role="town_command", category="command", deadline=60)
        board.submit(db, [own], now=T0, actor="t", reason="r", config=config, roster=roster)
        first = board.tick(db, now=T0 + timedelta(minutes=3) + grace, config=config, roster=roster)
        assert [(e["timer"], e["escalated_to"], e["outcome"]) for e in first] == [
            ("ack", second, "escalated" if second else "no_one_above")]
        handle = board.tick(db, now=T0 + timedelta(minutes=60) + grace, config=config, roster=roster)
        # everyone above holds it already: recorded as "no one above", never escalated to the holder
        assert [(e["timer"], e["escalated_to"], e["outcome"]) for e in handle] == [("handle", None, "no_one_above")]
        row = board.show_task(db, own.key)
        assert [a["staff_id"] for a in row["assignments"]] == ["TOWN", *([second] if second else [])]
        assert "TOWN" not in {m["escalated_to"] for m in row["sla_misses"]}
        assert row["events"][-1]["kind"] == "sla_missed" and "no one above" in row["events"][-1]["reason"]
        # the holders are reminded in their digest of that tick
        last = [json.loads(r[0]) for r in db.execute("SELECT payload FROM outbox WHERE kind = 'escalated' ORDER BY id")]
        reminded = [d for d in last if d["event_id"] == last[-1]["event_id"]]
        assert sorted(d["recipient"] for d in reminded) == sorted(["TOWN", *([second] if second else [])])
        assert all(d["digest"]["to_you"] == 0 and "无人可再升级" in d["text_zh"] and "no one above" in d["text_en"]
                   for d in reminded)
        db.close()


def test_the_superior_is_checked_when_the_configuration_is_read(tmp_path):
    from floodtwin.errors import ConfigError

    with pytest.raises(ConfigError, match="superior"):
        _config_with(tmp_path, superior={"id": "TOWN", "name_zh": "镇", "name_en": "town", "contact": "x"})
    with pytest.raises(ConfigError, match="contact"):
        _config_with(tmp_path, superior={"id": "HJ", "name_zh": "区", "name_en": "district"})


def test_digest_lists_the_tasks_that_matter_most_first(env):
    conn, config, roster = env
    grace = timedelta(minutes=config.dispatch.sla.grace_min)
    info = instr(1, category="information", deadline=10)
    works = instr(2, category="works_emergency", deadline=60)
    evac_late = instr(3, category="evacuation", deadline=60)
    board.submit(conn, [evac_late], now=T0 - timedelta(minutes=20), actor="t", reason="r", config=config,
                 roster=roster)
    board.submit(conn, [info, works], now=T0, actor="t", reason="r", config=config, roster=roster)
    evac_early = instr(4, category="evacuation", deadline=60)
    board.submit(conn, [evac_early], now=T0, actor="t", reason="r", config=config, roster=roster)
    from floodtwin.dispatch.board.timers import tick_report

    report = tick_report(conn, now=T0 + timedelta(minutes=10) + grace, config=config, roster=roster)
    leader = report.digests["L1"]  # every task of G01 escalated to its leader
    assert [e["task_key"] for e in leader["tasks"]] == [works.key, evac_late.key, evac_early.key, info.key]
    assert leader["to_you"] == 4 and leader["overdue_total"] == 4
    assert leader["tasks"][1]["late_min"] > leader["tasks"][2]["late_min"]  # the same category: the later first


# ----------------------------------------------------------------------------------------------
# who may do what (issue 14.4)

def _counts(conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("tasks", "assignments", "outbox", "sla_misses", "events")}


def test_unknown_and_system_actors_are_refused_and_the_refusal_is_committed_alone(env):
    conn, config, roster = env
    t = instr(1)
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    before_row = dict(conn.execute("SELECT * FROM tasks WHERE key=?", (t.key,)).fetchone())
    before = _counts(conn)
    with pytest.raises(InputError, match=r"^S999 may not ack task tpl1:G01:\S+: S999 is not a staff id of the "
                                         r"roster, the town command \(TOWN\) or a system actor .*ack is for its "
                                         r"assignee M1$"):
        board.ack(conn, t.key, now=T0 + timedelta(minutes=1), actor="S999", config=config)
    with pytest.raises(InputError, match="tick is a system actor and ack is a person's; ack is for its assignee M1"):
        board.ack(conn, t.key, now=T0 + timedelta(minutes=1), actor="tick", config=config)
    # nothing changed but two events: the refusals, committed although the actions raised
    assert dict(conn.execute("SELECT * FROM tasks WHERE key=?", (t.key,)).fetchone()) == before_row
    assert _counts(conn) == {**before, "events": before["events"] + 2}
    refused = [dict(r) for r in conn.execute("SELECT * FROM events WHERE kind='refused' ORDER BY id")]
    assert [(e["actor"], e["task_key"], e["from_state"], e["to_state"]) for e in refused] == [
        ("S999", t.key, "dispatched", None), ("tick", t.key, "dispatched", None)]
    assert json.loads(refused[0]["data"]) == {"action": "ack"} and "S999 may not ack" in refused[0]["reason"]
    board.ack(conn, t.key, now=T0 + timedelta(minutes=1), actor="M1", config=config)  # the assignee may


def test_only_the_assignees_carry_a_task_and_escalation_adds_who_it_reached(env):
    conn, config, roster = env
    t = instr(1, grid="X01", role="team_member", category="works_emergency")
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    for who in ("M1", "LX", "TOWN"):  # another member, the leader before escalation, the command
        with pytest.raises(InputError, match=f"{who} may not ack task .*: ack is for its assignee T1$"):
            board.ack(conn, t.key, now=T0, actor=who, config=config)
    grace = timedelta(minutes=config.dispatch.sla.grace_min)
    board.tick(conn, now=T0 + timedelta(minutes=3, seconds=1) + grace, config=config, roster=roster)  # ack missed: -> LX
    with pytest.raises(InputError, match="ack is for its assignees T1, LX$"):
        board.ack(conn, t.key, now=T0 + timedelta(minutes=4) + grace, actor="L1", config=config)
    row = board.ack(conn, t.key, now=T0 + timedelta(minutes=4) + grace, actor="LX", config=config)
    assert row["state"] == "acknowledged"
    board.start(conn, t.key, now=T0 + timedelta(minutes=5) + grace, actor="T1", config=config)


def test_verification_by_the_grid_leader_a_leader_above_or_the_command_never_of_ones_own_work(env):
    conn, config, roster = env
    member_task, leader_task = instr(1, grid="X01", role="team_member"), instr(2, grid="G01", role="grid_leader")
    board.submit(conn, [member_task, leader_task], now=T0, actor="t", reason="r", config=config, roster=roster)
    for task, who in ((member_task, "T1"), (leader_task, "L1")):
        for minutes, action in ((1, "ack"), (2, "start"), (9, "done")):
            board.transition(conn, task.key, action, now=T0 + timedelta(minutes=minutes), actor=who, config=config)
    at = T0 + timedelta(minutes=10)
    with pytest.raises(InputError, match=r"T1 may not verify task .*: it is T1's own work; verify is for the leader "
                                         r"of X01 or of a grid above it \(LX, L1\) or the town command \(TOWN\)$"):
        board.verify(conn, member_task.key, now=at, actor="T1", config=config)
    with pytest.raises(InputError, match=r"M1 may not reject task .*: reject is for the leader of X01"):
        board.transition(conn, member_task.key, "reject", now=at, actor="M1", reason="no", config=config)
    # the leader of the grid above the exclusive grid may judge its work
    assert board.verify(conn, member_task.key, now=at, actor="L1", config=config)["state"] == "verified"
    with pytest.raises(InputError, match="close is for the leader of X01 or of a grid above it"):
        board.close(conn, member_task.key, now=at, actor="L2", config=config)
    assert board.close(conn, member_task.key, now=at, actor="LX", config=config)["state"] == "closed"
    # a leader's own task: not by himself, by the command (nobody leads a grid above G01)
    with pytest.raises(InputError, match=r"it is L1's own work; verify is for the town command \(TOWN\)$"):
        board.verify(conn, leader_task.key, now=at, actor="L1", config=config)
    assert board.verify(conn, leader_task.key, now=at, actor="TOWN", config=config)["state"] == "verified"
    kinds = [e["kind"] for e in board.events(conn)]
    assert kinds.count("refused") == 4


def test_only_the_town_command_cancels(env):
    conn, config, roster = env
    t = instr(1)
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    for who in ("M1", "L1"):
        with pytest.raises(InputError, match=rf"^{who} may not cancel task .*: only the town command \(TOWN\) cancels$"):
            board.cancel(conn, t.key, now=T0, actor=who, reason="flood over", config=config)
    assert board.cancel(conn, t.key, now=T0, actor="TOWN", reason="flood over", config=config)["state"] == "cancelled"


def test_a_units_task_is_carried_by_the_town_command(env):
    conn, config, roster = env
    bureau = instr(3, grid=None, role="river_bureau", category="information")
    board.submit(conn, [bureau], now=T0, actor="t", reason="r", config=config, roster=roster)
    with pytest.raises(InputError, match=r"ack is for the town command \(TOWN\), which acts for the unit river_bureau"):
        board.ack(conn, bureau.key, now=T0, actor="L1", config=config)
    for minutes, action in ((1, "ack"), (2, "start"), (9, "done")):
        board.transition(conn, bureau.key, action, now=T0 + timedelta(minutes=minutes), actor="TOWN", config=config)
    # no grid, and nobody in the town above the command: it judges the unit's work it carried
    assert board.verify(conn, bureau.key, now=T0 + timedelta(minutes=10), actor="TOWN",
                        config=config)["state"] == "verified"


def test_who_may_and_refusal_are_pure_rules(env):
    _, _, roster = env
    task = {"key": "k", "grid_id": "X01"}
    rule = {"assignees": ["T1", "LX"], "level0": ["T1"], "done_by": "LX", "roster": roster, "town_id": "TOWN"}
    assert who_may("verify", task, ["T1"], roster, "TOWN") == ["LX", "L1", "TOWN"]
    assert who_may("ack", task, ["works_team"], roster, "TOWN") == ["works_team", "TOWN"]
    assert refusal("start", "LX", task, **rule) is None  # escalated to him: he may carry it
    assert "own work" in refusal("verify", "LX", task, **rule)  # he reported it done
    assert refusal("verify", "L1", task, **rule) is None
    assert "(no actor) is not a staff id" in refusal("ack", "", task, **rule)


def test_push_by_someone_unknown_or_a_program_is_refused_and_logged(env):
    conn, config, roster = env
    for who, why in (("mallory", "not a staff id of the roster"), ("alerts", "a system actor")):
        with pytest.raises(InputError, match=f"{who} may not push: {why}"):
            board.push(conn, message="x", grid="G01", now=T0, actor=who, config=config, roster=roster)
    assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    assert [(r[0], r[1]) for r in conn.execute("SELECT actor, kind FROM events ORDER BY id")] == [
        ("mallory", "refused"), ("alerts", "refused")]


# ----------------------------------------------------------------------------------------------
# what people read (issue 14.5)

def test_notification_texts_show_the_deadline_on_the_staffs_clock(env):
    conn, config, roster = env
    task = {"title_zh": "巡查", "title_en": "patrol", "grid_id": "G01", "handle_due_at": "2026-07-20T02:30:00.000000Z"}
    msg = message("dispatched", task, T0, utc_offset_h=8)
    assert "截止 2026-07-20 10:30 UTC+8" in msg["text_zh"] and "(grid G01, due 2026-07-20 10:30 UTC+8)" in msg["text_en"]
    assert msg["at"] == "2026-07-20T02:00:00.000000Z"  # the machine fields stay UTC
    late = message("dispatched", {**task, "handle_due_at": "2026-07-20T17:30:00.000000Z"}, T0, utc_offset_h=8)
    assert "due 2026-07-21 01:30 UTC+8" in late["text_en"]  # past local midnight: the next day
    assert "due 2026-07-20 02:30 UTC)" in message("dispatched", task, T0)["text_en"]  # no offset: UTC, named
    # a state change's notification (here a cancellation) uses the configured offset
    t = instr(1, deadline=30)
    board.submit(conn, [t], now=T0, actor="t", reason="r", config=config, roster=roster)
    board.cancel(conn, t.key, now=T0, actor="TOWN", reason="flow falling", config=config)
    sent = json.loads(conn.execute("SELECT payload FROM outbox WHERE kind='cancelled'").fetchone()[0])
    assert "due 2026-07-20 10:30 UTC+8): flow falling" in sent["text_en"]


def test_local_time_names_the_zone_and_keeps_storage_utc():
    from floodtwin.db import local_time, ts, zone_label

    assert local_time("2026-07-20T02:30:00.000000Z", 8) == "2026-07-20 10:30 (UTC+8)"
    assert local_time(T0, 8, zone=False, seconds=True) == "2026-07-20 10:00:00"
    assert local_time(None, 8) == "-"
    assert [zone_label(h) for h in (8, 0, -3, 5.5)] == ["UTC+8", "UTC", "UTC-3", "UTC+5:30"]
    assert ts(T0) == "2026-07-20T02:00:00.000000Z"


def test_rows_carry_lists_and_objects_not_json_text(env):
    from floodtwin.tasks import Material

    conn, config, roster = env
    first = instr(1)
    second = instr(2, depends_on=(first.key,), materials=(Material("sandbags", 500, "bag"),), extra={"spur": 27})
    board.submit(conn, [first, second], now=T0, actor="t", reason="r", config=config, roster=roster)
    listed = {t["key"]: t for t in board.list_tasks(conn)}[second.key]
    shown = board.show_task(conn, second.key)
    acked = board.ack(conn, second.key, now=T0, actor="M2", config=config)
    for row in (listed, shown, acked):
        assert row["depends_on"] == [first.key] and row["extra"] == {"spur": 27}
        assert row["materials"] == [{"item": "sandbags", "quantity": 500, "unit": "bag", "depot_id": None}]
    # stored as JSON text all the same
    assert conn.execute("SELECT depends_on FROM tasks WHERE key=?", (second.key,)).fetchone()[0] == json.dumps([first.key])


def test_short_ids_are_unique_prefixes_of_the_hash_that_resolve_back(env):
    conn, config, roster = env
    tasks = [instr(n) for n in range(30)]
    board.submit(conn, tasks, now=T0, actor="t", reason="r", config=config, roster=roster)
    listed = board.list_tasks(conn)
    assert all(len(t["short_id"]) == 6 and t["key"].endswith(t["short_id"] + t["key"][-4:]) for t in listed)
    for t in listed:
        assert board.resolve_key(conn, t["short_id"]) == t["key"]
    # hashes sharing their first six digits get longer ids; a key whose hash is another's prefix keeps its key
    assert short_ids(["a:x:abcdef1234", "b:y:abcdef9999", "c:z:123456aaaa"]) == {
        "a:x:abcdef1234": "abcdef1", "b:y:abcdef9999": "abcdef9", "c:z:123456aaaa": "123456"}
    assert short_ids(["ab1234:x:ab12345678"])["ab1234:x:ab12345678"] == "ab1234:x:ab12345678"


# -- issue 20.2: every task a named person; load in the 10-minute window; the unit's chain -------------
def unit_roster() -> Roster:
    """small_roster plus a works team with a crew at works HYK (two on shift A, one off duty) and one
    member at no works, and the town command's duty room."""
    base = small_roster()
    staff = [{"staff_id": m.staff_id, "role": m.role, "grid_id": m.grid_id, "shift": m.shift, "on_duty": m.on_duty}
             for m in base.staff.values()]
    staff += [
        {"staff_id": "WL", "role": "unit_leader", "unit_id": "works_team", "shift": None, "on_duty": True},
        {"staff_id": "W1", "role": "unit_member", "unit_id": "works_team", "works_id": "HYK", "shift": "A"},
        {"staff_id": "W2", "role": "unit_member", "unit_id": "works_team", "works_id": "HYK", "shift": "A"},
        {"staff_id": "W3", "role": "unit_member", "unit_id": "works_team", "works_id": "HYK", "shift": "A",
         "on_duty": False},
        {"staff_id": "W4", "role": "unit_member", "unit_id": "works_team", "works_id": None, "shift": "A"},
        {"staff_id": "CL", "role": "unit_leader", "unit_id": "town_command", "shift": None, "on_duty": True},
        {"staff_id": "C1", "role": "unit_member", "unit_id": "town_command", "shift": "A"},
    ]
    grids = [{"grid_id": g.grid_id, "level": g.level, "parent": g.parent, "leader_id": g.leader_id, "cx": g.cx,
              "cy": g.cy} for g in base.grids.values()]
    units = [{"unit_id": "works_team", "leader_id": "WL"}, {"unit_id": "town_command", "leader_id": "CL"}]
    return Roster.from_records(staff, grids, units)


def crew_task(n: int, deadline: float = 60.0) -> TaskInstruction:
    return TaskInstruction(key=task_key(f"wt{n}", "works", "HYK"), template_id=f"wt{n}", category="works_emergency",
                           tier="I", owner_role="works_team", title_zh=f"工程{n}", title_en=f"works {n}",
                           deadline_min=deadline, scope_kind="works", scope_id="HYK", grid_id=None,
                           works_id="HYK", source="preplan")


def test_unit_tasks_go_to_named_people_of_the_crew_then_the_unit_within_the_window_cap(env):
    conn, config, _ = env
    roster = unit_roster()
    from floodtwin.dispatch.board.assign import load_cap

    cap = load_cap(config)
    assert cap == 3  # floor(10 min on site / 3 min to answer)
    tasks = [crew_task(n) for n in range(8)]
    board.submit(conn, tasks, now=T0, actor="test", reason="drill", config=config, roster=roster)
    who = [r[0] for r in conn.execute("SELECT staff_id FROM assignments ORDER BY id")]
    # the HYK crew on duty (W1, W2) takes 3 each (the cap), then the rest of the unit (W4): nobody is a unit
    assert sorted(who) == ["W1", "W1", "W1", "W2", "W2", "W2", "W4", "W4"]
    from floodtwin.dispatch.board.queries import load_report

    report = load_report(conn, config=config, roster=roster)
    assert report["max_tasks_in_window"] == 3 and report["over_cap"] == [] and report["unnamed_holders"] == {}
    # deadlines an hour apart do not add up: a second batch due 60 min later goes to the crew again
    later = [crew_task(n, deadline=120.0) for n in range(8, 11)]
    board.submit(conn, later, now=T0, actor="test", reason="drill", config=config, roster=roster)
    assert {r[0] for r in conn.execute("SELECT staff_id FROM assignments WHERE task_key IN (%s)"
                                       % ",".join("?" * 3), [t.key for t in later])} <= {"W1", "W2"}


def test_a_town_command_task_goes_to_its_duty_officer_and_a_unit_task_climbs_to_its_leader(env):
    conn, config, _ = env
    roster = unit_roster()
    town = instr(90, grid=None, role="town_command", category="command", deadline=10.0)
    crew = crew_task(91, deadline=30.0)
    board.submit(conn, [town, crew], now=T0, actor="test", reason="drill", config=config, roster=roster)
    held = {r[0]: r[1] for r in conn.execute("SELECT task_key, staff_id FROM assignments")}
    assert held == {town.key: "C1", crew.key: "W1"}
    superior = config.dispatch.town_command.superior.id
    climbed = {town.key: [], crew.key: []}
    # a missed timer climbs one step per tick: ack (due 3 min), set-out and on-site (5, 10), handle (30)
    for minutes in (7, 14, 34):  # person -> unit leader -> town command -> superior
        for e in board.tick(conn, now=T0 + timedelta(minutes=minutes), config=config, roster=roster):
            if e["action"] == "escalated" and e["escalated_to"] not in climbed[e["task_key"]]:
                climbed[e["task_key"]].append(e["escalated_to"])
    assert climbed[crew.key] == ["WL", "TOWN", superior]
    assert climbed[town.key] == ["CL", "TOWN"]  # a command task: ack and its 10-min deadline, two misses
    # the unit's leader judges the crew's work
    for action in ("ack", "start", "done"):
        board.transition(conn, crew.key, action, now=T0 + timedelta(minutes=35), actor="W1", config=config,
                         roster=roster)
    row = board.transition(conn, crew.key, "verify", now=T0 + timedelta(minutes=36), actor="WL", config=config,
                           roster=roster)
    assert row["state"] == "verified"
