"""Cold compile of the hydraulic kernels: how long the first coupled run after a fresh install spends
compiling (issue: the first full run must not spend more than 60 s compiling).

Each measurement runs ``simulate_coupled(load_reach("huayuankou"), inflow, duration)`` (local-inertial
2D + 1D Preissmann, float64: the path a duty officer's first run takes) in a fresh subprocess whose
``NUMBA_CACHE_DIR`` is a new empty temporary folder, so that numba finds no cache (neither there nor
in the sources' ``__pycache__``, which numba does not consult when ``NUMBA_CACHE_DIR`` is set). The
same command then runs again in a new process on the now-filled cache: the difference of the two
walls is the compile (and cache write) cost; the warm run is the import + load + run cost.

Prints the figures; ``--write`` also rewrites the part between the ``bench_compile.py`` markers of
benchmarks/RESULTS.md (inside its "Cold compile" section). A benchmark script, not a test: nothing
is asserted.

Usage: ``.venv/bin/python benchmarks/bench_compile.py [--repeat 1] [--duration-s 3600] [--write]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _machine import load, machine
from _results import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTION = "bench_compile.py"

# the child prints the seconds of its phases: imports, reach load, the run (compile included)
CHILD = """
import sys, time
t0 = time.perf_counter()
from floodtwin.reach import load_reach
from floodtwin.hydraulics import simulate_coupled
t1 = time.perf_counter()
reach = load_reach("huayuankou")
t2 = time.perf_counter()
simulate_coupled(reach, float(sys.argv[1]), float(sys.argv[2]))
t3 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f}")
"""


def _child(cache_dir: str, inflow: float, duration: float) -> tuple[float, float, float, float]:
    """(wall, import, load, run) seconds of one fresh process on ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(inflow), str(duration)], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"the coupled run failed:\n{out.stderr[-3000:]}")
    imp, ld, run = (float(x) for x in out.stdout.split()[-3:])
    return wall, imp, ld, run


def measure(repeat: int, inflow: float, duration: float) -> dict:
    cold, warm, cold_run, warm_run = [], [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as d:
            w, _, _, r = _child(d, inflow, duration)
            cold.append(w)
            cold_run.append(r)
            w, _, _, r = _child(d, inflow, duration)
            warm.append(w)
            warm_run.append(r)
    compile_s = [c - w for c, w in zip(cold_run, warm_run)]
    return {"cold": cold, "warm": warm, "compile": compile_s}


def _fmt(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.1f} s"
    return f"median {statistics.median(xs):.1f} s (min {min(xs):.1f}, max {max(xs):.1f}, {len(xs)} runs)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--inflow", type=float, default=3000.0, help="steady inflow, m³/s")
    ap.add_argument("--duration-s", type=float, default=3600.0)
    ap.add_argument("--write", action="store_true", help="rewrite this section of benchmarks/RESULTS.md")
    a = ap.parse_args()
    load0 = load()
    res = measure(a.repeat, a.inflow, a.duration_s)
    load1 = load()
    cmd = f"nice .venv/bin/python benchmarks/bench_compile.py --repeat {a.repeat}"
    lines = [
        f"simulate_coupled(load_reach('huayuankou'), {a.inflow:g}, {a.duration_s:g}) (inertial 2D + Preissmann 1D, float64), fresh process:",
        f"- cold (empty NUMBA_CACHE_DIR): {_fmt(res['cold'])} wall",
        f"- warm (same cache, new process): {_fmt(res['warm'])} wall",
        f"- compile (cold run − warm run, the run call alone): {_fmt(res['compile'])}",
    ]
    print("\n".join(lines))
    print(f"load average {load0:.2f} before, {load1:.2f} after")
    if a.write:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join([
            "### The first coupled run, as measured last by `benchmarks/bench_compile.py`",
            "",
            f"{now} · {machine()} · 1-min load average {load0:.2f} before, {load1:.2f} after (the machine is shared)",
            f"Command: `{cmd}`",
            "",
            *lines,
        ])
        write_section(SECTION, body)


if __name__ == "__main__":
    main()
