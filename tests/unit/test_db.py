"""Unit tests of the database file: where it may be created, opening and migrating while another
connection holds the lock, real SQLite files and real threads."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from floodtwin.dispatch.schema import MIGRATIONS, ensure_schema
from floodtwin.db import _split_sql, connect, migrate, schema_version, transaction
from floodtwin.errors import DataError


def test_explicit_path_in_a_missing_folder_is_refused(tmp_path, monkeypatch):
    target = tmp_path / "no" / "such" / "ft.sqlite"
    with pytest.raises(DataError, match="folder .*no/such does not exist"):
        connect(target)
    assert not (tmp_path / "no").exists()  # nothing created on the way
    monkeypatch.setenv("FLOODTWIN_DB", str(target))
    with pytest.raises(DataError, match="does not exist"):
        connect()


def test_default_path_creates_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOODTWIN_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    conn = connect()
    assert conn.db_path == str(tmp_path / "xdg" / "floodtwin" / "floodtwin.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_applied_by_another_connection_meanwhile_is_not_applied_twice(tmp_path):
    """Two processes open a fresh file at once: both read version 0, one migrates; the other, once it
    gets the lock, must see the new version instead of creating the tables a second time."""
    db = tmp_path / "race.sqlite"
    first = connect(db)
    second = connect(db)
    outcome: dict[str, object] = {}
    first.execute("BEGIN IMMEDIATE")  # the first process is migrating (and holds the write lock)
    for script in MIGRATIONS:
        for statement in _split_sql(script):
            first.execute(statement)
    first.execute("INSERT INTO schema_version(component, version) VALUES ('dispatch', ?)", (len(MIGRATIONS),))

    def run() -> None:
        try:
            outcome["version"] = ensure_schema(second)  # reads 0 (the first has not committed), then waits
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)  # let the second connection read version 0 and queue on the lock
    first.execute("COMMIT")
    worker.join(timeout=30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["version"] == len(MIGRATIONS) == schema_version(second, "dispatch")


def test_open_waits_for_a_lock_then_reports_it_in_one_line(tmp_path, monkeypatch):
    db = tmp_path / "plain.sqlite"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)  # rollback journal, not WAL
    holder.execute("CREATE TABLE t(a)")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setenv("FLOODTWIN_DB_LOCK_TIMEOUT_S", "0.5")
    started = time.monotonic()
    with pytest.raises(DataError, match="locked by another process"):
        connect(db)
    assert time.monotonic() - started < 10
    # released a moment later: the open waits for it and succeeds
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    monkeypatch.setenv("FLOODTWIN_DB_LOCK_TIMEOUT_S", "20")
    conn = connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.close()


def test_transaction_rolls_back_everything_on_error(tmp_path):
    conn = connect(tmp_path / "t.sqlite")
    migrate(conn, "demo", ["CREATE TABLE t(a INTEGER);"])
    with pytest.raises(ZeroDivisionError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")
        _ = 1 / 0
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
