"""The floodtwin database: one SQLite file in WAL mode, versioned schemas, safe transactions.

Several components keep tables in the same file (``dispatch``, ``sensors``, ``alerts``); each
registers its own ordered list of migrations and has its own row in ``schema_version``. Opening
an older database upgrades it; a database written by a newer floodtwin is refused.
Every write goes through :func:`transaction`, which takes the write lock up front
(``BEGIN IMMEDIATE``) and retries while another process holds it, so concurrent writers
serialise instead of losing updates.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from floodtwin.errors import DataError, InputError

__all__ = ["STAFF_UTC_OFFSET_H", "BUSY_TIMEOUT_MS", "DEFAULT_LOCK_TIMEOUT_S", "lock_timeout_s", "Connection", "default_db_path",
           "connect", "transaction", "schema_version", "migrate", "ts", "parse_ts", "parse_now", "zone_label",
           "local_time"]

#: How long one attempt waits on a locked database (ms); a transaction retries until the lock budget
#: (``$FLOODTWIN_DB_LOCK_TIMEOUT_S``, default 60 s) is spent, then reports the database as locked.
BUSY_TIMEOUT_MS = 5000
DEFAULT_LOCK_TIMEOUT_S = 60.0


def lock_timeout_s() -> float:
    """Seconds a write waits for another process's lock before giving up (``$FLOODTWIN_DB_LOCK_TIMEOUT_S``)."""
    raw = os.environ.get("FLOODTWIN_DB_LOCK_TIMEOUT_S")
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"FLOODTWIN_DB_LOCK_TIMEOUT_S={raw!r}: expected seconds") from None
    if value <= 0:
        raise DataError(f"FLOODTWIN_DB_LOCK_TIMEOUT_S={raw!r}: must be > 0")
    return value


class Connection(sqlite3.Connection):
    """A sqlite3 connection that remembers its file (``db_path``) for error messages."""

    db_path: str = "database"


def default_db_path() -> Path:
    """``$FLOODTWIN_DB``, else ``$XDG_DATA_HOME/floodtwin/floodtwin.sqlite`` (~/.local/share)."""
    env = os.environ.get("FLOODTWIN_DB")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "floodtwin" / "floodtwin.sqlite"


