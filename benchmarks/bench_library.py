"""Benchmark of the flood-map library (data/library/huayuankou-50m.nc, build it with `floodtwin library build`):

1. accuracy of the interpolation against full runs at discharges between members (default 7,500,
   8,500, 9,500 — around the overtopping of the natural levee, where the floodplain fills —, 13,500,
   21,500 m³/s) and at 22,000: inundated floodplain area (target within 5 %), the villages
   flooded (target: the same), depth RMSE over the cells wet in either answer (target ≤ 0.10 m), the
   level and colour;
2. the quick answer, ``floodtwin scenario --discharge Q`` as a whole process (warm OS cache, median
   and worst of ``--repeats``; target ≤ 1 s), at 22,000 (level I, red) and 3,000 (normal, no village
   flooded), and its slowest imports (``python -X importtime``);
3. lookup latency in process: ``Library.lookup`` alone and with the tier and the tasks
   (``scenario.run.library_result``), p50 / p95 over random discharges.

Rewrites this script's section of benchmarks/RESULTS.md (``--no-write`` to only print), with the
1-min load average (the machine may be shared).
Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_library.py [--between 7500 13500 21500] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NAME = "bench_library.py"
TITLE = "Flood-map library: interpolation error, the one-second answer, lookup latency"
sys.path.insert(0, str(ROOT / "benchmarks"))
from _machine import load, machine  # noqa: E402
from _results import publish  # noqa: E402


def accuracy(q: float, lib, reach) -> dict:
    """The library's answer at ``q`` against the full coupled run at ``q``."""
    from floodtwin.risk.hazard import WET_DEPTH_M
    from floodtwin.scenario import run_scenario
    from floodtwin.scenario.run import library_result

    before = load()
    t0 = time.perf_counter()
    full = run_scenario(q, full=True, reach=reach)
    t_full = time.perf_counter() - t0
    answer = lib.lookup(q, onset_fraction=0.0)  # the interpolation itself; whether it is used: the onset column
    quick = library_result(answer, reach_name=lib.reach)
    d_full = np.nan_to_num(full.flood["max_depth"].values, nan=0.0)
    d_lib = np.nan_to_num(answer.depth_m.astype(float), nan=0.0)
    wet = (d_full > WET_DEPTH_M) | (d_lib > WET_DEPTH_M)
    rmse = float(np.sqrt(np.mean((d_full[wet] - d_lib[wet]) ** 2))) if wet.any() else 0.0
    a_full = full.flood_summary["floodplain_inundated_area_km2"]
    a_lib = answer.summary["floodplain_inundated_area_km2"]
    v_full = sorted(full.villages.loc[full.villages["flooded"], "village_id"])
    v_lib = sorted(quick.villages.loc[quick.villages["flooded"], "village_id"])
    return {"q": q, "between": f"{answer.lower_m3s:,.0f}–{answer.upper_m3s:,.0f}", "area_full": a_full,
            "area_lib": a_lib, "area_err": (a_lib - a_full) / a_full if a_full else 0.0, "rmse": rmse,
            "wet_cells": int(wet.sum()), "villages_full": v_full, "villages_lib": v_lib,
            "tier_full": f"{full.decision.tier} {full.decision.colour}",
            "tier_lib": f"{quick.decision.tier} {quick.decision.colour}", "full_s": t_full,
            "load": max(before, load())}


