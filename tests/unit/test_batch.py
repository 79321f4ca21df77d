"""floodtwin.batch on a real Dask LocalCluster of 2 worker processes: members written atomically into
their folders, a failing member reported by name while the others finish, finished members skipped
on a rerun, a worker that dies has its member rerun, and a batch killed with SIGKILL resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

import cloudpickle  # noqa: E402  (comes with distributed)

from floodtwin.batch import member_folder, run_members  # noqa: E402
from floodtwin.errors import InputError  # noqa: E402

# the worker processes cannot import this test module by name: send its functions by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

REPO = Path(__file__).resolve().parents[2]


def square_member(arg, folder: Path) -> None:
    """Writes arg² and the worker's pid; raises for a negative argument."""
    if arg < 0:
        raise ValueError(f"negative argument {arg}")
    (folder / "value.txt").write_text(f"{arg * arg}\n{os.getpid()}\n")


def dies_once(arg, folder: Path) -> None:
    """Kills its own worker process the first time (marker file), succeeds when rerun."""
    marker = Path(arg) / "died-once"
    if not marker.exists():
        marker.write_text("x")
        os._exit(1)
    (folder / "value.txt").write_text("after a lost worker\n")


def test_members_done_failed_reported_and_skipped_on_rerun(tmp_path):
    seen = []
    members = {"q-2": 2, "q-3": 3, "bad": -1, "q-5": 5}
    report = run_members(members, square_member, tmp_path, workers=2,
                         progress=lambda o, k, n: seen.append((o.name, o.status, k, n)))
    assert report.names("done") == ["q-2", "q-3", "q-5"]
    assert report.failed == {"bad": "ValueError: negative argument -1"}
    assert [member_folder(tmp_path, n).joinpath("value.txt").read_text().split()[0] for n in ("q-2", "q-3", "q-5")] \
        == ["4", "9", "25"]
    pids = {member_folder(tmp_path, n).joinpath("value.txt").read_text().split()[1] for n in ("q-2", "q-3", "q-5")}
    assert str(os.getpid()) not in pids  # computed in worker processes, not here
    assert not member_folder(tmp_path, "bad").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q-2", "q-3", "q-5"]  # no temporary folder left
    assert sorted(s[0] for s in seen) == sorted(members) and [s[2] for s in seen] == [1, 2, 3, 4]
    assert {s[3] for s in seen} == {4}

    before = {n: member_folder(tmp_path, n).joinpath("value.txt").stat().st_mtime_ns for n in ("q-2", "q-3", "q-5")}
    again = run_members({"q-2": 2, "q-3": 3, "q-5": 5}, square_member, tmp_path, workers=2)
    assert again.names("skipped") == ["q-2", "q-3", "q-5"] and again.complete
    assert before == {n: member_folder(tmp_path, n).joinpath("value.txt").stat().st_mtime_ns for n in before}


def test_a_lost_worker_has_its_member_rerun(tmp_path):
    out = tmp_path / "out"
    report = run_members({"m": str(tmp_path)}, dies_once, out, workers=2)
    assert (tmp_path / "died-once").exists()  # the first worker did die
    assert report.names("done") == ["m"], report.outcomes
    assert (out / "m" / "value.txt").read_text() == "after a lost worker\n"


def test_bad_member_names_and_workers_refused(tmp_path):
    with pytest.raises(InputError, match="not folder names"):
        run_members({"../x": 1}, square_member, tmp_path)
    with pytest.raises(InputError, match="not folder names"):
        run_members({".hidden": 1}, square_member, tmp_path)
    with pytest.raises(InputError, match="workers"):
        run_members({"a": 1}, square_member, tmp_path, workers=0)


SLOW_BATCH = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from floodtwin.batch import run_members

    def slow(arg, folder):
        time.sleep(arg)
        (folder / "value.txt").write_text(str(arg))

    if __name__ == "__main__":
        members = {f"m{i}": (0.2 if i == 0 else 30.0) for i in range(4)}
        run_members(members, slow, Path(sys.argv[1]), workers=2)
""")


def test_killed_batch_resumes(tmp_path):
    """SIGKILL to the whole batch (scheduler and workers) while members run: the finished member is
    kept, the unfinished ones leave only temporary folders, and the rerun computes just those."""
    script = tmp_path / "batch_script.py"
    script.write_text(SLOW_BATCH)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out / "m0").is_dir():
            time.sleep(0.2)
        assert (out / "m0").is_dir(), "the first member never finished"
        time.sleep(1.0)  # the next members are running now
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    left = sorted(p.name for p in out.iterdir())
    assert "m0" in left and not any(n in left for n in ("m1", "m2", "m3"))
    assert any(n.startswith(".m") and ".tmp-" in n for n in left), left  # what was being computed
    # the rerun (quick members now) computes the three unfinished ones only and clears the leftovers
    sys.path.insert(0, str(tmp_path))
    try:
        report = run_members({"m0": 0.0, "m1": 0.0, "m2": 0.0, "m3": 0.0}, square_member_float, out, workers=2)
    finally:
        sys.path.remove(str(tmp_path))
    assert report.names("skipped") == ["m0"] and report.names("done") == ["m1", "m2", "m3"]
    assert (out / "m0" / "value.txt").read_text() == "0.2"
    assert sorted(p.name for p in out.iterdir()) == ["m0", "m1", "m2", "m3"]


def square_member_float(arg, folder: Path) -> None:
    (folder / "value.txt").write_text(str(arg * arg))
