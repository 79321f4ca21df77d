"""Snap-and-send photo reports closed in a loop (issue 20.5): receive -> triage -> dispatch -> handle ->
verify (with a photo) -> close, with the timeline, deadlines and escalation; attachments by content hash,
never lost; the stats per grid and per kind."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from floodtwin.db import connect
from floodtwin.dispatch.settings import load_config
from floodtwin.errors import InputError
from floodtwin.reports import citizen

T0 = datetime(2026, 7, 21, 2, 0, tzinfo=UTC)  # 10:00 in Zhengzhou


@pytest.fixture(scope="module")
def reach():
    from floodtwin.reach import load_reach
    from floodtwin.reports import ReachIndex

    return ReachIndex(load_reach("huayuankou"))


@pytest.fixture()
def env(tmp_path, reach):
    conn = connect(tmp_path / "ft.sqlite")
    photo = tmp_path / "crack.jpg"
    photo.write_bytes(b"\xff\xd8 a crack in the dike slope \xff\xd9")
    after = tmp_path / "after.jpg"
    after.write_bytes(b"\xff\xd8 the crack sealed \xff\xd9")
    yield conn, photo, after, reach
    conn.close()


def snap(conn, reach, photo, rid="S1", grid="G09", kind="dike_damage", minutes=0.0, **over):
    raw = {"id": rid, "kind": kind, "text": "堤坡有裂缝 a crack in the slope", "reporter": "W-0001",
           "photos": [str(photo)], "grid_id": grid, **over}
    return citizen.receive(conn, {k: v for k, v in raw.items() if v is not None}, now=T0 + timedelta(minutes=minutes),
                           reach=reach, config=load_config())


def test_the_whole_loop_with_its_photos_and_timeline(env, tmp_path):
    conn, photo, after, reach = env
    config = load_config()
    row = snap(conn, reach, photo)
    assert row["status"] == "received" and row["grid_id"] == "G09" and row["triage_due_at"] == "2026-07-21T02:30:00.000000Z"
    stored = tmp_path / "attachments" / row["attachments"][0]["path"]
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    assert row["attachments"][0]["sha256"] == digest and stored.read_bytes() == photo.read_bytes()
    assert stored.name == f"{digest}.jpg"
    with pytest.raises(InputError, match="S030 may not triage report S1: triage is for the leader of G09"):
        citizen.triage(conn, "S1", now=T0 + timedelta(minutes=5), actor="S030", config=config)
    row = citizen.triage(conn, "S1", now=T0 + timedelta(minutes=5), actor="S009", config=config)
    assert row["status"] == "dispatched" and row["task_key"]
    task = conn.execute("SELECT * FROM tasks WHERE key=?", (row["task_key"],)).fetchone()
    assert task["owner_role"] == "grid_member" and task["grid_id"] == "G09" and task["source"] == "citizen"
    assert task["deadline_min"] == citizen.load_citizen_config().kinds["dike_damage"].handle_min
    member = conn.execute("SELECT staff_id FROM assignments WHERE task_key=?", (row["task_key"],)).fetchone()[0]
    assert member.startswith("S")  # a named person of G09
    row = citizen.handle(conn, "S1", now=T0 + timedelta(minutes=50), actor=member, photo=str(after), config=config)
    assert row["status"] == "handled"
    with pytest.raises(InputError, match="a verification needs a photo"):
        citizen.verify(conn, "S1", now=T0 + timedelta(minutes=55), actor="S009", photo=None, config=config)
    with pytest.raises(InputError, match="own work"):
        citizen.verify(conn, "S1", now=T0 + timedelta(minutes=55), actor=member, photo=str(after), config=config)
    row = citizen.verify(conn, "S1", now=T0 + timedelta(minutes=60), actor="S009", photo=str(after), config=config)
    row = citizen.close(conn, "S1", now=T0 + timedelta(minutes=65), actor="S009", config=config)
    assert row["status"] == "closed"
    assert conn.execute("SELECT state FROM tasks WHERE key=?", (row["task_key"],)).fetchone()[0] == "closed"
    # the same "after" photo at handle and verify is one file, two links
    assert [(a["step"], a["name"]) for a in row["attachments"]] == [("report", "crack.jpg"), ("handle", "after.jpg"),
                                                                    ("verify", "after.jpg")]
    assert len(list((tmp_path / "attachments").rglob("*.jpg"))) == 2
    kinds = [e["kind"] for e in citizen.timeline(conn, "S1")]
    task_steps = [k for k in kinds if k in ("dispatched", "ack", "start", "done", "verify", "close")]
    assert task_steps == ["dispatched", "ack", "start", "done", "verify", "close"] and kinds.count("refused") == 2
    assert [k for k in kinds if k.startswith("citizen_")] == ["citizen_received", "citizen_triaged",
                                                               "citizen_dispatched", "citizen_handled",
                                                               "citizen_verified", "citizen_closed"]
    # the same report again changes nothing; the same id with other content is refused
    assert snap(conn, reach, photo)["duplicate"]
    with pytest.raises(InputError, match="already used by a different report"):
        snap(conn, reach, photo, kind="other")


@pytest.mark.parametrize("over, reason", [
    ({"kind": "ufo"}, "kind 'ufo': expected one of"),
    ({"photos": []}, "needs at least one photo"),
    ({"photos": ["/nonexistent/x.jpg"]}, "photo /nonexistent/x.jpg: file not found"),
    ({"reporter": None}, "reporter: give an id"),
    ({"channel": "patrol"}, "a patrol report needs a staff id"),
    ({"text": " "}, "text: say what was seen"),
    ({"grid_id": "G99"}, "unknown grid 'G99'"),
    ({"observed_at": "2026-07-22T10:00:00+08:00"}, "is in the future"),
], ids=["kind", "no-photo", "missing-photo", "reporter", "patrol", "text", "grid", "future"])
def test_a_bad_report_is_kept_with_its_reason(env, over, reason):
    conn, photo, _, reach = env
    raw = {"id": "B1", "kind": "dike_damage", "text": "x", "reporter": "W-0001", "photos": [str(photo)],
           "grid_id": "G09", **over}
    row = citizen.receive(conn, {k: v for k, v in raw.items() if v is not None}, now=T0, reach=reach,
                          config=load_config())
    assert row["status"] == "rejected" and reason in row["reject_reason"]
    kept = conn.execute("SELECT status, raw FROM citizen_reports WHERE report_id='B1'").fetchone()
    assert kept["status"] == "rejected" and kept["raw"]
    assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0


def test_a_patrol_reports_through_the_same_loop(env):
    conn, photo, _, reach = env
    row = snap(conn, reach, photo, rid="P1", channel="patrol", reporter="S163", kind="water_hazard")
    assert row["status"] == "received" and row["channel"] == "patrol"


def test_late_steps_escalate_to_the_grid_leader_then_the_town_command(env):
    conn, photo, _, reach = env
    config = load_config()
    snap(conn, reach, photo)
    assert citizen.tick(conn, now=T0 + timedelta(minutes=29), config=config) == []
    first = citizen.tick(conn, now=T0 + timedelta(minutes=31), config=config)
    assert [(e["report_id"], e["step"], e["to"], e["level"]) for e in first] == [("S1", "triage", "S009", 1)]
    assert citizen.tick(conn, now=T0 + timedelta(minutes=32), config=config) == []  # once per step and level
    second = citizen.tick(conn, now=T0 + timedelta(minutes=62), config=config)
    assert [(e["to"], e["level"]) for e in second] == [("TOWN", 2)]
    assert citizen.tick(conn, now=T0 + timedelta(hours=5), config=config) == []  # the top: no storm
    sent = conn.execute("SELECT recipient FROM outbox WHERE kind='escalated' ORDER BY id").fetchall()
    assert [r[0] for r in sent] == ["S009", "TOWN"]


def test_stats_give_the_closed_share_and_the_median_time_to_close(env):
    conn, photo, after, reach = env
    config = load_config()
    times = {"A": 30, "B": 90, "C": None}  # minutes to close; C stays open
    for rid, minutes in times.items():
        snap(conn, reach, photo, rid=rid)
        row = citizen.triage(conn, rid, now=T0 + timedelta(minutes=1), actor="S009", config=config)
        if minutes is None:
            continue
        member = conn.execute("SELECT staff_id FROM assignments WHERE task_key=?", (row["task_key"],)).fetchone()[0]
        citizen.handle(conn, rid, now=T0 + timedelta(minutes=minutes - 2), actor=member, config=config)
        citizen.verify(conn, rid, now=T0 + timedelta(minutes=minutes - 1), actor="S009", photo=str(after), config=config)
        citizen.close(conn, rid, now=T0 + timedelta(minutes=minutes), actor="S009", config=config)
    snap(conn, reach, photo, rid="D", grid="G13", kind="other")
    citizen.triage(conn, "D", now=T0 + timedelta(minutes=10), actor="TOWN", dismiss="a duplicate of A", config=config)
    doc = citizen.stats(conn)
    assert (doc["reports"], doc["closed"], doc["closed_share"]) == (4, 3, 0.75)
    g09 = next(g for g in doc["by_grid"] if g["grid_id"] == "G09")
    assert (g09["reports"], g09["closed"], g09["closed_share"], g09["median_min_to_close"]) == (3, 2, 0.667, 60.0)
    g13 = next(g for g in doc["by_grid"] if g["grid_id"] == "G13")
    assert (g13["closed_share"], g13["median_min_to_close"]) == (1.0, 10.0)
    kinds = {k["kind"]: k for k in doc["by_kind"]}
    assert kinds["dike_damage"]["median_min_to_close"] == 60.0 and kinds["other"]["closed"] == 1
