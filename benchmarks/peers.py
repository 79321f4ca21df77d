"""The open peers of the 2D benchmark: installing and building them (landlab, ANUGA, PyClaw,
GeoClaw, each in its own virtual environment under benchmarks/.peers/, created on demand), their
set-up of the benchmark cases, and running them, one subprocess per peer and case.

Split out of bench_2d.py (issue 13) so that the measurement of floodtwin stays apart from the peers'
set-up; :func:`run_peers` is what bench_2d.py calls. A peer that cannot be installed or run is
reported with the reason, never estimated.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _machine import load

__all__ = ["PEER_PIP", "PEER_RUNNERS", "PEERS_DIR", "ensure_peer_env", "run_peers"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_DIR = HERE / ".peers"

# --------------------------------------------------------------------------------------------
# peers: own venv, one subprocess per peer and case
# --------------------------------------------------------------------------------------------
PEER_PIP = {
    "landlab": ["landlab==2.10.1"],
    "anuga": ["anuga==4.1.0"],
    # Clawpack 5.14.0 is an sdist only: pip builds it (meson-python, ninja and numpy come in pip's isolated build
    # environment; gfortran must be on the machine) and the package does not declare numpy, which it imports
    "pyclaw": ["numpy", "clawpack==5.14.0"],
    "geoclaw": ["numpy", "clawpack==5.14.0"],
}
CLAWPACK = "clawpack==5.14.0"

LANDLAB_SCRIPT = r"""
import json, sys, time
import numpy as np
from landlab import RasterModelGrid
from landlab.components import OverlandFlow
case, n, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = {}
if case in ("wet", "flood"):
    dx = 5.0
    grid = RasterModelGrid((n + 2, n + 2), xy_spacing=dx)
    z = grid.add_zeros("topographic__elevation", at="node")
    h = grid.add_zeros("surface_water__depth", at="node")
    h[:] = 0.5 if case == "wet" else 1e-5
    west = grid.nodes_at_left_edge
    stage = 1.5 if case == "wet" else 1.0
    grid.set_closed_boundaries_at_grid_edges(True, True, False, True)
    of = OverlandFlow(grid, mannings_n=0.03, steep_slopes=True, g=9.81)
    t = 0.0; steps = 0
    t0 = time.perf_counter()
    while t < dur:
        h[west] = stage
        dt = of.calc_time_step()
        dt = min(dt, dur - t)
        of.run_one_step(dt=dt)
        t += dt; steps += 1
    wall = time.perf_counter() - t0
    out = dict(mcups=n * n * steps / wall / 1e6, steps=steps, wall_s=wall)
else:
    from math import sqrt
    dx = float(sys.argv[4])
    nx = int(round(200 / dx))
    grid = RasterModelGrid((4 + 2, nx + 2), xy_spacing=dx)
    z = grid.add_zeros("topographic__elevation", at="node")
    h = grid.add_zeros("surface_water__depth", at="node")
    x = grid.x_of_node - dx  # cell centres of the inner nodes at (j + 0.5) dx
    x = grid.x_of_node - 0.5 * dx
    hl, hr = (2.0, 1.0) if case == "stoker" else (1.0, 1e-5)
    h[:] = np.where(x < 100.0, hl, hr)
    grid.set_closed_boundaries_at_grid_edges(True, True, True, True)
    of = OverlandFlow(grid, mannings_n=1e-12, steep_slopes=True, g=9.81)
    t = 0.0
    while t < 10.0:
        dt = min(of.calc_time_step(), 10.0 - t)
        of.run_one_step(dt=dt)
        t += dt
    core = grid.core_nodes
    row = grid.node_y[core] == grid.node_y[core][0]
    out = dict(x=(x[core][row]).tolist(), h=h[core][row].tolist())
print(json.dumps(out))
"""


ANUGA_SCRIPT = r"""
import json, sys, time
import numpy as np
import anuga
import anuga.config
anuga.config.g = 9.81  # ANUGA's default gravity is 9.8 (docs/peers.md)
case, n, dur = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
if case in ("wet", "flood"):
    # n x n rectangles split into 4 triangles each: n = size / 2 gives size^2 triangles
    dx = float(sys.argv[4])
    t0 = time.perf_counter()
    domain = anuga.rectangular_cross_domain(n, n, len1=n * dx, len2=n * dx)
    domain.g = 9.81
    domain.set_flow_algorithm("DE0")
    domain.set_quantity("elevation", 0.0)
    domain.set_quantity("friction", 0.03)
    domain.set_quantity("stage", 0.5 if case == "wet" else 0.0)
    br = anuga.Reflective_boundary(domain)
    bd = anuga.Dirichlet_boundary([1.5 if case == "wet" else 1.0, 0.0, 0.0])
    domain.set_boundary({"left": bd, "right": br, "top": br, "bottom": br})
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in domain.evolve(yieldstep=dur, finaltime=dur):
        pass
    wall = time.perf_counter() - t0
    cells = domain.number_of_triangles
    print(json.dumps(dict(mcups=cells * domain.number_of_steps / wall / 1e6, steps=int(domain.number_of_steps),
                          wall_s=wall, cells=int(cells), build_s=build)))
