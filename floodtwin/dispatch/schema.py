"""The dispatch tables (component ``dispatch`` of the floodtwin database) and their migrations.

``MIGRATIONS[k]`` upgrades version k to k+1; never edit a released step, append a new one.
Times are stored as UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (:func:`floodtwin.db.ts`) so that text
order is time order.
The event log is append-only: triggers refuse UPDATE and DELETE on it.
"""

from __future__ import annotations

import sqlite3

from floodtwin.db import migrate

__all__ = ["COMPONENT", "MIGRATIONS", "ensure_schema"]

COMPONENT = "dispatch"

_V1 = """
CREATE TABLE roster_grids (
    grid_id     TEXT PRIMARY KEY,
    name_zh     TEXT,
    name_en     TEXT,
    level       TEXT NOT NULL,
    parent      TEXT,
    leader_id   TEXT,
    cx          REAL,
    cy          REAL
);
CREATE TABLE roster_staff (
    staff_id    TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    grid_id     TEXT,
    shift       TEXT,
    on_duty     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX roster_staff_grid ON roster_staff(grid_id, role);

CREATE TABLE activations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    tier        TEXT,
    colour      TEXT,
    decision    TEXT,
    n_tasks     INTEGER NOT NULL,
    n_created   INTEGER NOT NULL,
    n_stood_down INTEGER NOT NULL
);

CREATE TABLE tasks (
    key             TEXT PRIMARY KEY,
    template_id     TEXT NOT NULL,
    category        TEXT NOT NULL,
    tier            TEXT NOT NULL,
    owner_role      TEXT NOT NULL,
    title_zh        TEXT NOT NULL,
    title_en        TEXT NOT NULL,
    deadline_min    REAL NOT NULL,
    scope_kind      TEXT,
    scope_id        TEXT,
    grid_id         TEXT,
    works_id        TEXT,
    repeat_min      REAL,
    depends_on      TEXT NOT NULL DEFAULT '[]',
    materials       TEXT NOT NULL DEFAULT '[]',
    x               REAL,
    y               REAL,
    note_zh         TEXT NOT NULL DEFAULT '',
    note_en         TEXT NOT NULL DEFAULT '',
    source          TEXT NOT NULL,
    extra           TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    dispatched_at   TEXT,
    acknowledged_at TEXT,
    started_at      TEXT,
    on_site_at      TEXT,
    done_at         TEXT,
    verified_at     TEXT,
    closed_at       TEXT,
    ended_at        TEXT,
    handle_due_at   TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    activation_id   INTEGER REFERENCES activations(id),
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX tasks_state ON tasks(state);
CREATE INDEX tasks_grid ON tasks(grid_id);

CREATE TABLE assignments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_key    TEXT NOT NULL REFERENCES tasks(key),
    staff_id    TEXT NOT NULL,
    role        TEXT NOT NULL,
    level       INTEGER NOT NULL,
    assigned_at TEXT NOT NULL,
    reason      TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX assignments_task ON assignments(task_key);
CREATE INDEX assignments_staff ON assignments(staff_id, active);

CREATE TABLE sla_misses (
    task_key    TEXT NOT NULL REFERENCES tasks(key),
    timer       TEXT NOT NULL,
    due_at      TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    escalated_to TEXT NOT NULL,
    level       INTEGER NOT NULL,
    PRIMARY KEY (task_key, timer)
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    task_key    TEXT,
    report_id   TEXT,
    from_state  TEXT,
    to_state    TEXT,
    reason      TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_task ON events(task_key);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE reports (
    report_id   TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    observed_at TEXT,
    status      TEXT NOT NULL,
    reject_reason TEXT,
    kind        TEXT,
    danger_kind TEXT,
    severity    TEXT,
    lon         REAL,
    lat         REAL,
    x           REAL,
    y           REAL,
    works_id    TEXT,
    spur_id     TEXT,
    dike_id     TEXT,
    chainage_m  REAL,
    grid_id     TEXT,
    reporter    TEXT,
    photo       TEXT,
    text        TEXT,
    raw         TEXT NOT NULL,
    resolved_at TEXT,
    task_keys   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX reports_status ON reports(status, danger_kind);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    idem_key    TEXT NOT NULL UNIQUE,
    notifier    TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    task_key    TEXT,
    event_id    INTEGER REFERENCES events(id),
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    last_error  TEXT,
    sent_at     TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE alert_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    discharge_m3s REAL,
    tier        TEXT,
    reason      TEXT NOT NULL DEFAULT '',
    summary     TEXT NOT NULL DEFAULT '{}'
);
"""

