"""The four working modes (issue 20.3): the preplan's modes and their checks, the board's switches with
who and why, the routine tasks of each mode, and the two automatic rules (level IV+, a crowd count)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from floodtwin import alerts
from floodtwin.config import DATA_DIR
from floodtwin.db import connect
from floodtwin.dispatch.modes import apply_crowd, current_mode, mode_history, set_mode
from floodtwin.dispatch.settings import load_config
from floodtwin.errors import ConfigError, InputError
from floodtwin.preplan import Preplan, ReachTables
from floodtwin.preplan.model import MODE_IDS
from floodtwin.preplan.modes import crowd_switch, mode_tasks, tier_forces_emergency

T0 = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)  # 08:00 in Zhengzhou, National Day


@pytest.fixture(scope="module")
def plan():
    return Preplan.load()


@pytest.fixture(scope="module")
def tables():
    return ReachTables.read("huayuankou")


@pytest.fixture()
def conn(tmp_path):
    c = connect(tmp_path / "ft.sqlite")
    yield c
    c.close()


def test_the_preplan_has_the_four_modes_with_duty_and_routine_tasks(plan, tables):
    section = plan.model.modes
    assert [m.id for m in section.modes] == list(MODE_IDS) and section.default == "normal"
    keys = set()
    for spec in section.modes:
        tasks = mode_tasks(plan.model, spec.id, tables)
        assert tasks and all(t.source == "mode" and t.key.startswith(f"mode.{spec.id}.") for t in tasks), spec.id
        assert spec.duty.summary_zh and spec.duty.summary_en
        keys |= {t.key for t in tasks}
    assert len(keys) == sum(len(mode_tasks(plan.model, m, tables)) for m in MODE_IDS)  # no key shared
    holiday = {t.template_id for t in mode_tasks(plan.model, "holiday", tables)}
    assert {"mode.holiday.key_point_watch", "mode.holiday.traffic", "mode.holiday.water_safety"} <= holiday


def test_the_automatic_rules(plan):
    assert [tier_forces_emergency(plan.model, t) for t in ("normal", "IV", "III", "II", "I")] == \
        [False, True, True, True, True]
    section = plan.model.modes
    assert crowd_switch(section, "holiday", "X03", 30001)[0] == "emergency"
    assert crowd_switch(section, "holiday", "X03", 30000) is None  # above, not at, the threshold
    assert crowd_switch(section, "holiday", "X01", 90000) is None  # the rule is the scenic area's
    assert crowd_switch(section, "emergency", "X03", 90000) is None


def _broken(tmp_path, edit) -> str:
    doc = yaml.safe_load((DATA_DIR / "preplans" / "huayuankou.yaml").read_text(encoding="utf-8"))
    edit(doc["modes"])
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Preplan.load(path)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_broken_modes_section_is_one_line_naming_file_line_and_key(tmp_path):
    msg = _broken(tmp_path, lambda m: m["modes"].pop(1))
    assert "modes.modes: working modes holiday are missing" in msg
    msg = _broken(tmp_path, lambda m: m["automatic"]["crowd"][0].update(to="party"))
    assert "modes.automatic.crowd.0.to: unknown working mode 'party'" in msg and "plan.yaml:" in msg
    msg = _broken(tmp_path, lambda m: m["modes"][1]["tasks"][0].update(owner="nobody"))
    assert "modes.modes.1.tasks.0.owner: unknown role 'nobody'" in msg
    msg = _broken(tmp_path, lambda m: m["modes"][1]["tasks"][0].update(title_en="Staff {village}"))
    assert "modes.modes.1.tasks.0.title_en: placeholder {village} cannot be filled" in msg
    msg = _broken(tmp_path, lambda m: m.update(default="weekend"))
    assert "modes.default: unknown working mode 'weekend'" in msg


def test_a_switch_by_hand_is_audited_and_swaps_the_routine_tasks(conn, plan, tables):
    config = load_config()
    assert current_mode(conn)["mode"] == "normal"
    first = set_mode(conn, "holiday", now=T0, actor="TOWN", reason="National Day", preplan=plan, reach=tables,
                     config=config)
    assert first.switched and (first.from_mode, first.to_mode) == ("normal", "holiday")
    holiday = {t.key for t in mode_tasks(plan.model, "holiday", tables)}
    assert set(first.created) == holiday and first.notified > 70  # every leader on duty is told
    again = set_mode(conn, "holiday", now=T0 + timedelta(minutes=1), actor="S001", reason="again", preplan=plan,
                     reach=tables, config=config)
    assert not again.switched and again.created == []
    event = conn.execute("SELECT actor, reason, from_state, to_state FROM events WHERE kind = 'mode_switch'"
                         ).fetchall()
    assert [tuple(e) for e in event] == [("TOWN", "National Day", "normal", "holiday")]
    later = set_mode(conn, "major_event", now=T0 + timedelta(hours=2), actor="S001", reason="Yellow River marathon",
                     preplan=plan, reach=tables, config=config)
    assert set(later.stood_down) == holiday  # the holiday routine ends with the holiday mode
    states = dict(conn.execute("SELECT key, state FROM tasks").fetchall())
    assert all(states[k] == "stood_down" for k in holiday)
    assert [(h["from_mode"], h["to_mode"], h["actor"], h["trigger"]) for h in mode_history(conn)] == [
        ("holiday", "major_event", "S001", "manual"), ("normal", "holiday", "TOWN", "manual")]
    with pytest.raises(InputError, match="give the reason"):
        set_mode(conn, "normal", now=T0, actor="TOWN", reason=" ", preplan=plan, reach=tables, config=config)
    with pytest.raises(InputError, match="unknown working mode 'carnival'"):
        set_mode(conn, "carnival", now=T0, actor="TOWN", reason="x", preplan=plan, reach=tables, config=config)
    with pytest.raises(InputError, match="may not set the working mode"):
        set_mode(conn, "normal", now=T0, actor="somebody", reason="x", preplan=plan, reach=tables, config=config)
    # the refused actor is in the audit log too
    assert conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'refused' AND actor = 'somebody'").fetchone()[0] == 1


def test_level_four_forces_the_emergency_mode_and_holds_it(conn, plan, tables):
    config = load_config()
    set_mode(conn, "holiday", now=T0, actor="TOWN", reason="National Day", preplan=plan, reach=tables, config=config)
    alerts.activate_discharge(conn, 3000, now=T0 + timedelta(hours=1), actor="alerts", reason="gauge", config=config)
    assert current_mode(conn)["mode"] == "holiday"  # normal flow: the calendar decides
    alerts.activate_discharge(conn, 4500, now=T0 + timedelta(hours=2), actor="alerts", reason="gauge", config=config)
    mode = current_mode(conn)
    assert (mode["mode"], mode["trigger"], mode["actor"]) == ("emergency", "level", "alerts")
    assert "flood level IV" in mode["reason"]
    with pytest.raises(InputError, match="the flood level is IV .* forces the emergency mode"):
        set_mode(conn, "holiday", now=T0 + timedelta(hours=3), actor="TOWN", reason="back to the holiday",
                 preplan=plan, reach=tables, config=config)


def test_a_crowd_count_in_the_scenic_area_switches_holiday_to_emergency_with_its_tasks(conn, plan, tables):
    config = load_config()
    set_mode(conn, "holiday", now=T0, actor="TOWN", reason="National Day", preplan=plan, reach=tables, config=config)
    assert apply_crowd(conn, "X03", 25_000, now=T0 + timedelta(hours=9), actor="cameras", preplan=plan,
                       reach=tables, config=config) is None
    out = apply_crowd(conn, "X03", 31_500, now=T0 + timedelta(hours=10), actor="cameras", preplan=plan,
                      reach=tables, config=config, evidence="camera CAM-X03-01")
    assert out.switched and (out.from_mode, out.to_mode, out.trigger) == ("holiday", "emergency", "crowd")
    assert "31,500 people in exclusive grid X03 above 30,000" in out.reason and "CAM-X03-01" in out.reason
    emergency = {t.key for t in mode_tasks(plan.model, "emergency", tables)}
    assert set(out.created) == emergency
    from floodtwin.dispatch.roster import load_roster

    roster = load_roster(conn)
    held = {r[0]: r[1] for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE level = 0")}
    assert all(held[k] in roster.staff for k in emergency)  # each routine task a named person
    assert roster.unit_of(held[next(k for k in emergency if "field_command" in k)]) == "town_command"
    assert current_mode(conn)["actor"] == "cameras"