else:
    dx = float(sys.argv[4])
    nx = int(round(200 / dx))
    domain = anuga.rectangular_cross_domain(nx, 4, len1=200.0, len2=4 * dx)
    domain.g = 9.81
    domain.set_flow_algorithm("DE0")
    hl, hr = (2.0, 1.0) if case == "stoker" else (1.0, 0.0)
    domain.set_quantity("elevation", 0.0)
    domain.set_quantity("friction", 0.0)
    domain.set_quantity("stage", lambda x, y: np.where(x < 100.0, hl, hr))
    br = anuga.Reflective_boundary(domain)
    domain.set_boundary({"left": br, "right": br, "top": br, "bottom": br})
    for _ in domain.evolve(yieldstep=10.0, finaltime=10.0):
        pass
    x = domain.centroid_coordinates[:, 0]
    h = domain.quantities["stage"].centroid_values - domain.quantities["elevation"].centroid_values
    print(json.dumps(dict(x=x.tolist(), h=h.tolist())))
"""


def run_peer_anuga(py: Path, args) -> tuple[list[dict], dict]:
    from analytic import dam_break_depth

    script = PEERS_DIR / "anuga_case.py"
    script.write_text(ANUGA_SCRIPT)
    rows, acc = [], {}
    half = max(args.size // 2, 2)
    for case, dur in (("wet", args.wet_s), ("flood", args.flood_s)):
        for threads in (1, 2):
            la = load()
            p = subprocess.run([str(py), str(script), case, str(half), str(dur), str(5.0 * args.size / half)],
                               capture_output=True, text=True, timeout=3600, cwd=PEERS_DIR,
                               env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
            if p.returncode != 0:
                raise RuntimeError(p.stderr.strip().splitlines()[-1][:200])
            r = json.loads(p.stdout.strip().splitlines()[-1])
            rows.append(dict(solver="ANUGA DE0 (triangles)", case=case, dtype="float64", threads=threads, load=la,
                             mcups=r["mcups"], steps=r["steps"], wall_s=r["wall_s"]))
            print(f"  ANUGA {case} {threads} thr: {r['mcups']:.1f} M triangle-updates/s ({r['steps']} steps, "
                  f"{r['cells']} triangles)", flush=True)
    for case, hl, hr in (("stoker", 2.0, 1.0), ("ritter", 1.0, 0.0)):
        # cwd: ANUGA writes its domain.sww output file into the working directory
        p = subprocess.run([str(py), str(script), case, "0", "10", "0.25"], capture_output=True, text=True,
                           timeout=3600, cwd=PEERS_DIR)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1][:200])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        ex = dam_break_depth(np.array(r["x"]), 10.0, x0_m=100.0, h_left_m=hl, h_right_m=hr)
        acc[case] = float(np.mean(np.abs(np.array(r["h"]) - ex)))  # equal-area triangles
    return rows, acc


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "?"


def ensure_gfortran() -> str:
    """Install gfortran with apt-get when it is missing (Clawpack builds from source); '' or the reason it failed."""
    from shutil import which

    if which("gfortran"):
        return ""
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and which("sudo") is None:
        return "gfortran is not installed, and this user is neither root nor has sudo to apt-get install it"
    cmd = [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "gfortran"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"  gfortran missing: {' '.join(cmd)}", flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        if p.returncode != 0:  # no or stale package lists on a fresh machine: update them once and retry
            subprocess.run([*sudo, "apt-get", "update", "-qq"], capture_output=True, text=True, timeout=900, env=env)
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"gfortran is not installed and `{' '.join(cmd)}` failed: {exc}"
    if p.returncode != 0 or which("gfortran") is None:
        return f"gfortran is not installed and `{' '.join(cmd)}` failed: {_last_line(p.stderr or p.stdout)}"
    return ""


def clawpack_source(py: Path) -> tuple[Path | None, str]:
    """The Clawpack 5.14.0 source tree (GeoClaw's Fortran is not in the wheel): pip download the sdist, unpack it."""
    import tarfile

    dest = PEERS_DIR / "clawpack-src"
    tree = dest / "clawpack-5.14.0"
    if (tree / "geoclaw" / "src" / "2d" / "shallow" / "amr2.f90").exists():
        return tree, ""
    dest.mkdir(parents=True, exist_ok=True)
    # pip prepares the sdist's metadata by building it (minutes), but it is the ordinary client for the registry
    p = subprocess.run([str(py), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "clawpack", "-d", str(dest),
                        CLAWPACK], capture_output=True, text=True, timeout=3600)
    sdist = dest / "clawpack-5.14.0.tar.gz"
    if p.returncode != 0 or not sdist.exists():
        return None, f"pip download of the {CLAWPACK} source failed: {_last_line(p.stderr)}"
    with tarfile.open(sdist) as tf:
        tf.extractall(dest, filter="data")
    return tree, ""


def ensure_peer_env(name: str) -> tuple[Path | None, str]:
    """Create benchmarks/.peers/<name> with the peer installed; (python, '') or (None, reason)."""
    env = PEERS_DIR / name
    py = env / "bin" / "python"
    stamp = env / ".installed"
    if stamp.exists():
        return py, ""
    PEERS_DIR.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    if not py.exists():
        p = subprocess.run([sys.executable, "-m", "venv", str(env)], capture_output=True, text=True)
        if p.returncode != 0:
            return None, f"venv failed: {p.stderr.strip()[-200:]}"
    if name in ("pyclaw", "geoclaw"):
        why = ensure_gfortran()
        if why:
            return None, why
    p = subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_PIP[name]], capture_output=True, text=True,
                       timeout=3600)
    if p.returncode != 0:
        return None, f"pip install {' '.join(PEER_PIP[name])} failed: {_last_line(p.stderr)}"
    if name == "geoclaw":
        tree, why = clawpack_source(py)
        if tree is None:
            return None, why
    took = time.perf_counter() - t0
    stamp.write_text(f"ok, installed in {took:.0f} s\n")
    print(f"  {name}: installed in {took:.0f} s", flush=True)
    return py, ""