# v2: grid outlines (WKB), so that a located task of a unit (works team) finds the exclusive grid it lies in
_V2 = """
ALTER TABLE roster_grids ADD COLUMN geom BLOB;
"""

# v3: recurring tasks (patrol rounds) count their rounds
_V3 = """
ALTER TABLE tasks ADD COLUMN round INTEGER NOT NULL DEFAULT 1;
"""

# v4: who holds a delivery lease (host, pid and start time of the process), so that a later run takes
# over at once the claims of a process of this machine that is gone; how a missed timer was answered
# ('escalated' one step up, or 'no_one_above' at the top of the chain, where escalated_to is '')
_V4 = """
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE sla_misses ADD COLUMN outcome TEXT NOT NULL DEFAULT 'escalated';
"""

# v5: the duty rosters of the plan's units (issue 20): every task goes to a named person of its unit
_V5 = """
CREATE TABLE roster_units (
    unit_id     TEXT PRIMARY KEY,
    name_zh     TEXT,
    name_en     TEXT,
    leader_id   TEXT
);
ALTER TABLE roster_staff ADD COLUMN unit_id TEXT;
ALTER TABLE roster_staff ADD COLUMN works_id TEXT;
"""

# v6: the working mode of the board (normal, holiday, major event, emergency): every switch, who and why
_V6 = """
CREATE TABLE mode_switches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    from_mode   TEXT NOT NULL,
    to_mode     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    tier        TEXT
);
CREATE TRIGGER mode_switches_no_update BEFORE UPDATE ON mode_switches
BEGIN SELECT RAISE(ABORT, 'mode switches are append-only'); END;
CREATE TRIGGER mode_switches_no_delete BEFORE DELETE ON mode_switches
BEGIN SELECT RAISE(ABORT, 'mode switches are append-only'); END;
"""

# v7: camera and video-analytics events, accepted or rejected with the reason (nothing received is lost)
_V7 = """
CREATE TABLE camera_events (
    event_id    TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    observed_at TEXT,
    status      TEXT NOT NULL,
    reject_reason TEXT,
    camera_id   TEXT,
    kind        TEXT,
    confidence  REAL,
    count       INTEGER,
    snapshot    TEXT,
    x           REAL,
    y           REAL,
    lon         REAL,
    lat         REAL,
    grid_id     TEXT,
    chainage_m  REAL,
    action      TEXT NOT NULL DEFAULT '',
    task_keys   TEXT NOT NULL DEFAULT '[]',
    source      TEXT NOT NULL DEFAULT '',
    raw         TEXT NOT NULL
);
CREATE INDEX camera_events_kind ON camera_events(status, kind, camera_id);
"""

# v8: citizen and patrol photo reports (随手拍) and their closed loop; attachments stored by content hash
_V8 = """
CREATE TABLE citizen_reports (
    report_id   TEXT PRIMARY KEY,
    channel     TEXT,
    received_at TEXT NOT NULL,
    observed_at TEXT,
    status      TEXT NOT NULL,
    reject_reason TEXT,
    kind        TEXT,
    text        TEXT,
    reporter    TEXT,
    lon         REAL,
    lat         REAL,
    x           REAL,
    y           REAL,
    grid_id     TEXT,
    task_key    TEXT,
    triage_due_at TEXT,
    triaged_at  TEXT,
    dispatched_at TEXT,
    handled_at  TEXT,
    verify_due_at TEXT,
    verified_at TEXT,
    closed_at   TEXT,
    escalations INTEGER NOT NULL DEFAULT 0,
    raw         TEXT NOT NULL
);
CREATE INDEX citizen_reports_status ON citizen_reports(status, grid_id, kind);
CREATE TABLE attachments (
    sha256      TEXT PRIMARY KEY,
    size_bytes  INTEGER NOT NULL,
    suffix      TEXT NOT NULL,
    path        TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);
CREATE TABLE report_attachments (
    report_id   TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES attachments(sha256),
    step        TEXT NOT NULL,
    name        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    PRIMARY KEY (report_id, sha256, step)
);
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8]


def ensure_schema(conn: sqlite3.Connection) -> int:
    """Create or upgrade the dispatch tables in ``conn``; return the schema version now in the file."""
    return migrate(conn, COMPONENT, MIGRATIONS)