def quick_process(q: float, repeats: int, library: Path) -> dict:
    """Wall time of the whole ``floodtwin scenario --discharge q`` process (median, worst), its answer."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    walls, before = [], load()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeats + 1):  # the first warms the OS cache and is not counted
            out = Path(tmp) / f"o{k}"
            t0 = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "floodtwin", "scenario", "--discharge", f"{q:g}", "--library",
                                  str(library), "--out", str(out)], capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t0
            if run.returncode != 0:
                raise SystemExit(f"floodtwin scenario --discharge {q:g} failed: {run.stderr[-500:]}")
            if k:
                walls.append(wall)
        summary = json.loads((Path(tmp) / f"o{repeats}" / "summary.json").read_text(encoding="utf-8"))
    flooded = [v["village_id"] for v in summary["villages"] if v["flooded"]]
    return {"q": q, "median_s": float(np.median(walls)), "max_s": float(np.max(walls)), "tier": summary["tier"],
            "colour": summary["colour"], "flooded": flooded, "tasks": summary["task_count"],
            "from_library": "library" in summary and "answer" in summary["library"],
            "load": max(before, load())}


def slowest_imports(library: Path, n: int = 8) -> list[tuple[str, float]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        run = subprocess.run([sys.executable, "-X", "importtime", "-m", "floodtwin", "scenario", "--discharge", "22000",
                              "--library", str(library), "--out", str(Path(tmp) / "o")], capture_output=True, text=True,
                             env=env)
    top = []
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cum, name = line.split("|")
            if cum.strip().isdigit() and not name.startswith("  "):  # top-level imports only (their time includes what they import)
                top.append((name.strip(), int(cum) / 1e6))
    total = sum(t for _, t in top)
    return sorted(top, key=lambda x: -x[1])[:n] + [("(all top-level imports)", total)]


def latency(lib, n: int = 200, seed: int = 1) -> dict:
    from floodtwin.preplan import Preplan
    from floodtwin.preplan.tables import ReachTables
    from floodtwin.scenario.run import library_result

    rng = np.random.default_rng(seed)
    qs = rng.uniform(lib.discharges_m3s[0], lib.discharges_m3s[-1], n)
    tables, plan = ReachTables.read(lib.reach), Preplan.load()
    t_lookup, t_all = [], []
    before = load()
    for q in qs:
        t0 = time.perf_counter()
        a = lib.lookup(float(q))
        t1 = time.perf_counter()
        library_result(a, preplan=plan, tables=tables)
        t2 = time.perf_counter()
        t_lookup.append(t1 - t0)
        t_all.append(t2 - t0)
    pct = lambda v, p: 1000 * float(np.percentile(v, p))  # noqa: E731
    return {"n": n, "lookup_p50": pct(t_lookup, 50), "lookup_p95": pct(t_lookup, 95), "all_p50": pct(t_all, 50),
            "all_p95": pct(t_all, 95), "load": max(before, load())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--between", type=float, nargs="+", default=[7500.0, 8500.0, 9500.0, 13500.0, 21500.0, 22000.0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--library", type=Path, default=None)
    ap.add_argument("--accuracy-cache", type=Path, default=None,
                    help="JSON of the accuracy rows: read when it exists (the full runs are not repeated), else "
                         "written (to time the quick answer again at a quieter moment)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from floodtwin.library import open_library
    from floodtwin.reach import load_reach

    lib = open_library(args.library)
    lib.require_fresh()
    reach = load_reach(lib.reach, resolution_m=lib.resolution_m)
    if args.accuracy_cache is not None and args.accuracy_cache.is_file():
        acc = json.loads(args.accuracy_cache.read_text(encoding="utf-8"))
    else:
        acc = []
        for q in args.between:
            acc.append(accuracy(q, lib, reach))
            print(acc[-1], flush=True)
        if args.accuracy_cache is not None:
            args.accuracy_cache.write_text(json.dumps(acc), encoding="utf-8")
    quick = [quick_process(q, args.repeats, lib.path) for q in (22000.0, 3000.0)]
    print(quick, flush=True)
    imports = slowest_imports(lib.path)
    lat = latency(lib)
    print(lat, flush=True)
    size = lib.path.stat().st_size / 2**20
    lines = [f"### {TITLE}", "",
             f"{dt.date.today().isoformat()} · {machine()} · `PYTHONPATH=. .venv/bin/python benchmarks/{NAME}"
             f"{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}` · "
             f"library {lib.path.name}: {len(lib.discharges_m3s)} members {lib.discharges_m3s[0]:,.0f}–"
             f"{lib.discharges_m3s[-1]:,.0f} m³/s, {lib.resolution_m:g} m, {size:.1f} MiB", "",
             "**Interpolation against the full run** (targets: area within 5 %, the same villages flooded, depth RMSE "
             "over wet cells ≤ 0.10 m)" + (f"; rows of an earlier run of this script, kept in {args.accuracy_cache.name} "
                                           "(their load column is that run's)" if args.accuracy_cache else "") + ":", "",
             "| Q m³/s | members | floodplain km² full / library | area error | depth RMSE m (wet cells) | villages "
             "flooded full / library | level full / library | the quick answer uses it | full run s | 1-min load |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in acc:
        same = "same" if r["villages_full"] == r["villages_lib"] else "**differ**"
        # decided now, by the library as it is (library.lookup: a nearly dry and a wet member around q)
        used = "no: the spill lies between the members (1D answer, says why)" if lib.lookup(r["q"]).onset else "yes"
        lines.append(f"| {r['q']:,.0f} | {r['between']} | {r['area_full']:.1f} / {r['area_lib']:.1f} | "
                     f"{100 * r['area_err']:+.1f} % | {r['rmse']:.3f} ({r['wet_cells']:,}) | "
                     f"{len(r['villages_full'])} / {len(r['villages_lib'])} ({same}) | {r['tier_full']} / {r['tier_lib']} "
                     f"| {used} | {r['full_s']:.0f} | {r['load']:.1f} |")
    lines += ["", f"**The quick answer, whole process** (`floodtwin scenario --discharge Q --library …`, {args.repeats} "
                  "runs after one to warm the OS cache; target ≤ 1 s):", "",
              "| Q m³/s | median s | worst s | level | villages flooded | tasks | from the library | 1-min load |",
              "|---|---|---|---|---|---|---|---|"]
    for r in quick:
        lines.append(f"| {r['q']:,.0f} | {r['median_s']:.2f} | {r['max_s']:.2f} | {r['tier']} {r['colour']} | "
                     f"{len(r['flooded'])} | {r['tasks']} | {'yes' if r['from_library'] else 'no'} | {r['load']:.1f} |")
    lines += ["", "Slowest top-level imports of that process (`-X importtime`, s, cumulative): "
              + ", ".join(f"{name} {t:.3f}" for name, t in imports), "",
              f"**Lookup latency in process** ({lat['n']} random discharges): `Library.lookup` p50 {lat['lookup_p50']:.1f} ms, "
              f"p95 {lat['lookup_p95']:.1f} ms; with the level and the tasks (`library_result`) p50 {lat['all_p50']:.1f} ms, "
              f"p95 {lat['all_p95']:.1f} ms (1-min load {lat['load']:.1f}).",
              "", "The machine has 2 cores shared with other work: a 1-min load above 1.5 means the times are upper "
              "bounds of an idle machine's."]
    publish(NAME, "\n".join(lines), write=not args.no_write)


if __name__ == "__main__":
    main()