def run_peer_landlab(py: Path, args) -> tuple[list[dict], dict]:
    from analytic import dam_break_depth

    script = PEERS_DIR / "landlab_case.py"
    script.write_text(LANDLAB_SCRIPT)
    rows, acc = [], {}
    for case, dur in (("wet", args.wet_s), ("flood", args.flood_s)):
        la = load()
        p = subprocess.run([str(py), str(script), case, str(args.size), str(dur)], capture_output=True, text=True,
                           timeout=3600, env=dict(os.environ, OMP_NUM_THREADS="1"))
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1][:200])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        rows.append(dict(solver="landlab OverlandFlow", case=case, dtype="float64", threads=1, load=la, **r))
        print(f"  landlab {case}: {r['mcups']:.1f} M/s ({r['steps']} steps)", flush=True)
    for case, hl, hr in (("stoker", 2.0, 1.0), ("ritter", 1.0, 0.0)):
        p = subprocess.run([str(py), str(script), case, "0", "10", "0.25"], capture_output=True, text=True,
                           timeout=3600)
        if p.returncode != 0:
            raise RuntimeError(p.stderr.strip().splitlines()[-1][:200])
        r = json.loads(p.stdout.strip().splitlines()[-1])
        x = np.array(r["x"])
        h = np.array(r["h"])
        ex = dam_break_depth(x, 10.0, x0_m=100.0, h_left_m=hl, h_right_m=hr)
        acc[case] = float(np.mean(np.abs(np.where(h > 1e-4, h, 0.0) - ex)))
    return rows, acc


PYCLAW_SCRIPT = r"""
import json, sys, time
import numpy as np
from clawpack import pyclaw, riemann

# argv: case n duration dx riemann(roe|fwave) order [dry depth | initial-state .npz]
case, n, dur, dx, rs_name, order = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
RS = {"roe": riemann.shallow_roe_with_efix_2D, "fwave": riemann.shallow_bathymetry_fwave_2D}[rs_name]


def make(mx, my, x1, y1, bed=None):
    solver = pyclaw.ClawSolver2D(RS)  # classic Clawpack (Fortran), dimensional splitting (PyClaw's default)
    solver.order = order
    solver.limiters = pyclaw.limiters.tvd.MC
    solver.fwave = rs_name == "fwave"
    solver.bc_lower[0] = solver.bc_upper[0] = pyclaw.BC.wall
    solver.bc_lower[1] = solver.bc_upper[1] = pyclaw.BC.wall
    domain = pyclaw.Domain([pyclaw.Dimension(0.0, x1, mx, name="x"), pyclaw.Dimension(0.0, y1, my, name="y")])
    state = pyclaw.State(domain, 3, num_aux=1 if bed is not None else 0)
    state.problem_data["grav"] = 9.81
    state.problem_data["dry_tolerance"] = 1e-3
    state.problem_data["sea_level"] = 0.0
    if bed is not None:
        solver.aux_bc_lower[0] = solver.aux_bc_upper[0] = pyclaw.BC.extrap
        solver.aux_bc_lower[1] = solver.aux_bc_upper[1] = pyclaw.BC.extrap
        state.aux[0] = bed
    state.q[:] = 0.0
    return solver, state, domain


if case in ("wet", "flood"):
    stage = 1.5 if case == "wet" else 1.0

    def west_stage(state, dim, t, qbc, auxbc, num_ghost):
        # the west-edge stage: a reservoir at rest in the ghost cells (like ANUGA's Dirichlet [stage, 0, 0])
        qbc[0, :num_ghost, :] = stage
        qbc[1:, :num_ghost, :] = 0.0

    solver, state, domain = make(n, n, n * dx, n * dx)
    solver.bc_lower[0] = pyclaw.BC.custom
    solver.user_bc_lower = west_stage
    state.q[0] = 0.5 if case == "wet" else float(sys.argv[7])
    sol = pyclaw.Solution(state, domain)
    solver.setup(sol)
    t0 = time.perf_counter()
    st = solver.evolve_to_time(sol, dur)
    wall = time.perf_counter() - t0
    h = sol.state.q[0]
    out = dict(mcups=n * n * st["numsteps"] / wall / 1e6, steps=int(st["numsteps"]), wall_s=wall,
               dt_max_s=float(st["dtmax"]), wet_fraction=float((h > 1e-3).mean()), finite=bool(np.isfinite(h).all()))
elif case in ("stoker", "ritter"):
    nx = int(round(200 / dx))
    solver, state, domain = make(nx, 4, 200.0, 4 * dx)
    hl, hr = (2.0, 1.0) if case == "stoker" else (1.0, float(sys.argv[7]))
    X, Y = state.p_centers
    state.q[0] = np.where(X < 100.0, hl, hr)
    sol = pyclaw.Solution(state, domain)
    st = solver.evolve_to_time(sol, 10.0)
    out = dict(x=state.grid.x.centers.tolist(), h=sol.state.q[0][:, 1].tolist(), steps=int(st["numsteps"]))
else:  # thacker: bed and initial state on the cell centres from the parent (tests/verification/analytic.py)
    ini = np.load(sys.argv[7])
    m = ini["z"].shape[0]
    solver, state, domain = make(m, m, 4.0, 4.0, bed=ini["z"].T)  # pyclaw arrays are [x, y]
    h = ini["h"].T
    state.q[0] = h
    state.q[1] = h * ini["u"].T
    state.q[2] = h * ini["v"].T
    sol = pyclaw.Solution(state, domain)
    st = solver.evolve_to_time(sol, float(ini["period"]))
    h = sol.state.q[0].T
    out = dict(h=np.nan_to_num(h, nan=-1e300).tolist(), finite=bool(np.isfinite(h).all()), steps=int(st["numsteps"]),
               h_min=float(np.nanmin(h)) if np.isfinite(h).any() else None)
print(json.dumps(out))
"""

