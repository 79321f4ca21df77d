"""A run killed with SIGKILL at random points and run again leaves no duplicate task and no duplicate
notification: the board and the outbox end as after one clean run, and the lock of the killed run
is taken over (its record marked crashed)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from feed_server import FeedServer, series, sl323_json
from test_alert_run import FLOWS, NOW, REPO, source, write_config


def _run(cfg: Path, env: dict, kill_after_s: float | None = None) -> int | None:
    """Run alert-run to its end, or kill it with SIGKILL ``kill_after_s`` seconds after it has
    recorded its start (so that the kill lands in the pipeline, not in the interpreter's start-up,
    whatever the load of the machine)."""
    db = cfg.parent / "floodtwin.sqlite"
    before = _runs(db.parent, "running") + _runs(db.parent, "crashed") + _runs(db.parent, "ok") \
        + _runs(db.parent, "warnings")
    proc = subprocess.Popen([sys.executable, "-m", "floodtwin", "alert-run", "--config", str(cfg), "--now",
                             NOW.isoformat(), "--json"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if kill_after_s is None:
        proc.communicate(timeout=120)
        return proc.returncode
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if _runs(db.parent, "running") + _runs(db.parent, "crashed") + _runs(db.parent, "ok") \
                + _runs(db.parent, "warnings") > before:
            break
        time.sleep(0.01)
    time.sleep(kill_after_s)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode


def _duration_s(tmp: Path) -> float:
    """How long the last run's pipeline took (its record's duration), s."""
    con = sqlite3.connect(tmp / "floodtwin.sqlite")
    try:
        return json.loads(con.execute("SELECT summary FROM alert_runs ORDER BY id DESC LIMIT 1").fetchone()[0])[
            "duration_s"]
    finally:
        con.close()


def _runs(tmp: Path, status: str) -> int:
    """Run records of ``status`` ("running": killed and not yet seen by a later run)."""
    if not (tmp / "floodtwin.sqlite").exists():
        return 0
    con = sqlite3.connect(tmp / "floodtwin.sqlite")
    try:
        return con.execute("SELECT COUNT(*) FROM alert_runs WHERE status = ?", (status,)).fetchone()[0]
    except sqlite3.OperationalError:  # killed before the tables were made
        return 0
    finally:
        con.close()


def _state(tmp: Path) -> tuple[list, list, list]:
    con = sqlite3.connect(tmp / "floodtwin.sqlite")
    try:
        tasks = con.execute("SELECT key, state FROM tasks ORDER BY key").fetchall()
        outbox = con.execute("SELECT recipient, kind, task_key FROM outbox ORDER BY recipient, kind, task_key").fetchall()
        runs = con.execute("SELECT status FROM alert_runs ORDER BY id").fetchall()
    finally:
        con.close()
    return tasks, outbox, runs


def test_sigkill_at_random_points_then_rerun(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(17)
    with FeedServer() as server:
        server.routes["/hyk"] = {"body": sl323_json(series(NOW, FLOWS))}
        clean_dir, killed_dir = tmp_path / "clean", tmp_path / "killed"
        clean_dir.mkdir(), killed_dir.mkdir()
        clean = write_config(clean_dir, [source("main", "sl323_json", server.url("/hyk"))])
        killed = write_config(killed_dir, [source("main", "sl323_json", server.url("/hyk"))])
        assert _run(clean, env) == 0
        pipeline_s = _duration_s(clean_dir)
        codes, mid_run = [], 0
        for _ in range(8):  # kill at random points of the pipeline until two kills landed inside it
            codes.append(_run(killed, env, kill_after_s=rng.uniform(0.0, pipeline_s)))
            mid_run = _runs(killed_dir, "running") + _runs(killed_dir, "crashed")
            if mid_run >= 2:
                break
        assert mid_run >= 1, f"no kill landed after the run had started its record: {codes}"
        assert _run(killed, env) in (0, 1)
        assert _run(killed, env) == 0
    tasks_c, outbox_c, _ = _state(clean_dir)
    tasks_k, outbox_k, runs_k = _state(killed_dir)
    assert tasks_k == tasks_c and len(tasks_c) > 50
    # no message twice: one outbox row per (recipient, kind, task), exactly those of the clean run
    assert outbox_k == outbox_c
    assert len(set(outbox_k)) == len(outbox_k)
    log_keys = [json.loads(line)["idempotency_key"]
                for line in (killed_dir / "notifications.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(log_keys) == len(set(log_keys))
    assert runs_k[-1] == ("ok",) and all(r[0] in ("ok", "warnings", "crashed") for r in runs_k)
