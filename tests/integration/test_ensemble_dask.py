"""Ensembles on real Dask processes: the small ensemble (4 members, 100 m, 9 h runs) on a LocalCluster of 2
worker processes equals the same members run serially here; a member with bad parameters is reported by
name while the others finish, and a rerun resumes the finished ones; a real ``dask scheduler`` and ``dask
worker`` processes on loopback run it by address; a worker SIGKILLed mid-member does not lose the
ensemble (its member is rerun on the other worker); the CLI resumes a finished ensemble and writes its
files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from floodtwin.hydrograph import load_scenario  # noqa: E402
from floodtwin.reach import load_reach  # noqa: E402
from floodtwin.results import read_result  # noqa: E402
from floodtwin.scenario.ensemble import load_ensemble_spec, run_ensemble  # noqa: E402
from floodtwin.scenario.ensemble.member import MemberTask, compute_member  # noqa: E402
from floodtwin.scenario.ensemble.reduce import cell_statistics, dike_table, village_table  # noqa: E402
from floodtwin.scenario.ensemble.run import member_tasks  # noqa: E402
from floodtwin.scenario.ensemble.sampling import MemberParams, sample_members  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SMALL = REPO / "scenarios" / "ensembles" / "test-small.yaml"
DASK = Path(sys.executable).with_name("dask")
CELL_KEYS = ("prob_depth_gt_0_3m", "prob_depth_gt_1_0m", "depth_q05", "depth_q50", "depth_q95", "prob_hazard_significant")


@pytest.fixture(scope="module")
def spec():
    return load_ensemble_spec(SMALL)


@pytest.fixture(scope="module")
def reach(spec):
    return load_reach("huayuankou", resolution_m=spec.resolution_m)


@pytest.fixture(scope="module")
def serial(spec, tmp_path_factory):
    """The members run one after the other in this process (numba on one thread, as on the workers)."""
    import numba

    folder = tmp_path_factory.mktemp("serial")
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        for name, task in member_tasks(spec, sample_members(spec, load_scenario(spec.base_scenario))).items():
            (folder / name).mkdir()
            compute_member(task, folder / name)
    finally:
        numba.set_num_threads(before)
    return folder


def _reference(serial: Path, names: list[str]):
    """The statistics of the serial members computed at once over the whole grid (no bands)."""
    depth = np.stack([read_result(serial / n / "member.nc", variable="max_depth").values for n in names])
    hazard = np.stack([read_result(serial / n / "member.nc", variable="hazard_class").values for n in names])
    return cell_statistics(depth, hazard), village_table(serial, names), dike_table(serial, names)


def _assert_equal_to_serial(run, serial: Path, names: list[str]) -> None:
    cells, villages, dikes = _reference(serial, names)
    for name in names:  # each member's grid is the serial one, bit for bit
        a = read_result(run.folder / "members" / name / "member.nc")
        b = read_result(serial / name / "member.nc")
        np.testing.assert_array_equal(a["max_depth"].values, b["max_depth"].values)
        np.testing.assert_array_equal(a["hazard_class"].values, b["hazard_class"].values)
    on_disk = read_result(run.folder / "ensemble.nc")
    for k in CELL_KEYS:
        np.testing.assert_array_equal(on_disk[k].values, cells[k], err_msg=k)
    assert int(on_disk.attrs["members"]) == len(names)
    import pandas.testing as pdt

    pdt.assert_frame_equal(run.villages, villages)
    pdt.assert_frame_equal(run.dikes, dikes)


def test_local_cluster_equals_serial_bad_member_by_name_and_rerun_resumes(spec, reach, serial, tmp_path):
    members = sample_members(spec, load_scenario(spec.base_scenario))
    tasks = member_tasks(spec, members)
    good = list(tasks)
    # a Manning n no surface has: refused when the member's calibration file is read, on its worker
    tasks["bad-n"] = MemberTask(MemberParams("bad-n", 0.9, None, 22000.0, "design"), spec.resolution_m, (6.0, 3.0))
    seen = []
    run = run_ensemble(spec, folder=tmp_path, workers=2, reach=reach, tasks=tasks,
                       progress=lambda phase, o, k, n: seen.append((phase, o.name, o.status)))
    assert run.report.names("done") == good
    assert list(run.report.failed) == ["bad-n"] and "Manning n" in run.report.failed["bad-n"]
    assert run.cells is None and not (tmp_path / "ensemble.nc").exists()  # not reduced over a partial ensemble
    assert sorted(n for p, n, _ in seen if p == "members") == sorted(tasks)
    assert {json.loads((tmp_path / "members" / n / "member.json").read_text())["params"]["name"] for n in good} == set(good)

    again = run_ensemble(spec, folder=tmp_path, workers=2, reach=reach, tasks=tasks, allow_failed=True)
    assert again.report.names("skipped") == good and list(again.report.failed) == ["bad-n"]  # resumed
    assert again.used == good
    _assert_equal_to_serial(again, serial, good)
    assert read_result(tmp_path / "ensemble.nc").attrs["members_failed"] == "bad-n"
    for f in ("ensemble.gpkg", "probability.png", "probability.html", "members.csv", "summary.json"):
        assert (tmp_path / f).stat().st_size > 0, f
    import geopandas as gpd

    v = gpd.read_file(tmp_path / "ensemble.gpkg", layer="villages")
    assert len(v) == len(reach.villages) and v["prob_flooded"].between(0, 1).all()
    assert len(gpd.read_file(tmp_path / "ensemble.gpkg", layer="dikes")) == len(reach.dikes)


@pytest.fixture
def dask_cluster(tmp_path):
    """A real scheduler and two single-process workers (no nanny: the pid is the worker) on loopback."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "NUMBA_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched_file)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.time() + 60
        while not sched_file.is_file() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):
            procs.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny",
                                           "--no-dashboard", "--host", "127.0.0.1"], env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs[1:]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def test_a_running_scheduler_runs_it_by_address(spec, reach, serial, dask_cluster, tmp_path):
    address, _ = dask_cluster
    tasks = dict(list(member_tasks(spec, sample_members(spec, load_scenario(spec.base_scenario))).items())[:2])
    run = run_ensemble(spec, folder=tmp_path, scheduler=address, reach=reach, tasks=tasks)
    assert run.report.names("done") == list(tasks) and not run.report.failed
    assert all(json.loads((tmp_path / "members" / n / "member.json").read_text())["cpu_s"] > 0 for n in tasks)
    _assert_equal_to_serial(run, serial, list(tasks))


