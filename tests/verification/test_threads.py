"""Results do not depend on the number of threads: the same run with NUMBA_NUM_THREADS=1 and 2,
each in its own process (numba fixes its thread pool at start-up), must agree bit for bit.

Threshold: bitwise equality of every output array (SHA-256 of the bytes) and of the mass balance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


HERE = Path(__file__).resolve().parent

SCRIPT = r"""
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
import numba
from test_manning_invariants import wetting_drying_case
out = {"threads": numba.config.NUMBA_NUM_THREADS}
for scheme, kw in (("godunov", {}), ("heun", {"stepping": "heun"}), ("inertial", {})):
    # threads given: a grid this small would otherwise run on one thread (PARALLEL_MIN_CELLS)
    ds = wetting_drying_case("godunov" if scheme == "heun" else scheme, threads=numba.config.NUMBA_NUM_THREADS, **kw)
    h = hashlib.sha256()
    for name in sorted(ds.data_vars):
        h.update(name.encode())
        h.update(ds[name].values.tobytes())
    out[scheme] = [h.hexdigest(), repr(ds.attrs["final_volume_m3"]), ds.attrs["steps"], ds.attrs["threads"]]
print(json.dumps(out))
"""


def run_with_threads(n: int) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(n))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(HERE)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_and_two_threads_bitwise_identical():
    one = run_with_threads(1)
    two = run_with_threads(2)
    assert one["threads"] == 1 and two["threads"] == 2
    for scheme in ("godunov", "heun", "inertial"):
        assert one[scheme][3] == 1 and two[scheme][3] == 2
        assert one[scheme][:3] == two[scheme][:3], scheme
