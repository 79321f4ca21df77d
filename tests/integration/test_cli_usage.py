"""Command-line usage errors (a bad option value, a missing or unknown option) are one red line
naming the command and the option, exit code 2, like every other bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("args, fragment", [
    (["preplan", "tasks", "--discharge", "abc"], "floodtwin preplan tasks: Invalid value for '--discharge'"),
    (["preplan", "tasks"], "floodtwin preplan tasks: Missing option '--discharge'"),
    (["rating", "--gauge", "Huayuankou", "--bogus"], "floodtwin rating: No such option: --bogus"),
    (["tasks", "list", "--state", "done", "--db"], "Option '--db' requires an argument"),
])
def test_usage_error_is_one_red_line(args, fragment):
    proc = subprocess.run([sys.executable, "-m", "floodtwin", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_help_still_answers():
    proc = subprocess.run([sys.executable, "-m", "floodtwin", "preplan", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    assert "tasks" in proc.stdout and proc.stderr == ""
