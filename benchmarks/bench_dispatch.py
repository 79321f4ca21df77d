"""Benchmark of dispatch: activating the tier-I plan (300+ tasks) with assignments and outbox rows.

Target (issue 6): activate 300 tasks with assignments and outbox rows in < 0.5 s. The instructions
are the real preplan's tier-I expansion over the real reach (22,000 m³/s), the roster the reach's
294 staff; each run starts from a fresh SQLite file (WAL) with the schema and roster in place, so
the figure is the activation itself: one transaction that creates the tasks, assigns them
(least-loaded on-shift staff, fallback chain), logs the events and writes the outbox rows. Also
measured: the same activation again (idempotent: nothing new), the diff to tier III (stand-down),
an SLA tick 4 min later with nobody acknowledged, delivery throughput to a local webhook and a log file,
and the duty officer's whole command ``floodtwin tasks activate --discharge 22000`` in a new process
(start-up, preplan, tier, expansion, roster, activation; delivery left for later).
Writes its section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_dispatch.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _machine
from _machine import machine as describe_machine  # noqa: E402
from _results import publish  # noqa: E402

import yaml

from floodtwin.reach import load_reach
from floodtwin.config import DATA_DIR
from floodtwin.dispatch import board, notify
from floodtwin.dispatch.receiver import WebhookReceiver
from floodtwin.dispatch.roster import Roster, sync_roster
from floodtwin.dispatch.schema import ensure_schema
from floodtwin.dispatch.settings import load_config
from floodtwin.db import connect
from floodtwin.preplan import Preplan

NAME = "bench_dispatch.py"
T0 = datetime(2026, 7, 20, 2, 0, tzinfo=UTC)  # 10:00 local, shift A
SECRET = "bench-secret"


def machine() -> str:
    """The shared machine line, with the SQLite version (the board is bound by SQLite)."""
    import sqlite3

    return f"{describe_machine()}, SQLite {sqlite3.sqlite_version}"


def config_file(folder: Path, url: str) -> Path:
    doc = yaml.safe_load((DATA_DIR / "config" / "dispatch.yaml").read_text(encoding="utf-8"))
    doc["notifiers"] = [{"name": "app", "kind": "webhook", "url": url, "secret": SECRET, "timeout_s": 5},
                        {"name": "log", "kind": "log", "path": "notifications.jsonl"}]
    path = folder / "dispatch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def fresh_db(folder: Path, name: str, roster: Roster):
    conn = connect(folder / name)
    ensure_schema(conn)
    sync_roster(conn, roster)
    return conn


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = parser.parse_args()

    reach = load_reach("huayuankou")
    plan = Preplan.load()
    roster = Roster.from_reach(reach)
    high = plan.decide(22000, time=T0)
    tasks_i = plan.tasks_for(high, reach)
    low = plan.decide(8000, time=T0)
    tasks_iii = plan.tasks_for(low, reach)

    rows: dict[str, list[float]] = {k: [] for k in ("activate", "again", "diff", "tick")}
    counts = {}
    with tempfile.TemporaryDirectory() as tmp, WebhookReceiver(SECRET.encode()) as rx:
        folder = Path(tmp)
        config = load_config(config_file(folder, rx.url))
        for run in range(args.runs):
            conn = fresh_db(folder, f"run{run}.sqlite", roster)
            dt, act = timed(lambda: board.activate(conn, tasks_i, now=T0, actor="bench", reason="Q=22000",
                                                   decision=high, config=config, roster=roster))
            rows["activate"].append(dt)
            counts = {
                "tasks": conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0],
                "assignments": conn.execute("SELECT COUNT(*) FROM assignments").fetchone()[0],
                "outbox": conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0],
                "events": conn.execute("SELECT COUNT(*) FROM events").fetchone()[0],
                "created": len(act.created),
            }
            dt, _ = timed(lambda: board.activate(conn, tasks_i, now=T0 + timedelta(minutes=1), actor="bench",
                                                 reason="again", config=config, roster=roster))
            rows["again"].append(dt)
            dt, diff = timed(lambda: board.activate(conn, tasks_iii, now=T0 + timedelta(minutes=2), actor="bench",
                                                    reason="Q=8000", config=config, roster=roster))
            rows["diff"].append(dt)
            counts["stood_down"] = len(diff.stood_down)
            dt, esc = timed(lambda: board.tick(conn, now=T0 + timedelta(minutes=4), config=config, roster=roster))
            rows["tick"].append(dt)
            counts["escalations"] = len(esc)
            conn.close()
        # delivery throughput: the last database's outbox, to the local webhook and the log file
        conn = connect(folder / f"run{args.runs - 1}.sqlite")
        pending = conn.execute("SELECT COUNT(*) FROM outbox WHERE status='pending'").fetchone()[0]
        dt_deliver, report = timed(lambda: notify.deliver(conn, config, now=T0 + timedelta(minutes=5)))
        assert report.sent == pending and len(rx.accepted) == pending // 2, (report.to_dict(), len(rx.accepted))
        conn.close()
        # the whole CLI command in a fresh process, on a database that already holds the roster
        template = folder / "cli-template.sqlite"
        fresh_db(folder, template.name, roster).close()
        cli_runs = []
        for run in range(min(args.runs, 3)):
            target = folder / f"cli{run}.sqlite"
            shutil.copy(template, target)
            cmd = [sys.executable, "-m", "floodtwin", "tasks", "activate", "--discharge", "22000", "--db",
                   str(target), "--config", str(config_file(folder, rx.url)), "--now", T0.isoformat(),
                   "--no-deliver", "--json"]
            dt, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True, timeout=300))
            assert proc.returncode == 0, proc.stderr
            assert len(__import__("json").loads(proc.stdout)["created"]) == counts["tasks"]
            cli_runs.append(dt)

    med = {k: statistics.median(v) for k, v in rows.items()}
    load1 = os.getloadavg()[0]
    lines = [
        f"## Dispatch: activate the tier-I plan ({counts['tasks']} tasks) with assignments and outbox rows",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load average {load1:.1f} (a shared machine: "
        f"figures vary about 2-4x with load)",
        f"Command: `.venv/bin/python benchmarks/{NAME} --runs {args.runs}`",
        "",
        f"Instructions: the real preplan at 22,000 m³/s over the real reach; roster of {len(roster.staff)} staff; "
        f"two notifiers (webhook + log), a fresh SQLite file (WAL) per run; median of {args.runs} runs.",
        "",
        "| step | median ms | min ms | max ms | what it wrote |",
        "|---|---|---|---|---|",
        f"| activate tier I | {1000 * med['activate']:.1f} | {1000 * min(rows['activate']):.1f} | "
        f"{1000 * max(rows['activate']):.1f} | {counts['tasks']} tasks, {counts['assignments']} assignments, "
        f"{counts['outbox']} outbox rows, {counts['events']} events |",
        f"| same activation again (idempotent) | {1000 * med['again']:.1f} | {1000 * min(rows['again']):.1f} | "
        f"{1000 * max(rows['again']):.1f} | nothing new |",
        f"| diff to tier III (stand down) | {1000 * med['diff']:.1f} | {1000 * min(rows['diff']):.1f} | "
        f"{1000 * max(rows['diff']):.1f} | {counts['stood_down']} stood down, with notifications |",
        f"| SLA tick at +4 min, nobody acknowledged | {1000 * med['tick']:.1f} | {1000 * min(rows['tick']):.1f} | "
        f"{1000 * max(rows['tick']):.1f} | {counts['escalations']} escalations (missed ack / 3-min deadlines) |",
        "",
        f"Target < 500 ms for the activation: **{'met' if med['activate'] < 0.5 else 'NOT met'}** "
        f"({1000 * med['activate']:.0f} ms).",
        "",
        f"Delivery of {pending} outbox rows (signed webhook to a local receiver on 127.0.0.1, one POST per row, "
        f"+ fsynced log lines): {dt_deliver:.2f} s, {pending / dt_deliver:.0f} rows/s.",
        "",
        f"Whole command `floodtwin tasks activate --discharge 22000 --no-deliver` in a new process (Python start-up, "
        f"imports, preplan YAML, reach tables and roster from the GeoPackage, the activation): "
        f"median {statistics.median(cli_runs):.2f} s of {len(cli_runs)} runs "
        f"({', '.join(f'{x:.2f}' for x in cli_runs)} s).",
    ]
    text = "\n".join(lines)
    publish(NAME, text, write=not args.no_write)


if __name__ == "__main__":
    main()
