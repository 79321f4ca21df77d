"""The machine a benchmark ran on, for the header of its RESULTS.md section (shared by the benchmarks).

Kept apart from the measurements so that bench_1d.py, bench_2d.py and peers.py describe the machine
the same way.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

__all__ = ["load", "machine"]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {cpu}{mem}, Python {platform.python_version()}"


def load() -> float:
    """The 1-min load average (a measurement beside a busy neighbour is slower)."""
    return os.getloadavg()[0]
