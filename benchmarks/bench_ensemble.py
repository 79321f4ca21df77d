"""Benchmark of ensembles on Dask: members per hour of the reach at 100 m and 50 m, the speed-up from 1 to 2
worker processes, and what one member costs in CPU seconds and memory.

The members are the first ones of ``scenarios/ensembles/reach-design.yaml`` (whole waves: the design and
1982 shapes 96 h, the 1958 series 168 h), each a full coupled 1D–2D run with the risk of every object,
computed by ``floodtwin.batch.run_members`` exactly as ``floodtwin ensemble`` does (a LocalCluster of
worker processes, one thread each, numba on one thread), into fresh folders. Wall time is from the start
of the batch (cluster start included) to the last member; CPU seconds are each member's own process
time on its worker (``member.json``); memory is the worker's peak resident set after the member. The
per-cell cost is CPU seconds / (active cells × simulated hours), the figure docs/ensembles.md sizes a
cluster from. Prints the 1-min load before and after: on a shared machine the wall times and the
speed-up mean little, the CPU seconds much more.

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_ensemble.py [--members 4] [--members-50 2] [--no-write]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench_ensemble.py"
TITLE = "Ensembles on Dask: members per hour, 1 → 2 workers, cost of a member"
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import load, machine  # noqa: E402
from _results import write_section  # noqa: E402


def measure(resolution_m: float, n_members: int, workers: int) -> dict:
    from floodtwin.batch import run_members
    from floodtwin.hydrograph import load_scenario
    from floodtwin.scenario.ensemble import load_ensemble_spec
    from floodtwin.scenario.ensemble.member import compute_member
    from floodtwin.scenario.ensemble.run import member_tasks
    from floodtwin.scenario.ensemble.sampling import sample_members

    spec = load_ensemble_spec(ROOT / "scenarios" / "ensembles" / "reach-design.yaml")
    spec = spec.model_copy(update={"resolution_m": resolution_m})
    tasks = dict(list(member_tasks(spec, sample_members(spec, load_scenario(spec.base_scenario))).items())[:n_members])
    folder = Path(tempfile.mkdtemp(prefix="bench-ensemble-"))
    before = load()
    t0 = time.perf_counter()
    report = run_members(tasks, compute_member, folder, workers=workers)
    wall = time.perf_counter() - t0
    after = load()
    if report.failed:
        raise SystemExit(f"members failed: {report.failed}")
    metas = [json.loads((folder / n / "member.json").read_text()) for n in tasks]
    shutil.rmtree(folder, ignore_errors=True)
    cpu = [m["cpu_s"] for m in metas]
    cell_hours = [m["cells"] * m["duration_h"] for m in metas]
    return {"resolution_m": resolution_m, "workers": workers, "members": n_members, "wall_s": wall,
            "members_per_h": n_members / wall * 3600.0, "cpu_s": sum(cpu) / len(cpu), "cpu_min": min(cpu),
            "cpu_max": max(cpu), "member_wall_s": sum(m["wall_s"] for m in metas) / len(metas),
            "cells": metas[0]["cells"], "sim_h": sum(m["duration_h"] for m in metas) / len(metas),
            "us_per_cell_h": 1e6 * sum(cpu) / sum(cell_hours),
            "rss_mib": max(m["worker_peak_rss_mib"] for m in metas),
            "shapes": ", ".join(sorted({m["params"]["shape"] for m in metas})),
            "load_before": before, "load_after": after}


def table(rows: list[dict]) -> list[str]:
    out = ["| grid | workers | members (shapes) | wall s | members / h | CPU s per member (min–max) | member wall s "
           "| active cells | simulated h (mean) | CPU µs per cell-hour | worker peak RSS MiB | load before → after |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['resolution_m']:g} m | {r['workers']} | {r['members']} ({r['shapes']}) | {r['wall_s']:.0f} | "
                   f"{r['members_per_h']:.0f} | {r['cpu_s']:.1f} ({r['cpu_min']:.1f}–{r['cpu_max']:.1f}) | "
                   f"{r['member_wall_s']:.1f} | {r['cells']:,} | {r['sim_h']:.0f} | {r['us_per_cell_h']:.2f} | "
                   f"{r['rss_mib']:.0f} | {r['load_before']:.1f} → {r['load_after']:.1f} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=4, help="members at 100 m (run on 1, then on 2 workers)")
    ap.add_argument("--members-50", type=int, default=2, help="members at 50 m (on 2 workers)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rows = []
    for res, n, w in ((100.0, args.members, 1), (100.0, args.members, 2), (50.0, args.members_50, 2)):
        if n > 0:
            rows.append(measure(res, n, w))
            print(table(rows)[-1], flush=True)
    one = [r for r in rows if r["resolution_m"] == 100.0 and r["workers"] == 1]
    two = [r for r in rows if r["resolution_m"] == 100.0 and r["workers"] == 2]
    speedup = one[0]["wall_s"] / two[0]["wall_s"] if one and two else float("nan")
    busiest = max(max(r["load_before"], r["load_after"]) for r in rows)
    lines = [f"### {TITLE}", "",
             f"{dt.date.today().isoformat()} · {machine()} · `PYTHONPATH=. .venv/bin/python benchmarks/{NAME} "
             f"--members {args.members} --members-50 {args.members_50}`", "", *table(rows), "",
             f"Speed-up from 1 to 2 workers at 100 m: {speedup:.2f}× in wall time over the same members. "
             + (f"The 1-min load reached {busiest:.1f} on 2 cores: other jobs shared the cores, so the wall times, "
                "members per hour and the speed-up are those of a shared machine (a worker got less than a core); "
                "the CPU seconds per member and per cell-hour are the load-robust figures." if busiest > 1.5 else
                "The machine was otherwise idle (1-min load at most 1.5 on 2 cores).")]
    print("\n".join(lines))
    if not args.no_write:
        write_section(NAME, "\n".join(lines))


if __name__ == "__main__":
    main()
