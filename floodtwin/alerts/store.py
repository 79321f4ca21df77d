"""The alert run's tables (component ``alerts`` of the floodtwin database): every feed value
received with its quality flag, the state the run carries from one run to the next, and the CAP
messages written. The dispatch tables (board, outbox, ``alert_runs``) stay dispatch's."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from floodtwin.db import migrate, transaction, ts
from floodtwin.feeds import OBS_COLUMNS, empty_observations

__all__ = ["COMPONENT", "MIGRATIONS", "ensure_alert_schema", "store_observations", "load_history", "get_state",
           "set_state"]

COMPONENT = "alerts"

_V1 = """
CREATE TABLE feed_observations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER,
    received_at TEXT NOT NULL,
    value_time  TEXT,
    station_id  TEXT NOT NULL,
    variable    TEXT NOT NULL,
    value       REAL,
    units       TEXT NOT NULL,
    raw_value   REAL,
    raw_units   TEXT NOT NULL,
    qc          TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,
    UNIQUE (station_id, variable, value_time, source, raw_value)
);
CREATE INDEX feed_observations_series ON feed_observations(station_id, variable, qc, value_time);

CREATE TABLE feed_errors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER,
    at          TEXT NOT NULL,
    source      TEXT NOT NULL,
    error       TEXT NOT NULL,
    body        BLOB
);

CREATE TABLE alert_state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

CREATE TABLE cap_messages (
    identifier  TEXT PRIMARY KEY,
    sent        TEXT NOT NULL,
    msg_type    TEXT NOT NULL,
    tier        TEXT NOT NULL,
    colour      TEXT NOT NULL,
    references_ TEXT NOT NULL DEFAULT '',
    run_id      INTEGER,
    xml         TEXT NOT NULL,
    file        TEXT
);
"""

MIGRATIONS = [_V1]


def ensure_alert_schema(conn: sqlite3.Connection) -> int:
    """Create or upgrade the alert run's tables; the schema version now in the file."""
    return migrate(conn, COMPONENT, MIGRATIONS)


def store_observations(conn: sqlite3.Connection, obs: pd.DataFrame, *, run_id: int | None, now: datetime) -> int:
    """Keep every received value with its flag (call inside a transaction); a value already stored
    (same station, variable, time, source and raw value) is not stored twice. Returns rows added."""
    rows = [(run_id, ts(now), None if pd.isna(r.value_time) else ts(r.value_time.to_pydatetime()), r.station_id,
             r.variable, None if pd.isna(r.value) else float(r.value), r.units,
             None if pd.isna(r.raw_value) else float(r.raw_value), r.raw_units, r.qc, r.reason, r.source)
            for r in obs.itertuples() if r.qc != "duplicate"]
    before = conn.total_changes
    conn.executemany("INSERT OR IGNORE INTO feed_observations(run_id, received_at, value_time, station_id, variable,"
                     " value, units, raw_value, raw_units, qc, reason, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    return conn.total_changes - before


def load_history(conn: sqlite3.Connection, *, now: datetime, days: float = 7.0) -> pd.DataFrame:
    """Stored values of the last ``days`` before ``now`` (all flags), as an observation table."""
    rows = conn.execute(
        "SELECT value_time, station_id, variable, value, units, raw_value, raw_units, qc, reason, source "
        "FROM feed_observations WHERE value_time IS NOT NULL AND value_time >= ? AND value_time <= ? "
        "ORDER BY value_time", (ts(now - timedelta(days=days)), ts(now + timedelta(hours=1)))).fetchall()
    if not rows:
        return empty_observations()
    df = pd.DataFrame([tuple(r) for r in rows], columns=OBS_COLUMNS)
    df["value_time"] = pd.to_datetime(df["value_time"], utc=True, format="%Y-%m-%dT%H:%M:%S.%fZ")
    for c in ("value", "raw_value"):
        df[c] = df[c].astype("float64")
    return df


def get_state(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    """A value the run carried over (JSON), or ``default``."""
    row = conn.execute("SELECT value FROM alert_state WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def set_state(conn: sqlite3.Connection, key: str, value: Any) -> None:
    """Carry ``value`` (JSON-ready) to the next run (call inside a transaction)."""
    conn.execute("INSERT INTO alert_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                 "excluded.value", (key, json.dumps(value, ensure_ascii=False, default=str)))
