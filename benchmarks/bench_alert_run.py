"""Benchmark of one alert run end to end: feed on loopback -> checks -> forecast -> level I decision ->
310-task activation -> SLA tick -> delivery of every notification to the log notifier -> CAP message.

Target (issue 17): one alert run end to end (feed on loopback, 300-task activation) in < 2 s with warm
caches. "Warm" is the watch loop's state: the process has read the dispatch file, the preplan, the reach
tables and roster, fitted the routing and compiled the 1D model once (a warm-up run on another
database). Each measured run starts from a fresh SQLite file and goes from normal to level I
(Huayuankou 16,000 m³/s on an SL 323 JSON feed served by a real HTTP server on 127.0.0.1), so it
creates, assigns and notifies all 310 tasks of the tier and writes the CAP Alert. Measured apart: the
same run again (same data: nothing to change), the 1D quick answer of the CAP area at a discharge not
seen before (the part a level change adds when the quick answer is not cached), and the command
``floodtwin alert-run`` in a new process (start-up and loading included). Writes its section of
benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_alert_run.py [--runs 7]
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
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _machine, _results
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # the loopback feed server of the tests
from _machine import load, machine  # noqa: E402
from _results import write_section  # noqa: E402
from feed_server import FeedServer, series, sl323_json  # noqa: E402

import yaml  # noqa: E402

from floodtwin.alerts.run import RunContext, run_alert  # noqa: E402
from floodtwin.alerts.settings import load_alerts_config  # noqa: E402
from floodtwin.cli.alert import quick_flooded_villages  # noqa: E402

NAME = "Alert run"
LOCAL = timezone(timedelta(hours=8))
NOW = datetime(2026, 7, 20, 8, 5, tzinfo=LOCAL)
FLOWS = {"40105150": [12000.0, 14000.0, 16000.0], "40104450": [13000.0, 15000.0, 15500.0],
         "41602500": [300.0, 400.0, 500.0], "41802500": [50.0, 60.0, 80.0]}


def config(folder: Path, url: str) -> Path:
    shutil.copy(ROOT / "data" / "config" / "dispatch.yaml", folder / "dispatch.yaml")
    cfg = yaml.safe_load((ROOT / "data" / "config" / "alerts.example.yaml").read_text(encoding="utf-8"))
    cfg["feeds"]["sources"] = [{"name": "main", "format": "sl323_json", "url": url, "timeout_s": 5}]
    path = folder / "alerts.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def context(cfg, warm: RunContext | None) -> RunContext:
    if warm is None:
        return RunContext(cfg, flooded_villages=quick_flooded_villages).load()
    return RunContext(cfg, dispatch=warm.dispatch, plan=warm.plan, tables=warm.tables, roster=warm.roster,
                      routing=warm.routing, villages=warm.villages, flooded_villages=quick_flooded_villages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-alert-"))
    with FeedServer() as server:
        server.routes["/st_river_r"] = {"body": sl323_json(series(NOW, FLOWS))}
        url = server.url("/st_river_r")
        warm_dir = tmp / "warm"
        warm_dir.mkdir()
        cfg = load_alerts_config(config(warm_dir, url))
        t0 = time.perf_counter()
        warm = context(cfg, None)
        out = run_alert(cfg, now=NOW, ctx=warm)
        warmup_s = time.perf_counter() - t0
        assert out.exit_code == 0 and out.decision["tier"] == "I" and out.created == 310, out.message
        times, again, counts = [], [], None
        for i in range(args.runs):
            d = tmp / f"run{i}"
            d.mkdir()
            cfg_i = load_alerts_config(config(d, url))
            ctx = context(cfg_i, warm)
            t = time.perf_counter()
            out = run_alert(cfg_i, now=NOW, ctx=ctx)
            times.append(time.perf_counter() - t)
            assert out.exit_code == 0 and out.created == 310 and len(out.cap) == 1, out.message
            counts = (out.created, out.notifications, out.cap[0])
            t = time.perf_counter()
            out2 = run_alert(cfg_i, now=NOW, ctx=ctx)
            again.append(time.perf_counter() - t)
            assert out2.created == 0
        t = time.perf_counter()
        n_new = len(quick_flooded_villages(16_450.0))  # a 100 m³/s bucket not computed yet
        quick_s = time.perf_counter() - t
        d = tmp / "cold"
        d.mkdir()
        cold_cfg = config(d, url)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "floodtwin", "alert-run", "--config", str(cold_cfg), "--now",
                               NOW.isoformat()], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        cold_s = time.perf_counter() - t
        assert proc.returncode == 0, proc.stderr
    shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median(times)
    text = f"""## {NAME} (bench_alert_run.py)

{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load average {load():.1f} at the end (a shared
machine: other sessions were running) · `.venv/bin/python benchmarks/bench_alert_run.py --runs {args.runs}`

One alert run end to end, warm (the watch loop's state), from a fresh database: SL 323 JSON feed on
127.0.0.1 → quality checks → Muskingum forecast → level I (16,000 m³/s) → {counts[0]} tasks created and
assigned → SLA tick → {counts[1]} notifications delivered to the log notifier → CAP Alert written.

| what | time |
|---|---|
| one run, normal → level I, {counts[0]} tasks (median of {args.runs}; min–max) | **{med:.2f} s** ({min(times):.2f}–{max(times):.2f} s) |
| the same run again, same data (nothing to change) | {statistics.median(again) * 1000:.0f} ms |
| 1D quick answer for the CAP area at a discharge not cached yet ({n_new} villages) | {quick_s:.2f} s |
| warm-up: loading, routing fit, first 1D run (compiled from the numba cache) and the first run | {warmup_s:.1f} s |
| `floodtwin alert-run` in a new process (start-up, loading, 1D, run) | {cold_s:.1f} s |

Target: < 2 s warm — {'met' if med < 2.0 else 'NOT met'}. A level change at a flow whose 1D answer is not
cached yet adds the quick answer's time to the run (once per 100 m³/s per process).
"""
    print(text)
    if not args.no_write:
        write_section(NAME, text)


if __name__ == "__main__":
    main()
