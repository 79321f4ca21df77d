"""Integration: what the people on duty read and may do, through the real CLI entry point on a real
level-I activation of the repository's preplan and reach (310 tasks) in a temporary SQLite file.

The compact task list fits a 100-column terminal, one line per task, grouped by grid; times are on
the staff's clock (UTC+8) with the zone named; JSON carries lists and objects; a person must name
themselves, and an actor who may not act is refused in one line and logged.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from rich.cells import cell_len

from floodtwin.cli import main

T0 = "2026-07-20T10:00:00+08:00"   # shift A on duty
LATER = "2026-07-20T10:04:00+08:00"  # every acknowledgement (3 min) missed


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


@pytest.fixture(scope="module")
def board_db(tmp_path_factory):
    """A tier-I board: `floodtwin tasks activate --discharge 22000` on a fresh database."""
    db = str(tmp_path_factory.mktemp("people") / "ft.sqlite")
    with pytest.raises(SystemExit) as stop:
        main(["tasks", "activate", "--discharge", "22000", "--db", db, "--now", T0, "--no-deliver"])
    assert stop.value.code in (0, None)
    return db


@pytest.fixture()
def env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOODTWIN_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def test_the_compact_list_of_a_level_one_activation_is_one_line_per_task_at_100_columns(capsys, env, board_db):
    code, out, err = run(capsys, "tasks", "list", "--db", board_db, "--json")
    tasks = json.loads(out)
    # the plan's 310 and the emergency mode's routine tasks (level I forces the emergency mode)
    assert code == 0 and sum(t["source"] == "preplan" for t in tasks) == 310
    assert sum(t["source"] == "mode" for t in tasks) == 5
    code, out, err = run(capsys, "tasks", "list", "--db", board_db, "--now", LATER)
    assert code == 0, err
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= 100
    grids = {t["grid_id"] for t in tasks}
    # the mode line, a title line, a column header, one head per grid (and one for the town level), one line
    # per task
    assert lines[0].startswith("mode emergency 应急战时模式 since 2026-07-20 10:00 (UTC+8) (level, TOWN) · level I")
    lines = lines[1:]
    assert len(lines) == 2 + len(grids) + len(tasks) < 400
    by_id = [line for line in lines if line[1:7] in {t["short_id"] for t in tasks}]
    assert len(by_id) == len(tasks) and len({line[1:7] for line in by_id}) == len(tasks)
    assert lines[0].startswith("315 task(s) at 2026-07-20 10:04 (UTC+8); due times UTC+8")
    assert any(line.startswith("G01 ") and "leader S001" in line for line in lines)
    n_town = sum(t["grid_id"] is None for t in tasks)  # tasks without a grid come last
    assert lines[-n_town - 1].startswith("town level, no grid · town command TOWN")
    # long titles are cut with an ellipsis, never wrapped; deadlines on the local clock, missed ones marked
    assert sum(line.endswith("…") for line in by_id) > 100
    respond = next(line for line in by_id if "leader responds" in line)
    assert " 10:03   ! " in respond
    # --wide carries everything: full keys, both titles uncut, owner role, the deadline with its zone
    code, wide, _ = run(capsys, "tasks", "list", "--db", board_db, "--wide", "--grid", "G01", "--now", LATER)
    g01 = [t for t in tasks if t["grid_id"] == "G01"]
    flat = " ".join(wide.split())
    assert code == 0 and all(t["key"] in flat and " ".join(t["title_en"].split()) in flat for t in g01)
    assert all(t["title_zh"] in wide.replace("\n", "") for t in g01)
    assert "owner grid_leader" in flat and "due 2026-07-20 10:03 (UTC+8)" in flat and "missed: ack" in flat


def test_json_carries_lists_and_objects_not_json_text(capsys, env, board_db):
    code, out, _ = run(capsys, "tasks", "list", "--db", board_db, "--json")
    tasks = json.loads(out)
    assert all(isinstance(t["materials"], list) and isinstance(t["depends_on"], list)
               and isinstance(t["extra"], dict) for t in tasks)
    with_materials = next(t for t in tasks if t["materials"])
    code, out, _ = run(capsys, "tasks", "show", with_materials["short_id"], "--db", board_db, "--json")
    shown = json.loads(out)
    assert shown["materials"] == with_materials["materials"] and isinstance(shown["materials"][0]["quantity"],
                                                                            (int, float))


def test_show_reads_in_local_time(capsys, env, board_db):
    code, out, _ = run(capsys, "tasks", "list", "--db", board_db, "--json")
    task = next(t for t in json.loads(out) if t["template_id"] == "grid.respond")
    code, out, err = run(capsys, "tasks", "show", task["short_id"], "--db", board_db, "--now", LATER)
    assert code == 0, err
    assert "due 2026-07-20 10:03 (UTC+8)" in out and "overdue ack (due 2026-07-20 10:03 (UTC+8))" in out
    assert "times UTC+8:" in out and "  2026-07-20 10:00:00  dispatched" in out
    assert "02:00" not in out  # no UTC clock time left in what people read


def test_a_person_names_themselves_and_who_may_not_act_is_refused_in_one_logged_line(capsys, env, tmp_path):
    db = str(tmp_path / "ft.sqlite")
    run(capsys, "tasks", "activate", "--discharge", "22000", "--db", db, "--now", T0, "--no-deliver")
    code, out, _ = run(capsys, "tasks", "list", "--db", db, "--json")
    patrol = next(t for t in json.loads(out) if t["template_id"] == "patrol.dike" and t["grid_id"] == "G01")
    member, sid = patrol["assignees"][0], patrol["short_id"]
    code, _, err = run(capsys, "tasks", "ack", sid, "--db", db, "--now", T0)
    assert code == 2 and err.strip() == ("error: floodtwin tasks ack: Missing option '--actor'. "
                                         "(see floodtwin tasks ack --help)")
    code, _, err = run(capsys, "tasks", "ack", sid, "--db", db, "--now", T0, "--actor", "S999", "--no-deliver")
    line = err.strip()
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert line.startswith(f"error: S999 may not ack task {patrol['key']}: S999 is not a staff id of the roster")
    assert line.endswith(f"ack is for its assignee {member}")
    for who, action in ((member, "ack"), (member, "start"), (member, "done")):
        code, _, err = run(capsys, "tasks", action, sid, "--db", db, "--now", T0, "--actor", who, "--no-deliver")
        assert code == 0, err
    code, _, err = run(capsys, "tasks", "verify", sid, "--db", db, "--now", T0, "--actor", member, "--no-deliver")
    assert code == 2 and f"it is {member}'s own work; verify is for the leader of G01" in err
    code, _, err = run(capsys, "tasks", "verify", sid, "--db", db, "--now", T0, "--actor", "S001", "--no-deliver")
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        refused = conn.execute("SELECT actor, data FROM events WHERE kind='refused' AND task_key=? ORDER BY id",
                               (patrol["key"],)).fetchall()
        state = conn.execute("SELECT state FROM tasks WHERE key=?", (patrol["key"],)).fetchone()[0]
    assert [(a, json.loads(d)["action"]) for a, d in refused] == [("S999", "ack"), (member, "verify")]
    assert state == "verified"
    # an activation is the command's order by default; someone else named must be known
    code, _, err = run(capsys, "tasks", "activate", "--discharge", "22000", "--db", db, "--now", T0, "--actor", "duty")
    assert code == 2 and err.startswith("error: duty may not activate the plan: not a staff id of the roster")
    with sqlite3.connect(db) as conn:
        assert {r[0] for r in conn.execute("SELECT actor FROM activations")} == {"TOWN"}


def test_reports_read_in_local_time_and_carry_their_task_keys_as_lists(capsys, env, tmp_path):
    db = str(tmp_path / "ft.sqlite")
    code, out, err = run(capsys, "report", "add", "--danger", "piping", "--chainage", "9+100", "--reporter", "S030",
                         "--db", db, "--now", T0, "--no-deliver", "--no-reassess", "--json")
    assert code == 0, err
    added = json.loads(out)["report"]
    assert isinstance(added["task_keys"], list) and len(added["task_keys"]) == 1
    code, out, _ = run(capsys, "report", "list", "--db", db, "--json")
    assert json.loads(out)[0]["task_keys"] == added["task_keys"]
    code, out, _ = run(capsys, "report", "list", "--db", db)
    assert "received (UTC+8)" in out and "2026-07-20 10:00" in out
    code, out, _ = run(capsys, "report", "resolve", added["report_id"], "--reason", "filter well", "--actor", "S030",
                       "--db", db, "--now", "2026-07-20T03:30:00Z")
    assert code == 0 and "resolved at 2026-07-20 11:30 (UTC+8)" in out
    code, _, err = run(capsys, "report", "add", "--kind", "patrol", "--grid", "G07", "--reporter", "S999",
                       "--db", db, "--now", T0, "--no-deliver")
    assert code == 2 and "reporter 'S999' is not a staff id of the roster (kept)" in err


def test_a_level_one_activation_gives_every_task_to_a_named_person_within_the_window_cap(capsys, env, board_db):
    """Issue 20.2: `floodtwin tasks activate --discharge 22000`: all 310 tasks held by a person of the
    roster (grid staff or a unit's duty roster), never a unit's name or the town command as a body; no one
    holds more than the cap due in the same 10 minutes; the output says so at 100 columns."""
    from floodtwin.dispatch.roster import load_roster

    code, out, _ = run(capsys, "tasks", "list", "--db", board_db, "--json")
    tasks = json.loads(out)
    with sqlite3.connect(board_db) as conn:
        conn.row_factory = sqlite3.Row
        roster = load_roster(conn)
        level0 = {r[0]: r[1] for r in conn.execute("SELECT task_key, staff_id FROM assignments WHERE level = 0")}
        owners = {r[0]: r[1] for r in conn.execute("SELECT key, owner_role FROM tasks")}
    assert sum(t["source"] == "preplan" for t in tasks) == 310 and set(level0) == {t["key"] for t in tasks}
    lacking = sorted(k for k, who in level0.items() if who not in roster.staff)
    assert lacking == []
    # the unit still owns its task; the person is of that unit's roster (or of the exclusive grid's team)
    units = {k: owners[k] for k in level0 if owners[k] in roster.units}
    assert len(units) > 120
    assert all(roster.unit_of(level0[k]) == unit or roster.staff[level0[k]].role == "team_member"
               for k, unit in units.items())
    code, out, err = run(capsys, "tasks", "load", "--db", board_db, "--json")
    report = json.loads(out)
    assert code == 0 and report["cap"] == 3 and report["max_tasks_in_window"] <= report["cap"]
    assert report["unnamed_holders"] == {} and report["over_cap"] == []
    code, out, err = run(capsys, "tasks", "load", "--db", board_db)
    assert code == 0 and max(cell_len(line) for line in out.splitlines()) <= 100
    assert out.startswith(f"load: at most {report['max_tasks_in_window']} task(s) per person due in the same 10 min, "
                          "within the cap of 3")
    assert "every open task has a named person" in out
