"""Benchmark: how fast the preplan answers "what must be done at this flow?".

Measures (1) the wall time of the command a duty officer types, ``floodtwin preplan tasks
--discharge 22000`` (a fresh process each time: imports, plan, reach, fallback rating, expansion,
printing), and where that time goes; (2) in-process expansion times and instruction counts per
tier. Prints the figures and rewrites this script's section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/preplan_tasks.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _machine
from _machine import machine  # noqa: E402
from _results import publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAME = "preplan_tasks.py"

STAGES = r"""
import time
t0 = time.perf_counter()
import floodtwin.cli
t1 = time.perf_counter()
from floodtwin.preplan import Preplan, ReachTables
plan = Preplan.load()
t2 = time.perf_counter()
tables = ReachTables.read("huayuankou")
t3 = time.perf_counter()
tasks = plan.tasks_for(plan.decide(22000), tables)
t4 = time.perf_counter()
import sys
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, int("scipy" in sys.modules))
"""
STAGE_NAMES = ("import CLI", "load + validate preplan", "read reach GeoPackage",
               "fallback rating + expansion", "scipy imported (1 = yes)")


def cli_runs(runs: int) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + system of the child) of fresh ``preplan tasks`` processes, s.

    The CPU time hardly depends on what else the shared machine runs; the wall time does.
    """
    import resource

    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "floodtwin", "preplan", "tasks", "--discharge", "22000"],
                       check=True, capture_output=True, cwd=ROOT)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def stage_runs(runs: int) -> list[list[float]]:
    out = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", STAGES], check=True, capture_output=True, text=True, cwd=ROOT)
        out.append([float(v) for v in proc.stdout.split()])
    return out


def per_tier() -> list[tuple[float, str, int, float]]:
    from floodtwin.preplan import Preplan, ReachTables

    plan = Preplan.load()
    tables = ReachTables.read("huayuankou")
    rows = []
    for q in (1000, 4500, 8000, 12000, 22000):
        decision = plan.decide(q)
        plan.tasks_for(decision, tables)  # first call reads the rating and solves the stage
        t = time.perf_counter()
        n = len(plan.tasks_for(decision, tables))
        rows.append((q, decision.tier, n, (time.perf_counter() - t) * 1000))
    return rows


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    load_before = load_average()
    cli, cpu = cli_runs(args.runs)
    stages = stage_runs(args.runs)
    medians = [statistics.median(col) for col in zip(*stages)]
    tiers = per_tier()
    lines = [
        "## Preplan: `floodtwin preplan tasks --discharge 22000`",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC · {machine()} · 1-min load average "
        f"{load_before} before, {load_average()} after (the machine is shared)",
        f"Command: `.venv/bin/python benchmarks/{NAME} --runs {args.runs}`",
        "",
        f"CLI wall time over {args.runs} fresh processes: median {statistics.median(cli):.2f} s, "
        f"min {min(cli):.2f} s, max {max(cli):.2f} s (target < 1 s); CPU time (user + system) median "
        f"{statistics.median(cpu):.2f} s, max {max(cpu):.2f} s (what the wall time comes to on an idle core).",
        "",
        "Where the time goes (median of the same number of fresh processes, seconds):",
        "",
        "| stage | s |",
        "|---|---|",
        *[f"| {name} | {m:.3f} |" if "scipy" not in name else f"| {name} | {m:.0f} |"
          for name, m in zip(STAGE_NAMES, medians)],
        "",
        "In-process expansion over the real reach (fallback rating already read):",
        "",
        "| discharge m³/s | tier | instructions | ms |",
        "|---|---|---|---|",
        *[f"| {q:,.0f} | {tier} | {n} | {ms:.1f} |" for q, tier, n, ms in tiers],
    ]
    text = "\n".join(lines)
    publish(NAME, text)


if __name__ == "__main__":
    main()