def test_a_worker_killed_mid_member_does_not_lose_the_ensemble(spec, reach, serial, dask_cluster, tmp_path):
    address, procs = dask_cluster
    tasks = dict(list(member_tasks(spec, sample_members(spec, load_scenario(spec.base_scenario))).items())[2:])
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(run=run_ensemble(spec, folder=tmp_path, scheduler=address,
                                                                            reach=reach, tasks=tasks)))
    thread.start()
    members = tmp_path / "members"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(members.glob(".*.tmp-*")) if members.is_dir() else []) < 2:
        time.sleep(0.1)  # both workers are inside a member (each member's hidden folder exists)
    time.sleep(1.0)
    victim = procs[0]
    os.kill(victim.pid, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    run = result["run"]
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert run.report.names("done") == list(tasks) and not run.report.failed
    left = [p.name for p in members.glob(".*.tmp-*")]
    assert len(left) == 1  # the killed worker's half-written member, never renamed into place ...
    killed = left[0][1:].split(".tmp-")[0]
    assert killed in tasks and (members / killed / "member.nc").is_file()  # ... and the member rerun elsewhere
    _assert_equal_to_serial(run, serial, list(tasks))


def test_the_cli_resumes_a_finished_ensemble_and_writes_its_files(spec, serial, tmp_path):
    import shutil

    out = tmp_path / "ens"
    shutil.copytree(serial, out / "members")  # the members as the serial run left them, with their member.json
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    proc = subprocess.run([sys.executable, "-m", "floodtwin", "ensemble", str(SMALL), "--out", str(out), "--workers", "2"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "members: 0 run now, 4 finished before, 0 failed (of 4)" in proc.stdout
    assert all(len(line) <= 100 for line in proc.stdout.splitlines())
    assert "probability.png" in proc.stdout
    # not a terminal: progress is one line per finished task (the reduction's bands here), nothing else
    assert all(line.startswith("reduce: rows-") for line in proc.stderr.strip().splitlines()), proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["members"] == 4 and summary["members_failed"] == "none"
    cells, villages, _ = _reference(serial, sorted(p.name for p in serial.iterdir()))
    got = read_result(out / "ensemble.nc")
    np.testing.assert_array_equal(got["depth_q50"].values, cells["depth_q50"])
    assert [v["prob_flooded"] for v in summary["villages"]] == villages["prob_flooded"].tolist()


def test_the_cli_refuses_a_breach_off_the_dikes_in_one_line_before_anything_runs(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = SMALL.read_text(encoding="utf-8")
    assert "low: 4000, high: 8000" in text
    bad.write_text(text.replace("low: 4000, high: 8000", "low: 4000, high: 31000"), encoding="utf-8")
    out = tmp_path / "ens"
    proc = subprocess.run([sys.executable, "-m", "floodtwin", "ensemble", str(bad), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "parameters.breach.chainage_m: draws from 4,000 to 31,000 m leave the left dike (0–27,000 m)" in lines[0]
    assert not out.exists()  # nothing written, no member started
