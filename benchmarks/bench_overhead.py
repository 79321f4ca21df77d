"""Benchmark of what ``simulate_2d`` spends outside its time loop on a large grid: validation,
allocation, the output frames and the result Dataset with its sanity check, for 10⁶ cells (1000 × 1000,
a tilted plane with a 1 m deep strip, 11 output frames, 10 steps of either scheme).

Prints per scheme the whole call, the time loop (the run's own ``wall_time_s``) and their difference,
best and median of ``--repeat`` calls in one process after a warm-up call (the first call of a process also
pays the operating system's first touch of ~0.3 GB of fresh frames: shown apart). Writes its section of
benchmarks/RESULTS.md unless ``--no-write``.
Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_overhead.py [--repeat 8] [--no-write]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import load, machine  # noqa: E402
from _results import publish  # noqa: E402

NAME = "bench_overhead.py"

#: the same measurement before the frame kernel (commit 6c4c770: NumPy temporaries for every frame),
#: 2026-12-04 02:24 UTC at load 0.0–0.8, this script's case and method
BEFORE = {"inertial": (0.321, 0.595), "godunov": (0.287, 0.594)}


def case(n: int = 1000):
    y, x = np.mgrid[0:n, 0:n]
    return 0.001 * x.astype(float), np.where(x < 50, 1.0, 0.0)


def one_call(scheme: str, bed, depth0) -> tuple[float, float]:
    from floodtwin.hydraulics import simulate_2d

    t0 = time.perf_counter()
    ds = simulate_2d(bed, dx_m=10.0, duration_s=1e-3, depth0_m=depth0, scheme=scheme, manning_n=0.03)
    whole = time.perf_counter() - t0
    return whole, float(ds.attrs["wall_time_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from floodtwin.hydraulics import simulate_2d

    bed, depth0 = case()
    rows = []
    load0 = load()
    for scheme in ("inertial", "godunov"):
        simulate_2d(bed[:100, :100], dx_m=10.0, duration_s=1.0, depth0_m=depth0[:100, :100], scheme=scheme,
                    manning_n=0.03)  # compile or load the kernels
        first = one_call(scheme, bed, depth0)
        calls = [one_call(scheme, bed, depth0) for _ in range(args.repeat)]
        outside = [w - loop for w, loop in calls]
        rows.append((scheme, first[0] - first[1], min(outside), statistics.median(outside),
                     min(loop for _, loop in calls), min(w for w, _ in calls)))
    load1 = load()
    lines = ["### simulate_2d outside its time loop, 10⁶ cells", "",
             f"{dt.date.today().isoformat()} · {machine()} · 1-min load {load0:.2f} before, {load1:.2f} after · "
             f"`PYTHONPATH=. .venv/bin/python benchmarks/{NAME} --repeat {args.repeat}`", "",
             "| scheme | outside the loop: first call of the process s | best s | median s "
             "| time loop (10 steps), best s | whole call, best s | whole call before the frame kernel: best / first s |",
             "|---|---|---|---|---|---|---|"]
    for scheme, first, best, median, loop, whole in rows:
        b = BEFORE[scheme]
        lines.append(f"| {scheme} | {first:.3f} | {best:.3f} | {median:.3f} | {loop:.3f} | {whole:.3f} | "
                     f"{b[0]:.3f} / {b[1]:.3f} |")
    lines += ["", "Profiled (cProfile) before trimming, inertial, steady state: the 11 output frames 0.19 s (each a cell-"
              "velocity pass with eight NumPy temporaries, 17 ms), allocation and validation 0.13 s (of which "
              "NaN-filling the frames 0.05 s), the result Dataset and its sanity check 0.035 s. Trimmed: one "
              "parallel numba pass per frame (`kernels2d.rows.cell_velocities`, bit-identical frames: SHA-256 "
              "of depth, velocities, max speed and hazard equal for both schemes and dtypes). Tried and dropped: "
              "`np.empty` frames filled with NaN only when a run stops early (no gain measurable: the first touch "
              "of the pages costs the same as the fill). The first call of a process is dearer by the first touch of "
              "the frames' fresh memory (the inertial run comes first; the Godunov run after it reuses freed pages)."]
    text = "\n".join(lines)
    publish(NAME, text, write=not args.no_write)


if __name__ == "__main__":
    main()
