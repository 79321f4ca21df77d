"""``floodtwin watch --every``: runs the alert run again and again and stops cleanly on SIGTERM: the run
in progress finishes (no record left "running"), the process exits 0 and says how many runs it made."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from feed_server import FeedServer, series, sl323_csv
from datetime import datetime

from test_alert_run import FLOWS, LOCAL, REPO, source, write_config


def _runs(db) -> list[str]:
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT status FROM alert_runs ORDER BY id")]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def test_watch_loops_and_stops_cleanly_on_sigterm(tmp_path):
    with FeedServer() as server:
        # the watch runs on the live clock: a series whose newest value is this hour's
        server.routes["/hyk"] = {"body": sl323_csv(series(datetime.now(LOCAL), FLOWS))}
        cfg = write_config(tmp_path, [source("main", "sl323_csv", server.url("/hyk"))])
        proc = subprocess.Popen([sys.executable, "-m", "floodtwin", "watch", "--config", str(cfg), "--every", "1s"],
                                cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        db = tmp_path / "floodtwin.sqlite"
        deadline = time.monotonic() + 90
        while len(_runs(db)) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    runs = _runs(db)
    assert proc.returncode == 0, err
    assert len(runs) >= 3 and "running" not in runs, runs
    # the first run puts level IV on the board, the later ones find nothing new: all ok
    assert set(runs) == {"ok"}
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT COUNT(*) FROM activations").fetchone()[0] == 1  # the same data acted on once
    finally:
        con.close()
    assert out.strip().splitlines()[-1] == f"watch stopped after {len(runs)} run(s)"
    assert err == ""