# PyClaw set-ups (classic 2D solver, MC limiter, dimensional splitting): Stoker and "wet" second order with the
# Roe solver; Ritter and "flood" first order (second order goes negative, then NaN, on the dry bed: docs/peers.md, and
# NaN after 11 steps on "flood" at 200 × 200 when tried) with 1e-10 m on the dry cells (the Roe solver divides
# by h: an exactly dry cell gives NaN at the first step). Thacker needs a bed: only shallow_bathymetry_fwave_2D
# has one.
PYCLAW_DRY = "1e-10"


def _run_json(cmd: list[str], **kw) -> dict:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, **kw)
    if p.returncode != 0:
        raise RuntimeError(_last_line(p.stderr or p.stdout))
    return json.loads(p.stdout.strip().splitlines()[-1])


def thacker_initial(path: Path, nodes_per_cell: int = 0) -> Path:
    """Thacker's bowl on 100 × 100 cell centres of [0, 4]² (analytic.py) in an .npz for a peer's own venv;
    with nodes_per_cell, also the bed on a node grid that much finer (for GeoClaw's topography file)."""
    from analytic import thacker_period_s, thacker_planar

    n = 100
    dx = 4.0 / n
    c = (np.arange(n) + 0.5) * dx
    xx, yy = np.meshgrid(c, c)
    z, h, u, v = thacker_planar(xx, yy, 0.0)
    _, he, _, _ = thacker_planar(xx, yy, thacker_period_s())
    extra = {}
    if nodes_per_cell:
        d = dx / nodes_per_cell
        tn = np.arange(-4 * nodes_per_cell, (n + 4) * nodes_per_cell + 1) * d  # two ghost cells and a margin
        extra = dict(topo_x=tn, topo_z=thacker_planar(*np.meshgrid(tn, tn), 0.0)[0])
    np.savez(path, z=z, h=h, u=u, v=v, h_exact=he, period=thacker_period_s(), dx=dx, **extra)
    return path


def run_peer_pyclaw(py: Path, args) -> tuple[list[dict], dict]:
    from analytic import dam_break_depth

    script = PEERS_DIR / "pyclaw_case.py"
    script.write_text(PYCLAW_SCRIPT)
    rows, acc = [], {}
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = functools.partial(_run_json, env=env, cwd=PEERS_DIR)  # PyClaw writes pyclaw.log where it runs
    for case, dur in (("wet", args.wet_s), ("flood", args.flood_s)):
        rs, order = ("roe", 2) if case == "wet" else ("roe", 1)
        la = load()
        r = run([str(py), str(script), case, str(args.size), str(dur), "5.0", rs, str(order), PYCLAW_DRY])
        if not r["finite"]:
            raise RuntimeError(f"PyClaw {case}: non-finite depths (order {order})")
        label = f"PyClaw Roe {'2nd order MC' if order == 2 else '1st order'} (no friction: none in PyClaw's SWE)"
        rows.append(dict(solver=label, case=case, dtype="float64", threads=1, load=la, **r))
        print(f"  PyClaw {case}: {r['mcups']:.1f} M/s ({r['steps']} steps, {r['wall_s']:.1f} s, "
              f"dt ≤ {r['dt_max_s']:.3f} s, wet {r['wet_fraction']:.0%}, load {la:.1f})", flush=True)
    for case, hl, hr, order in (("stoker", 2.0, 1.0, 2), ("ritter", 1.0, 0.0, 1)):
        r = run([str(py), str(script), case, "0", "10", "0.25", "roe", str(order), PYCLAW_DRY])
        x, h = np.array(r["x"]), np.array(r["h"])
        ex = dam_break_depth(x, 10.0, x0_m=100.0, h_left_m=hl, h_right_m=hr)
        acc[case] = float(np.mean(np.abs(h - ex)))
    ini = thacker_initial(PEERS_DIR / "thacker_initial.npz")
    r = run([str(py), str(script), "thacker", "0", "0", "0", "fwave", "2", str(ini)])
    if r["finite"] and r["h_min"] >= 0.0:
        he = np.load(ini)["h_exact"]
        acc["thacker"] = float(np.abs(np.array(r["h"]) - he).sum() / he.sum())
    else:
        acc["thacker"] = None
        acc["thacker_why"] = (f"shallow_bathymetry_fwave_2D, PyClaw's only 2D shallow-water solver with a bed, breaks "
                              f"down at the wet/dry edge (depth negative, then NaN, after {r['steps']} steps; a lake "
                              "at rest in the bowl does the same, a fully wet one stays still); Roe and HLLE have no "
                              "bed-slope term")
    acc["notes"] = ("Roe solver, MC limiter, dimensional splitting; Stoker 2nd order, Ritter 1st order "
                    f"(dry side {PYCLAW_DRY} m)")
    print(f"  PyClaw accuracy: {acc}", flush=True)
    return rows, acc


