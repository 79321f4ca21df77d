"""Restarts of a stone's sequence counter (battery change, reset): detected, recorded, and the
stone keeps alarming; the readings of both boots keep their places; the migration keeps old data."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from floodtwin.db import connect, migrate
from floodtwin.sensors import readings as rd
from floodtwin.sensors.ingest import Ingestor
from floodtwin.sensors.registry import save_registry
from floodtwin.sensors.store import COMPONENT, MIGRATIONS, open_db

NOW = datetime(2026, 7, 21, 12, 0, tzinfo=timezone.utc)
T_MS = lambda minutes: round((NOW + timedelta(minutes=minutes)).timestamp() * 1000)


def msg(stone, seq, minutes, roll=0.0, event="heartbeat", accel=(0.01, -0.01, 1.0), link="ok"):
    t = (NOW + timedelta(minutes=minutes)).isoformat()
    if link == "lost":
        return {"stone_id": stone, "time": t, "seq": seq, "event": event, "link": "lost"}
    return {"stone_id": stone, "time": t, "seq": seq, "roll_deg": roll, "pitch_deg": 0.0, "accel_g": list(accel),
            "battery_v": 3.9, "rssi_dbm": -72, "event": event, "link": link}


def feed(ing, items):
    lines = [json.dumps(x) for x in items]
    return ing.ingest_batch(rd.decode_json_lines(lines), lines, [f"test:{i + 1}" for i in range(len(lines))])


@pytest.fixture
def ing(tmp_path, registry, th):
    conn = open_db(tmp_path / "ft.sqlite")
    yield Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    conn.close()


def stored(ing, stone):
    return [tuple(r) for r in ing.conn.execute(
        "SELECT boot, seq, time_utc, late FROM readings_utc WHERE stone_id = ? ORDER BY time_utc", (stone,))]


def test_a_restarted_counter_is_recorded_and_the_stone_alarms_again(ing, registry):
    stone = registry["ST006"]
    assert stone.report_interval_min == 30  # the gaps below stay under 3 intervals: no offline events
    base = stone.baseline_roll_deg
    before = [msg("ST006", 40001 + k, -300 + 30 * k, base) for k in range(4)]  # last: seq 40004 at -210 min
    assert feed(ing, before).accepted == 4
    # the battery is changed: the counter starts again at 1; then the stone is displaced and its cable goes
    after = [msg("ST006", 1, -150, base), msg("ST006", 2, -100, base)]
    after += [msg("ST006", 3 + k, -99 + k / 12, base + 20, "movement", (0.4, 0.2, 2.5)) for k in range(2)]
    after += [msg("ST006", 5 + k, -98 + k, base + 20) for k in range(3)]
    after += [msg("ST006", 8, -60, link="lost")]
    s = feed(ing, after)
    assert (s.accepted, s.already_stored, dict(s.quarantined)) == (len(after), 0, {})
    assert s.restarts == [{"stone_id": "ST006", "boot": 1, "time": "2026-07-21T09:30:00.000Z", "from_seq": 40004,
                           "from_time": "2026-07-21T08:30:00.000Z", "to_seq": 1, "source": "test:1"}]
    assert [(e["from"], e["to"]) for e in s.events] == [("normal", "shaking"), ("shaking", "displaced"),
                                                        ("displaced", "lost")]
    (row,) = [dict(r) for r in ing.conn.execute("SELECT * FROM seq_restarts")]
    assert (row["stone_id"], row["boot"], row["from_seq"], row["to_seq"]) == ("ST006", 1, 40004, 1)
    assert (row["t_ms"], row["from_t_ms"], row["detected_ms"]) == (T_MS(-150), T_MS(-210), T_MS(0))
    assert [r[:2] for r in stored(ing, "ST006")] == [(0, 40001 + k) for k in range(4)] + [(1, k) for k in range(1, 9)]
    assert ing.machines["ST006"]["state"] == "lost"


def test_the_new_boot_survives_a_new_ingestor_and_redeliveries_of_both_boots_are_already_stored(
        tmp_path, registry, th):
    path = tmp_path / "ft.sqlite"
    conn = open_db(path)
    first = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    old = [msg("ST007", 500 + k, -200 + 30 * k) for k in range(3)]
    new = [msg("ST007", 1, -100), msg("ST007", 2, -70)]
    feed(first, old + new)
    conn.close()
    conn = open_db(path)
    again = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    assert again.machines["ST007"]["boot"] == 1
    s = feed(again, old + new + [msg("ST007", 3, -40)])
    assert (s.accepted, s.already_stored, dict(s.quarantined), s.restarts) == (1, 5, {}, [])
    assert stored(again, "ST007")[-1] == (1, 3, "2026-07-21T11:20:00.000Z", 0)
    conn.close()


def test_a_restart_that_reuses_stored_seqs_and_late_readings_around_it(ing):
    # boot 0 from installation (seq 1 on), seq 4 not yet arrived; the counter restarts and reaches 3 again
    feed(ing, [msg("ST008", 1, -300), msg("ST008", 2, -270), msg("ST008", 3, -240), msg("ST008", 5, -180)])
    s = feed(ing, [msg("ST008", 3, -100), msg("ST008", 4, -90), msg("ST008", 5, -80)])
    assert (s.accepted, dict(s.quarantined)) == (3, {})
    assert [(r["from_seq"], r["to_seq"]) for r in s.restarts] == [(5, 3)]
    # seq 4 of boot 0 arrives late: it fits between seq 3 and seq 5 of boot 0 by time
    s = feed(ing, [msg("ST008", 4, -210)])
    assert (s.accepted, s.late, dict(s.quarantined)) == (1, 1, {})
    # in the silence between the boots: seq 2 continues boot 1 backwards, seq 6 continues boot 0, seq 4 neither
    s = feed(ing, [msg("ST008", 2, -150), msg("ST008", 6, -160), msg("ST008", 4, -155)])
    assert (s.accepted, s.late, dict(s.quarantined)) == (2, 2, {"out_of_order": 1})
    detail = ing.conn.execute("SELECT detail FROM quarantine").fetchone()[0]
    assert "continues neither (boot 0 ends at seq 6, boot 1 starts at seq 2)" in detail, detail
    assert [r[:2] for r in stored(ing, "ST008")] == [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (1, 2), (1, 3),
                                                     (1, 4), (1, 5)]
    # inside boot 0's span a contradiction is out of order there, and a same seq with other values a duplicate
    s = feed(ing, [msg("ST008", 7, -200), msg("ST008", 3, -240, roll=1.0)])
    assert dict(s.quarantined) == {"out_of_order": 1, "duplicate": 1}
    assert ing.machines["ST008"]["boot"] == 1 and ing.machines["ST008"]["boot_start_ms"] == T_MS(-150)
    assert ing.conn.execute("SELECT count(*) FROM seq_restarts").fetchone()[0] == 1
    events = ing.conn.execute("SELECT count(*) FROM alarm_events WHERE retracted_ms IS NULL").fetchone()[0]
    assert events == 0  # nothing but heartbeats within three intervals of each other


def test_a_seq_that_falls_back_without_the_time_moving_past_the_newest_reading_is_no_restart(ing):
    feed(ing, [msg("ST009", 100, -60), msg("ST009", 101, -30)])
    s = feed(ing, [msg("ST009", 1, -45), msg("ST009", 2, -30)])  # earlier than, and as old as, the newest
    assert dict(s.quarantined) == {"out_of_order": 2} and s.restarts == []
    s = feed(ing, [msg("ST009", 101, -29)])  # the newest seq again, at a later time: a contradiction
    assert dict(s.quarantined) == {"duplicate": 1} and s.restarts == []


def test_the_migration_keeps_readings_and_machines_stored_before_it(tmp_path, registry, th):
    path = tmp_path / "old.sqlite"
    conn = connect(path)
    migrate(conn, COMPONENT, MIGRATIONS[:1])  # a database written before restarts were tracked
    save_registry(conn, registry)
    stone_no = conn.execute("SELECT stone_no FROM stones WHERE stone_id = 'ST010'").fetchone()[0]
    conn.execute("INSERT INTO readings (stone_no, seq, t_ms, roll_deg, pitch_deg, accel_x_g, accel_y_g, accel_z_g, "
                 "battery_v, rssi_dbm, movement, link_lost, received_ms, late) "
                 "VALUES (?, 7000, ?, 0, 0, 0, 0, 1, 3.9, -72, 0, 0, ?, 0)", (stone_no, T_MS(-60), T_MS(-59)))
    machine = {"state": "normal", "since_ms": None, "offline": False, "low_battery": False, "ref_roll": 0.29,
               "ref_pitch": 0.0, "abnormal": [], "settled": [], "calm_since_ms": None, "batt_low_n": 0,
               "batt_ok_n": 0, "last_t_ms": T_MS(-60), "last_seq": 7000, "last_roll": 0.0, "last_pitch": 0.0,
               "battery_v": 3.9, "swept_ms": None}  # the machine layout of that version: no boot
    conn.execute("INSERT INTO stone_state (stone_id, state, since_ms, offline, low_battery, last_seq, last_t_ms, "
                 "last_received_ms, battery_v, machine) VALUES ('ST010', 'normal', NULL, 0, 0, 7000, ?, ?, 3.9, ?)",
                 (T_MS(-60), T_MS(-59), json.dumps(machine)))
    conn.close()
    conn = open_db(path)
    assert conn.execute("SELECT version FROM schema_version WHERE component = 'sensors'").fetchone()[0] == len(
        MIGRATIONS)
    assert [tuple(r) for r in conn.execute("SELECT stone_id, boot, seq, time_utc FROM readings_utc")] == [
        ("ST010", 0, 7000, "2026-07-21T11:00:00.000Z")]
    ing = Ingestor(conn, registry=registry, thresholds=th, clock=lambda: NOW)
    s = feed(ing, [msg("ST010", 7000, -60, accel=(0, 0, 1)), msg("ST010", 1, -30)])
    assert (s.already_stored, s.accepted, [r["to_seq"] for r in s.restarts]) == (1, 1, [1])
    # the key is (stone, seq, boot): the same seq in the same boot is refused by the database itself
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO readings (stone_no, seq, boot, t_ms, movement, link_lost, received_ms) "
                     "VALUES (?, 1, 1, 0, 0, 0, 0)", (stone_no,))
    conn.close()
