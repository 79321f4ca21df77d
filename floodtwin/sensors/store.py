"""Sensor tables in the floodtwin database (component ``sensors``).

``stones`` (the registry; ``stone_no`` is a stable integer key), ``readings`` (accepted
readings, one row per (stone, boot, seq): ``boot`` counts the restarts of the stone's sequence
counter, 0 before the first; time as UTC epoch milliseconds, integer keys and flags
because ingest speed is bound by SQLite's per-row cost; the view ``readings_utc`` shows them
with stone ids, ISO 8601 UTC times and event/link words), ``quarantine`` (every rejected
message with its raw payload and the reason), ``stone_state`` (the alarm state machine of each
stone, persisted so ingest can stop and resume), ``alarm_events`` (every transition with its
evidence; re-evaluation retracts rather than deletes), ``alarm_tasks`` (which tasks an alarm
event created on the dispatch board) and ``seq_restarts`` (each restart of a stone's sequence
counter: when, and from which seq to which; see :mod:`floodtwin.sensors.ingest`).

Migrations are append-only: a released step is never edited, a change is a new step.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from floodtwin.db import STAFF_UTC_OFFSET_H, connect, migrate

__all__ = ["COMPONENT", "MIGRATIONS", "BEIJING", "open_db", "ms_to_iso", "ms_to_beijing"]

#: China Standard Time (UTC+8): the zone the stones report in and the duty officers read.
BEIJING = timezone(timedelta(hours=STAFF_UTC_OFFSET_H), "UTC+8")

COMPONENT = "sensors"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE stones (
        stone_no INTEGER PRIMARY KEY, stone_id TEXT NOT NULL UNIQUE, works_id TEXT NOT NULL,
        works_name_zh TEXT, works_name_en TEXT,
        spur_id TEXT NOT NULL, spur_number INTEGER NOT NULL, x_m REAL NOT NULL, y_m REAL NOT NULL,
        install_depth_m REAL, baseline_roll_deg REAL NOT NULL, baseline_pitch_deg REAL NOT NULL,
        report_interval_min REAL NOT NULL, grid_id TEXT, depot_id TEXT, depot_name_zh TEXT,
        depot_name_en TEXT, depot_x_m REAL, depot_y_m REAL, depot_distance_m REAL, reach TEXT NOT NULL
    );
    CREATE TABLE readings (
        stone_no INTEGER NOT NULL REFERENCES stones(stone_no), seq INTEGER NOT NULL, t_ms INTEGER NOT NULL,
        roll_deg REAL, pitch_deg REAL, accel_x_g REAL, accel_y_g REAL, accel_z_g REAL,
        battery_v REAL, rssi_dbm REAL, movement INTEGER NOT NULL, link_lost INTEGER NOT NULL,
        received_ms INTEGER NOT NULL, late INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX readings_stone_seq ON readings (stone_no, seq);
    CREATE VIEW readings_utc AS
        SELECT s.stone_id, r.seq, strftime('%Y-%m-%dT%H:%M:%fZ', r.t_ms / 1000.0, 'unixepoch') AS time_utc,
               r.roll_deg, r.pitch_deg, r.accel_x_g, r.accel_y_g, r.accel_z_g, r.battery_v, r.rssi_dbm,
               CASE r.movement WHEN 1 THEN 'movement' ELSE 'heartbeat' END AS event,
               CASE r.link_lost WHEN 1 THEN 'lost' ELSE 'ok' END AS link,
               strftime('%Y-%m-%dT%H:%M:%fZ', r.received_ms / 1000.0, 'unixepoch') AS received_utc, r.late
        FROM readings r JOIN stones s ON s.stone_no = r.stone_no;
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, source TEXT NOT NULL,
        reason TEXT NOT NULL, detail TEXT NOT NULL, stone_id TEXT, seq INTEGER, raw TEXT NOT NULL
    );
    CREATE INDEX quarantine_reason ON quarantine (reason);
    CREATE TABLE stone_state (
        stone_id TEXT PRIMARY KEY, state TEXT NOT NULL, since_ms INTEGER, offline INTEGER NOT NULL,
        low_battery INTEGER NOT NULL, last_seq INTEGER, last_t_ms INTEGER, last_received_ms INTEGER,
        battery_v REAL, machine TEXT NOT NULL
    );
    CREATE TABLE alarm_events (
        id INTEGER PRIMARY KEY, stone_id TEXT NOT NULL, t_ms INTEGER NOT NULL, kind TEXT NOT NULL,
        from_state TEXT NOT NULL, to_state TEXT NOT NULL, evidence TEXT NOT NULL,
        created_ms INTEGER NOT NULL, retracted_ms INTEGER
    );
    CREATE INDEX alarm_events_stone ON alarm_events (stone_id, t_ms);
    CREATE TABLE alarm_tasks (
        event_id INTEGER NOT NULL REFERENCES alarm_events(id), task_key TEXT NOT NULL,
        task_id TEXT, created_ms INTEGER NOT NULL, PRIMARY KEY (event_id, task_key)
    );
    """,
    # 2: restarts of a stone's sequence counter. A restarted counter re-uses seq numbers, so the
    # unique key becomes (stone, seq, boot); readings stored before keep boot 0. The key lists seq
    # before boot so that the look-up of a (stone, seq) in any boot (redeliveries) uses the index.
    """
    ALTER TABLE readings ADD COLUMN boot INTEGER NOT NULL DEFAULT 0;
    DROP INDEX readings_stone_seq;
    CREATE UNIQUE INDEX readings_stone_seq_boot ON readings (stone_no, seq, boot);
    DROP VIEW readings_utc;
    CREATE VIEW readings_utc AS
        SELECT s.stone_id, r.boot, r.seq, strftime('%Y-%m-%dT%H:%M:%fZ', r.t_ms / 1000.0, 'unixepoch') AS time_utc,
               r.roll_deg, r.pitch_deg, r.accel_x_g, r.accel_y_g, r.accel_z_g, r.battery_v, r.rssi_dbm,
               CASE r.movement WHEN 1 THEN 'movement' ELSE 'heartbeat' END AS event,
               CASE r.link_lost WHEN 1 THEN 'lost' ELSE 'ok' END AS link,
               strftime('%Y-%m-%dT%H:%M:%fZ', r.received_ms / 1000.0, 'unixepoch') AS received_utc, r.late
        FROM readings r JOIN stones s ON s.stone_no = r.stone_no;
    CREATE TABLE seq_restarts (
        id INTEGER PRIMARY KEY, stone_id TEXT NOT NULL, boot INTEGER NOT NULL, t_ms INTEGER NOT NULL,
        from_seq INTEGER NOT NULL, from_t_ms INTEGER NOT NULL, to_seq INTEGER NOT NULL,
        detected_ms INTEGER NOT NULL, source TEXT NOT NULL, UNIQUE (stone_id, boot)
    );
    CREATE INDEX quarantine_stone ON quarantine (stone_id);
    """,
]


def open_db(path=None) -> sqlite3.Connection:
    """Connect to the floodtwin database and bring the sensor tables up to date."""
    conn = connect(path)
    migrate(conn, COMPONENT, MIGRATIONS)
    return conn


def ms_to_iso(t_ms: int | None) -> str | None:
    """UTC epoch milliseconds -> ISO 8601 with 'Z' (None stays None)."""
    if t_ms is None:
        return None
    dt = datetime.fromtimestamp(t_ms / 1000.0, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ms_to_beijing(t_ms: int | None) -> str | None:
    """UTC epoch milliseconds -> ISO 8601 in Beijing time with its offset, to the second
    (``2026-07-22T08:00:00+08:00``); None stays None."""
    if t_ms is None:
        return None
    return datetime.fromtimestamp(t_ms / 1000.0, tz=BEIJING).isoformat(timespec="seconds")