# GeoClaw: one executable (OpenMP build, run with OMP_NUM_THREADS 1 and 2) from the Clawpack source tree with
# three replaced routines: setprob reads the case (ft_case.data), qinit sets the initial depth and velocities
# (uniform, dam break, or an array from the parent), and bc2amr's user boundary (mthbc = 0, west edge) holds a
# reservoir at rest at the given stage in the ghost cells (like ANUGA's Dirichlet [stage, 0, 0]).
GEOCLAW_FT_MODULE = r"""
module ft_module
    implicit none
    integer :: ft_kind = 0
    real(kind=8) :: ft_stage = 0.d0, ft_h0 = 0.d0, ft_x0 = 0.d0, ft_hl = 0.d0, ft_hr = 0.d0
    integer :: ft_nx = 0, ft_ny = 0
    real(kind=8) :: ft_xlo = 0.d0, ft_ylo = 0.d0, ft_dx = 1.d0
    real(kind=8), allocatable :: ft_h(:,:), ft_u(:,:), ft_v(:,:)
contains
    subroutine ft_read()
        integer :: iu, i, j
        open(newunit=iu, file='ft_case.data', status='old', action='read')
        read(iu, *) ft_kind
        read(iu, *) ft_stage
        if (ft_kind == 1) then
            read(iu, *) ft_h0
        else if (ft_kind == 2) then
            read(iu, *) ft_x0, ft_hl, ft_hr
        else if (ft_kind == 3) then
            read(iu, *) ft_nx, ft_ny, ft_xlo, ft_ylo, ft_dx
            allocate(ft_h(ft_nx, ft_ny), ft_u(ft_nx, ft_ny), ft_v(ft_nx, ft_ny))
            do j = 1, ft_ny
                do i = 1, ft_nx
                    read(iu, *) ft_h(i, j), ft_u(i, j), ft_v(i, j)
                end do
            end do
        end if
        close(iu)
    end subroutine ft_read
end module ft_module
"""

GEOCLAW_SETPROB = r"""
subroutine setprob()
    use ft_module, only: ft_read
    implicit none
    call ft_read()
end subroutine setprob
"""

GEOCLAW_QINIT = r"""
subroutine qinit(meqn, mbc, mx, my, xlower, ylower, dx, dy, q, maux, aux)
    use ft_module
    use geoclaw_module, only: sea_level
    implicit none
    integer, intent(in) :: meqn, mbc, mx, my, maux
    real(kind=8), intent(in) :: xlower, ylower, dx, dy
    real(kind=8), intent(inout) :: q(meqn, 1-mbc:mx+mbc, 1-mbc:my+mbc)
    real(kind=8), intent(inout) :: aux(maux, 1-mbc:mx+mbc, 1-mbc:my+mbc)
    integer :: i, j, ii, jj
    real(kind=8) :: x, y
    q = 0.d0
    do j = 1, my
        y = ylower + (j - 0.5d0) * dy
        do i = 1, mx
            x = xlower + (i - 0.5d0) * dx
            if (ft_kind == 1) then
                q(1, i, j) = ft_h0
            else if (ft_kind == 2) then
                q(1, i, j) = merge(ft_hl, ft_hr, x < ft_x0)
            else if (ft_kind == 3) then
                ii = min(max(int((x - ft_xlo) / ft_dx) + 1, 1), ft_nx)
                jj = min(max(int((y - ft_ylo) / ft_dx) + 1, 1), ft_ny)
                q(1, i, j) = ft_h(ii, jj)
                q(2, i, j) = ft_h(ii, jj) * ft_u(ii, jj)
                q(3, i, j) = ft_h(ii, jj) * ft_v(ii, jj)
            else
                q(1, i, j) = max(0.d0, sea_level - aux(1, i, j))
            end if
        end do
    end do
end subroutine qinit
"""

