"""Many independent members on Dask distributed: each written atomically into its own folder, resumable.

One machinery for every batch of independent runs (the flood-map library's discharges, the ensembles):
:func:`run_members` sends each named member to a worker process, where a user function computes it
and writes its files into a hidden temporary folder that is renamed into place only when complete.
A member whose folder exists is finished and skipped on a rerun, so a build stopped by ``kill -9``
resumes where it stopped. A member that raises is reported by name with its error and the others go
on; a member whose worker process dies is rerun by Dask (``retries``) on another worker.

By default a :class:`distributed.LocalCluster` of ``workers`` processes with one thread each (numba's
own thread count set per worker by ``numba_threads``) is started and stopped around the batch;
``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) uses a running cluster instead.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floodtwin.errors import InputError

__all__ = ["MAX_LOCAL_WORKERS", "MEMBER_NAME", "BatchReport", "MemberOutcome", "member_folder", "run_members"]

#: most worker processes a local cluster may start (the library build and the ensembles alike): one per core of a
#: large node; more is a typo, not a machine
MAX_LOCAL_WORKERS = 256

#: a member's name is its folder's name: letters, digits, dot, dash, underscore (no path, no hidden file)
MEMBER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
#: temporary folders of members being written: ``.<name>.tmp-<random>`` (removed when a batch starts)
_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-[0-9a-f]{12}$")


@dataclass(frozen=True)
class MemberOutcome:
    """What became of one member: ``status`` done (computed now), skipped (finished before) or failed
    (``error`` says why, one line); ``wall_s`` the seconds its computation took (0 when skipped)."""

    name: str
    status: str
    error: str | None = None
    wall_s: float = 0.0


@dataclass
class BatchReport:
    """The outcomes of a batch by member name, in the order the members were given."""

    outcomes: dict[str, MemberOutcome] = field(default_factory=dict)

    def names(self, status: str) -> list[str]:
        return [n for n, o in self.outcomes.items() if o.status == status]

    @property
    def failed(self) -> dict[str, str]:
        """Member name -> its error line, for every member that failed."""
        return {n: o.error or "" for n, o in self.outcomes.items() if o.status == "failed"}

    @property
    def complete(self) -> bool:
        return not self.failed


def member_folder(folder: str | Path, name: str) -> Path:
    """The folder of finished member ``name`` in batch ``folder``."""
    return Path(folder) / name


def _compute_member(name: str, arg: Any, compute: Callable[[Any, Path], None], folder: str,
                    numba_threads: int | None) -> MemberOutcome:
    """On a worker: compute one member into a hidden folder, then rename it into place. An exception
    of ``compute`` becomes a failed outcome (so Dask does not retry a member that fails by itself;
    only a lost worker is retried)."""
    if numba_threads:
        import numba  # a dependency of floodtwin: a worker without it is a broken install, not a silent default

        numba.set_num_threads(min(int(numba_threads), int(numba.config.NUMBA_NUM_THREADS)))
    final = Path(folder) / name
    if final.is_dir():  # finished meanwhile (a rerun of a lost worker's member)
        return MemberOutcome(name, "skipped")
    tmp = Path(folder) / f".{name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        compute(arg, tmp)
    except Exception as exc:  # noqa: BLE001 - reported by name, the batch goes on
        shutil.rmtree(tmp, ignore_errors=True)
        message = " ".join(str(exc).split()) or type(exc).__name__
        return MemberOutcome(name, "failed", f"{type(exc).__name__}: {message}"[:500], time.perf_counter() - t0)
    try:
        os.rename(tmp, final)
    except OSError:
        if not final.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another worker finished the same member first
    return MemberOutcome(name, "done", None, time.perf_counter() - t0)


def _check_names(members: Mapping[str, Any]) -> None:
    bad = [n for n in members if not isinstance(n, str) or not MEMBER_NAME.match(n)]
    if bad:
        raise InputError(f"batch: member name(s) {', '.join(map(repr, bad[:5]))} are not folder names "
                         "(letters, digits, '.', '-', '_')")


def _remove_leftovers(folder: Path) -> None:
    """Remove the temporary folders a stopped batch left behind (never a finished member)."""
    for p in folder.iterdir():
        if p.is_dir() and _TMP.match(p.name):
            shutil.rmtree(p, ignore_errors=True)


def run_members(members: Mapping[str, Any], compute: Callable[[Any, Path], None], folder: str | Path, *,
                workers: int = 2, scheduler: str | None = None, numba_threads: int | None = 1, retries: int = 2,
                progress: Callable[[MemberOutcome, int, int], None] | None = None) -> BatchReport:
    """Compute every member of ``members`` (name -> argument) as ``compute(argument, folder)`` on Dask.

    ``compute`` (a picklable, module-level function) writes the member's files into the folder it is
    given; the folder becomes ``folder/<name>`` when ``compute`` returns. Members whose folder exists
    are skipped. ``workers`` processes of one thread each on this machine unless ``scheduler`` names a
    running one; ``numba_threads`` threads for numba in each worker (None: numba's default);
    ``retries``: how often a member whose worker died is sent again. ``progress(outcome, finished,
    total)`` is called in this process as each member ends (skipped ones first).
    """
    _check_names(members)
    if scheduler is None and (not isinstance(workers, int) or workers < 1):
        raise InputError(f"batch: workers = {workers!r}: expected a whole number ≥ 1")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    report = BatchReport({n: MemberOutcome(n, "pending") for n in members})
    todo = [n for n in members if not member_folder(folder, n).is_dir()]
    total, finished = len(members), 0
    for n in members:
        if n not in todo:
            report.outcomes[n] = MemberOutcome(n, "skipped")
            finished += 1
            if progress:
                progress(report.outcomes[n], finished, total)
    if not todo:
        return report
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        env = {} if numba_threads is None else {"NUMBA_NUM_THREADS": str(int(numba_threads))}
        env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        # loopback only; the dashboard on a free port (a fixed one clashes with a second batch running)
        cluster = LocalCluster(n_workers=min(workers, len(todo)), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0", env=env)
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            futures = {client.submit(_compute_member, n, members[n], compute, str(folder.resolve()), numba_threads,
                                     key=f"member-{n}-{uuid.uuid4().hex[:8]}", retries=retries, pure=False): n
                       for n in todo}
            for fut in as_completed(futures):
                name = futures[fut]
                try:
                    outcome = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker lost more often than retries, and the like
                    outcome = MemberOutcome(name, "failed", f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500])
                report.outcomes[name] = outcome
                finished += 1
                if progress:
                    progress(outcome, finished, total)
    finally:
        if cluster is not None:
            cluster.close()
    return report