def connect(path: str | Path | None = None) -> Connection:
    """Open (creating if needed) the database at ``path`` in WAL mode with foreign keys on.

    The connection is in autocommit mode (``isolation_level=None``): transactions are explicit,
    through :func:`transaction`. A file that is not a SQLite database raises DataError. The folder
    of the default path (the user data directory) is created; the folder of a path given
    explicitly must exist (a mistyped ``--db`` must not silently start an empty database).
    While another process holds the file (switching it to WAL, migrating) opening retries within
    the lock budget.
    """
    explicit = path is not None or bool(os.environ.get("FLOODTWIN_DB"))
    path = Path(path) if path is not None else default_db_path()
    if path.exists() and path.is_dir():
        raise DataError(f"{path}: is a directory, expected a SQLite database file")
    if not path.parent.exists():
        if explicit:
            raise DataError(f"{path}: folder {path.parent} does not exist")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"{path}: cannot create folder {path.parent}: {exc.strerror or exc}") from None
    budget_s = lock_timeout_s()
    busy_ms = int(min(BUSY_TIMEOUT_MS, budget_s * 1000))
    started = time.monotonic()
    attempt = 0
    while True:
        conn = None
        try:
            conn = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None,
                                   check_same_thread=False, factory=Connection)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                         " component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
            break
        except sqlite3.OperationalError as exc:
            if conn is not None:
                conn.close()
            waited = time.monotonic() - started
            if _is_busy(exc) and waited < budget_s:
                time.sleep(min(0.05 * 2**attempt, 1.0, max(budget_s - waited, 0.0)))
                attempt += 1
                continue
            if _is_busy(exc):
                raise DataError(f"{path}: database is locked by another process (waited {waited:.1f} s)") from None
            raise DataError(f"{path}: cannot open database: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise DataError(f"{path}: cannot open database: {exc}") from None
    if str(mode).lower() != "wal":
        conn.close()
        raise DataError(f"{path}: could not switch the database to WAL mode (got {mode})")
    conn.db_path = str(path)
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` with retry on a busy database; commit or roll back.

    Nothing is half-written: an exception inside the block rolls everything back and propagates.
    """
    path = getattr(conn, "db_path", "database")
    budget_s = lock_timeout_s()
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise DataError(f"{path}: {exc}") from None
            waited = time.monotonic() - started
            if waited >= budget_s:
                raise DataError(f"{path}: database is locked by another process (waited {waited:.1f} s); "
                                f"nothing was written") from None
            time.sleep(min(0.05 * 2**attempt, 1.0, max(budget_s - waited, 0.0)))
            attempt += 1
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{path}: {exc}") from None
    try:
        yield conn
    except BaseException:
        # the engine may already have rolled back (disk full, I/O error): never mask the real error
        with contextlib.suppress(sqlite3.DatabaseError):
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(sqlite3.DatabaseError):
                conn.execute("ROLLBACK")
            raise DataError(f"{path}: commit failed: {exc}") from None


def schema_version(conn: sqlite3.Connection, component: str) -> int:
    """Schema version of ``component`` in this database (0 when it has no tables yet)."""
    row = conn.execute("SELECT version FROM schema_version WHERE component = ?", (component,)).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[str]) -> int:
    """Bring ``component``'s tables up to ``len(migrations)``; return the version now in the file.

    ``migrations[k]`` is the SQL script that upgrades version k to k+1; scripts are applied in
    order, each in its own transaction together with the version bump. A database whose version
    is newer than this code knows is refused with DataError rather than touched.
    """
    path = getattr(conn, "db_path", "database")
    target = len(migrations)
    try:
        current = schema_version(conn, component)
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path}: not a floodtwin database: {exc}") from None
    if current > target:
        raise DataError(f"{path}: {component} schema version {current} is newer than this floodtwin "
                        f"understands ({target}); upgrade floodtwin")
    for version in range(current, target):
        with transaction(conn):
            # another process may have migrated between our read and our lock: look again under the lock
            now_at = schema_version(conn, component)
            if now_at > target:
                raise DataError(f"{path}: {component} schema version {now_at} is newer than this floodtwin "
                                f"understands ({target}); upgrade floodtwin")
            if now_at > version:
                continue
            # executescript would COMMIT implicitly; run statements one by one inside our transaction
            for statement in _split_sql(migrations[version]):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version(component, version) VALUES (?, ?) "
                         "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                         (component, version + 1))
    return target


def _split_sql(script: str) -> list[str]:
    """Split a migration script into complete statements (sqlite3.complete_statement aware)."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


# ----------------------------------------------------------------------------------------------
# time as stored: UTC text that sorts as time

def ts(now: datetime) -> str:
    """``now`` (tz-aware) as the stored UTC text form; naive datetimes are refused."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InputError(f"time {now!r} must be a timezone-aware datetime")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """The stored UTC text form back to an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def parse_now(text: str | None) -> datetime:
    """A CLI ``--now`` value (ISO 8601 with offset; naive means UTC) or the current UTC time."""
    if text is None or text == "":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--now {text!r}: expected an ISO 8601 time such as 2026-07-20T08:00:00+08:00") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# ----------------------------------------------------------------------------------------------
# time as people on duty read it: their local clock, with the zone named (storage stays UTC)

#: the clock of the people on duty at Huayuankou (Beijing time, UTC+8); the dispatch YAML's
#: ``utc_offset_h`` (8) says the same for the board; the sensors, which read no dispatch file, use this
STAFF_UTC_OFFSET_H = 8.0


def zone_label(utc_offset_h: float) -> str:
    """``UTC+8``, ``UTC-3``, ``UTC+5:30``, ``UTC`` for an offset in hours."""
    minutes = round(utc_offset_h * 60)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def local_time(value: str | datetime | None, utc_offset_h: float, *, zone: bool = True,
               seconds: bool = False) -> str:
    """A stored UTC time (text of :func:`ts`, or an aware datetime) on the clock of the people on duty:
    ``2026-07-20 10:30 (UTC+8)``; without ``zone`` where a heading names it once; ``-`` for no time."""
    if value is None or value == "":
        return "-"
    when = parse_ts(value) if isinstance(value, str) else value
    if when.tzinfo is None or when.utcoffset() is None:
        raise InputError(f"time {when!r} must be a timezone-aware datetime")
    local = when.astimezone(timezone(timedelta(hours=utc_offset_h)))
    text = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} ({zone_label(utc_offset_h)})" if zone else text