GEOCLAW_WEST_STAGE = """! floodtwin benchmark: the west-edge stage, a reservoir at rest in the ghost cells
                do j = 1, ncol
                    do i = 1, nxl
                        aux(:, i, j) = aux(:, 2 * nxl + 1 - i, j)
                        val(1, i, j) = max(0.d0, ft_stage - aux(1, i, j))
                        val(2, i, j) = 0.d0
                        val(3, i, j) = 0.d0
                    end do
                end do"""

GEOCLAW_MAKEFILE = """CLAWMAKE = $(CLAW)/clawutil/src/Makefile.common
CLAW_PKG = geoclaw
EXE = xgeoclaw
SETRUN_FILE = setrun.py
OUTDIR = _output
GEOLIB = $(CLAW)/geoclaw/src/2d/shallow
include $(GEOLIB)/Makefile.geoclaw
EXCLUDE_MODULES =
EXCLUDE_SOURCES =
MODULES = ./ft_module.f90
SOURCES = ./setprob.f90 ./qinit.f90 ./bc2amr.f90 \\
  $(CLAW)/riemann/src/rpn2_geoclaw.f $(CLAW)/riemann/src/rpt2_geoclaw.f $(CLAW)/riemann/src/geoclaw_riemann_utils.f
include $(CLAWMAKE)
"""
GEOCLAW_FFLAGS = ["-O2 -fopenmp", "-O2"]  # the OpenMP build first; the serial one if that fails


def build_geoclaw(py: Path) -> tuple[Path | None, bool, str]:
    """Build xgeoclaw (serial make: ``make -j2`` fails); (exe, openmp, '') or (None, False, reason)."""
    import hashlib
    from shutil import which

    tree, why = clawpack_source(py)
    if tree is None:
        return None, False, why
    for tool in ("gfortran", "make"):
        if which(tool) is None:
            return None, False, f"{tool} not found"
    bdir = PEERS_DIR / "geoclaw" / "build"
    bdir.mkdir(parents=True, exist_ok=True)
    lib_bc = (tree / "geoclaw" / "src" / "2d" / "shallow" / "bc2amr.f90").read_text()
    user = 'stop "A user defined boundary condition was not provided."'
    if user not in lib_bc:
        return None, False, "GeoClaw's bc2amr.f90 has no user-boundary stub to replace (changed upstream?)"
    bc = lib_bc.replace(user, GEOCLAW_WEST_STAGE, 1).replace(
        "use amr_module, only: xperdom,yperdom,spheredom",
        "use amr_module, only: xperdom,yperdom,spheredom\n    use ft_module, only: ft_stage", 1)
    files = {"ft_module.f90": GEOCLAW_FT_MODULE, "setprob.f90": GEOCLAW_SETPROB, "qinit.f90": GEOCLAW_QINIT,
             "bc2amr.f90": bc, "Makefile": GEOCLAW_MAKEFILE}
    digest = hashlib.sha256("".join(files.values()).encode()).hexdigest()[:16]
    stamp = bdir / "built"
    exe = bdir / "xgeoclaw"
    if exe.exists() and stamp.exists() and stamp.read_text().split()[0] == digest:
        return exe, stamp.read_text().split()[1] == "openmp", ""
    for name, text in files.items():
        (bdir / name).write_text(text)
    last = ""
    for fflags in GEOCLAW_FFLAGS:
        env = dict(os.environ, CLAW=str(tree), FC="gfortran", FFLAGS=fflags, CLAW_PYTHON=str(py))
        env.pop("MAKEFLAGS", None)
        subprocess.run(["make", "clean"], cwd=bdir, env=env, capture_output=True, text=True, timeout=600)
        t0 = time.perf_counter()
        print(f"  building xgeoclaw (FFLAGS '{fflags}', serial make) ...", flush=True)
        p = subprocess.run(["make", ".exe"], cwd=bdir, env=env, capture_output=True, text=True, timeout=3600)
        if p.returncode == 0 and exe.exists():
            openmp = "-fopenmp" in fflags
            stamp.write_text(f"{digest} {'openmp' if openmp else 'serial'}\n")
            print(f"  xgeoclaw built in {time.perf_counter() - t0:.0f} s", flush=True)
            return exe, openmp, ""
        last = _last_line(p.stderr or p.stdout)
    return None, False, f"building xgeoclaw failed: {last}"


GEOCLAW_SCRIPT = r"""
import glob, json, os, re, subprocess, sys, time
import numpy as np
from clawpack.clawutil import data

# argv: case n duration dx exe workdir threads [initial-state .npz]
case, n, dur, dx, exe, work, threads = (sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]),
                                        sys.argv[5], sys.argv[6], int(sys.argv[7]))
os.makedirs(work, exist_ok=True)
for f in glob.glob(os.path.join(work, "fort.*")) + glob.glob(os.path.join(work, "timing.*")):
    os.remove(f)
through = case in ("wet", "flood")
if through:
    mx = my = n; x1 = y1 = n * dx
elif case == "thacker":
    ini = np.load(sys.argv[8]); mx = my = ini["z"].shape[0]; dx = float(ini["dx"]); x1 = y1 = mx * dx
    dur = float(ini["period"])
else:
    mx, my = int(round(200.0 / dx)), 4; x1, y1 = 200.0, 4 * dx

rd = data.ClawRunData("geoclaw", 2)
cd = rd.clawdata
cd.lower = [0.0, 0.0]; cd.upper = [x1, y1]; cd.num_cells = [mx, my]
cd.num_eqn = 3; cd.num_aux = 1; cd.capa_index = 0
cd.t0 = 0.0
cd.output_style = 1; cd.num_output_times = 1; cd.tfinal = dur; cd.output_t0 = False  # the final frame only
cd.output_format = "binary" if through else "ascii"
cd.output_q_components = "all"; cd.output_aux_components = "none"
cd.verbosity = 1  # one line per level-1 step: the step count
cd.dt_variable = True; cd.dt_initial = 0.1 * dx / np.sqrt(9.81 * 2.0); cd.dt_max = 1e99
cd.cfl_desired = 0.75; cd.cfl_max = 1.0; cd.steps_max = 10**7
cd.order = 2; cd.dimensional_split = "unsplit"; cd.transverse_waves = 2; cd.num_waves = 3
cd.limiter = ["mc", "mc", "mc"]; cd.use_fwaves = True; cd.source_split = "godunov"; cd.num_ghost = 2
cd.bc_lower = ["user" if through else "wall", "wall"]; cd.bc_upper = ["wall", "wall"]
cd.checkpt_style = 0
am = rd.amrdata
am.amr_levels_max = 1  # one grid level, no refinement (split into patches of at most max1d = 60 cells a side)
am.refinement_ratios_x = [2]; am.refinement_ratios_y = [2]; am.refinement_ratios_t = [2]
am.aux_type = ["center"]; am.flag_richardson = False; am.flag2refine = False; am.regrid_interval = 10**6
geo = rd.geo_data
geo.gravity = 9.81; geo.coordinate_system = 1; geo.sea_level = 0.0; geo.dry_tolerance = 1e-3
geo.friction_forcing = through; geo.manning_coefficient = 0.03; geo.friction_depth = 1e6
rd.refinement_data.variable_dt_refinement_ratios = False
# bed: topotype 2 file (header, then values row by row from the north); flat unless Thacker's bowl
topo = os.path.join(work, "bed.tt2")
if case == "thacker":
    tx, tz = ini["topo_x"], ini["topo_z"]
else:
    tx = np.array([-4 * dx, max(x1, y1) + 4 * dx]); tz = np.zeros((2, 2))
with open(topo, "w") as f:
    f.write(f"{tx.size} ncols\n{tx.size} nrows\n{float(tx[0]):.17g} xlower\n{float(tx[0]):.17g} ylower\n"
            f"{float(tx[1] - tx[0]):.17g} cellsize\n"
            "-99999 nodata_value\n")
    np.savetxt(f, tz[::-1].ravel(), fmt="%.15e")
rd.topo_data.topofiles = [[2, topo]]
rd.qinit_data.qinit_type = 0
rd.write(out_dir=work)
with open(os.path.join(work, "ft_case.data"), "w") as f:
    if through:
        f.write(f"1\n{1.5 if case == 'wet' else 1.0!r}\n{0.5 if case == 'wet' else 0.0!r}\n")
    elif case == "thacker":
        f.write(f"3\n0.0\n{mx} {my} 0.0 0.0 {dx!r}\n")
        np.savetxt(f, np.column_stack([ini["h"].ravel(), ini["u"].ravel(), ini["v"].ravel()]), fmt="%.17e")
    else:
        hl, hr = (2.0, 1.0) if case == "stoker" else (1.0, 0.0)
        f.write(f"2\n0.0\n100.0 {hl!r} {hr!r}\n")
t0 = time.perf_counter()
with open(os.path.join(work, "stdout.txt"), "w") as log:
    p = subprocess.run([exe], cwd=work, stdout=log, stderr=subprocess.STDOUT,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
total = time.perf_counter() - t0
log = open(os.path.join(work, "stdout.txt")).read()
if p.returncode != 0:
    raise SystemExit("xgeoclaw failed: " + log.strip()[-300:])
dts = [float(m) for m in re.findall(r"AMRCLAW: level  1  CFL = \S+  dt = (\S+)", log)]
timing = open(os.path.join(work, "timing.txt")).read()
m = re.search(r"Level\s+Wall Time \(seconds\).*?\n\s*1\s+(\S+)\s+(\S+)\s+(\S+)", timing, re.S)
wall, cpu, updates = (float(v) for v in m.groups())
threads_used = int(re.search(r"Using\s*(\d+) thread", timing).group(1))
from clawpack.pyclaw import Solution
sol = Solution(1, path=work, file_format="binary" if through else "ascii")
if through:
    h = np.concatenate([s.q[0].ravel() for s in sol.states])
    out = dict(mcups=mx * my * len(dts) / wall / 1e6, steps=len(dts), wall_s=wall, cpu_s=cpu, run_s=total,
               cell_updates=updates, dt_max_s=max(dts), wet_fraction=float((h > 1e-3).mean()),
               finite=bool(np.isfinite(h).all()), threads=threads_used, cells=int(h.size))
else:
    H = np.full((my, mx), np.nan)
    for s in sol.states:
        d = s.patch.dimensions
        i0 = int(round(d[0].lower / dx)); j0 = int(round(d[1].lower / dx))
        H[j0:j0 + d[1].num_cells, i0:i0 + d[0].num_cells] = s.q[0].T
    out = dict(steps=len(dts), finite=bool(np.isfinite(H).all()))
    if case == "thacker":
        out["h"] = np.nan_to_num(H, nan=-1e300).tolist()
    else:
        out["x"] = ((np.arange(mx) + 0.5) * dx).tolist(); out["h"] = H[1].tolist()
print(json.dumps(out))
"""


def run_peer_geoclaw(py: Path, args) -> tuple[list[dict], dict]:
    from analytic import dam_break_depth

    exe, openmp, why = build_geoclaw(py)
    if exe is None:
        raise RuntimeError(why)
    script = PEERS_DIR / "geoclaw_case.py"
    script.write_text(GEOCLAW_SCRIPT)
    work = PEERS_DIR / "geoclaw" / "runs"
    rows, acc = [], {}
    run = functools.partial(_run_json, cwd=PEERS_DIR)  # clawpack's reader writes pyclaw.log where it runs
    thread_counts = [t for t in (1, 2) if t <= (os.cpu_count() or 1)] if openmp else [1]
    for case, dur in (("wet", args.wet_s), ("flood", args.flood_s)):
        for threads in thread_counts:
            la = load()
            r = run([str(py), str(script), case, str(args.size), str(dur), "5.0", str(exe), str(work / case),
                     str(threads)])
            if not r["finite"]:
                raise RuntimeError(f"GeoClaw {case}: non-finite depths")
            rows.append(dict(solver="GeoClaw (1 level, f-wave 2nd order MC, Manning)", case=case, dtype="float64",
                             load=la, **r))
            # wall_s: GeoClaw's timing.txt, level-1 "Integration Time (stepgrid + BC + overhead)": the time
            # stepping without set-up or output; cpu_s is the same summed over threads (low under load)
            print(f"  GeoClaw {case} {r['threads']} thr: {r['mcups']:.1f} M/s ({r['steps']} steps, integration "
                  f"{r['wall_s']:.1f} s wall / {r['cpu_s']:.1f} s CPU of a {r['run_s']:.1f} s run, "
                  f"dt ≤ {r['dt_max_s']:.3f} s, "
                  f"wet {r['wet_fraction']:.0%}, load {la:.1f})", flush=True)
    for case, hl, hr in (("stoker", 2.0, 1.0), ("ritter", 1.0, 0.0)):
        r = run([str(py), str(script), case, "0", "10", "0.25", str(exe), str(work / case), "1"])
        x, h = np.array(r["x"]), np.array(r["h"])
        ex = dam_break_depth(x, 10.0, x0_m=100.0, h_left_m=hl, h_right_m=hr)
        acc[case] = float(np.mean(np.abs(h - ex)))
    ini = thacker_initial(PEERS_DIR / "thacker_initial_topo.npz", nodes_per_cell=4)
    r = run([str(py), str(script), "thacker", "0", "0", "0", str(exe), str(work / "thacker"), "1", str(ini)])
    he = np.load(ini)["h_exact"]
    h = np.array(r["h"])
    if r["finite"] and h.min() >= 0.0:
        acc["thacker"] = float(np.abs(h - he).sum() / he.sum())
    else:
        acc["thacker"] = None
        acc["thacker_why"] = "non-finite or negative depths"
    acc["notes"] = "f-wave Riemann solver (GeoClaw's), 2nd order, MC limiter, unsplit, one grid level"
    if not openmp:
        acc["notes"] += "; the OpenMP build failed, so 1 thread only"
    print(f"  GeoClaw accuracy: {acc}", flush=True)
    return rows, acc


PEER_RUNNERS = {"landlab": run_peer_landlab, "anuga": run_peer_anuga, "pyclaw": run_peer_pyclaw,
                "geoclaw": run_peer_geoclaw}


def run_peers(names: list[str], args) -> tuple[list[dict], dict, dict]:
    rows, acc, failed = [], {}, {}
    for name in names:
        print(f"peer {name}: preparing benchmarks/.peers/{name} ...", flush=True)
        runner = PEER_RUNNERS.get(name)
        if runner is None:
            failed[name] = f"no runner for it in bench_2d.py (there are: {', '.join(PEER_RUNNERS)})"
            print(f"  {name}: {failed[name]}")
            continue
        try:
            py, reason = ensure_peer_env(name)
        except subprocess.TimeoutExpired:
            py, reason = None, "install timed out"
        if py is None:
            failed[name] = reason
            print(f"  {name}: {reason}")
            continue
        try:
            r, a = runner(py, args)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as exc:
            failed[name] = f"run failed: {exc}"
            print(f"  {name}: {failed[name]}")
            continue
        rows += r
        acc[name] = a
    return rows, acc, failed
